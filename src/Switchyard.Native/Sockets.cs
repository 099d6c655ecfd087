// Internet sockets on raw descriptors: what the NAT gateway's host side needs (TCP out and in, UDP,
// unprivileged ICMP echo), non-blocking and close-on-exec, without System.Net.Sockets.Socket.
//
// Theory of operation: the gateway keeps thousands of flows, each a host socket registered with an
// epoll loop. System.Net.Sockets.Socket would bring its own async engine, a SafeHandle and an
// EndPoint object per address; here a socket is a plain int owned by one object (LoopHostNetwork's
// socket classes) and every call is one syscall with a stack-allocated sockaddr, so the data path
// (send, recv, sendto, recvfrom) allocates nothing and reports errors as errno values (IoResult).
// Control-path calls (bind, listen) also return errno so the caller can word a message for the user.
//
// Addresses cross this API as bytes in network order: 4 bytes for an IPv4 address (an AF_INET
// sockaddr_in), 16 for IPv6 (sockaddr_in6). Addresses coming back (accept, recvfrom, getsockname)
// are always written as 16 bytes, IPv4 in the v4-mapped form ::ffff:a.b.c.d, which is exactly how
// the caller's address type stores IPv4, so a v4-mapped peer of a dual-stack socket and a plain
// AF_INET peer look the same. The caller must give a 16-byte address to an AF_INET6 socket (for an
// IPv4 destination on a dual-stack socket, the v4-mapped form).
//
// Layouts (x86_64 Linux, glibc <netinet/in.h>, <sys/socket.h>), asserted by InteropLayoutTests:
//   struct sockaddr_in 16 (family 0, port 2, addr 4, zero 8); struct sockaddr_in6 28 (family 0,
//   port 2, flowinfo 4, addr 8, scope_id 24); struct linger 8 (l_onoff 0, l_linger 4).
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Switchyard.Native;

#pragma warning disable CS8981, CA1707, IDE1006 // C names on purpose.

/// <summary>struct sockaddr_in (sizeof == 16). Port and address are in network byte order.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct sockaddr_in
{
    public ushort sin_family;
    public ushort sin_port;
    public uint sin_addr;
    public fixed byte sin_zero[8];
}

/// <summary>struct sockaddr_in6 (sizeof == 28). Port and address are in network byte order.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct sockaddr_in6
{
    public ushort sin6_family;
    public ushort sin6_port;
    public uint sin6_flowinfo;
    public fixed byte sin6_addr[16];
    public uint sin6_scope_id;
}

/// <summary>struct linger (sizeof == 8).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct linger
{
    public int l_onoff;
    public int l_linger;
}

#pragma warning restore CS8981, CA1707, IDE1006

/// <summary>The kinds of internet socket the gateway opens.</summary>
public enum InetSocketKind
{
    /// <summary>SOCK_STREAM, IPPROTO_TCP.</summary>
    Tcp,

    /// <summary>SOCK_DGRAM, IPPROTO_UDP.</summary>
    Udp,

    /// <summary>SOCK_DGRAM, IPPROTO_ICMP (or IPPROTO_ICMPV6): an unprivileged echo ("ping") socket.</summary>
    Ping,
}

public static class Sockets
{
    /// <summary>Length of an address as this API writes it back (always the 16-byte form).</summary>
    public const int AddressBufferLength = 16;

    public const int EINPROGRESS = 115;
    public const int EADDRINUSE = 98;
    public const int EADDRNOTAVAIL = 99;
    public const int EACCES = 13;
    public const int EPERM = 1;
    public const int EAFNOSUPPORT = 97;

    /// <summary>socket(AF_INET[6], kind | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol). Returns the descriptor,
    /// or -1 with <paramref name="errno"/>.</summary>
    public static int Open(InetSocketKind kind, bool v6, out int errno)
    {
        int type = (kind == InetSocketKind.Tcp ? LibC.SOCK_STREAM : LibC.SOCK_DGRAM) | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC;
        int protocol = kind switch
        {
            InetSocketKind.Tcp => LibC.IPPROTO_TCP,
            InetSocketKind.Udp => LibC.IPPROTO_UDP,
            _ => v6 ? LibC.IPPROTO_ICMPV6 : LibC.IPPROTO_ICMP,
        };
        int fd = LibC.socket(v6 ? LibC.AF_INET6 : LibC.AF_INET, type, protocol);
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return fd;
    }

    /// <summary>connect(2) to <paramref name="address"/> (4 or 16 bytes):<paramref name="port"/>. Returns 0 or
    /// an errno; on a non-blocking TCP socket EINPROGRESS means the connect is under way.</summary>
    public static unsafe int Connect(int fd, ReadOnlySpan<byte> address, ushort port)
    {
        SocketAddress sa = default;
        int length = sa.Set(address, port);
        while (true)
        {
            // SAFETY: &sa is a live local holding `length` initialised bytes of a sockaddr_in or sockaddr_in6.
            if (LibC.connect(fd, &sa, length) == 0)
            {
                return 0;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno != LibC.EINTR)
            {
                return errno;
            }
        }
    }

    /// <summary>bind(2) to <paramref name="address"/> (4 or 16 bytes):<paramref name="port"/>. Returns 0 or an errno.</summary>
    public static unsafe int Bind(int fd, ReadOnlySpan<byte> address, ushort port)
    {
        SocketAddress sa = default;
        int length = sa.Set(address, port);

        // SAFETY: &sa is a live local holding `length` initialised bytes of a sockaddr; bind only reads it.
        return LibC.bind(fd, &sa, length) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>listen(2). Returns 0 or an errno.</summary>
    public static int Listen(int fd, int backlog) => LibC.listen(fd, backlog) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>accept4(SOCK_NONBLOCK | SOCK_CLOEXEC). Returns the new descriptor and the peer (16-byte form), or -1
    /// with <paramref name="errno"/> (EAGAIN when nothing is pending).</summary>
    public static unsafe int Accept(int fd, Span<byte> peerAddress, out ushort peerPort, out int errno)
    {
        SocketAddress sa = default;
        while (true)
        {
            int length = sizeof(SocketAddress);

            // SAFETY: &sa is a live local of `length` bytes (room for a sockaddr_in6); accept4 writes at most that
            // and stores the real length in the live local `length`.
            int client = LibC.accept4(fd, &sa, &length, LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC);
            if (client >= 0)
            {
                errno = 0;
                peerPort = sa.Get(peerAddress);
                return client;
            }

            errno = Marshal.GetLastPInvokeError();
            if (errno != LibC.EINTR)
            {
                peerPort = 0;
                return -1;
            }
        }
    }

    /// <summary>getsockname(2) into <paramref name="address"/> (16-byte form). Returns 0 or an errno.</summary>
    public static unsafe int GetLocalAddress(int fd, Span<byte> address, out ushort port)
    {
        SocketAddress sa = default;
        int length = sizeof(SocketAddress);

        // SAFETY: as in Accept: the kernel writes at most `length` bytes into the live local `sa`.
        int rc = LibC.getsockname(fd, &sa, &length);
        port = rc == 0 ? sa.Get(address) : (ushort)0;
        return rc == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>getpeername(2) into <paramref name="address"/> (16-byte form). Returns 0 or an errno (ENOTCONN).</summary>
    public static unsafe int GetPeerAddress(int fd, Span<byte> address, out ushort port)
    {
        SocketAddress sa = default;
        int length = sizeof(SocketAddress);

        // SAFETY: as in Accept: the kernel writes at most `length` bytes into the live local `sa`.
        int rc = LibC.getpeername(fd, &sa, &length);
        port = rc == 0 ? sa.Get(address) : (ushort)0;
        return rc == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>sendto(MSG_DONTWAIT | MSG_NOSIGNAL) to <paramref name="address"/> (4 or 16 bytes):<paramref name="port"/>.</summary>
    public static unsafe IoResult SendTo(int fd, ReadOnlySpan<byte> data, ReadOnlySpan<byte> address, ushort port)
    {
        SocketAddress sa = default;
        int length = sa.Set(address, port);

        // SAFETY: `p` pins `data` for the call and len is its exact length; &sa is a live local of `length` bytes.
        fixed (byte* p = data)
        {
            while (true)
            {
                nint n = LibC.sendto(fd, p, (nuint)data.Length, LibC.MSG_DONTWAIT | LibC.MSG_NOSIGNAL, &sa, length);
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

    /// <summary>recvfrom(MSG_DONTWAIT): one datagram (truncated to <paramref name="buffer"/>) and its source in the
    /// 16-byte form.</summary>
    public static unsafe IoResult ReceiveFrom(int fd, Span<byte> buffer, Span<byte> address, out ushort port)
    {
        SocketAddress sa = default;

        // SAFETY: `p` pins `buffer` and len is its exact length; the kernel writes at most `length` bytes into the
        // live local `sa` and stores the real length in the live local `length`.
        fixed (byte* p = buffer)
        {
            while (true)
            {
                int length = sizeof(SocketAddress);
                nint n = LibC.recvfrom(fd, p, (nuint)buffer.Length, LibC.MSG_DONTWAIT, &sa, &length);
                if (n >= 0)
                {
                    port = sa.Get(address);
                    return new IoResult((int)n, 0);
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != LibC.EINTR)
                {
                    port = 0;
                    address.Clear();
                    return new IoResult(0, errno);
                }
            }
        }
    }

    /// <summary>getsockopt(SO_ERROR): the pending error, cleared by reading (0 when none).</summary>
    public static unsafe int TakeError(int fd)
    {
        int value = 0;
        int length = sizeof(int);

        // SAFETY: getsockopt writes at most `length` (4) bytes into the live local `value`.
        return LibC.getsockopt(fd, LibC.SOL_SOCKET, LibC.SO_ERROR, &value, &length) == 0 ? value : Marshal.GetLastPInvokeError();
    }

    /// <summary>TCP_NODELAY on: segments leave as soon as they are written (the guest already batched them).</summary>
    public static int SetNoDelay(int fd) => SetInt(fd, LibC.IPPROTO_TCP, LibC.TCP_NODELAY, 1);

    /// <summary>SO_REUSEADDR on: a listener can rebind a port whose old connections sit in TIME_WAIT.</summary>
    public static int SetReuseAddress(int fd) => SetInt(fd, LibC.SOL_SOCKET, LibC.SO_REUSEADDR, 1);

    /// <summary>IPV6_V6ONLY: off makes an AF_INET6 socket bound to [::] accept IPv4 too (dual stack).</summary>
    public static int SetV6Only(int fd, bool on) => SetInt(fd, LibC.IPPROTO_IPV6, LibC.IPV6_V6ONLY, on ? 1 : 0);

    /// <summary>SO_LINGER {1, 0}: the next close discards queued data and sends an RST.</summary>
    public static unsafe int SetLingerZero(int fd)
    {
        linger value = new() { l_onoff = 1, l_linger = 0 };

        // SAFETY: setsockopt reads sizeof(linger) bytes from the live local `value`.
        return LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_LINGER, &value, sizeof(linger)) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>shutdown(SHUT_WR): FIN after the queued data. Returns 0 or an errno.</summary>
    public static int ShutdownSend(int fd) => LibC.shutdown(fd, LibC.SHUT_WR) == 0 ? 0 : Marshal.GetLastPInvokeError();

    private static unsafe int SetInt(int fd, int level, int name, int value)
    {
        // SAFETY: setsockopt reads sizeof(int) bytes from the live parameter `value`.
        return LibC.setsockopt(fd, level, name, &value, sizeof(int)) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>Room for either sockaddr, viewed as one or the other by the family field.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 28)]
    private struct SocketAddress
    {
        [FieldOffset(0)]
        public sockaddr_in V4;

        [FieldOffset(0)]
        public sockaddr_in6 V6;

        /// <summary>Fills in the sockaddr for a 4- or 16-byte address; returns its length.</summary>
        public unsafe int Set(ReadOnlySpan<byte> address, ushort port)
        {
            if (address.Length == 4)
            {
                V4.sin_family = LibC.AF_INET;
                V4.sin_port = BinaryPrimitives.ReverseEndianness(port);
                V4.sin_addr = MemoryMarshal.Read<uint>(address); // Already in network order.
                return sizeof(sockaddr_in);
            }

            if (address.Length != 16)
            {
                throw new ArgumentException("an internet address is 4 or 16 bytes", nameof(address));
            }

            V6.sin6_family = LibC.AF_INET6;
            V6.sin6_port = BinaryPrimitives.ReverseEndianness(port);

            // SAFETY: sin6_addr is a 16-byte fixed buffer inside this struct and `address` holds 16 bytes.
            fixed (byte* a = V6.sin6_addr)
            {
                address.CopyTo(new Span<byte>(a, 16));
            }

            return sizeof(sockaddr_in6);
        }

        /// <summary>Writes the address in the 16-byte form (IPv4 v4-mapped) and returns the port.</summary>
        public unsafe ushort Get(Span<byte> address)
        {
            if (address.Length < AddressBufferLength)
            {
                throw new ArgumentException("an address buffer holds 16 bytes", nameof(address));
            }

            if (V4.sin_family == LibC.AF_INET)
            {
                address[..10].Clear();
                address[10] = 0xFF;
                address[11] = 0xFF;
                MemoryMarshal.Write(address[12..], in V4.sin_addr);
                return BinaryPrimitives.ReverseEndianness(V4.sin_port);
            }

            if (V6.sin6_family == LibC.AF_INET6)
            {
                // SAFETY: sin6_addr is a 16-byte fixed buffer inside this struct.
                fixed (byte* a = V6.sin6_addr)
                {
                    new ReadOnlySpan<byte>(a, 16).CopyTo(address);
                }

                return BinaryPrimitives.ReverseEndianness(V6.sin6_port);
            }

            address[..AddressBufferLength].Clear();
            return 0;
        }
    }

    internal static int SocketAddressSize => Unsafe.SizeOf<SocketAddress>();
}
