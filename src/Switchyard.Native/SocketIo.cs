// Data-path socket I/O on raw descriptors: non-blocking send/recv that report EAGAIN as a status,
// never as an exception, and never allocate.
using System.Runtime.InteropServices;

namespace Switchyard.Native;

/// <summary>Result of a non-blocking I/O call: bytes moved, or would-block, or an errno.</summary>
public readonly record struct IoResult(int Bytes, int Errno)
{
    public bool WouldBlock => Errno == LibC.EAGAIN;

    public bool Ok => Errno == 0;

    public string ErrorMessage => Marshal.GetPInvokeErrorMessage(Errno);
}

public static class SocketIo
{
    /// <summary>recv(MSG_DONTWAIT). Bytes == 0 with Ok means the peer closed the stream.</summary>
    public static unsafe IoResult Receive(int fd, Span<byte> buffer)
    {
        // SAFETY: `p` pins `buffer` for the call and len is its exact length, so recv writes inside it.
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = LibC.recv(fd, p, (nuint)buffer.Length, LibC.MSG_DONTWAIT);
                if (n >= 0)
                {
                    return new IoResult((int)n, 0);
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != LibC.EINTR)
                {
                    return new IoResult(0, errno);
                }
            }
        }
    }

    /// <summary>send(MSG_DONTWAIT | MSG_NOSIGNAL); may send fewer bytes than asked on a stream.</summary>
    public static unsafe IoResult Send(int fd, ReadOnlySpan<byte> buffer)
    {
        // SAFETY: `p` pins `buffer` for the call and len is its exact length; send only reads it.
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = LibC.send(fd, p, (nuint)buffer.Length, LibC.MSG_DONTWAIT | LibC.MSG_NOSIGNAL);
                if (n >= 0)
                {
                    return new IoResult((int)n, 0);
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != LibC.EINTR)
                {
                    return new IoResult(0, errno);
                }
            }
        }
    }
}
