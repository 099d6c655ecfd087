// LoopHostNetwork against real sockets on 127.0.0.1 and ::1, driven by the real EpollLoop.
//
// The owner below records every readiness event and then pauses the socket (interest None): the
// loop is level-triggered, so an owner that neither drains nor pauses would be woken again at once.
// Tests await an event, act on the loop with InvokeAsync, and re-arm interest when they want more.
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Switchyard.Core.Loop;
using Switchyard.Protocols;
using Switchyard.Ports.NatHost;
using Switchyard.UserNet;

namespace Switchyard.Ports.Tests;

public sealed class HostNetworkTests : IDisposable
{
    private static readonly IpAddr Loopback4 = IpAddr.FromV4(0x7F00_0001);
    private static readonly IpAddr Loopback6 = new(0, 1);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly LoopFixture fixture = new();
    private readonly LoopHostNetwork network;

    public HostNetworkTests() => network = new LoopHostNetwork(fixture.Loop);

    public void Dispose() => fixture.Dispose();

    [Fact]
    public async Task ForwardListener_Open_RegisteredAsOwnEndpointUntilDisposed()
    {
        var owner = new RecordingOwner();
        IHostTcpListener listener = await OnLoop(() => network.ListenTcp(Loopback4, 0, owner));
        ushort port = await OnLoop(() => listener.LocalPort);

        Assert.Equal(Switchyard.Core.Host.OwnEndpointMatch.Bound, Switchyard.Core.Host.OwnEndpoints.Process.Match(
            Switchyard.Core.Host.OwnProtocol.Tcp, Loopback4.High, Loopback4.Low, port));
        await OnLoop(listener.Dispose);
        Assert.Equal(Switchyard.Core.Host.OwnEndpointMatch.None, Switchyard.Core.Host.OwnEndpoints.Process.Match(
            Switchyard.Core.Host.OwnProtocol.Tcp, Loopback4.High, Loopback4.Low, port));
    }

    [Fact]
    public void IsLocalAddress_LoopbackYes_DocumentationAddressNo()
    {
        Assert.True(network.IsLocalAddress(Loopback4));
        Assert.False(network.IsLocalAddress(IpAddr.FromV4(0xC000_0201))); // 192.0.2.1, TEST-NET-1
    }

    [Fact]
    public async Task ConnectTcp_LoopbackListener_ConnectsSendsReceivesAndSeesFin()
    {
        using var server = new TcpListener(IPAddress.Loopback, 0);
        server.Start();
        ushort port = (ushort)((IPEndPoint)server.LocalEndpoint).Port;
        var owner = new RecordingOwner();

        IHostTcpSocket socket = await OnLoop(() =>
        {
            IHostTcpSocket? s = network.ConnectTcp(Loopback4, port, owner, out int errno);
            return s ?? throw new InvalidOperationException($"connect failed: errno {errno}");
        });
        using Socket accepted = await server.AcceptSocketAsync().WaitAsync(Timeout);

        Assert.True((await owner.Next()).HasFlag(IoEvents.Writable));
        Assert.Equal(0, await OnLoop(socket.TakeError));
        Assert.Equal(Loopback4, socket.RemoteAddress);
        Assert.Equal(port, socket.RemotePort);
        Assert.Equal(Loopback4, await OnLoop(() => socket.LocalAddress));
        Assert.Equal(((IPEndPoint)accepted.RemoteEndPoint!).Port, await OnLoop(() => (int)socket.LocalPort));

        HostIo sent = await OnLoop(() => socket.Send("hello"u8));
        Assert.Equal(HostIo.Done(5), sent);
        byte[] got = new byte[16];
        accepted.ReceiveTimeout = 5000;
        Assert.Equal(5, accepted.Receive(got));
        Assert.Equal("hello"u8.ToArray(), got[..5]);

        accepted.Send("world"u8);
        await OnLoop(() => socket.SetInterest(IoEvents.Readable));
        Assert.True((await owner.Next()).HasFlag(IoEvents.Readable));
        (HostIo io, byte[] data) = await OnLoop(() =>
        {
            byte[] buffer = new byte[64];
            HostIo r = socket.Receive(buffer);
            return (r, buffer[..r.Bytes]);
        });
        Assert.True(io.Ok);
        Assert.Equal("world"u8.ToArray(), data);

        accepted.Shutdown(SocketShutdown.Send);
        await OnLoop(() => socket.SetInterest(IoEvents.Readable));
        Assert.True((await owner.Next()).HasFlag(IoEvents.Readable));
        Assert.Equal(HostIo.Done(0), await OnLoop(() => socket.Receive(new byte[64])));

        await OnLoop(() => socket.ShutdownSend());
        Assert.Equal(0, accepted.Receive(got));
        await OnLoop(socket.Dispose);
    }

    [Fact]
    public async Task ConnectTcp_Ipv6Loopback_ConnectsAndReportsAddresses()
    {
        using var server = new TcpListener(IPAddress.IPv6Loopback, 0);
        server.Start();
        ushort port = (ushort)((IPEndPoint)server.LocalEndpoint).Port;
        var owner = new RecordingOwner();
        IHostTcpSocket socket = await OnLoop(() => network.ConnectTcp(Loopback6, port, owner, out _)!);
        using Socket accepted = await server.AcceptSocketAsync().WaitAsync(Timeout);
        Assert.True((await owner.Next()).HasFlag(IoEvents.Writable));
        Assert.Equal(0, await OnLoop(socket.TakeError));
        Assert.Equal(Loopback6, await OnLoop(() => socket.LocalAddress));
        Assert.Equal(HostIo.Done(2), await OnLoop(() => socket.Send("v6"u8)));
        accepted.ReceiveTimeout = 5000;
        Assert.Equal(2, accepted.Receive(new byte[8]));
        await OnLoop(socket.Dispose);
    }

    [Fact]
    public async Task ConnectTcp_ClosedPort_ReportsConnectionRefused()
    {
        ushort port = FreePort(SocketType.Stream);
        var owner = new RecordingOwner();
        (IHostTcpSocket? socket, int errno) = await OnLoop(() =>
        {
            IHostTcpSocket? s = network.ConnectTcp(Loopback4, port, owner, out int e);
            return (s, e);
        });

        if (socket is null)
        {
            Assert.Equal(HostIo.ECONNREFUSED, errno);
            return;
        }

        await owner.Next();
        Assert.Equal(HostIo.ECONNREFUSED, await OnLoop(socket.TakeError));
        Assert.Equal(0, await OnLoop(socket.TakeError)); // SO_ERROR is cleared by reading it.
        await OnLoop(socket.Dispose);
    }

    [Fact]
    public async Task ListenTcp_Loopback_AcceptsClientAndReportsItsAddress()
    {
        ushort port = FreePort(SocketType.Stream);
        var owner = new RecordingOwner();
        IHostTcpListener listener = await OnLoop(() => network.ListenTcp(Loopback4, port, owner));
        Assert.Equal(port, await OnLoop(() => listener.LocalPort));
        Assert.Equal(Loopback4, await OnLoop(() => listener.LocalAddress));

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Timeout);
        Assert.True((await owner.Next()).HasFlag(IoEvents.Readable));

        var connectionOwner = new RecordingOwner();
        IHostTcpSocket? accepted = await OnLoop(() => listener.Accept(connectionOwner));
        Assert.NotNull(accepted);
        Assert.True(accepted.RemoteAddress.IsV4);
        Assert.Equal(Loopback4, accepted.RemoteAddress);
        Assert.Equal(((IPEndPoint)client.LocalEndPoint!).Port, accepted.RemotePort);
        Assert.Equal(port, await OnLoop(() => accepted.LocalPort));
        Assert.Null(await OnLoop(() => listener.Accept(connectionOwner))); // Nothing else pending.

        client.Send("abc"u8);
        Assert.True((await connectionOwner.Next()).HasFlag(IoEvents.Readable));
        Assert.Equal(3, (await OnLoop(() => accepted.Receive(new byte[8]))).Bytes);

        await OnLoop(() =>
        {
            accepted.Dispose();
            listener.Dispose();
        });
    }

    [Fact]
    public async Task ListenTcp_AllAddresses_IsDualStackAndReportsIpv4PeersAsIpv4()
    {
        ushort port = FreePort(SocketType.Stream);
        var owner = new RecordingOwner();
        IHostTcpListener listener = await OnLoop(() => network.ListenTcp(IpAddr.None, port, owner));
        Assert.Equal(IpAddr.None, await OnLoop(() => listener.LocalAddress)); // [::]

        using var client4 = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client4.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Timeout);
        await owner.Next();
        IHostTcpSocket? accepted4 = await OnLoop(() => listener.Accept(new RecordingOwner()));
        Assert.NotNull(accepted4);
        Assert.True(accepted4.RemoteAddress.IsV4, $"{accepted4.RemoteAddress} should be IPv4");
        Assert.Equal(Loopback4, accepted4.RemoteAddress);
        Assert.Equal("127.0.0.1", accepted4.RemoteAddress.ToString());

        using var client6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        await client6.ConnectAsync(IPAddress.IPv6Loopback, port).WaitAsync(Timeout);
        await OnLoop(() => listener.SetInterest(IoEvents.Readable));
        await owner.Next();
        IHostTcpSocket? accepted6 = await OnLoop(() => listener.Accept(new RecordingOwner()));
        Assert.NotNull(accepted6);
        Assert.Equal(Loopback6, accepted6.RemoteAddress);

        await OnLoop(() =>
        {
            accepted4.Dispose();
            accepted6.Dispose();
            listener.Dispose();
        });
    }

    [Fact]
    public async Task ListenTcp_PortInUse_ThrowsMessageNamingPortAndAddress()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        ushort port = (ushort)((IPEndPoint)holder.LocalEndpoint).Port;

        var ex = await Assert.ThrowsAsync<HostNetworkException>(() => OnLoop(() => network.ListenTcp(Loopback4, port, new RecordingOwner())));
        Assert.StartsWith($"tcp port {port} on 127.0.0.1 is already in use", ex.Message, StringComparison.Ordinal);

        // [::] dual-stack overlaps 127.0.0.1 too.
        ex = await Assert.ThrowsAsync<HostNetworkException>(() => OnLoop(() => network.ListenTcp(IpAddr.None, port, new RecordingOwner())));
        Assert.Contains($"tcp port {port} on all addresses", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BindUdp_PortInUse_ThrowsMessageNamingPort()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        ushort port = (ushort)((IPEndPoint)holder.LocalEndPoint!).Port;
        var ex = await Assert.ThrowsAsync<HostNetworkException>(() => OnLoop(() => network.BindUdp(Loopback4, port, new RecordingOwner())));
        Assert.StartsWith($"udp port {port} on 127.0.0.1 is already in use", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Failure_PrivilegedPort_NamesCapabilityAndSysctl()
    {
        // We run as root here, so EACCES cannot be provoked; check the wording for it directly.
        HostNetworkException ex = LoopHostNetwork.Failure("tcp", IpAddr.None, 80, 13);
        Assert.StartsWith("binding tcp port 80 needs CAP_NET_BIND_SERVICE or a port ≥ ", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("(net.ipv4.ip_unprivileged_port_start)", ex.Message, StringComparison.Ordinal);

        ex = LoopHostNetwork.Failure("udp", IpAddr.FromV4(0xC000_0201), 5353, 99);
        Assert.Contains("192.0.2.1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("not configured on this host", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListenTcp_AddressNotOnHost_Throws()
    {
        var ex = await Assert.ThrowsAsync<HostNetworkException>(() => OnLoop(() => network.ListenTcp(IpAddr.FromV4(0xC000_0201), FreePort(SocketType.Stream), new RecordingOwner())));
        Assert.Contains("192.0.2.1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenUdp_LoopbackPeer_SendsAndReceivesFromIt()
    {
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        ushort peerPort = (ushort)((IPEndPoint)peer.LocalEndPoint!).Port;
        var owner = new RecordingOwner();
        IHostDatagramSocket socket = await OnLoop(() =>
            network.OpenUdp(Loopback4, peerPort, owner, out int errno) ?? throw new InvalidOperationException($"errno {errno}"));

        Assert.Equal(HostIo.Done(5), await OnLoop(() => socket.Send("query"u8)));
        byte[] got = new byte[64];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        peer.ReceiveTimeout = 5000;
        Assert.Equal(5, peer.ReceiveFrom(got, ref from));
        Assert.Equal(await OnLoop(() => (int)socket.LocalPort), ((IPEndPoint)from).Port);

        peer.SendTo("answer"u8, from);
        Assert.True((await owner.Next()).HasFlag(IoEvents.Readable));
        (HostIo io, IpAddr address, ushort port) = await OnLoop(() =>
        {
            HostIo r = socket.ReceiveFrom(new byte[64], out IpAddr a, out ushort p);
            return (r, a, p);
        });
        Assert.Equal(HostIo.Done(6), io);
        Assert.Equal(Loopback4, address);
        Assert.Equal(peerPort, port);
        Assert.True((await OnLoop(() => socket.ReceiveFrom(new byte[64], out _, out _))).WouldBlock);
        await OnLoop(socket.Dispose);
    }

    [Fact]
    public async Task BindUdp_AllAddresses_ReceivesFromV4AndV6AndAnswersWithSendTo()
    {
        ushort port = FreePort(SocketType.Dgram);
        var owner = new RecordingOwner();
        IHostDatagramSocket socket = await OnLoop(() => network.BindUdp(IpAddr.None, port, owner));

        using var client4 = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client4.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        client4.ReceiveTimeout = 5000;
        client4.SendTo("v4"u8, new IPEndPoint(IPAddress.Loopback, port));
        await owner.Next();
        (HostIo io, IpAddr address, ushort from) = await OnLoop(() =>
        {
            HostIo r = socket.ReceiveFrom(new byte[64], out IpAddr a, out ushort p);
            return (r, a, p);
        });
        Assert.Equal(HostIo.Done(2), io);
        Assert.True(address.IsV4);
        Assert.Equal(Loopback4, address);
        Assert.Equal(((IPEndPoint)client4.LocalEndPoint!).Port, from);

        Assert.Equal(HostIo.Done(5), await OnLoop(() => socket.SendTo("reply"u8, address, from)));
        byte[] got = new byte[64];
        Assert.Equal(5, client4.Receive(got));

        using var client6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
        client6.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        client6.ReceiveTimeout = 5000;
        client6.SendTo("v6"u8, new IPEndPoint(IPAddress.IPv6Loopback, port));
        await OnLoop(() => socket.SetInterest(IoEvents.Readable));
        await owner.Next();
        (_, address, from) = await OnLoop(() =>
        {
            HostIo r = socket.ReceiveFrom(new byte[64], out IpAddr a, out ushort p);
            return (r, a, p);
        });
        Assert.Equal(Loopback6, address);
        Assert.Equal(HostIo.Done(3), await OnLoop(() => socket.SendTo("six"u8, address, from)));
        Assert.Equal(3, client6.Receive(got));
        await OnLoop(socket.Dispose);
    }

    [Fact]
    public async Task Abort_ConnectedSocket_PeerSeesReset()
    {
        using var server = new TcpListener(IPAddress.Loopback, 0);
        server.Start();
        ushort port = (ushort)((IPEndPoint)server.LocalEndpoint).Port;
        var owner = new RecordingOwner();
        IHostTcpSocket socket = await OnLoop(() => network.ConnectTcp(Loopback4, port, owner, out _)!);
        using Socket accepted = await server.AcceptSocketAsync().WaitAsync(Timeout);
        await owner.Next();
        Assert.Equal(0, await OnLoop(socket.TakeError));

        await OnLoop(socket.Abort);
        await OnLoop(socket.Abort); // Idempotent, like Dispose.
        await OnLoop(socket.Dispose);

        accepted.ReceiveTimeout = 5000;
        var ex = Assert.Throws<SocketException>(() => accepted.Receive(new byte[8]));
        Assert.Equal(SocketError.ConnectionReset, ex.SocketErrorCode);
    }

    [Fact]
    public async Task Dispose_ClosedSocket_LaterCallsReportErrorsInsteadOfThrowing()
    {
        using var server = new TcpListener(IPAddress.Loopback, 0);
        server.Start();
        ushort port = (ushort)((IPEndPoint)server.LocalEndpoint).Port;
        IHostTcpSocket socket = await OnLoop(() => network.ConnectTcp(Loopback4, port, new RecordingOwner(), out _)!);
        await OnLoop(() =>
        {
            socket.Dispose();
            socket.Dispose();
            socket.SetInterest(IoEvents.Writable);
            Assert.False(socket.Send("x"u8).Ok);
            Assert.False(socket.Receive(new byte[4]).Ok);
            Assert.Equal(0, socket.TakeError());
        });
    }

    [Fact]
    public async Task OpenPing_EchoToLoopback_GetsReply()
    {
        using var range = PingGroupRange.Allow();
        var owner = new RecordingOwner();
        (IHostDatagramSocket? socket, int errno) = await OnLoop(() =>
        {
            IHostDatagramSocket? s = network.OpenPing(false, owner, out int e);
            return (s, e);
        });
        if (!range.Allowed && socket is null)
        {
            // Not root and our group is outside ping_group_range: the contract is null + EACCES.
            Assert.Null(socket);
            Assert.Equal(HostIo.EACCES, errno);
            return;
        }

        Assert.NotNull(socket);

        // ICMP echo request: type 8, code 0, checksum and identifier are filled in by the kernel.
        byte[] request = [8, 0, 0, 0, 0, 0, 0, 7, (byte)'p', (byte)'i', (byte)'n', (byte)'g'];
        Assert.Equal(HostIo.Done(request.Length), await OnLoop(() => socket.SendTo(request, Loopback4, 0)));
        Assert.True((await owner.Next()).HasFlag(IoEvents.Readable));
        (HostIo io, byte[] reply, IpAddr from) = await OnLoop(() =>
        {
            byte[] buffer = new byte[128];
            HostIo r = socket.ReceiveFrom(buffer, out IpAddr a, out _);
            return (r, buffer[..r.Bytes], a);
        });
        Assert.Equal(HostIo.Done(request.Length), io);
        Assert.Equal(0, reply[0]); // Echo reply.
        Assert.Equal(7, reply[7]); // Same sequence number.
        Assert.Equal(request[8..], reply[8..]);
        Assert.Equal(Loopback4, from);
        await OnLoop(socket.Dispose);
    }

    [Fact]
    public async Task OpenPing_V6EchoToLoopback_GetsReply()
    {
        using var range = PingGroupRange.Allow();
        var owner = new RecordingOwner();
        (IHostDatagramSocket? socket, int errno) = await OnLoop(() =>
        {
            IHostDatagramSocket? s = network.OpenPing(true, owner, out int e);
            return (s, e);
        });
        if (!range.Allowed && socket is null)
        {
            // Not root and our group is outside ping_group_range: the contract is null + EACCES.
            Assert.Null(socket);
            Assert.Equal(HostIo.EACCES, errno);
            return;
        }

        Assert.NotNull(socket);

        byte[] request = [128, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3];
        Assert.Equal(HostIo.Done(request.Length), await OnLoop(() => socket.SendTo(request, Loopback6, 0)));
        await owner.Next();
        (HostIo io, byte[] reply, IpAddr from) = await OnLoop(() =>
        {
            byte[] buffer = new byte[128];
            HostIo r = socket.ReceiveFrom(buffer, out IpAddr a, out _);
            return (r, buffer[..r.Bytes], a);
        });
        Assert.Equal(HostIo.Done(request.Length), io);
        Assert.Equal(129, reply[0]); // ICMPv6 echo reply.
        Assert.Equal(Loopback6, from);
        await OnLoop(socket.Dispose);
    }

    [Fact]
    public async Task DataPath_SendAndReceive_AllocateNothing()
    {
        ushort port = FreePort(SocketType.Dgram);
        var owner = new RecordingOwner();
        long allocated = await OnLoop(() =>
        {
            IHostDatagramSocket bound = network.BindUdp(Loopback4, port, owner);
            IHostDatagramSocket client = network.OpenUdp(Loopback4, port, owner, out _)!;
            byte[] buffer = new byte[2048];
            byte[] payload = new byte[512];

            // Warm up (JIT, first-call stubs), then measure.
            for (int round = 0; round < 2; round++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 50; i++)
                {
                    _ = client.Send(payload);
                    HostIo io;
                    do
                    {
                        io = bound.ReceiveFrom(buffer, out IpAddr from, out ushort fromPort);
                        if (io.Ok)
                        {
                            _ = bound.SendTo(buffer.AsSpan(0, io.Bytes), from, fromPort);
                        }
                    }
                    while (io.WouldBlock);

                    do
                    {
                        io = client.ReceiveFrom(buffer, out _, out _);
                    }
                    while (io.WouldBlock);
                }

                long used = GC.GetAllocatedBytesForCurrentThread() - before;
                if (round == 1)
                {
                    bound.Dispose();
                    client.Dispose();
                    return used;
                }
            }

            return -1;
        });
        Assert.Equal(0, allocated);
    }

    /// <summary>A port that was free a moment ago (bind to 0, read it back, close).</summary>
    private static ushort FreePort(SocketType type)
    {
        using var probe = new Socket(AddressFamily.InterNetworkV6, type, type == SocketType.Stream ? ProtocolType.Tcp : ProtocolType.Udp);
        probe.DualMode = true;
        probe.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        return (ushort)((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private Task<T> OnLoop<T>(Func<T> function) => fixture.Loop.InvokeAsync(function).WaitAsync(Timeout);

    private Task OnLoop(Action action) => fixture.Loop.InvokeAsync(() =>
    {
        action();
        return true;
    }).WaitAsync(Timeout);

    /// <summary>Records readiness and pauses the socket so the level-triggered loop does not spin.</summary>
    private sealed class RecordingOwner : IHostSocketOwner
    {
        private readonly Channel<IoEvents> events = Channel.CreateUnbounded<IoEvents>();

        public void OnHostIo(IHostSocket socket, IoEvents ready)
        {
            socket.SetInterest(IoEvents.None);
            events.Writer.TryWrite(ready);
        }

        public async Task<IoEvents> Next() => await events.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
    }
}

/// <summary>Opens net.ipv4.ping_group_range to every group for one test, restoring it after. Only root may
/// change it; otherwise <see cref="Allowed"/> says whether ping sockets work as the range stands. (Tests that
/// use it live in one class, so xunit runs them one at a time.)</summary>
internal sealed class PingGroupRange : IDisposable
{
    private const string SysctlPath = "/proc/sys/net/ipv4/ping_group_range";
    private readonly string? previous;

    private PingGroupRange(string? previous, bool allowed)
    {
        this.previous = previous;
        Allowed = allowed;
    }

    /// <summary>True when ping sockets must work (we are root and the range includes group 0).</summary>
    public bool Allowed { get; }

    public static PingGroupRange Allow()
    {
        string current = File.ReadAllText(SysctlPath).Trim();
        string[] parts = current.Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
        bool rootAllowed = parts.Length == 2
            && long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) <= 0
            && long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) >= 0;
        if (!TestKit.Privileges.IsRoot)
        {
            return new PingGroupRange(null, allowed: false); // Whether our groups are in range: try and see.
        }

        if (rootAllowed)
        {
            return new PingGroupRange(null, allowed: true);
        }

        File.WriteAllText(SysctlPath, "0 2147483647");
        return new PingGroupRange(current, allowed: true);
    }

    public void Dispose()
    {
        if (previous is not null)
        {
            File.WriteAllText(SysctlPath, previous.Replace('\t', ' '));
        }
    }
}
