// A tap device: /dev/net/tun attached to a named Ethernet interface (linux/if_tun.h, Documentation/networking/tuntap.rst).
//
// Theory of operation: open("/dev/net/tun") gives a descriptor that is not yet a device; TUNSETIFF
// with IFF_TAP | IFF_NO_PI in struct ifreq creates the interface (needs CAP_NET_ADMIN) or attaches
// to an existing one (a persistent tap created with `ip tuntap add ... user U` can be attached by U
// without privileges). From then on each read(2) returns one whole Ethernet frame the kernel sent
// out of the interface and each write(2) injects one frame as if received on it. No packet-info
// prefix (IFF_NO_PI). The descriptor is non-blocking and close-on-exec; closing it deletes a
// non-persistent interface.
//
// With TapOptions.VnetHeader, IFF_VNET_HDR puts a virtio_net_hdr before every frame in both
// directions; TUNSETVNETHDRSZ makes it the 12-byte virtio_net_hdr_v1 layout (num_buffers is
// written as 0 by the kernel and ignored by it on write), and TUNSETOFFLOAD tells the kernel which
// offloaded frames the reader takes: TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN always,
// TUN_F_USO4 | TUN_F_USO6 only if the kernel knows them (6.2 and later; older kernels answer EINVAL
// and we retry without). With TapOptions.MultiQueue, IFF_MULTI_QUEUE lets several descriptors
// attach to one interface, each a queue; every queue of one interface must use the same flags.
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

/// <summary>How to open a tap queue.</summary>
[Flags]
public enum TapOptions
{
    None = 0,

    /// <summary>IFF_VNET_HDR with a 12-byte header and TUNSETOFFLOAD.</summary>
    VnetHeader = 1,

    /// <summary>IFF_MULTI_QUEUE: this descriptor is one of several queues of the interface.</summary>
    MultiQueue = 2,
}

/// <summary>Offloaded frames the kernel accepted to hand to the reader of a vnet_hdr tap (TUNSETOFFLOAD).</summary>
[Flags]
public enum TapOffloads
{
    None = 0,

    /// <summary>TUN_F_CSUM: partial checksums.</summary>
    Checksum = 1,

    /// <summary>TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN.</summary>
    Tcp = 2,

    /// <summary>TUN_F_USO4 | TUN_F_USO6 (UDP_L4 GSO).</summary>
    Udp = 4,
}

/// <summary>An open tap device. Owns its descriptor; Dispose closes it.</summary>
public sealed class TapDevice : IDisposable
{
    private const string TunPath = "/dev/net/tun";
    private int fd;

    /// <summary>Size of the virtio_net_hdr_v1 before every frame when <see cref="TapOptions.VnetHeader"/> is on.</summary>
    public const int VnetHeaderSize = 12;

    private TapDevice(int fd, string name, TapOffloads offloads, bool vnetHeader)
    {
        this.fd = fd;
        Name = name;
        Offloads = offloads;
        HasVnetHeader = vnetHeader;
    }

    /// <summary>What TUNSETOFFLOAD accepted (None without a virtio-net header).</summary>
    public TapOffloads Offloads { get; }

    /// <summary>True when every read and write carries a <see cref="VnetHeaderSize"/>-byte header first.</summary>
    public bool HasVnetHeader { get; }

    /// <summary>The descriptor, or -1 once disposed.</summary>
    public int Fd => Volatile.Read(ref fd);

    /// <summary>The interface name the kernel reports (the one asked for).</summary>
    public string Name { get; }

    /// <summary>Creates tap <paramref name="interfaceName"/> or attaches to it if it exists.</summary>
    /// <exception cref="ArgumentException">The name is empty, too long (15 bytes at most) or holds a '/' or whitespace.</exception>
    /// <exception cref="IOException">/dev/net/tun is missing or not permitted, or TUNSETIFF failed; the message says what to do.</exception>
    public static TapDevice Open(string interfaceName) => Open(interfaceName, TapOptions.None);

    /// <summary>Creates tap <paramref name="interfaceName"/> or attaches to it (one more queue with
    /// <see cref="TapOptions.MultiQueue"/>), with the virtio-net header and offloads if asked.</summary>
    /// <exception cref="ArgumentException">The name is empty, too long (15 bytes at most) or holds a '/' or whitespace.</exception>
    /// <exception cref="IOException">/dev/net/tun is missing or not permitted, TUNSETIFF failed, or the kernel refused the
    /// header size or checksum/TSO offloads; the message says what to do.</exception>
    public static unsafe TapDevice Open(string interfaceName, TapOptions options)
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
        bool vnetHeader = (options & TapOptions.VnetHeader) != 0;
        request.ifr_flags = (short)(LibC.IFF_TAP | LibC.IFF_NO_PI
            | (vnetHeader ? LibC.IFF_VNET_HDR : 0)
            | ((options & TapOptions.MultiQueue) != 0 ? LibC.IFF_MULTI_QUEUE : 0));

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
                LibC.EBUSY => $"tap {interfaceName} is already attached to another process (or it is single-queue and queues=N asks for more)",
                LibC.EINVAL => $"{interfaceName} exists and is not a tap device (or was created with different flags, e.g. multi_queue or vnet_hdr)",
                _ => $"TUNSETIFF {interfaceName} failed: {Marshal.GetPInvokeErrorMessage(errno)}",
            });
        }

        // SAFETY: the kernel wrote a NUL-terminated name of at most 15 bytes into the 16-byte ifr_name.
        string actual = Marshal.PtrToStringUTF8((nint)request.ifr_name) ?? interfaceName;
        TapOffloads offloads = TapOffloads.None;
        if (vnetHeader && !TrySetVnetHeader(tun, out offloads, out string? problem))
        {
            _ = LibC.close(tun);
            throw new IOException($"tap {interfaceName}: {problem}; open it with vnet_hdr=off");
        }

        return new TapDevice(tun, actual, offloads, vnetHeader);
    }

    private static unsafe bool TrySetVnetHeader(int tun, out TapOffloads offloads, out string? problem)
    {
        offloads = TapOffloads.None;
        int size = VnetHeaderSize;

        // SAFETY: TUNSETVNETHDRSZ reads one int at &size, a live local.
        if (LibC.ioctl(tun, LibC.TUNSETVNETHDRSZ, &size) < 0)
        {
            problem = $"TUNSETVNETHDRSZ {size} failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";
            return false;
        }

        const uint tcp = LibC.TUN_F_CSUM | LibC.TUN_F_TSO4 | LibC.TUN_F_TSO6 | LibC.TUN_F_TSO_ECN;
        const uint udp = LibC.TUN_F_USO4 | LibC.TUN_F_USO6;

        // SAFETY: TUNSETOFFLOAD takes its argument by value (an unsigned long), not as a pointer; nothing is dereferenced.
        if (LibC.ioctl(tun, LibC.TUNSETOFFLOAD, (void*)(nuint)(tcp | udp)) == 0)
        {
            offloads = TapOffloads.Checksum | TapOffloads.Tcp | TapOffloads.Udp;
            problem = null;
            return true;
        }

        // Kernels before 6.2 do not know TUN_F_USO4/6 and refuse the whole request with EINVAL.
        // SAFETY: as above, the argument is a value.
        if (LibC.ioctl(tun, LibC.TUNSETOFFLOAD, (void*)(nuint)tcp) == 0)
        {
            offloads = TapOffloads.Checksum | TapOffloads.Tcp;
            problem = null;
            return true;
        }

        problem = $"TUNSETOFFLOAD (checksum, TSO) failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";
        return false;
    }

    /// <summary>writev(2) a virtio-net header and a frame as one packet; EAGAIN when the device queue is full.</summary>
    public unsafe IoResult Write(ReadOnlySpan<byte> header, ReadOnlySpan<byte> frame)
    {
        // SAFETY: both spans are pinned for the call and each iovec holds its span's exact length; writev only reads them.
        fixed (byte* h = header)
        fixed (byte* p = frame)
        {
            iovec* iov = stackalloc iovec[2];
            iov[0] = new iovec { iov_base = h, iov_len = (nuint)header.Length };
            iov[1] = new iovec { iov_base = p, iov_len = (nuint)frame.Length };
            while (true)
            {
                nint n = LibC.writev(Fd, iov, 2);
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
