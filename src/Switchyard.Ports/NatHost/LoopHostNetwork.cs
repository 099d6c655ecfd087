// Host sockets for the NAT gateway, on the gateway's event loop.
//
// Theory of operation: every socket is a raw non-blocking, close-on-exec descriptor (Native.Sockets)
// owned by one object below and registered with the IEventLoop the gateway runs on; everything here
// is called on that loop thread. The loop is level-triggered, so a socket keeps waking its owner
// while it is readable (or writable, with Writable interest): owners drain what they can and change
// interest with SetInterest rather than being told once. Each object is its own IIoHandler and passes
// readiness straight to IHostSocketOwner.OnHostIo(this, events).
//
// Errors: what a guest's traffic can cause (refused, unreachable, out of descriptors) comes back as
// an errno (HostIo, or null + errno from the factory methods); a non-blocking TCP connect that is
// under way (EINPROGRESS) is a success whose outcome arrives as Writable plus TakeError(). Listen and
// bind are control-plane operations for forwards and throw HostNetworkException with a message that
// says what to do (port in use, privileged port, address not on this host).
//
// Addresses: IpAddr.None means "every address", i.e. an AF_INET6 socket bound to [::] with
// IPV6_V6ONLY off, which takes IPv4 too; its IPv4 peers arrive v4-mapped, which IpAddr already
// treats as IPv4. Otherwise an IPv4 IpAddr gets an AF_INET socket and an IPv6 one an AF_INET6 socket.
//
// Data path: Send/Receive/SendTo/ReceiveFrom are one syscall each with stack-allocated addresses;
// nothing allocates. Dispose deregisters, then closes (TCP: a graceful FIN after queued data); Abort
// sets SO_LINGER {1, 0} first so the close sends an RST. Both are idempotent.
//
// Own endpoints: a forward's listener or bound UDP socket is registered in OwnEndpoints.Process with its
// real address and port until it closes, so the gateway does not carry a guest back into its own forward
// (a loop through 10.0.2.2). IsLocalAddress asks the kernel whether an address is this host's: bind(2)
// of a throwaway UDP socket to it succeeds only then.
using System.Buffers.Binary;
using System.Globalization;
using Switchyard.Core.Host;
using Switchyard.Core.Loop;
using Switchyard.Native;
using Switchyard.Protocols;
using Switchyard.UserNet;

namespace Switchyard.Ports.NatHost;

public sealed class LoopHostNetwork : IHostNetwork
{
    private const int ListenBacklog = 1024;
    private const int ENOMEM = 12;
    private const int ENFILE = 23;

    private readonly IEventLoop loop;

    public LoopHostNetwork(IEventLoop loop)
    {
        ArgumentNullException.ThrowIfNull(loop);
        this.loop = loop;
    }

    public IHostTcpSocket? ConnectTcp(IpAddr address, ushort port, IHostSocketOwner owner, out int errno)
    {
        ArgumentNullException.ThrowIfNull(owner);
        bool v6 = !address.IsV4;
        int fd = Sockets.Open(InetSocketKind.Tcp, v6, out errno);
        if (fd < 0)
        {
            return null;
        }

        // Before connect, so even the first segment after the handshake is not held back by Nagle.
        _ = Sockets.SetNoDelay(fd);
        Span<byte> bytes = stackalloc byte[16];
        int rc = Sockets.Connect(fd, bytes[..Write(address, v6, bytes)], port);
        if (rc != 0 && rc != Sockets.EINPROGRESS)
        {
            FileDescriptors.Close(fd);
            errno = rc;
            return null;
        }

        var socket = new TcpSocket(fd, owner, address, port);
        return Register(socket, IoEvents.Readable | IoEvents.Writable, out errno) ? socket : null;
    }

    public IHostDatagramSocket? OpenUdp(IpAddr address, ushort port, IHostSocketOwner owner, out int errno)
    {
        ArgumentNullException.ThrowIfNull(owner);
        bool v6 = !address.IsV4;
        int fd = Sockets.Open(InetSocketKind.Udp, v6, out errno);
        if (fd < 0)
        {
            return null;
        }

        Span<byte> bytes = stackalloc byte[16];
        int rc = Sockets.Connect(fd, bytes[..Write(address, v6, bytes)], port);
        if (rc != 0)
        {
            FileDescriptors.Close(fd);
            errno = rc;
            return null;
        }

        var socket = new DatagramSocket(fd, owner, v6);
        return Register(socket, IoEvents.Readable, out errno) ? socket : null;
    }

    public IHostDatagramSocket? OpenPing(bool v6, IHostSocketOwner owner, out int errno)
    {
        ArgumentNullException.ThrowIfNull(owner);
        int fd = Sockets.Open(InetSocketKind.Ping, v6, out errno);
        if (fd < 0)
        {
            return null;
        }

        var socket = new DatagramSocket(fd, owner, v6);
        return Register(socket, IoEvents.Readable, out errno) ? socket : null;
    }

    public IHostTcpListener ListenTcp(IpAddr address, ushort port, IHostSocketOwner owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        int fd = BindOrThrow(InetSocketKind.Tcp, address, port, out _);
        int rc = Sockets.Listen(fd, ListenBacklog);
        if (rc != 0)
        {
            FileDescriptors.Close(fd);
            throw Failure("tcp", address, port, rc);
        }

        var listener = new TcpListener(fd, owner, loop);
        listener.Own = RegisterOwn(OwnProtocol.Tcp, fd);
        return Register(listener, IoEvents.Readable, out int errno)
            ? listener
            : throw Failure("tcp", address, port, errno);
    }

    public IHostDatagramSocket BindUdp(IpAddr address, ushort port, IHostSocketOwner owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        int fd = BindOrThrow(InetSocketKind.Udp, address, port, out bool v6);
        var socket = new DatagramSocket(fd, owner, v6) { Own = RegisterOwn(OwnProtocol.Udp, fd) };
        return Register(socket, IoEvents.Readable, out int errno)
            ? socket
            : throw Failure("udp", address, port, errno);
    }

    /// <summary>True when <paramref name="address"/> is an address of this host: a UDP socket binds to it.</summary>
    public bool IsLocalAddress(IpAddr address)
    {
        if (address.IsLoopback)
        {
            return true;
        }

        bool v6 = !address.IsV4;
        int fd = Sockets.Open(InetSocketKind.Udp, v6, out _);
        if (fd < 0)
        {
            // Cannot tell: say yes, so a wildcard-bound own endpoint stays out of reach.
            return true;
        }

        Span<byte> bytes = stackalloc byte[16];
        int rc = Sockets.Bind(fd, bytes[..Write(address, v6, bytes)], 0);
        FileDescriptors.Close(fd);
        return rc == 0;
    }

    /// <summary>Registers the local address and port of bound <paramref name="fd"/> as an own endpoint.</summary>
    private static IDisposable RegisterOwn(OwnProtocol protocol, int fd)
    {
        Span<byte> bytes = stackalloc byte[Sockets.AddressBufferLength];
        if (Sockets.GetLocalAddress(fd, bytes, out ushort port) != 0)
        {
            return OwnEndpoints.Process.Register(protocol, null);
        }

        var local = IpAddr.Read(bytes);
        return OwnEndpoints.Process.Register(protocol, local.High, local.Low, port);
    }

    /// <summary>Writes <paramref name="address"/> as a socket of the given family takes it: 4 bytes for an
    /// AF_INET socket, 16 for AF_INET6 (an IPv4 address then in its v4-mapped form). Returns the length.</summary>
    internal static int Write(IpAddr address, bool v6Socket, Span<byte> destination)
    {
        if (!v6Socket)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination, address.V4);
            return 4;
        }

        // IpAddr keeps IPv4 as ::ffff:a.b.c.d, so its two halves are already the v4-mapped form.
        BinaryPrimitives.WriteUInt64BigEndian(destination, address.High);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], address.Low);
        return 16;
    }

    private static string Describe(IpAddr address) =>
        address == IpAddr.None ? "all addresses ([::] and 0.0.0.0)" : address.ToString();

    internal static HostNetworkException Failure(string protocol, IpAddr address, ushort port, int errno)
    {
        string where = Describe(address);
        string message = errno switch
        {
            Sockets.EADDRINUSE => string.Create(CultureInfo.InvariantCulture,
                $"{protocol} port {port} on {where} is already in use; pick another host port, or find what holds it with: ss -{(protocol == "tcp" ? "lt" : "u")}np 'sport = :{port}'"),
            Sockets.EACCES or Sockets.EPERM => string.Create(CultureInfo.InvariantCulture,
                $"binding {protocol} port {port} needs CAP_NET_BIND_SERVICE or a port ≥ {UnprivilegedPortStart()} (net.ipv4.ip_unprivileged_port_start)"),
            Sockets.EADDRNOTAVAIL => string.Create(CultureInfo.InvariantCulture,
                $"cannot bind {protocol} port {port} on {where}: that address is not configured on this host (see: ip addr)"),
            Sockets.EAFNOSUPPORT => string.Create(CultureInfo.InvariantCulture,
                $"cannot bind {protocol} port {port} on {where}: IPv6 is disabled on this host; give an IPv4 address instead"),
            HostIo.EMFILE or ENFILE => string.Create(CultureInfo.InvariantCulture,
                $"cannot open {protocol} port {port} on {where}: out of file descriptors (raise the limit: ulimit -n / LimitNOFILE=)"),
            _ => string.Create(CultureInfo.InvariantCulture,
                $"cannot open {protocol} port {port} on {where}: {new IoResult(0, errno).ErrorMessage}"),
        };
        return new HostNetworkException(message);
    }

    private static string UnprivilegedPortStart()
    {
        try
        {
            string text = File.ReadAllText("/proc/sys/net/ipv4/ip_unprivileged_port_start").Trim();
            return text.Length > 0 ? text : "1024";
        }
        catch (IOException)
        {
            return "1024";
        }
        catch (UnauthorizedAccessException)
        {
            return "1024";
        }
    }

    /// <summary>socket + options + bind for a listener or a bound UDP socket; throws with a user-facing message.</summary>
    private static int BindOrThrow(InetSocketKind kind, IpAddr address, ushort port, out bool v6)
    {
        string protocol = kind == InetSocketKind.Tcp ? "tcp" : "udp";
        bool dualStack = address == IpAddr.None;
        v6 = dualStack || !address.IsV4;
        int fd = Sockets.Open(kind, v6, out int errno);
        if (fd < 0)
        {
            throw Failure(protocol, address, port, errno);
        }

        if (kind == InetSocketKind.Tcp)
        {
            // Restarting the daemon must not fail while old forwarded connections sit in TIME_WAIT. (Not
            // for UDP: there SO_REUSEADDR would let two sockets share the port silently.)
            _ = Sockets.SetReuseAddress(fd);
        }

        if (v6)
        {
            // Explicit either way: the default comes from net.ipv6.bindv6only.
            _ = Sockets.SetV6Only(fd, !dualStack);
        }

        Span<byte> bytes = stackalloc byte[16];
        int rc = Sockets.Bind(fd, bytes[..Write(address, v6, bytes)], port);
        if (rc != 0)
        {
            FileDescriptors.Close(fd);
            throw Failure(protocol, address, port, rc);
        }

        return fd;
    }

    private bool Register(HostSocket socket, IoEvents interest, out int errno)
    {
        // Every host socket passes here: one a guest makes us open may not reach into the descriptors kept
        // for connections and the runtime (DescriptorBudget; a full table aborts the process).
        if (!DescriptorBudget.Shared.AdmitsHostSocket(socket.Fd))
        {
            socket.Dispose();
            errno = HostIo.EMFILE;
            return false;
        }

        try
        {
            socket.Registration = loop.Register(socket.Fd, socket, interest);
            errno = 0;
            return true;
        }
        catch (IOException)
        {
            // epoll_ctl(ADD) fails only for lack of kernel memory or the max_user_watches limit.
            socket.Dispose();
            errno = ENOMEM;
            return false;
        }
    }

    /// <summary>What every host socket shares: its descriptor, registration and owner.</summary>
    private abstract class HostSocket(int fd, IHostSocketOwner owner) : IHostSocket, IIoHandler
    {
        private int fd = fd;

        public int Fd => fd;

        public IoRegistration? Registration { get; set; }

        /// <summary>The own-endpoint registration of a forward's socket (null for flow sockets).</summary>
        public IDisposable? Own { get; set; }

        public IpAddr LocalAddress
        {
            get
            {
                Span<byte> bytes = stackalloc byte[Sockets.AddressBufferLength];
                return Sockets.GetLocalAddress(fd, bytes, out _) == 0 ? IpAddr.Read(bytes) : IpAddr.None;
            }
        }

        public ushort LocalPort
        {
            get
            {
                Span<byte> bytes = stackalloc byte[Sockets.AddressBufferLength];
                return Sockets.GetLocalAddress(fd, bytes, out ushort port) == 0 ? port : (ushort)0;
            }
        }

        protected bool Closed => fd < 0;

        public void OnIo(IoEvents events) => owner.OnHostIo(this, events);

        public void SetInterest(IoEvents interest)
        {
            if (!Closed)
            {
                Registration?.Update(interest);
            }
        }

        public int TakeError() => Closed ? 0 : Sockets.TakeError(fd);

        public void Dispose()
        {
            if (fd < 0)
            {
                return;
            }

            // Deregister before close: a closed number can be reused by the next socket at once.
            Registration?.Dispose();
            Registration = null;
            Own?.Dispose();
            Own = null;
            FileDescriptors.Close(fd);
            fd = -1;
        }

        public override string ToString() => $"host socket {fd}";
    }

    private sealed class TcpSocket(int fd, IHostSocketOwner owner, IpAddr remoteAddress, ushort remotePort)
        : HostSocket(fd, owner), IHostTcpSocket
    {
        public IpAddr RemoteAddress => remoteAddress;

        public ushort RemotePort => remotePort;

        public HostIo Send(ReadOnlySpan<byte> data)
        {
            if (Closed)
            {
                return HostIo.Error(HostIo.EPIPE);
            }

            IoResult result = SocketIo.Send(Fd, data);
            return new HostIo(result.Bytes, result.Errno);
        }

        public HostIo Receive(Span<byte> buffer)
        {
            if (Closed)
            {
                return HostIo.Error(HostIo.ECONNRESET);
            }

            IoResult result = SocketIo.Receive(Fd, buffer);
            return new HostIo(result.Bytes, result.Errno);
        }

        public void ShutdownSend()
        {
            if (!Closed)
            {
                _ = Sockets.ShutdownSend(Fd);
            }
        }

        public void Abort()
        {
            if (!Closed)
            {
                _ = Sockets.SetLingerZero(Fd);
            }

            Dispose();
        }
    }

    private sealed class TcpListener(int fd, IHostSocketOwner owner, IEventLoop loop) : HostSocket(fd, owner), IHostTcpListener
    {
        public IHostTcpSocket? Accept(IHostSocketOwner owner)
        {
            ArgumentNullException.ThrowIfNull(owner);
            if (Closed)
            {
                return null;
            }

            Span<byte> bytes = stackalloc byte[Sockets.AddressBufferLength];
            int client = Sockets.Accept(Fd, bytes, out ushort port, out _);
            if (client < 0)
            {
                // EAGAIN (nothing pending), ECONNABORTED (the client gave up first), EMFILE/ENFILE.
                return null;
            }

            _ = Sockets.SetNoDelay(client);
            var socket = new TcpSocket(client, owner, IpAddr.Read(bytes), port);
            try
            {
                socket.Registration = loop.Register(client, socket, IoEvents.Readable);
            }
            catch (IOException)
            {
                socket.Dispose();
                return null;
            }

            return socket;
        }
    }

    private sealed class DatagramSocket(int fd, IHostSocketOwner owner, bool v6) : HostSocket(fd, owner), IHostDatagramSocket
    {
        public HostIo Send(ReadOnlySpan<byte> data)
        {
            if (Closed)
            {
                return HostIo.Error(HostIo.EPIPE);
            }

            IoResult result = SocketIo.Send(Fd, data);
            return new HostIo(result.Bytes, result.Errno);
        }

        public HostIo SendTo(ReadOnlySpan<byte> data, IpAddr address, ushort port)
        {
            if (Closed)
            {
                return HostIo.Error(HostIo.EPIPE);
            }

            if (!v6 && !address.IsV4)
            {
                return HostIo.Error(HostIo.ENETUNREACH); // An IPv6 destination on an IPv4-only socket.
            }

            Span<byte> bytes = stackalloc byte[16];
            IoResult result = Sockets.SendTo(Fd, data, bytes[..Write(address, v6, bytes)], port);
            return new HostIo(result.Bytes, result.Errno);
        }

        public HostIo ReceiveFrom(Span<byte> buffer, out IpAddr address, out ushort port)
        {
            if (Closed)
            {
                address = IpAddr.None;
                port = 0;
                return HostIo.Error(HostIo.ECONNRESET);
            }

            Span<byte> bytes = stackalloc byte[Sockets.AddressBufferLength];
            IoResult result = Sockets.ReceiveFrom(Fd, buffer, bytes, out port);
            address = result.Ok ? IpAddr.Read(bytes) : IpAddr.None;
            return new HostIo(result.Bytes, result.Errno);
        }
    }
}
