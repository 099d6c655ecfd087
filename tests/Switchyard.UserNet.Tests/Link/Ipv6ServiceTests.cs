using System.Buffers.Binary;
using System.Collections.Immutable;
using Switchyard.Core.Frames;
using Switchyard.Protocols;

namespace Switchyard.UserNet.Tests.Link;

public class Ipv6ServiceTests
{
    private static readonly IpAddr GatewaySolicitedNode = new(0xFF02_0000_0000_0000UL, 0x0000_0001_FF00_0002UL);

    private static byte[] RouterSolicitation(ulong? sourceLinkLayer)
    {
        var m = new byte[sourceLinkLayer is null ? 8 : 16];
        int n = NdpBuilder.WriteRouterSolicitation(m);
        if (sourceLinkLayer is ulong mac)
        {
            NdpBuilder.AppendLinkLayerAddress(m, n, NdpMessage.OptionSourceLinkLayer, mac);
        }

        return m;
    }

    private static byte[] NeighbourSolicitation(IpAddr target, ulong? sourceLinkLayer)
    {
        var m = new byte[sourceLinkLayer is null ? 24 : 32];
        int n = NdpBuilder.WriteNeighbourMessage(m, NdpMessage.TypeNeighbourSolicitation, 0, target);
        if (sourceLinkLayer is ulong mac)
        {
            NdpBuilder.AppendLinkLayerAddress(m, n, NdpMessage.OptionSourceLinkLayer, mac);
        }

        return m;
    }

    private static void CheckRouterAdvertisement(byte[] frame, IpAddr expectedDestination, GatewayOptions options)
    {
        byte[] icmp = LinkHarness.IcmpOf(frame, out IpAddr source, out IpAddr destination, out byte hopLimit);
        Assert.Equal(LinkHarness.GatewayLinkLocal, source);
        Assert.Equal(expectedDestination, destination);
        Assert.Equal(255, hopLimit);
        Assert.True(NdpMessage.TryParse(icmp, out NdpMessage ra));
        Assert.Equal(NdpMessage.TypeRouterAdvertisement, ra.Type);
        Assert.Equal(NdpMessage.FlagOther, ra.Flags);
        Assert.Equal(1800, ra.RouterLifetime);
        Assert.True(ra.TryGetLinkLayerAddress(NdpMessage.OptionSourceLinkLayer, out ulong mac));
        Assert.Equal(GatewayOptions.DefaultMac, mac);

        bool prefix = false, mtu = false, rdnss = false;
        foreach (NdpOption o in ra.Options)
        {
            if (NdpPrefixInformation.TryParse(o, out NdpPrefixInformation p))
            {
                prefix = true;
                Assert.Equal(64, p.PrefixLength);
                Assert.Equal(NdpPrefixInformation.FlagOnLink | NdpPrefixInformation.FlagAutonomous, p.Flags);
                Assert.Equal(86400u, p.ValidLifetime);
                Assert.Equal(14400u, p.PreferredLifetime);
                Assert.Equal(options.Network6.Address, p.Prefix);
            }
            else if (NdpOptions.TryReadMtu(o, out uint value))
            {
                mtu = true;
                Assert.Equal((uint)options.Mtu, value);
            }
            else if (NdpOptions.TryReadRdnss(o, out uint lifetime, out ReadOnlySpan<byte> servers))
            {
                rdnss = true;
                Assert.True(lifetime > 0);
                Assert.Equal(options.Dns6, IpAddr.Read(servers[..16]));
            }
        }

        Assert.True(prefix && mtu && rdnss);
    }

    [Fact]
    public void RouterSolicitation_FromGuest_UnicastAdvertisementWithPrefixMtuRdnss()
    {
        var h = new LinkHarness(GatewayOptions.Default with { Mtu = 1450 });
        Assert.True(h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, 0x3333_0000_0002UL, LinkHarness.GuestLinkLocal, LinkHarness.AllRouters, RouterSolicitation(LinkHarness.GuestMac), ttl: 255)));
        byte[] frame = h.TakeOne();
        Assert.Equal(LinkHarness.GuestMac, Ethernet.Destination(frame));
        CheckRouterAdvertisement(frame, LinkHarness.GuestLinkLocal, h.Options);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.RouterAdvertisements));
    }

    [Fact]
    public void RouterSolicitation_FromUnspecified_MulticastAdvertisement()
    {
        var h = new LinkHarness();
        h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, 0x3333_0000_0002UL, new IpAddr(0, 0), LinkHarness.AllRouters, RouterSolicitation(null), ttl: 255));
        byte[] frame = h.TakeOne();
        Assert.Equal(0x3333_0000_0001UL, Ethernet.Destination(frame));
        CheckRouterAdvertisement(frame, LinkHarness.AllNodes, h.Options);
    }

    [Fact]
    public void RouterSolicitation_HopLimitNot255_CountedMalformed()
    {
        var h = new LinkHarness();
        Assert.True(h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, 0x3333_0000_0002UL, LinkHarness.GuestLinkLocal, LinkHarness.AllRouters, RouterSolicitation(LinkHarness.GuestMac), ttl: 64)));
        Assert.Empty(h.Take());
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.NdpMalformed));
    }

    [Fact]
    public void RouterSolicitation_OptionLengthZero_CountedMalformed()
    {
        var h = new LinkHarness();
        byte[] rs = RouterSolicitation(LinkHarness.GuestMac);
        rs[9] = 0;
        h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, 0x3333_0000_0002UL, LinkHarness.GuestLinkLocal, LinkHarness.AllRouters, rs, ttl: 255));
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.NdpMalformed));
    }

    [Fact]
    public void RouterSolicitation_OptionOverrunning_CountedMalformed()
    {
        var h = new LinkHarness();
        byte[] rs = RouterSolicitation(LinkHarness.GuestMac);
        rs[9] = 2;
        h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, 0x3333_0000_0002UL, LinkHarness.GuestLinkLocal, LinkHarness.AllRouters, rs, ttl: 255));
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.NdpMalformed));
    }

    [Fact]
    public void RouterAdvertisement_DnsSearch_CarriesDnssl()
    {
        var h = new LinkHarness(GatewayOptions.Default with { DnsSearch = ImmutableArray.Create("example.test") });
        h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, 0x3333_0000_0002UL, LinkHarness.GuestLinkLocal, LinkHarness.AllRouters, RouterSolicitation(null), ttl: 255));
        byte[] icmp = LinkHarness.IcmpOf(h.TakeOne(), out _, out _, out _);
        Assert.True(NdpMessage.TryParse(icmp, out NdpMessage ra));
        bool found = false;
        foreach (NdpOption o in ra.Options)
        {
            if (NdpOptions.TryReadDnssl(o, out _, out ReadOnlySpan<byte> names))
            {
                found = true;
                Assert.Equal("\u0007example\u0004test\u0000"u8.ToArray(), names[..14].ToArray());
            }
        }

        Assert.True(found);
    }

    [Fact]
    public void Start_SendsUnsolicitedAdvertisementsThenPeriodically()
    {
        var h = new LinkHarness();
        h.Services.Start();
        CheckRouterAdvertisement(h.TakeOne(), LinkHarness.AllNodes, h.Options);
        h.Loop.Advance(TimeSpan.FromSeconds(16));
        Assert.Single(h.Take());
        h.Loop.Advance(TimeSpan.FromSeconds(16));
        Assert.Single(h.Take());
        h.Loop.Advance(TimeSpan.FromSeconds(59));
        Assert.Empty(h.Take());
        h.Loop.Advance(TimeSpan.FromSeconds(61));
        Assert.Single(h.Take());
        h.Services.Stop();
        h.Loop.Advance(TimeSpan.FromMinutes(10));
        Assert.Empty(h.Take());
    }

    [Fact]
    public void Start_Ipv6Off_NoAdvertisementsAndV6NotHandled()
    {
        var h = new LinkHarness(GatewayOptions.Default with { Ipv6 = false });
        h.Services.Start();
        h.Loop.Advance(TimeSpan.FromMinutes(5));
        Assert.Empty(h.Take());
        Assert.False(h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, 0x3333_0000_0002UL, LinkHarness.GuestLinkLocal, LinkHarness.AllRouters, RouterSolicitation(null), ttl: 255)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NeighbourSolicitation_ForGatewayAddress_SolicitedAdvertisement(bool linkLocal)
    {
        var h = new LinkHarness();
        IpAddr target = linkLocal ? LinkHarness.GatewayLinkLocal : LinkHarness.Host6;
        IpAddr source = linkLocal ? LinkHarness.GuestLinkLocal : LinkHarness.Guest6;
        var group = new IpAddr(0xFF02_0000_0000_0000UL, 0x0000_0001_FF00_0000UL | (target.Low & 0xFFFFFF));
        Assert.True(h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, 0x3333_FF00_0000UL | (target.Low & 0xFFFFFF), source, group, NeighbourSolicitation(target, LinkHarness.GuestMac), ttl: 255)));
        byte[] frame = h.TakeOne();
        Assert.Equal(LinkHarness.GuestMac, Ethernet.Destination(frame));
        byte[] icmp = LinkHarness.IcmpOf(frame, out IpAddr from, out IpAddr to, out byte hopLimit);
        Assert.Equal(target, from);
        Assert.Equal(source, to);
        Assert.Equal(255, hopLimit);
        Assert.True(NdpMessage.TryParse(icmp, out NdpMessage na));
        Assert.Equal(NdpMessage.TypeNeighbourAdvertisement, na.Type);
        Assert.Equal(NdpMessage.FlagRouter | NdpMessage.FlagSolicited | NdpMessage.FlagOverride, na.Flags);
        Assert.Equal(target, IpAddr.Read(na.Target));
        Assert.True(na.TryGetLinkLayerAddress(NdpMessage.OptionTargetLinkLayer, out ulong mac));
        Assert.Equal(GatewayOptions.DefaultMac, mac);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.NeighbourAdvertisements));
        Assert.True(h.Services.TryResolve(source, out ulong learned));
        Assert.Equal(LinkHarness.GuestMac, learned);
    }

    [Fact]
    public void NeighbourSolicitation_Dad_AnsweredToAllNodesUnsolicited()
    {
        var h = new LinkHarness();
        h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, 0x3333_FF00_0002UL, new IpAddr(0, 0), GatewaySolicitedNode, NeighbourSolicitation(LinkHarness.Host6, null), ttl: 255));
        byte[] icmp = LinkHarness.IcmpOf(h.TakeOne(), out _, out IpAddr to, out _);
        Assert.Equal(LinkHarness.AllNodes, to);
        Assert.True(NdpMessage.TryParse(icmp, out NdpMessage na));
        Assert.Equal(0, na.Flags & NdpMessage.FlagSolicited);
    }

    [Fact]
    public void NeighbourSolicitation_ForOtherAddress_IgnoredAndCounted()
    {
        var h = new LinkHarness();
        Assert.True(h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, 0x3333_FF00_0099UL, LinkHarness.Guest6, GatewaySolicitedNode, NeighbourSolicitation(new IpAddr(0xFD00_0000_0000_0000UL, 0x99), LinkHarness.GuestMac), ttl: 255)));
        Assert.Empty(h.Take());
        Assert.Equal(1, h.Counters.Events(GatewayEvent.NdpIgnored));
    }

    [Fact]
    public void NeighbourSolicitation_MulticastTarget_CountedMalformed()
    {
        var h = new LinkHarness();
        h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, 0x3333_FF00_0002UL, LinkHarness.Guest6, GatewaySolicitedNode, NeighbourSolicitation(LinkHarness.AllNodes, LinkHarness.GuestMac), ttl: 255));
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.NdpMalformed));
    }

    [Fact]
    public void NeighbourSolicitation_Truncated_CountedMalformed()
    {
        var h = new LinkHarness();
        byte[] ns = NeighbourSolicitation(LinkHarness.Host6, null)[..20];
        h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, 0x3333_FF00_0002UL, LinkHarness.Guest6, GatewaySolicitedNode, ns, ttl: 255));
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.NdpMalformed));
    }

    [Fact]
    public void TryResolve_UnknownV6_SendsSolicitationAndLearnsFromAdvertisement()
    {
        var h = new LinkHarness();
        Assert.False(h.Services.TryResolve(LinkHarness.Guest6, out _));
        byte[] frame = h.TakeOne();
        Assert.Equal(0x3333_FF12_3456UL, Ethernet.Destination(frame));
        byte[] icmp = LinkHarness.IcmpOf(frame, out IpAddr from, out IpAddr to, out byte hopLimit);
        Assert.Equal(LinkHarness.Host6, from);
        Assert.Equal(new IpAddr(0xFF02_0000_0000_0000UL, 0x0000_0001_FF12_3456UL), to);
        Assert.Equal(255, hopLimit);
        Assert.True(NdpMessage.TryParse(icmp, out NdpMessage ns));
        Assert.Equal(LinkHarness.Guest6, IpAddr.Read(ns.Target));
        Assert.Equal(1, h.Counters.Events(GatewayEvent.NeighbourSolicitationsSent));

        var na = new byte[32];
        int n = NdpBuilder.WriteNeighbourMessage(na, NdpMessage.TypeNeighbourAdvertisement, NdpMessage.FlagSolicited | NdpMessage.FlagOverride, LinkHarness.Guest6);
        NdpBuilder.AppendLinkLayerAddress(na, n, NdpMessage.OptionTargetLinkLayer, 0x5254_0000_0042UL);
        Assert.True(h.Deliver(LinkHarness.IcmpFrame(0x5254_0000_0042UL, GatewayOptions.DefaultMac, LinkHarness.GuestLinkLocal, LinkHarness.Host6, na, ttl: 255)));
        Assert.True(h.Services.TryResolve(LinkHarness.Guest6, out ulong mac));
        Assert.Equal(0x5254_0000_0042UL, mac);
    }

    [Fact]
    public void RouterAdvertisement_FromGuest_Ignored()
    {
        var h = new LinkHarness();
        var ra = new byte[16];
        NdpBuilder.WriteRouterAdvertisement(ra, 64, 0, 1800, 0, 0);
        Assert.True(h.Deliver(LinkHarness.IcmpFrame(LinkHarness.GuestMac, 0x3333_0000_0001UL, LinkHarness.GuestLinkLocal, LinkHarness.AllNodes, ra, ttl: 255)));
        Assert.Empty(h.Take());
        Assert.Equal(1, h.Counters.Events(GatewayEvent.NdpIgnored));
    }

    private static byte[] Dhcpv6(byte type, bool clientId = true, byte[]? serverId = null, bool iaNa = false)
    {
        var buffer = new byte[256];
        var b = new Dhcpv6Builder(buffer, type, 0xABCDEF);
        if (clientId)
        {
            b.Add(Dhcpv6Message.OptionClientId, [0, 3, 0, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        }

        if (serverId is not null)
        {
            b.Add(Dhcpv6Message.OptionServerId, serverId);
        }

        if (iaNa)
        {
            b.Add(Dhcpv6Message.OptionIaNa, new byte[12]);
        }

        b.Add(Dhcpv6Message.OptionOptionRequest, [0, 23, 0, 24]);
        return buffer[..b.Length];
    }

    private static byte[] Dhcpv6Frame(byte[] payload) =>
        LinkHarness.UdpFrame(LinkHarness.GuestMac, 0x3333_0001_0002UL, LinkHarness.GuestLinkLocal, 546, LinkHarness.AllDhcp, 547, payload);

    [Fact]
    public void InformationRequest_RepliesWithServerIdClientIdDnsAndDomains()
    {
        var h = new LinkHarness(GatewayOptions.Default with { DnsSearch = ImmutableArray.Create("example.test") });
        Assert.True(h.Deliver(Dhcpv6Frame(Dhcpv6(Dhcpv6Message.InformationRequest))));
        byte[] frame = h.TakeOne();
        Assert.Equal(LinkHarness.GuestMac, Ethernet.Destination(frame));
        byte[] payload = LinkHarness.UdpPayloadOf(frame, out IpAddr from, out IpAddr to, out ushort sourcePort, out ushort destinationPort);
        Assert.Equal(LinkHarness.GatewayLinkLocal, from);
        Assert.Equal(LinkHarness.GuestLinkLocal, to);
        Assert.Equal(547, sourcePort);
        Assert.Equal(546, destinationPort);
        Assert.True(Dhcpv6Message.TryParse(payload, out Dhcpv6Message reply));
        Assert.Equal(Dhcpv6Message.Reply, reply.MessageType);
        Assert.Equal(0xABCDEFu, reply.TransactionId);
        Assert.True(reply.TryGetOption(Dhcpv6Message.OptionServerId, out ReadOnlySpan<byte> duid));
        Assert.Equal(new byte[] { 0, 3, 0, 1, 0x52, 0x55, 0x0A, 0, 2, 2 }, duid.ToArray());
        Assert.True(reply.TryGetOption(Dhcpv6Message.OptionClientId, out ReadOnlySpan<byte> client));
        Assert.Equal(new byte[] { 0, 3, 0, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56 }, client.ToArray());
        Assert.True(reply.TryGetOption(Dhcpv6Message.OptionDnsServers, out ReadOnlySpan<byte> dns));
        Assert.Equal(h.Options.Dns6, IpAddr.Read(dns));
        Assert.True(reply.TryGetOption(Dhcpv6Message.OptionDomainList, out ReadOnlySpan<byte> domains));
        Assert.Equal("\u0007example\u0004test\u0000"u8.ToArray(), domains.ToArray());
        Assert.Equal(1, h.Counters.Events(GatewayEvent.Dhcpv6Replies));
    }

    [Fact]
    public void InformationRequest_OtherServerId_Silent()
    {
        var h = new LinkHarness();
        Assert.True(h.Deliver(Dhcpv6Frame(Dhcpv6(Dhcpv6Message.InformationRequest, serverId: [0, 3, 0, 1, 1, 2, 3, 4, 5, 6]))));
        Assert.Empty(h.Take());
        Assert.Equal(1, h.Counters.Events(GatewayEvent.Dhcpv6ForOtherServer));
    }

    [Fact]
    public void InformationRequest_WithIaNa_CountedMalformed()
    {
        var h = new LinkHarness();
        Assert.True(h.Deliver(Dhcpv6Frame(Dhcpv6(Dhcpv6Message.InformationRequest, iaNa: true))));
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.Dhcpv6Malformed));
    }

    [Fact]
    public void Solicit_AdvertiseNoAddrsAvail()
    {
        var h = new LinkHarness();
        Assert.True(h.Deliver(Dhcpv6Frame(Dhcpv6(Dhcpv6Message.Solicit, iaNa: true))));
        byte[] payload = LinkHarness.UdpPayloadOf(h.TakeOne(), out _, out _, out _, out _);
        Assert.True(Dhcpv6Message.TryParse(payload, out Dhcpv6Message adv));
        Assert.Equal(Dhcpv6Message.Advertise, adv.MessageType);
        Assert.True(adv.TryGetOption(Dhcpv6Message.OptionStatusCode, out ReadOnlySpan<byte> status));
        Assert.Equal(Dhcpv6Message.StatusNoAddrsAvail, BinaryPrimitives.ReadUInt16BigEndian(status));
        Assert.Equal(1, h.Counters.Events(GatewayEvent.Dhcpv6Advertises));
    }

    [Fact]
    public void Solicit_WithoutClientId_CountedMalformed()
    {
        var h = new LinkHarness();
        Assert.True(h.Deliver(Dhcpv6Frame(Dhcpv6(Dhcpv6Message.Solicit, clientId: false))));
        Assert.Empty(h.Take());
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.Dhcpv6Malformed));
    }

    [Fact]
    public void Dhcpv6_Renew_CountedUnsupported()
    {
        var h = new LinkHarness();
        Assert.True(h.Deliver(Dhcpv6Frame(Dhcpv6(Dhcpv6Message.Renew))));
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.Dhcpv6MessageUnsupported));
    }

    [Fact]
    public void Dhcpv6_TruncatedOption_CountedMalformed()
    {
        var h = new LinkHarness();
        byte[] payload = Dhcpv6(Dhcpv6Message.InformationRequest);
        Assert.True(h.Deliver(Dhcpv6Frame(payload[..^1])));
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.Dhcpv6Malformed));
    }
}
