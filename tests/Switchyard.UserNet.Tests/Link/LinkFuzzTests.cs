using FsCheck;
using FsCheck.Fluent;
using Switchyard.Protocols;

namespace Switchyard.UserNet.Tests.Link;

public class LinkFuzzTests
{
    private static readonly LinkHarness Shared = new(GatewayOptions.Default with { DnsSearch = ["example.test"], Hostname = "vm" });

    [Fact]
    public void DhcpServer_RandomOptionSoup_NeverThrows() =>
        Prop.ForAll<byte[], ulong, uint>((options, mac, ciaddr) =>
        {
            var payload = new byte[DhcpMessage.OptionsOffset + options.Length];
            var b = new DhcpBuilder(payload, DhcpMessage.OpRequest, 1, 0, ciaddr & 0xFF, 0, 0, 0, mac & 0xFEFF_FFFF_FFFFUL);
            _ = b;
            options.CopyTo(payload, DhcpMessage.OptionsOffset);
            if (options.Length > 2)
            {
                // Often a real message type, so the state machine behind the parser runs too.
                payload[DhcpMessage.OptionsOffset] = 53;
                payload[DhcpMessage.OptionsOffset + 1] = 1;
                payload[DhcpMessage.OptionsOffset + 2] = (byte)(options[2] % 9);
            }

            byte[] frame = LinkHarness.UdpFrame(LinkHarness.GuestMac, 0xFFFF_FFFF_FFFFUL, IpAddr.FromV4(0), 68, LinkHarness.Broadcast, 67, payload);
            Assert.True(Shared.Deliver(frame));
            Shared.Take();
            return true;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void DhcpServer_RandomPayload_NeverThrows() =>
        Prop.ForAll<byte[]>(payload =>
        {
            byte[] frame = LinkHarness.UdpFrame(LinkHarness.GuestMac, 0xFFFF_FFFF_FFFFUL, LinkHarness.Guest, 68, LinkHarness.Gateway, 67, payload);
            Shared.Deliver(frame);
            Shared.Take();
            return true;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void Icmpv6_RandomNdpBodies_NeverThrow() =>
        Prop.ForAll<byte[], bool>((body, toGateway) =>
        {
            if (body.Length > 0)
            {
                body[0] = (byte)(128 + (body[0] % 10));
            }

            if (body.Length > 1)
            {
                body[1] = 0;
            }

            IpAddr destination = toGateway ? LinkHarness.Host6 : LinkHarness.AllRouters;
            Shared.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, GatewayOptions.DefaultMac, LinkHarness.GuestLinkLocal, destination, body, ttl: 255));
            Shared.Take();
            return true;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void Dhcpv6_RandomPayload_NeverThrows() =>
        Prop.ForAll<byte[]>(payload =>
        {
            Shared.Deliver(LinkHarness.UdpFrame(LinkHarness.GuestMac, 0x3333_0001_0002UL, LinkHarness.GuestLinkLocal, 546, LinkHarness.AllDhcp, 547, payload));
            Shared.Take();
            return true;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void Arp_RandomPayload_NeverThrows() =>
        Prop.ForAll<byte[]>(payload =>
        {
            Shared.Services.OnArp(LinkHarness.GuestMac, payload);
            Shared.Take();
            return true;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void Icmpv4_RandomToGateway_NeverThrows() =>
        Prop.ForAll<byte[]>(body =>
        {
            Shared.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, GatewayOptions.DefaultMac, LinkHarness.Guest, LinkHarness.Gateway, body));
            Shared.Take();
            return true;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void Arp_GuestClaimsGatewayAddress_NotLearned()
    {
        var h = new LinkHarness();
        h.Deliver(LinkHarness.ArpFrame(ArpPacket.OperationReply, LinkHarness.GuestMac, 0x0A000202, 0, 0x0A00020F));
        Assert.False(h.Services.TryResolve(LinkHarness.Gateway, out _));
        Assert.Empty(h.Take());
    }

    [Fact]
    public void RouterSolicitation_FromUnspecifiedFlood_RateLimited()
    {
        var h = new LinkHarness();
        var rs = new byte[8];
        NdpBuilder.WriteRouterSolicitation(rs);
        for (int i = 0; i < 10; i++)
        {
            h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, 0x3333_0000_0002UL, new IpAddr(0, 0), LinkHarness.AllRouters, rs, ttl: 255));
        }

        Assert.Single(h.Take());
        h.Loop.Advance(TimeSpan.FromSeconds(3));
        h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, 0x3333_0000_0002UL, new IpAddr(0, 0), LinkHarness.AllRouters, rs, ttl: 255));
        Assert.Single(h.Take());
    }
}
