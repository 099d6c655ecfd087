// A tap device: /dev/net/tun attached to a named Ethernet interface (linux/if_tun.h, Documentation/networking/tuntap.rst).
//
// Theory of operation: open("/dev/net/tun") gives a descriptor that is not yet a device; TUNSETIFF
// with IFF_TAP | IFF_NO_PI in struct ifreq creates the interface (needs CAP_NET_ADMIN) or attaches
// to an existing one (a persistent tap created with `ip tuntap add ... user U` can be attached by U
// without privileges). From then on each read(2) returns one whole Ethernet frame the kernel sent
// out of the interface and each write(2) injects one frame as if received on it. No packet-info
// prefix (IFF_NO_PI) and no virtio-net header yet; offloads (IFF_VNET_HDR, TUNSETOFFLOAD) and
// multiqueue come later. The descriptor is non-blocking and close-on-exec; closing it deletes a
// non-persistent interface.
//
// struct ifreq on x86_64 is 40 bytes: char ifr_name[IFNAMSIZ = 16], then a 24-byte union whose
// short ifr_flags sits at offset 16 (InteropLayoutTests asserts this).
using System.Runtime.InteropServices;
using System.Text;

namespace Switchyard.Native;

#pragma warning disable CS8981, CA1707, IDE1006 // C names on purpose.

/// <summary>struct ifreq (sizeof == 40), with the one union member TUNSETIFF uses.</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal unsafe struct ifreq
{
    [FieldOffset(0)]
    public fixed byte ifr_name[16];

    [FieldOffset(16)]
    public short ifr_flags;
}

#pragma warning restore CS8981, CA1707, IDE1006

/// <summary>An open tap device. Owns its descriptor; Dispose closes it.</summary>
public sealed class TapDevice : IDisposable
{
    private const string TunPath = "/dev/net/tun";
    private int fd;

    private TapDevice(int fd, string name)
    {
        this.fd = fd;
        Name = name;
    }

    /// <summary>The descriptor, or -1 once disposed.</summary>
    public int Fd => Volatile.Read(ref fd);

    /// <summary>The interface name the kernel reports (the one asked for).</summary>
    public string Name { get; }

    /// <summary>Creates tap <paramref name="interfaceName"/> or attaches to it if it exists.</summary>
    /// <exception cref="ArgumentException">The name is empty, too long (15 bytes at most) or holds a '/' or whitespace.</exception>
    /// <exception cref="IOException">/dev/net/tun is missing or not permitted, or TUNSETIFF failed; the message says what to do.</exception>
    public static unsafe TapDevice Open(string interfaceName)
    {
        ArgumentException.ThrowIfNullOrEmpty(interfaceName);
        byte[] nameBytes = Encoding.UTF8.GetBytes(interfaceName);
        if (nameBytes.Length >= LibC.IFNAMSIZ || interfaceName.AsSpan().IndexOfAny("/ \t\n:") >= 0)
        {
            throw new ArgumentException($"'{interfaceName}' is not a valid interface name (at most 15 bytes, no '/', ':' or whitespace)", nameof(interfaceName));
        }

        int tun = LibC.open(TunPath, LibC.O_RDWR | LibC.O_NONBLOCK | LibC.O_CLOEXEC);
        if (tun < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException(errno switch
            {
                LibC.ENOENT or LibC.ENODEV => $"{TunPath} is missing: load the tun module (modprobe tun), or in a container pass the device through (--device {TunPath})",
                Sockets.EACCES or Sockets.EPERM => $"permission denied opening {TunPath}: run with CAP_NET_ADMIN or make the device accessible to this user (it is usually mode 0666)",
                _ => $"opening {TunPath} failed: {Marshal.GetPInvokeErrorMessage(errno)}",
            });
        }

        ifreq request = default;
        request.ifr_flags = LibC.IFF_TAP | LibC.IFF_NO_PI;

        // SAFETY: ifr_name is a 16-byte fixed buffer and nameBytes is at most 15 bytes, so the name stays NUL-terminated.
        nameBytes.CopyTo(new Span<byte>(request.ifr_name, LibC.IFNAMSIZ));

        // SAFETY: TUNSETIFF reads and writes one struct ifreq (40 bytes) at &request, a live local.
        if (LibC.ioctl(tun, LibC.TUNSETIFF, &request) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            _ = LibC.close(tun);
            throw new IOException(errno switch
            {
                Sockets.EPERM or Sockets.EACCES => $"creating tap {interfaceName} needs CAP_NET_ADMIN; or create it once, owned by this user: ip tuntap add dev {interfaceName} mode tap user $USER",
                LibC.EBUSY => $"tap {interfaceName} is already attached to another process (this tap is single-queue)",
                LibC.EINVAL => $"{interfaceName} exists and is not a tap device (or was created with different flags, e.g. multi_queue or vnet_hdr)",
                _ => $"TUNSETIFF {interfaceName} failed: {Marshal.GetPInvokeErrorMessage(errno)}",
            });
        }

        // SAFETY: the kernel wrote a NUL-terminated name of at most 15 bytes into the 16-byte ifr_name.
        string actual = Marshal.PtrToStringUTF8((nint)request.ifr_name) ?? interfaceName;
        return new TapDevice(tun, actual);
    }

    /// <summary>read(2) one frame (truncated to <paramref name="buffer"/>); EAGAIN when none is queued.</summary>
    public unsafe IoResult Read(Span<byte> buffer)
    {
        // SAFETY: `p` pins `buffer` for the call and count is its exact length, so read writes inside it.
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = LibC.read(Fd, p, (nuint)buffer.Length);
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

    /// <summary>write(2) one whole frame; EAGAIN when the device queue is full, EIO while the interface is down.</summary>
    public unsafe IoResult Write(ReadOnlySpan<byte> frame)
    {
        // SAFETY: `p` pins `frame` for the call and count is its exact length; write only reads it.
        fixed (byte* p = frame)
        {
            while (true)
            {
                nint n = LibC.write(Fd, p, (nuint)frame.Length);
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

    public void Dispose() => FileDescriptors.Close(Interlocked.Exchange(ref fd, -1));
}
