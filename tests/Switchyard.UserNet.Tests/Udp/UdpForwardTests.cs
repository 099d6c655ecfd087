// UDP forwards (host to guest): inbound flows, the source the guest sees, replies back to the client.
using Switchyard.Protocols;
using static Switchyard.UserNet.Tests.Udp.Harness;

namespace Switchyard.UserNet.Tests.Udp;

public sealed class UdpForwardTests
{
    private static readonly IpAddr Client = IpAddr.FromV4(0xC0A8_0105);
    private static readonly ForwardRule Rule = new(ForwardProtocol.Udp, IpAddr.None, 5353, IpAddr.None, 53);

    private static (Harness H, FakeDatagramSocket Bound) WithForward(ForwardRule? rule = null)
    {
        var h = new Harness();
        h.Udp.AddForward(rule ?? Rule);
        return (h, Assert.Single(h.Host.Bound));
    }

    [Fact]
    public void AddForward_BindsHostSide()
    {
        var (_, bound) = WithForward();
        Assert.Equal(IpAddr.None, bound.Remote);
        Assert.Equal(5353, bound.RemotePort);
    }

    [Fact]
    public void AddForward_PortTaken_Throws()
    {
        var (h, _) = WithForward();
        Assert.Throws<HostNetworkException>(() => h.Udp.AddForward(Rule with { GuestPort = 54 }));
    }

    [Fact]
    public void ClientDatagram_NonLoopback_ReachesDefaultGuestWithClientSourceKept()
    {
        var (h, bound) = WithForward();
        bound.Deliver("q"u8.ToArray(), Client, 40001);

        GuestFrame f = h.LastFrame();
        Assert.Equal(Client, f.Source);
        Assert.Equal(40001, f.SourcePort);
        Assert.Equal(Guest, f.Destination);
        Assert.Equal(53, f.DestinationPort);
        Assert.Equal(GuestMac, f.DestinationMac);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.UdpForwardsReceived));
    }

    [Fact]
    public void ClientDatagram_Loopback_ShownAsGateway()
    {
        var (h, bound) = WithForward();
        bound.Deliver("q"u8.ToArray(), Loopback, 40001);

        GuestFrame f = h.LastFrame();
        Assert.Equal(Gateway, f.Source);
        Assert.Equal(40001, f.SourcePort);
    }

    [Fact]
    public void GuestReply_GoesBackToClientThroughBoundSocket()
    {
        var (h, bound) = WithForward();
        bound.Deliver("q"u8.ToArray(), Client, 40001);
        h.SendUdp(Guest, 53, Client, 40001, "a"u8.ToArray());

        var sent = Assert.Single(bound.Sent);
        Assert.Equal(Client, sent.Address);
        Assert.Equal(40001, sent.Port);
        Assert.Equal("a"u8.ToArray(), sent.Data);
        Assert.Empty(h.Host.Udp);
    }

    [Fact]
    public void GuestReply_ToGatewayForLoopbackClient_GoesToLoopbackClientNotNewFlow()
    {
        var (h, bound) = WithForward();
        bound.Deliver("q"u8.ToArray(), Loopback, 40001);
        h.SendUdp(Guest, 53, Gateway, 40001, "a"u8.ToArray());

        var sent = Assert.Single(bound.Sent);
        Assert.Equal(Loopback, sent.Address);
        Assert.Empty(h.Host.Udp);
    }

    [Fact]
    public void ClientDatagram_RuleNamesGuest_GoesThere()
    {
        var h = new Harness();
        h.Neighbours.Known[Guest2] = GuestMac2;
        h.Udp.AddForward(Rule with { GuestAddress = Guest2 });
        h.Host.Bound[0].Deliver("q"u8.ToArray(), Client, 1);

        GuestFrame f = h.LastFrame();
        Assert.Equal(Guest2, f.Destination);
        Assert.Equal(GuestMac2, f.DestinationMac);
    }

    [Fact]
    public void ClientDatagram_GuestMacUnknown_DroppedAndCounted()
    {
        var (h, bound) = WithForward();
        h.Neighbours.Known.Clear();
        bound.Deliver("q"u8.ToArray(), Client, 40001);

        Assert.Empty(h.Link.Frames);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.NeighbourUnknown));
    }

    [Fact]
    public void ClientDatagram_V6Client_ToV4Guest_ShownAsGateway()
    {
        var (h, bound) = WithForward();
        bound.Deliver("q"u8.ToArray(), Remote6, 40001);

        Assert.Equal(Gateway, h.LastFrame().Source);
    }

    [Fact]
    public void InboundFlow_ListedAsInbound_AndExpires()
    {
        var (h, bound) = WithForward();
        bound.Deliver("q"u8.ToArray(), Client, 40001);
        var list = new List<FlowInfo>();
        h.Udp.AddFlows(list);
        FlowInfo info = Assert.Single(list);
        Assert.True(info.Inbound);
        Assert.Equal("192.168.1.5:40001", info.Remote);

        h.Loop.Advance(TimeSpan.FromSeconds(62), TimeSpan.FromSeconds(1));
        Assert.Equal(0, h.Udp.InboundCount);

        // After expiry the guest's datagram to that address is an ordinary outbound flow.
        h.SendUdp(Guest, 53, Client, 40001, "a"u8.ToArray());
        Assert.Empty(bound.Sent);
        Assert.Single(h.Host.Udp);
    }

    [Fact]
    public void RemoveForward_DisposesSocketAndFlows()
    {
        var (h, bound) = WithForward();
        bound.Deliver("q"u8.ToArray(), Client, 40001);

        Assert.True(h.Udp.RemoveForward(Rule with { GuestPort = 99 }));
        Assert.True(bound.Disposed);
        Assert.Equal(0, h.Udp.InboundCount);
        Assert.False(h.Udp.RemoveForward(Rule));
    }

    [Fact]
    public void GuestReply_Restricted_StillReachesClient()
    {
        var h = new Harness(GatewayOptions.Default with { Restrict = true });
        h.Udp.AddForward(Rule);
        FakeDatagramSocket bound = h.Host.Bound[0];
        bound.Deliver("q"u8.ToArray(), Client, 40001);
        h.SendUdp(Guest, 53, Client, 40001, "a"u8.ToArray());
        h.SendUdp(Guest, 53, Client, 40002, "a"u8.ToArray());

        Assert.Single(bound.Sent);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.Restricted));
    }
}
