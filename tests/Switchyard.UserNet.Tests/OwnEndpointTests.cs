// The gateway never carries a guest to the daemon's own listeners or bound sockets (issue 10 item 8):
// the HTTP API, stream/socket/dgram listeners and forwards registered in OwnEndpoints are refused with
// an RST (TCP) or a port unreachable (UDP) and counted; everything else on the host stays reachable.
using System.Net;
using Switchyard.Core.Host;
using Switchyard.Protocols;
using Switchyard.UserNet.Tests.Tcp;
using Switchyard.UserNet.Tests.Udp;
using static Switchyard.UserNet.Tests.Udp.Harness;

namespace Switchyard.UserNet.Tests;

public sealed class OwnEndpointTests
{
    private static readonly IpAddr GatewayV4 = IpAddr.FromV4(0x0A000202);

    [Fact]
    public void Registry_RegisterMatchDispose_MatchesOnlyWhileRegistered()
    {
        var own = new OwnEndpoints();
        IDisposable r = own.Register(OwnProtocol.Tcp, new IPEndPoint(IPAddress.Loopback, 8080));
        IpAddr lo = IpAddr.FromV4(0x7F00_0001);

        Assert.Equal(OwnEndpointMatch.Bound, own.Match(OwnProtocol.Tcp, lo.High, lo.Low, 8080));
        Assert.Equal(OwnEndpointMatch.None, own.Match(OwnProtocol.Udp, lo.High, lo.Low, 8080));
        Assert.Equal(OwnEndpointMatch.None, own.Match(OwnProtocol.Tcp, lo.High, lo.Low, 8081));
        r.Dispose();
        r.Dispose();
        Assert.Equal(OwnEndpointMatch.None, own.Match(OwnProtocol.Tcp, lo.High, lo.Low, 8080));
        Assert.Equal(0, own.Count);
    }

    [Fact]
    public void Registry_WildcardBind_MatchesAnyAddressAsWildcard_UnixNotRegistered()
    {
        var own = new OwnEndpoints();
        own.Register(OwnProtocol.Udp, new IPEndPoint(IPAddress.IPv6Any, 9000));
        own.Register(OwnProtocol.Tcp, new System.Net.Sockets.UnixDomainSocketEndPoint("/tmp/x.sock"));
        IpAddr remote = IpAddr.FromV4(0x0102_0304);

        Assert.Equal(OwnEndpointMatch.Wildcard, own.Match(OwnProtocol.Udp, remote.High, remote.Low, 9000));
        Assert.Equal(1, own.Count);
    }

    [Fact]
    public void TcpSyn_ToGatewayAddressOnOwnListenerPort_RstAndCountedNoConnect()
    {
        var h = new TcpHarness();
        h.Context.OwnEndpoints = new OwnEndpoints();
        h.Context.OwnEndpoints.Register(OwnProtocol.Tcp, new IPEndPoint(IPAddress.Loopback, 8080));

        h.Guest(TcpHarness.GuestIp, 5000, GatewayV4, 8080, 77, 0, TcpHeader.FlagSyn);

        Assert.Empty(h.Host.ConnectTargets);
        Assert.True(Assert.Single(h.Link.Take()).Rst);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.TcpToOwnListener));
        Assert.Equal(0, h.Limiter.Count);
    }

    [Fact]
    public void TcpSyn_ToGatewayAddressOnOtherPort_StillCarriedToHostLoopback()
    {
        var h = new TcpHarness();
        h.Context.OwnEndpoints = new OwnEndpoints();
        h.Context.OwnEndpoints.Register(OwnProtocol.Tcp, new IPEndPoint(IPAddress.Loopback, 8080));

        h.Guest(TcpHarness.GuestIp, 5000, GatewayV4, 22, 77, 0, TcpHeader.FlagSyn);

        Assert.Equal("127.0.0.1", h.Host.ConnectTargets[0].Address.ToString());
        Assert.Equal(0, h.Counters.Drops(GatewayDrop.TcpToOwnListener));
    }

    [Fact]
    public void TcpSyn_WildcardOwnListener_RefusedOnLoopbackButNotOnARemoteHost()
    {
        var h = new TcpHarness();
        h.Context.OwnEndpoints = new OwnEndpoints();
        h.Context.OwnEndpoints.Register(OwnProtocol.Tcp, new IPEndPoint(IPAddress.Any, 8080));

        h.Guest(TcpHarness.GuestIp, 5000, GatewayV4, 8080, 77, 0, TcpHeader.FlagSyn);
        h.Guest(TcpHarness.GuestIp, 5001, TcpHarness.RemoteIp, 8080, 77, 0, TcpHeader.FlagSyn);

        // The fake host owns only loopback: the remote address is another machine's port 8080.
        Assert.Equal(TcpHarness.RemoteIp, Assert.Single(h.Host.ConnectTargets).Address);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.TcpToOwnListener));
    }

    [Fact]
    public void UdpDatagram_ToOwnBoundPort_PortUnreachableAndCountedNoSocket()
    {
        var h = new Harness();
        h.Context.OwnEndpoints = new OwnEndpoints();
        h.Context.OwnEndpoints.Register(OwnProtocol.Udp, new IPEndPoint(IPAddress.Loopback, 4000));

        h.SendUdp(Guest, 5000, Gateway, 4000, "hi"u8.ToArray());

        Assert.Empty(h.Host.Udp);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.UdpToOwnListener));
        GuestFrame f = h.LastFrame();
        Assert.Equal(1, f.Protocol);
        Assert.Equal(3, f.L4[0]);
        Assert.Equal(3, f.L4[1]);
        Assert.Equal(Gateway, f.Source);
        Assert.Equal(Guest, f.Destination);
    }
}
