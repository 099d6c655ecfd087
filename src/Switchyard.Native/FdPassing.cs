// Passing file descriptors over a unix stream socket (SCM_RIGHTS), as vhost-user does (interop.md §2.1).
//
// Theory of operation: vhost-user messages carry descriptors (memory-region memfds, kick/call eventfds,
// the log memfd) as SCM_RIGHTS ancillary data on the bytes of the message they belong to. Receive uses
// recvmsg(MSG_DONTWAIT | MSG_CMSG_CLOEXEC) into a caller-owned data buffer and an on-stack control
// buffer with room for MaxFds descriptors (CMSG_SPACE(8 * sizeof(int)) = 48 bytes, the most QEMU sends
// in one message: VHOST_MEMORY_BASELINE_NREGIONS / VHOST_USER_BACKEND_MAX_FDS = 8). Every SCM_RIGHTS
// control message is parsed with bounds checks against the length the kernel reports.
//
// What it trusts: nothing the peer chose. A peer that sends more descriptors than fit is handled in
// two places, and neither leaks a descriptor: beyond the control buffer the kernel itself drops them
// and sets MSG_CTRUNC; beyond the caller's span we close them here. Either way `truncated` is set and
// the caller decides the disposition (for vhost-user: close the connection, STYLE.md habit 3).
//
// What it owns: nothing. Received descriptors belong to the caller from the moment this returns; sent
// descriptors stay owned by the caller (the kernel installs copies in the peer).
//
// Data path rules: no allocation, no exceptions for I/O conditions (EAGAIN and errno come back as an
// IoResult); EINTR is retried. Only caller bugs (too many fds to send) throw.
using System.Runtime.InteropServices;

namespace Switchyard.Native;

public static class FdPassing
{
    /// <summary>The most descriptors one message can carry in either direction.</summary>
    public const int MaxFds = 8;

    /// <summary>CMSG_SPACE(MaxFds * sizeof(int)) on x86_64: a 16-byte cmsghdr plus 32 bytes of descriptors.</summary>
    internal const int ControlBufferSize = 48;

    /// <summary>
    /// recvmsg(MSG_DONTWAIT | MSG_CMSG_CLOEXEC) into <paramref name="buffer"/>, collecting SCM_RIGHTS descriptors
    /// into <paramref name="fds"/>. Bytes == 0 with Ok means the peer closed the stream.
    /// </summary>
    /// <param name="fdCount">How many entries of <paramref name="fds"/> were filled; the caller owns them.</param>
    /// <param name="truncated">True when the peer sent more descriptors than could be received (the kernel reported
    /// MSG_CTRUNC, or <paramref name="fds"/> was too small). The excess is closed, never returned.</param>
    public static unsafe IoResult ReceiveWithFds(int socketFd, Span<byte> buffer, Span<int> fds, out int fdCount, out bool truncated)
    {
        fdCount = 0;
        truncated = false;

        // ulong elements make the buffer 8-byte aligned, as struct cmsghdr (which starts with a size_t) requires.
        ulong* control = stackalloc ulong[ControlBufferSize / sizeof(ulong)];
        nint received;
        msghdr msg;

        // SAFETY: `data` pins `buffer` for the call and iov_len is its exact length; `control` is a stack buffer
        // of ControlBufferSize bytes and msg_controllen says exactly that, so recvmsg writes inside both.
        fixed (byte* data = buffer)
        {
            iovec iov = new() { iov_base = data, iov_len = (nuint)buffer.Length };
            while (true)
            {
                msg = new msghdr
                {
                    msg_iov = &iov,
                    msg_iovlen = 1,
                    msg_control = control,
                    msg_controllen = ControlBufferSize,
                };
                received = LibC.recvmsg(socketFd, &msg, LibC.MSG_DONTWAIT | LibC.MSG_CMSG_CLOEXEC);
                if (received >= 0)
                {
                    break;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != LibC.EINTR)
                {
                    return new IoResult(0, errno);
                }
            }
        }

        if ((msg.msg_flags & LibC.MSG_CTRUNC) != 0)
        {
            // The kernel could not fit every descriptor into the control buffer and discarded the rest
            // itself (they were never installed in this process), so there is nothing more to close.
            truncated = true;
        }

        // The kernel shrinks msg_controllen to what it wrote; never trust it beyond our buffer.
        int controlLength = (int)Math.Min(msg.msg_controllen, (nuint)ControlBufferSize);
        byte* bytes = (byte*)control;
        int offset = 0;

        // CMSG_FIRSTHDR / CMSG_NXTHDR, with every header and payload checked against controlLength.
        while (offset + sizeof(cmsghdr) <= controlLength)
        {
            // SAFETY: offset + sizeof(cmsghdr) <= controlLength <= ControlBufferSize, and offset is a multiple
            // of 8 (CMSG_ALIGN), so the header lies aligned inside the stack buffer.
            cmsghdr header = *(cmsghdr*)(bytes + offset);
            int available = controlLength - offset;
            if (header.cmsg_len < (nuint)sizeof(cmsghdr))
            {
                break;
            }

            int length = (int)Math.Min(header.cmsg_len, (nuint)available);
            if (header.cmsg_level == LibC.SOL_SOCKET && header.cmsg_type == LibC.SCM_RIGHTS)
            {
                int count = (length - LibC.CMSG_LEN(0)) / sizeof(int);

                // SAFETY: CMSG_DATA starts CMSG_LEN(0) bytes into the header and `count` ints end at or before
                // offset + length <= controlLength, inside the stack buffer.
                int* passed = (int*)(bytes + offset + LibC.CMSG_LEN(0));
                for (int i = 0; i < count; i++)
                {
                    if (fdCount < fds.Length)
                    {
                        fds[fdCount++] = passed[i];
                    }
                    else
                    {
                        _ = LibC.close(passed[i]);
                        truncated = true;
                    }
                }
            }

            if (header.cmsg_len > (nuint)available)
            {
                break;
            }

            offset += LibC.CMSG_ALIGN(length);
        }

        return new IoResult((int)received, 0);
    }

    /// <summary>
    /// sendmsg(MSG_DONTWAIT | MSG_NOSIGNAL) of <paramref name="data"/> with <paramref name="fds"/> as SCM_RIGHTS.
    /// The descriptors ride on the first byte sent, so a partial send still delivered all of them; send the
    /// rest with <see cref="SocketIo.Send"/>. The caller keeps ownership of <paramref name="fds"/>.
    /// </summary>
    /// <exception cref="ArgumentException">More than <see cref="MaxFds"/> descriptors, or descriptors with no
    /// data (a unix stream socket silently drops descriptors that ride on zero bytes).</exception>
    public static IoResult SendWithFds(int socketFd, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds)
    {
        if (fds.Length > MaxFds)
        {
            ThrowTooManyFds(fds.Length);
        }

        return Send(socketFd, data, fds, stackalloc ulong[ControlBufferSize / sizeof(ulong)]);
    }

    /// <summary>SendWithFds without the MaxFds cap (up to the kernel's SCM_MAX_FD, 253): lets tests play a peer
    /// that sends more descriptors than a receiver accepts.</summary>
    internal static IoResult SendWithFdsUncapped(int socketFd, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds) =>
        Send(socketFd, data, fds, new ulong[(LibC.CMSG_SPACE(fds.Length * sizeof(int)) + 7) / sizeof(ulong)]);

    /// <param name="control">Room for CMSG_SPACE(fds.Length * sizeof(int)) bytes; ulong elements keep it 8-byte
    /// aligned, as struct cmsghdr (which starts with a size_t) requires.</param>
    private static unsafe IoResult Send(int socketFd, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds, Span<ulong> control)
    {
        if (fds.Length > 0 && data.IsEmpty)
        {
            ThrowFdsWithoutData();
        }

        int controlLength = fds.Length > 0 ? LibC.CMSG_SPACE(fds.Length * sizeof(int)) : 0;
        Span<byte> controlBytes = MemoryMarshal.AsBytes(control)[..controlLength];
        controlBytes.Clear();
        if (fds.Length > 0)
        {
            cmsghdr header = new()
            {
                cmsg_len = (nuint)LibC.CMSG_LEN(fds.Length * sizeof(int)),
                cmsg_level = LibC.SOL_SOCKET,
                cmsg_type = LibC.SCM_RIGHTS,
            };
            MemoryMarshal.Write(controlBytes, in header);
            fds.CopyTo(MemoryMarshal.Cast<byte, int>(controlBytes[LibC.CMSG_LEN(0)..]));
        }

        // SAFETY: `p` pins `data` for the call and iov_len is its exact length (sendmsg only reads it);
        // `c` pins the control buffer, of which msg_controllen names the controlLength bytes written above.
        fixed (byte* p = data)
        fixed (byte* c = controlBytes)
        {
            iovec iov = new() { iov_base = p, iov_len = (nuint)data.Length };
            msghdr msg = new()
            {
                msg_iov = &iov,
                msg_iovlen = 1,
                msg_control = controlLength > 0 ? c : null,
                msg_controllen = (nuint)controlLength,
            };
            while (true)
            {
                nint sent = LibC.sendmsg(socketFd, &msg, LibC.MSG_DONTWAIT | LibC.MSG_NOSIGNAL);
                if (sent >= 0)
                {
                    return new IoResult((int)sent, 0);
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != LibC.EINTR)
                {
                    return new IoResult(0, errno);
                }
            }
        }
    }

    private static void ThrowTooManyFds(int count) =>
        throw new ArgumentException($"{count} descriptors in one message; at most {MaxFds} can be sent.", "fds");

    private static void ThrowFdsWithoutData() =>
        throw new ArgumentException("Descriptors must ride on at least one byte of data on a stream socket.", "data");
}
