using System.Buffers.Binary;
using System.Collections.Immutable;
using Switchyard.Core.Frames;
using Switchyard.Protocols;

namespace Switchyard.UserNet.Tests.Link;

public class DhcpServerTests
{
    private const uint Server = 0x0A000202;

    private sealed record Reply(byte Type, uint YourAddress, uint ClientAddress, uint Xid, IpAddr Destination, ulong DestinationMac, Dictionary<byte, byte[]> Options);

    private static Reply ParseReply(byte[] frame)
    {
        byte[] payload = LinkHarness.UdpPayloadOf(frame, out IpAddr source, out IpAddr destination, out ushort sourcePort, out ushort destinationPort);
        Assert.Equal(LinkHarness.Gateway, source);
        Assert.Equal(67, sourcePort);
        Assert.Equal(68, destinationPort);
        Assert.Equal(GatewayOptions.DefaultMac, Ethernet.Source(frame));
        Assert.True(payload.Length >= DhcpMessage.MinimumLength);
        Assert.True(DhcpMessage.TryParse(payload, out DhcpMessage m));
        Assert.Equal(DhcpMessage.OpReply, m.Op);
        var options = new Dictionary<byte, byte[]>();
        foreach (DhcpOption o in m.Options)
        {
            options.TryAdd(o.Code, o.Value.ToArray());
        }

        return new Reply(m.MessageType, m.YourAddress, m.ClientAddress, m.TransactionId, destination, Ethernet.Destination(frame), options);
    }

    private static uint Lease(LinkHarness h, ulong mac, string? hostname = null)
    {
        Assert.True(h.Deliver(LinkHarness.DhcpFrame(mac, DhcpMessage.Discover, hostname: hostname)));
        Reply offer = ParseReply(h.TakeOne());
        Assert.Equal(DhcpMessage.Offer, offer.Type);
        h.Deliver(LinkHarness.DhcpFrame(mac, DhcpMessage.Request, requested: offer.YourAddress, serverId: Server, hostname: hostname));
        Reply ack = ParseReply(h.TakeOne());
        Assert.Equal(DhcpMessage.Ack, ack.Type);
        Assert.Equal(offer.YourAddress, ack.YourAddress);
        return ack.YourAddress;
    }

    [Fact]
    public void DiscoverRequest_FirstGuest_GetsDhcpStartWithAllOptions()
    {
        var options = GatewayOptions.Default with { Hostname = "vm1", DomainName = "example.test", DnsSearch = ["example.test", "corp"], Mtu = 1400 };
        var h = new LinkHarness(options);
        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Discover, xid: 0xCAFE));
        Reply offer = ParseReply(h.TakeOne());
        Assert.Equal(DhcpMessage.Offer, offer.Type);
        Assert.Equal(0x0A00020Fu, offer.YourAddress);
        Assert.Equal(0xCAFEu, offer.Xid);
        Assert.Equal(LinkHarness.Broadcast, offer.Destination);
        Assert.Equal(0xFFFF_FFFF_FFFFUL, offer.DestinationMac);

        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Request, requested: offer.YourAddress, serverId: Server));
        Reply ack = ParseReply(h.TakeOne());
        Assert.Equal(DhcpMessage.Ack, ack.Type);
        Assert.Equal(0x0A00020Fu, ack.YourAddress);
        Dictionary<byte, byte[]> o = ack.Options;
        Assert.Equal(Server, LinkHarness.ReadU32(o[54]));
        Assert.Equal(3600u, LinkHarness.ReadU32(o[51]));
        Assert.Equal(1800u, LinkHarness.ReadU32(o[58]));
        Assert.Equal(3150u, LinkHarness.ReadU32(o[59]));
        Assert.Equal(0xFFFFFF00u, LinkHarness.ReadU32(o[1]));
        Assert.Equal(Server, LinkHarness.ReadU32(o[3]));
        Assert.Equal(0x0A000203u, LinkHarness.ReadU32(o[6]));
        Assert.Equal(1400, BinaryPrimitives.ReadUInt16BigEndian(o[26]));
        Assert.Equal("vm1"u8.ToArray(), o[12]);
        Assert.Equal("example.test"u8.ToArray(), o[15]);
        Assert.Equal("\u0007example\u0004test\u0000\u0004corp\u0000"u8.ToArray(), o[119]);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.DhcpOffers));
        Assert.Equal(1, h.Counters.Events(GatewayEvent.DhcpAcks));

        LeaseInfo lease = Assert.Single(h.Services.Leases());
        Assert.Equal(LinkHarness.GuestMac, lease.Mac);
        Assert.Equal(LinkHarness.Guest, lease.Address);
        Assert.True(lease.Active);
    }

    [Fact]
    public void LeaseChanged_AckReportsTheGrant_ReleaseReportsTheRelease_OffersReportNothing()
    {
        var h = new LinkHarness(GatewayOptions.Default);
        var seen = new List<LeaseInfo>();
        h.Context.LeaseChanged = seen.Add;

        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Discover, hostname: "vm7"));
        _ = h.TakeOne();
        Assert.Empty(seen);
        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Request, requested: 0x0A00020F, serverId: Server, hostname: "vm7"));
        _ = h.TakeOne();
        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Release, ciaddr: 0x0A00020F, serverId: Server));

        Assert.Equal(2, seen.Count);
        Assert.True(seen[0].Active);
        Assert.Equal(LinkHarness.GuestMac, seen[0].Mac);
        Assert.Equal(LinkHarness.Guest, seen[0].Address);
        Assert.Equal("vm7", seen[0].Hostname);
        Assert.False(seen[1].Active);
        Assert.Equal(LinkHarness.Guest, seen[1].Address);
    }

    [Fact]
    public void Discover_TwentyFiveMacs_DistinctStableAddresses()
    {
        var h = new LinkHarness();
        var first = new Dictionary<ulong, uint>();
        for (ulong i = 0; i < 25; i++)
        {
            first[0x5254_0000_0100UL + i] = Lease(h, 0x5254_0000_0100UL + i);
        }

        Assert.Equal(25, first.Values.Distinct().Count());
        Assert.All(first.Values, a => Assert.InRange(a, 0x0A00020Fu, 0x0A0002FEu));

        foreach ((ulong mac, uint address) in first)
        {
            h.Deliver(LinkHarness.DhcpFrame(mac, DhcpMessage.Release, ciaddr: address, serverId: Server));
        }

        Assert.Equal(25, h.Counters.Events(GatewayEvent.DhcpReleases));
        Assert.All(h.Services.Leases(), l => Assert.False(l.Active));

        // Released in one order, asked again in the reverse: each MAC still gets its own address.
        for (ulong i = 25; i-- > 0;)
        {
            Assert.Equal(first[0x5254_0000_0100UL + i], Lease(h, 0x5254_0000_0100UL + i));
        }
    }

    [Fact]
    public void Pool_SlashTwentyFour_HoldsTwoHundredFortyGuestsThenExhausted()
    {
        var h = new LinkHarness(GatewayOptions.Default with { MaxLeasesPerPort = 1000 });
        var seen = new HashSet<uint>();
        for (ulong i = 0; i < 240; i++)
        {
            uint a = Lease(h, 0x5254_0001_0000UL + i);
            Assert.True(seen.Add(a));
            Assert.NotEqual(0x0A000202u, a);
            Assert.NotEqual(0x0A000203u, a);
            Assert.NotEqual(0x0A0002FFu, a);
        }

        h.Deliver(LinkHarness.DhcpFrame(0x5254_0002_0000UL, DhcpMessage.Discover));
        Assert.Empty(h.Take());
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.DhcpPoolExhausted));
    }

    [Fact]
    public void PortLeaseLimit_OnePortCyclesMacs_BoundedCountedAndOtherPortStillLeases()
    {
        var h = new LinkHarness();
        int limit = GatewayOptions.Default.MaxLeasesPerPort;
        h.IngressPort = 7;
        for (ulong i = 0; i < 239; i++)
        {
            h.Deliver(LinkHarness.DhcpFrame(0x0200_0001_0000UL + i, DhcpMessage.Discover));
        }

        Assert.Equal(limit, h.Counters.Events(GatewayEvent.DhcpOffers));
        Assert.Equal(239 - limit, h.Counters.Drops(GatewayDrop.DhcpPortLeaseLimit));
        Assert.Equal(0, h.Counters.Drops(GatewayDrop.DhcpPoolExhausted));

        h.Take();
        h.IngressPort = 8;
        uint honest = Lease(h, LinkHarness.GuestMac);
        Assert.NotEqual(0u, honest);
    }

    [Fact]
    public void PortLeaseLimit_AtLimit_NewMacTakesOverThePortsOwnSpentBinding()
    {
        var h = new LinkHarness(GatewayOptions.Default with { MaxLeasesPerPort = 2 });
        uint a = Lease(h, 0x0200_0000_0001UL);
        Lease(h, 0x0200_0000_0002UL);
        h.Deliver(LinkHarness.DhcpFrame(0x0200_0000_0003UL, DhcpMessage.Discover));
        Assert.Empty(h.Take());
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.DhcpPortLeaseLimit));

        h.Deliver(LinkHarness.DhcpFrame(0x0200_0000_0001UL, DhcpMessage.Release, ciaddr: a));
        Assert.NotEqual(0u, Lease(h, 0x0200_0000_0003UL));
        Assert.Equal(2, h.Services.Leases().Count);
    }

    [Fact]
    public void Pool_Full_ReusesLeastRecentlyUsedExpiredBinding()
    {
        var h = new LinkHarness(GatewayOptions.Default with { DhcpStart = IpAddr.FromV4(0x0A0002FC) }); // .252-.254
        uint a = Lease(h, 0x5254_0000_0001UL);
        Lease(h, 0x5254_0000_0002UL);
        Lease(h, 0x5254_0000_0003UL);
        h.Deliver(LinkHarness.DhcpFrame(0x5254_0000_0004UL, DhcpMessage.Discover));
        Assert.Empty(h.Take());
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.DhcpPoolExhausted));

        h.Deliver(LinkHarness.DhcpFrame(0x5254_0000_0001UL, DhcpMessage.Release, ciaddr: a));
        Assert.Equal(a, Lease(h, 0x5254_0000_0004UL));
    }

    [Fact]
    public void Request_ForeignAddressInitReboot_Nak()
    {
        var h = new LinkHarness();
        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Request, requested: 0xC0A80164));
        Reply nak = ParseReply(h.TakeOne());
        Assert.Equal(DhcpMessage.Nak, nak.Type);
        Assert.Equal(0u, nak.YourAddress);
        Assert.Equal(LinkHarness.Broadcast, nak.Destination);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.DhcpNaks));
    }

    [Fact]
    public void Request_AnotherMacsAddress_Nak()
    {
        var h = new LinkHarness();
        uint taken = Lease(h, 0x5254_0000_0001UL);
        h.Deliver(LinkHarness.DhcpFrame(0x5254_0000_0002UL, DhcpMessage.Request, requested: taken));
        Assert.Equal(DhcpMessage.Nak, ParseReply(h.TakeOne()).Type);
    }

    [Fact]
    public void Request_SelectingWithWrongAddress_Nak()
    {
        var h = new LinkHarness();
        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Discover));
        h.Take();
        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Request, requested: 0x0A000240, serverId: Server));
        Assert.Equal(DhcpMessage.Nak, ParseReply(h.TakeOne()).Type);
    }

    [Fact]
    public void Request_OtherServerSelected_SilentAndCounted()
    {
        var h = new LinkHarness();
        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Discover));
        h.Take();
        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Request, requested: 0x0A00020F, serverId: 0x0A000299));
        Assert.Empty(h.Take());
        Assert.Equal(1, h.Counters.Events(GatewayEvent.DhcpForOtherServer));
    }

    [Fact]
    public void Request_InitRebootFreeAddress_AckedSoGuestKeepsItAcrossRestart()
    {
        var h = new LinkHarness();
        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Request, requested: 0x0A000264));
        Reply ack = ParseReply(h.TakeOne());
        Assert.Equal(DhcpMessage.Ack, ack.Type);
        Assert.Equal(0x0A000264u, ack.YourAddress);
    }

    [Fact]
    public void Request_Renewing_UnicastAckToCiaddr()
    {
        var h = new LinkHarness();
        uint a = Lease(h, LinkHarness.GuestMac);
        h.Loop.Advance(TimeSpan.FromMinutes(30));
        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Request, ciaddr: a));
        Reply ack = ParseReply(h.TakeOne());
        Assert.Equal(DhcpMessage.Ack, ack.Type);
        Assert.Equal(a, ack.ClientAddress);
        Assert.Equal(IpAddr.FromV4(a), ack.Destination);
        Assert.Equal(LinkHarness.GuestMac, ack.DestinationMac);
        LeaseInfo lease = Assert.Single(h.Services.Leases());
        Assert.Equal(h.Loop.Clock.GetUtcNow() + TimeSpan.FromHours(1), lease.Expires);
    }

    [Fact]
    public void Request_BroadcastFlag_BroadcastReplyEvenWithCiaddr()
    {
        var h = new LinkHarness();
        uint a = Lease(h, LinkHarness.GuestMac);
        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Request, ciaddr: a, flags: DhcpMessage.FlagBroadcast));
        Assert.Equal(LinkHarness.Broadcast, ParseReply(h.TakeOne()).Destination);
    }

    [Fact]
    public void Lease_AfterLeaseTime_InactiveButAddressKeptForMac()
    {
        var h = new LinkHarness();
        uint a = Lease(h, LinkHarness.GuestMac, hostname: "guest-one");
        LeaseInfo lease = Assert.Single(h.Services.Leases());
        Assert.True(lease.Active);
        Assert.Equal("guest-one", lease.Hostname);

        h.Loop.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));
        lease = Assert.Single(h.Services.Leases());
        Assert.False(lease.Active);
        Assert.Equal(a, Lease(h, LinkHarness.GuestMac));
    }

    [Fact]
    public void Decline_AddressHeldOutAndMacGetsAnother()
    {
        var h = new LinkHarness();
        uint a = Lease(h, LinkHarness.GuestMac);
        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Decline, requested: a, serverId: Server));
        Assert.Equal(1, h.Counters.Events(GatewayEvent.DhcpDeclines));
        uint b = Lease(h, LinkHarness.GuestMac);
        Assert.NotEqual(a, b);
        Assert.NotEqual(a, Lease(h, 0x5254_0000_0777UL));
    }

    [Fact]
    public void Decline_AfterHold_AddressUsableAgain()
    {
        var h = new LinkHarness(GatewayOptions.Default with { DhcpStart = IpAddr.FromV4(0x0A0002FE) }); // one address
        uint a = Lease(h, LinkHarness.GuestMac);
        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Decline, requested: a, serverId: Server));
        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Discover));
        Assert.Empty(h.Take());
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.DhcpPoolExhausted));
        h.Loop.Advance(TimeSpan.FromMinutes(11));
        Assert.Equal(a, Lease(h, LinkHarness.GuestMac));
    }

    [Fact]
    public void Release_WrongCiaddr_CountedMalformed()
    {
        var h = new LinkHarness();
        Lease(h, LinkHarness.GuestMac);
        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Release, ciaddr: 0x0A000299));
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.DhcpMalformed));
        Assert.True(Assert.Single(h.Services.Leases()).Active);
    }

    [Fact]
    public void Inform_AckWithoutLease()
    {
        var h = new LinkHarness();
        h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Inform, ciaddr: 0x0A000220));
        Reply ack = ParseReply(h.TakeOne());
        Assert.Equal(DhcpMessage.Ack, ack.Type);
        Assert.Equal(0u, ack.YourAddress);
        Assert.False(ack.Options.ContainsKey(51));
        Assert.True(ack.Options.ContainsKey(6));
        Assert.Equal(IpAddr.FromV4(0x0A000220), ack.Destination);
        Assert.Empty(h.Services.Leases());
    }

    [Fact]
    public void Dhcp_NoMessageType_CountedMalformed()
    {
        var h = new LinkHarness();
        byte[] frame = LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Discover);
        int options = PacketWriter.UdpPayloadOffset(false) + DhcpMessage.OptionsOffset;
        frame[options] = 250; // the message type option becomes an unknown one
        PacketWriter.WriteL4Checksum(frame.AsSpan(PacketWriter.L4Offset(false)), IpAddr.FromV4(0), LinkHarness.Broadcast, InternetChecksum.ProtocolUdp, UdpHeader.ChecksumOffset);
        Assert.True(h.Deliver(frame));
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.DhcpMalformed));
    }

    [Fact]
    public void Dhcp_BadCookie_CountedMalformed()
    {
        var h = new LinkHarness();
        byte[] frame = LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Discover);
        frame[PacketWriter.UdpPayloadOffset(false) + DhcpMessage.FixedLength] = 0;
        PacketWriter.WriteL4Checksum(frame.AsSpan(PacketWriter.L4Offset(false)), IpAddr.FromV4(0), LinkHarness.Broadcast, InternetChecksum.ProtocolUdp, UdpHeader.ChecksumOffset);
        Assert.True(h.Deliver(frame));
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.DhcpMalformed));
        Assert.Empty(h.Take());
    }

    [Fact]
    public void Dhcp_BadUdpChecksum_Counted()
    {
        var h = new LinkHarness();
        byte[] frame = LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Discover);
        frame[^1] ^= 0x55;
        Assert.True(h.Deliver(frame));
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.UdpChecksumBad));
    }

    [Fact]
    public void Dhcp_OfferFromGuest_CountedUnsupported()
    {
        var h = new LinkHarness();
        Assert.True(h.Deliver(LinkHarness.DhcpFrame(LinkHarness.GuestMac, DhcpMessage.Offer)));
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.DhcpMessageUnsupported));
    }

    [Fact]
    public void Udp_OtherPort_NotHandled()
    {
        var h = new LinkHarness();
        Assert.False(h.Deliver(LinkHarness.UdpFrame(LinkHarness.GuestMac, GatewayOptions.DefaultMac, LinkHarness.Guest, 5000, LinkHarness.Gateway, 53, [1, 2, 3])));
    }

    [Fact]
    public void Options_DomainSearch_EncodedAsRfc3397()
    {
        byte[] encoded = DhcpDomainSearch.Encode(ImmutableArray.Create("a.b.", "c"));
        Assert.Equal(new byte[] { 1, (byte)'a', 1, (byte)'b', 0, 1, (byte)'c', 0 }, encoded);
    }
}
