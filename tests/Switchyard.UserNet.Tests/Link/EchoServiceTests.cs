using System.Buffers.Binary;
using Switchyard.Protocols;

namespace Switchyard.UserNet.Tests.Link;

public class EchoServiceTests
{
    private static byte[] EchoRequest(byte type, int dataLength = 56)
    {
        var m = new byte[8 + dataLength];
        m[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(4), 0x4242);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(6), 7);
        for (int i = 8; i < m.Length; i++)
        {
            m[i] = (byte)i;
        }

        return m;
    }

    [Fact]
    public void EchoRequest_ToGateway_RepliesWithCorrectChecksum()
    {
        var h = new LinkHarness();
        byte[] request = EchoRequest(8);
        Assert.True(h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, GatewayOptions.DefaultMac, LinkHarness.Guest, LinkHarness.Gateway, request)));
        byte[] reply = LinkHarness.IcmpOf(h.TakeOne(), out IpAddr source, out IpAddr destination, out _);
        Assert.Equal(LinkHarness.Gateway, source);
        Assert.Equal(LinkHarness.Guest, destination);
        Assert.Equal(0, reply[0]);
        Assert.Equal(request[4..8], reply[4..8]);
        Assert.Equal(request[8..], reply[8..]);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.EchoRepliesFromGateway));
    }

    [Fact]
    public void EchoRequest_ToDnsAddress_Replies()
    {
        var h = new LinkHarness();
        Assert.True(h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, GatewayOptions.DefaultMac, LinkHarness.Guest, LinkHarness.Dns, EchoRequest(8, 0))));
        LinkHarness.IcmpOf(h.TakeOne(), out IpAddr source, out _, out _);
        Assert.Equal(LinkHarness.Dns, source);
    }

    [Fact]
    public void EchoRequest_ToInternet_NotHandled()
    {
        var h = new LinkHarness();
        Assert.False(h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, GatewayOptions.DefaultMac, LinkHarness.Guest, IpAddr.FromV4(0x08080808), EchoRequest(8))));
        Assert.Empty(h.Take());
    }

    [Fact]
    public void EchoRequest_BadChecksum_CountedAndNoReply()
    {
        var h = new LinkHarness();
        byte[] frame = LinkHarness.IcmpFrame(LinkHarness.GuestMac, GatewayOptions.DefaultMac, LinkHarness.Guest, LinkHarness.Gateway, EchoRequest(8));
        frame[^1] ^= 0xFF;
        Assert.True(h.Deliver(frame));
        Assert.Empty(h.Take());
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.IcmpChecksumBad));
    }

    [Fact]
    public void EchoRequest_ChecksumTrusted_NotVerified()
    {
        var h = new LinkHarness();
        byte[] frame = LinkHarness.IcmpFrame(LinkHarness.GuestMac, GatewayOptions.DefaultMac, LinkHarness.Guest, LinkHarness.Gateway, EchoRequest(8), fixChecksum: false);
        Assert.True(h.Deliver(frame, checksumTrusted: true));
        LinkHarness.IcmpOf(h.TakeOne(), out _, out _, out _);
    }

    [Fact]
    public void Icmp_TooShort_CountedMalformed()
    {
        var h = new LinkHarness();
        Assert.True(h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, GatewayOptions.DefaultMac, LinkHarness.Guest, LinkHarness.Gateway, [8, 0, 0, 0, 0])));
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.IcmpMalformed));
    }

    [Fact]
    public void Icmp_OtherTypeToGateway_CountedUnsupported()
    {
        var h = new LinkHarness();
        Assert.True(h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, GatewayOptions.DefaultMac, LinkHarness.Guest, LinkHarness.Gateway, EchoRequest(13))));
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.IcmpTypeUnsupported));
    }

    [Fact]
    public void EchoRequestV6_ToGatewayAddresses_Replies()
    {
        var h = new LinkHarness();
        foreach (IpAddr target in new[] { LinkHarness.Host6, GatewayOptions.Default.Dns6, LinkHarness.GatewayLinkLocal })
        {
            IpAddr source = target.IsLinkLocalV6 ? LinkHarness.GuestLinkLocal : LinkHarness.Guest6;
            Assert.True(h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, GatewayOptions.DefaultMac, source, target, EchoRequest(128))));
            byte[] reply = LinkHarness.IcmpOf(h.TakeOne(), out IpAddr from, out IpAddr to, out _);
            Assert.Equal(129, reply[0]);
            Assert.Equal(target, from);
            Assert.Equal(source, to);
        }
    }

    [Fact]
    public void EchoRequestV6_BadChecksum_Counted()
    {
        var h = new LinkHarness();
        byte[] frame = LinkHarness.IcmpFrame(LinkHarness.GuestMac, GatewayOptions.DefaultMac, LinkHarness.Guest6, LinkHarness.Host6, EchoRequest(128));
        frame[^1] ^= 1;
        Assert.True(h.Deliver(frame));
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.IcmpChecksumBad));
    }

    [Fact]
    public void EchoRequestV6_ToAllNodes_NotHandled()
    {
        var h = new LinkHarness();
        Assert.False(h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, 0x3333_0000_0001UL, LinkHarness.Guest6, LinkHarness.AllNodes, EchoRequest(128))));
    }
}
