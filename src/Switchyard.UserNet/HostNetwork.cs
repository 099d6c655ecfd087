// The host side of the gateway: non-blocking sockets on the host, seen through interfaces.
//
// Theory of operation: UserNet is pure (DESIGN.md), so it never makes a syscall. Everything it needs
// from the host (TCP connections out, listeners for forwards, UDP and ICMP echo sockets) comes
// through IHostNetwork. Switchyard.Ports implements it with real non-blocking sockets registered on
// the gateway's event loop; tests implement it with fakes. Readiness arrives, on the loop thread, as
// IHostSocketOwner.OnHostIo(socket, events) with epoll's bits (Core.Loop.IoEvents). A socket starts
// with Readable interest; owners change it with SetInterest (Writable while output is pending or a
// connect is in progress). Failures that a guest's traffic can cause (refused, unreachable, out of
// descriptors) are returned as errno values, never thrown: the data path handles them. Only control
// plane calls (listen/bind for forwards) throw, with a message a user can act on.
using Switchyard.Core.Loop;
using Switchyard.Protocols;

namespace Switchyard.UserNet;

/// <summary>The outcome of one host socket operation: bytes moved, or an errno.</summary>
public readonly record struct HostIo(int Bytes, int Errno)
{
    public const int EAGAIN = 11;
    public const int ECONNREFUSED = 111;
    public const int ECONNRESET = 104;
    public const int EHOSTUNREACH = 113;
    public const int ENETUNREACH = 101;
    public const int ETIMEDOUT = 110;
    public const int EPIPE = 32;
    public const int EACCES = 13;
    public const int EMFILE = 24;

    public bool Ok => Errno == 0;

    public bool WouldBlock => Errno == EAGAIN;

    public static HostIo Done(int bytes) => new(bytes, 0);

    public static HostIo Error(int errno) => new(0, errno);
}

/// <summary>Hears readiness of the host sockets it owns, on the loop thread.</summary>
public interface IHostSocketOwner
{
    void OnHostIo(IHostSocket socket, IoEvents events);
}

/// <summary>Any host socket. Dispose closes it (a TCP socket closes gracefully: FIN after queued data).</summary>
public interface IHostSocket : IDisposable
{
    /// <summary>Which readiness events wake the owner (Readable, Writable or both; None to pause).</summary>
    void SetInterest(IoEvents interest);

    /// <summary>SO_ERROR: the pending error (0 if none), cleared by reading. After a non-blocking connect
    /// reports Writable, 0 means connected.</summary>
    int TakeError();

    IpAddr LocalAddress { get; }

    ushort LocalPort { get; }
}

/// <summary>A connected (or connecting) TCP socket.</summary>
public interface IHostTcpSocket : IHostSocket
{
    /// <summary>send(2) with MSG_NOSIGNAL. Bytes may be fewer than offered; EAGAIN when the send buffer is full.</summary>
    HostIo Send(ReadOnlySpan<byte> data);

    /// <summary>recv(2). Bytes == 0 with Ok means the peer sent FIN.</summary>
    HostIo Receive(Span<byte> buffer);

    /// <summary>shutdown(SHUT_WR): FIN after the queued data.</summary>
    void ShutdownSend();

    /// <summary>Closes with SO_LINGER 0 so the peer gets an RST. The socket is disposed.</summary>
    void Abort();

    IpAddr RemoteAddress { get; }

    ushort RemotePort { get; }
}

/// <summary>A listening TCP socket (a forward's host side).</summary>
public interface IHostTcpListener : IHostSocket
{
    /// <summary>accept4(2), non-blocking. Null when no connection is pending (or on a transient error).
    /// The accepted socket reports to <paramref name="owner"/> and starts with Readable interest.</summary>
    IHostTcpSocket? Accept(IHostSocketOwner owner);
}

/// <summary>A UDP socket (connected to one remote, or bound for a forward) or an ICMP echo ("ping") socket.</summary>
public interface IHostDatagramSocket : IHostSocket
{
    /// <summary>send(2) on a connected socket.</summary>
    HostIo Send(ReadOnlySpan<byte> data);

    /// <summary>sendto(2). For a ping socket the port is ignored and the data is an ICMP echo request.</summary>
    HostIo SendTo(ReadOnlySpan<byte> data, IpAddr address, ushort port);

    /// <summary>recvfrom(2): one datagram (truncated to the buffer) and where it came from.</summary>
    HostIo ReceiveFrom(Span<byte> buffer, out IpAddr address, out ushort port);
}

/// <summary>Opens host sockets for the gateway, registered with the gateway's event loop.</summary>
public interface IHostNetwork
{
    /// <summary>True when <paramref name="address"/> is one of this host's own addresses (so a socket bound
    /// to the wildcard address answers there). The default knows loopback only; the real host asks the
    /// kernel. Called when a flow opens toward a port the daemon itself listens on, not per packet.</summary>
    bool IsLocalAddress(IpAddr address) => address.IsLoopback;

    /// <summary>Starts a non-blocking connect to <paramref name="address"/>:<paramref name="port"/>.
    /// Null with an errno when no socket could be made; otherwise the owner hears Writable (or an error)
    /// when the connect completes, and the socket starts with Readable|Writable interest.</summary>
    IHostTcpSocket? ConnectTcp(IpAddr address, ushort port, IHostSocketOwner owner, out int errno);

    /// <summary>A UDP socket connected to <paramref name="address"/>:<paramref name="port"/>, bound to an
    /// ephemeral port. Null with an errno on failure.</summary>
    IHostDatagramSocket? OpenUdp(IpAddr address, ushort port, IHostSocketOwner owner, out int errno);

    /// <summary>An unprivileged ICMP (or ICMPv6) echo socket: socket(AF_INET[6], SOCK_DGRAM, IPPROTO_ICMP[V6]).
    /// Null with an errno (EACCES when net.ipv4.ping_group_range excludes us).</summary>
    IHostDatagramSocket? OpenPing(bool v6, IHostSocketOwner owner, out int errno);

    /// <summary>Listens on TCP <paramref name="address"/>:<paramref name="port"/> (None: [::] dual-stack).
    /// Throws <see cref="HostNetworkException"/> with a user-facing message (address in use, permission).</summary>
    IHostTcpListener ListenTcp(IpAddr address, ushort port, IHostSocketOwner owner);

    /// <summary>Binds UDP <paramref name="address"/>:<paramref name="port"/> (None: [::] dual-stack). Throws
    /// <see cref="HostNetworkException"/>.</summary>
    IHostDatagramSocket BindUdp(IpAddr address, ushort port, IHostSocketOwner owner);
}

/// <summary>Where DNS queries go when no upstream is configured: the host's resolvers, kept current.</summary>
public interface IResolverSource
{
    /// <summary>The host's resolvers now (re-read when /etc/resolv.conf changes). May be empty.</summary>
    IReadOnlyList<DnsUpstream> Upstreams { get; }
}

/// <summary>A control-plane failure to open a host socket, with a message for the user.</summary>
public sealed class HostNetworkException : Exception
{
    public HostNetworkException(string message)
        : base(message)
    {
    }

    public HostNetworkException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public HostNetworkException()
    {
    }
}
