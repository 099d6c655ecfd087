using Switchyard.Protocols;

namespace Switchyard.UserNet.Tests.Link;

public class ArpServiceTests
{
    [Fact]
    public void ArpRequest_ForGateway_RepliesWithGatewayMac()
    {
        var h = new LinkHarness();
        h.Deliver(LinkHarness.ArpFrame(ArpPacket.OperationRequest, LinkHarness.GuestMac, 0x0A00020F, 0, 0x0A000202));
        byte[] reply = h.TakeOne();

        byte[] expected =
        [
            0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // to the guest
            0x52, 0x55, 0x0A, 0x00, 0x02, 0x02, // from the gateway
            0x08, 0x06,
            0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02, // Ethernet/IPv4, reply
            0x52, 0x55, 0x0A, 0x00, 0x02, 0x02, 10, 0, 2, 2, // sender: gateway
            0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 10, 0, 2, 15, // target: the asking guest
        ];
        Assert.Equal(60, reply.Length);
        Assert.Equal(expected, reply[..42]);
        Assert.All(reply[42..], b => Assert.Equal(0, b));
        Assert.Equal(1, h.Counters.Events(GatewayEvent.ArpReplies));
    }

    [Fact]
    public void ArpRequest_ForDnsAddress_Replies()
    {
        var h = new LinkHarness();
        h.Deliver(LinkHarness.ArpFrame(ArpPacket.OperationRequest, LinkHarness.GuestMac, 0x0A00020F, 0, 0x0A000203));
        Assert.True(ArpPacket.TryParse(h.TakeOne().AsSpan(14), out ArpPacket arp));
        Assert.Equal(0x0A000203u, arp.SenderIp);
        Assert.Equal(GatewayOptions.DefaultMac, arp.SenderMac);
    }

    [Fact]
    public void ArpRequest_ForAnotherGuest_NoReplyButSenderLearned()
    {
        var h = new LinkHarness();
        h.Deliver(LinkHarness.ArpFrame(ArpPacket.OperationRequest, LinkHarness.GuestMac, 0x0A00020F, 0, 0x0A000210));
        Assert.Empty(h.Take());
        Assert.True(h.Services.TryResolve(LinkHarness.Guest, out ulong mac));
        Assert.Equal(LinkHarness.GuestMac, mac);
    }

    [Fact]
    public void ArpProbe_FromZeroAddress_AnsweredButNotLearned()
    {
        var h = new LinkHarness();
        h.Deliver(LinkHarness.ArpFrame(ArpPacket.OperationRequest, LinkHarness.GuestMac, 0, 0, 0x0A000202));
        Assert.Single(h.Take());
        Assert.False(h.Services.TryResolve(IpAddr.FromV4(0), out _));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(27)]
    public void ArpPacket_Truncated_CountedMalformed(int length)
    {
        var h = new LinkHarness();
        byte[] frame = LinkHarness.ArpFrame(ArpPacket.OperationRequest, LinkHarness.GuestMac, 0x0A00020F, 0, 0x0A000202);
        h.Services.OnArp(LinkHarness.GuestMac, frame.AsSpan(14, length));
        Assert.Empty(h.Take());
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.ArpMalformed));
    }

    [Fact]
    public void ArpPacket_WrongHardwareType_CountedMalformed()
    {
        var h = new LinkHarness();
        byte[] frame = LinkHarness.ArpFrame(ArpPacket.OperationRequest, LinkHarness.GuestMac, 0x0A00020F, 0, 0x0A000202);
        frame[15] = 6; // IEEE 802 instead of Ethernet
        h.Deliver(frame);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.ArpMalformed));
    }

    [Fact]
    public void TryResolve_Unknown_SendsOneArpRequestPerSecond()
    {
        var h = new LinkHarness();
        IpAddr target = IpAddr.FromV4(0x0A000220);
        Assert.False(h.Services.TryResolve(target, out _));
        Assert.False(h.Services.TryResolve(target, out _));
        byte[] request = h.TakeOne();
        Assert.True(ArpPacket.TryParse(request.AsSpan(14), out ArpPacket arp));
        Assert.True(arp.IsRequest);
        Assert.Equal(0x0A000220u, arp.TargetIp);
        Assert.Equal(0x0A000202u, arp.SenderIp);
        Assert.Equal(0xFFFF_FFFF_FFFFUL, Switchyard.Core.Frames.Ethernet.Destination(request));

        h.Loop.Advance(TimeSpan.FromSeconds(1));
        Assert.False(h.Services.TryResolve(target, out _));
        Assert.Single(h.Take());
        Assert.Equal(2, h.Counters.Events(GatewayEvent.ArpRequestsSent));

        h.Deliver(LinkHarness.ArpFrame(ArpPacket.OperationReply, 0x5254_0000_0099UL, 0x0A000220, GatewayOptions.DefaultMac, 0x0A000202, GatewayOptions.DefaultMac));
        Assert.True(h.Services.TryResolve(target, out ulong mac));
        Assert.Equal(0x5254_0000_0099UL, mac);
    }

    [Fact]
    public void TryResolve_OffLinkOrOwnAddress_SendsNothing()
    {
        var h = new LinkHarness();
        Assert.False(h.Services.TryResolve(IpAddr.FromV4(0x08080808), out _));
        Assert.False(h.Services.TryResolve(LinkHarness.Gateway, out _));
        Assert.False(h.Services.TryResolve(IpAddr.FromV4(0x0A0002FF), out _));
        Assert.Empty(h.Take());
    }

    [Fact]
    public void Neighbour_NotSeenForLifetime_Forgotten()
    {
        var h = new LinkHarness();
        h.Services.Learn(LinkHarness.GuestMac, LinkHarness.Guest);
        h.Loop.Advance(LinkServices.NeighbourLifetime - TimeSpan.FromSeconds(1));
        Assert.True(h.Services.TryResolve(LinkHarness.Guest, out _));
        h.Loop.Advance(TimeSpan.FromSeconds(2));
        Assert.False(h.Services.TryResolve(LinkHarness.Guest, out _));
    }

    [Fact]
    public void Learn_MacChanges_LatestWins()
    {
        var h = new LinkHarness();
        h.Services.Learn(LinkHarness.GuestMac, LinkHarness.Guest);
        h.Services.Learn(0x5254_0000_0001UL, LinkHarness.Guest);
        Assert.True(h.Services.TryResolve(LinkHarness.Guest, out ulong mac));
        Assert.Equal(0x5254_0000_0001UL, mac);
    }

    [Fact]
    public void Learn_ManyV6Sources_BoundedAndCounted()
    {
        var h = new LinkHarness();
        for (ulong i = 0; i < 5000; i++)
        {
            h.Services.Learn(LinkHarness.GuestMac, new IpAddr(0xFD00_0000_0000_0000UL, 0x1000 + i));
        }

        Assert.True(h.Counters.Drops(GatewayDrop.NeighbourTableFull) > 0);
        h.Loop.Advance(TimeSpan.FromMinutes(2));
        h.Services.Learn(LinkHarness.GuestMac, LinkHarness.Guest6);
        Assert.True(h.Services.TryResolve(LinkHarness.Guest6, out _));
    }
}
