// The gateway's IPv6 link services: neighbour discovery (RFC 4861), router advertisements for SLAAC
// with RDNSS/DNSSL (RFC 8106), ICMPv6 echo to the gateway, and a stateless DHCPv6 server (RFC 8415).
//
// Theory of operation: the gateway has three IPv6 addresses: Host6, Dns6 and the link-local
// fe80::EUI-64(MAC) that NDP and RAs come from (RFC 4861 §4.2: an RA's source is link-local). A
// received NDP message must have hop limit 255 (§6.1.1, §7.1.1: proof it was not forwarded) and pass
// NdpMessage's option checks, or it is dropped as NdpMalformed. NS for one of our addresses gets an NA
// (router, override, solicited unless the solicitation was DAD from ::, then it goes to all-nodes);
// RS gets an RA unicast to the soliciting host (or to all-nodes when it came from ::); unsolicited RAs
// go to all-nodes at Start, then 3 at 16 s (§6.2.4, MAX_INITIAL_RTR_ADVERTISEMENTS) and then every
// 60-120 s with seeded jitter. The RA says M=0 O=1: addresses by SLAAC from Network6 (autonomous only
// for a /64, the length Ethernet interface identifiers need), other configuration by DHCPv6, and the
// same DNS in RDNSS for clients without DHCPv6. NDP messages to us that need no answer (an RA from a
// guest, an NS for someone else) are counted as ignored. NA and NS from guests teach the neighbour table.
// Multicast RAs in answer to RS from :: are rate-limited to one per 3 s (§6.2.6).
//
// DHCPv6 is stateless (RFC 8415 §6.1): INFORMATION-REQUEST → REPLY with our DUID-LL, the client's
// identifier, DNS servers (option 23) and the domain list (option 24). We assign no addresses, so a
// SOLICIT (a client ignoring M=0) gets an ADVERTISE with status NoAddrsAvail (§18.3.1); other stateful
// messages are dropped and counted. Replies go from the link-local address, port 547, to port 546.
// Everything is built in the context's TxBuffer. On the loop.
using System.Buffers.Binary;
using Switchyard.Core.Frames;
using Switchyard.Core.Loop;
using Switchyard.Protocols;

namespace Switchyard.UserNet.Link;

internal sealed class Ipv6Services
{
    public const ushort RouterLifetimeSeconds = 1800;
    public const uint PrefixValidSeconds = 86400;
    public const uint PrefixPreferredSeconds = 14400;
    public const int InitialAdvertisements = 3;
    public static readonly TimeSpan InitialInterval = TimeSpan.FromSeconds(16);
    public static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan MaxInterval = TimeSpan.FromSeconds(120);

    /// <summary>ff02::1, all nodes.</summary>
    public static readonly IpAddr AllNodes = new(0xFF02_0000_0000_0000UL, 1);

    /// <summary>ff02::1:2, all DHCP relay agents and servers.</summary>
    public static readonly IpAddr AllDhcpServers = new(0xFF02_0000_0000_0000UL, 0x0001_0002);

    private const byte NdpHopLimit = 255;
    private const int DuidLength = 10;

    private readonly GatewayContext context;
    private readonly GatewayCounters counters;
    private readonly Action<ulong, IpAddr> learn;
    private readonly GatewayOptions options;
    private readonly byte[] domainSearch;
    private readonly byte[] duid = new byte[DuidLength];
    private readonly IpAddr[] dnsServers;
    private readonly Random jitter;
    private readonly long minDelayBetweenRas;
    private LoopTimer? timer;
    private int advertisementsSent;
    private long lastMulticastRa;

    public Ipv6Services(GatewayContext context, Action<ulong, IpAddr> learn, byte[] encodedDomainSearch)
    {
        this.context = context;
        this.learn = learn;
        minDelayBetweenRas = (long)(3 * context.Clock.TimestampFrequency);
        lastMulticastRa = context.Clock.GetTimestamp() - minDelayBetweenRas;
        options = context.Options;
        counters = context.Counters;
        domainSearch = encodedDomainSearch;
        LinkLocal = LinkLocalFor(options.Mac);
        dnsServers = [options.Dns6];

        // DUID-LL (RFC 8415 §11.4): type 3, hardware type 1 (Ethernet), the MAC.
        BinaryPrimitives.WriteUInt16BigEndian(duid, 3);
        BinaryPrimitives.WriteUInt16BigEndian(duid.AsSpan(2), 1);
        Ethernet.WriteMac(duid.AsSpan(4), options.Mac);

        // Jitter for the RA interval (RFC 4861 §6.2.4 wants it random); seeded so tests are repeatable.
#pragma warning disable CA5394 // Not security relevant: only spreads RAs of many gateways in time.
        jitter = new Random(unchecked((int)options.Mac ^ (int)(options.Mac >> 32)));
#pragma warning restore CA5394
    }

    /// <summary>fe80::EUI-64 of the gateway's MAC (RFC 4291 appendix A).</summary>
    public IpAddr LinkLocal { get; }

    /// <summary>The gateway's DUID-LL.</summary>
    public ReadOnlySpan<byte> Duid => duid;

    public static IpAddr LinkLocalFor(ulong mac)
    {
        ulong upper = (mac >> 24) & 0xFF_FFFF;
        ulong lower = mac & 0xFF_FFFF;
        ulong iid = ((upper ^ 0x02_0000) << 40) | (0xFFFEUL << 24) | lower;
        return new IpAddr(0xFE80_0000_0000_0000UL, iid);
    }

    /// <summary>ff02::1:ffXX:XXXX for <paramref name="address"/> (RFC 4291 §2.7.1).</summary>
    public static IpAddr SolicitedNode(IpAddr address) => new(0xFF02_0000_0000_0000UL, 0x0000_0001_FF00_0000UL | (address.Low & 0xFF_FFFF));

    /// <summary>33:33 and the low 32 bits of an IPv6 multicast address (RFC 2464 §7).</summary>
    public static ulong MulticastMac(IpAddr group) => 0x3333_0000_0000UL | (group.Low & 0xFFFF_FFFF);

    public bool IsOurs(IpAddr address) => address == options.Host6 || address == options.Dns6 || address == LinkLocal;

    public void Start()
    {
        timer ??= context.Loop.CreateTimer(OnTimer);
        advertisementsSent = 0;
        OnTimer();
    }

    public void Stop() => timer?.Cancel();

    /// <summary>ICMPv6 to one of our addresses or to a multicast group; false for what is not ours.</summary>
    public bool TryHandleIcmp(in GuestPacket packet)
    {
        bool ours = IsOurs(packet.Destination);
        ReadOnlySpan<byte> l4 = packet.L4;
        if (!ours)
        {
            // Multicast: only NDP is ours; MLD, echo to all-nodes and the rest stay on the link.
            if (!packet.Destination.IsMulticastOrBroadcast || l4.IsEmpty || l4[0] is < NdpMessage.TypeRouterSolicitation or > NdpMessage.TypeNeighbourAdvertisement)
            {
                return false;
            }
        }

        if (!IcmpMessage.TryParse(l4, out IcmpMessage icmp))
        {
            counters.Drop(GatewayDrop.IcmpMalformed);
            return true;
        }

        if (!packet.L4ChecksumOk())
        {
            counters.Drop(GatewayDrop.IcmpChecksumBad);
            return true;
        }

        byte type = l4[0];
        switch (type)
        {
            case IcmpMessage.EchoRequestV6:
                Echo(in packet, in icmp);
                break;
            case NdpMessage.TypeRouterSolicitation or NdpMessage.TypeRouterAdvertisement
                or NdpMessage.TypeNeighbourSolicitation or NdpMessage.TypeNeighbourAdvertisement:
                OnNdp(in packet);
                break;
            default:
                counters.Drop(GatewayDrop.IcmpTypeUnsupported);
                break;
        }

        return true;
    }

    /// <summary>UDP to port 547 of ff02::1:2 or one of our addresses; false otherwise.</summary>
    public bool TryHandleDhcpv6(in GuestPacket packet, in UdpHeader udp)
    {
        if (udp.DestinationPort != Dhcpv6Message.ServerPort || (packet.Destination != AllDhcpServers && !IsOurs(packet.Destination)))
        {
            return false;
        }

        if (!packet.L4ChecksumOk())
        {
            counters.Drop(GatewayDrop.UdpChecksumBad);
            return true;
        }

        if (!Dhcpv6Message.TryParse(udp.Payload, out Dhcpv6Message m) || packet.Source.IsUnspecified)
        {
            counters.Drop(GatewayDrop.Dhcpv6Malformed);
            return true;
        }

        bool hasClientId = m.TryGetOption(Dhcpv6Message.OptionClientId, out ReadOnlySpan<byte> clientId);
        bool hasServerId = m.TryGetOption(Dhcpv6Message.OptionServerId, out ReadOnlySpan<byte> serverId);
        switch (m.MessageType)
        {
            case Dhcpv6Message.InformationRequest:
                // RFC 8415 §16.12: discard if it names another server or carries IA options.
                if (hasServerId && !serverId.SequenceEqual(duid))
                {
                    counters.Count(GatewayEvent.Dhcpv6ForOtherServer);
                    break;
                }

                if (m.TryGetOption(Dhcpv6Message.OptionIaNa, out _) || m.TryGetOption(Dhcpv6Message.OptionIaTa, out _) || m.TryGetOption(Dhcpv6Message.OptionIaPd, out _))
                {
                    counters.Drop(GatewayDrop.Dhcpv6Malformed);
                    break;
                }

                SendDhcpv6(in packet, Dhcpv6Message.Reply, m.TransactionId, hasClientId, clientId, noAddresses: false);
                counters.Count(GatewayEvent.Dhcpv6Replies);
                break;
            case Dhcpv6Message.Solicit:
                // RFC 8415 §16.2: a Solicit needs a client identifier and must not name a server.
                if (!hasClientId || hasServerId)
                {
                    counters.Drop(GatewayDrop.Dhcpv6Malformed);
                    break;
                }

                SendDhcpv6(in packet, Dhcpv6Message.Advertise, m.TransactionId, hasClientId, clientId, noAddresses: true);
                counters.Count(GatewayEvent.Dhcpv6Advertises);
                break;
            default:
                counters.Drop(GatewayDrop.Dhcpv6MessageUnsupported);
                break;
        }

        return true;
    }

    /// <summary>Sends a neighbour solicitation for <paramref name="target"/> to its solicited-node group.</summary>
    public void SendSolicitation(IpAddr target)
    {
        IpAddr source = target.IsLinkLocalV6 ? LinkLocal : options.Host6;
        IpAddr group = SolicitedNode(target);
        Span<byte> frame = context.TxBuffer;
        Span<byte> l4 = frame[PacketWriter.L4Offset(true)..];
        int length = NdpBuilder.WriteNeighbourMessage(l4, NdpMessage.TypeNeighbourSolicitation, 0, target);
        length = NdpBuilder.AppendLinkLayerAddress(l4, length, NdpMessage.OptionSourceLinkLayer, options.Mac);
        IcmpBuilder.WriteChecksum(l4[..length], source, group);
        int frameLength = PacketWriter.WriteEthernetAndIp(frame, MulticastMac(group), options.Mac, source, group, PacketWriter.ProtocolIcmpV6, length, 0, NdpHopLimit);
        context.Link.Send(frame[..frameLength], OffloadInfo.None);
        counters.Count(GatewayEvent.NeighbourSolicitationsSent);
    }

    private void OnTimer()
    {
        SendAdvertisement(AllNodes, MulticastMac(AllNodes));
        advertisementsSent++;
        TimeSpan next = advertisementsSent < InitialAdvertisements
            ? InitialInterval
            : MinInterval + TimeSpan.FromMilliseconds(jitter.Next((int)(MaxInterval - MinInterval).TotalMilliseconds));
        timer?.Arm(next);
    }

    private void OnNdp(in GuestPacket packet)
    {
        if (packet.Ttl != NdpHopLimit || !NdpMessage.TryParse(packet.L4, out NdpMessage ndp))
        {
            counters.Drop(GatewayDrop.NdpMalformed);
            return;
        }

        bool fromUnspecified = packet.Source.IsUnspecified;
        bool hasSourceLinkLayer = ndp.TryGetLinkLayerAddress(NdpMessage.OptionSourceLinkLayer, out ulong sourceLinkLayer);
        switch (ndp.Type)
        {
            case NdpMessage.TypeRouterSolicitation:
                // §6.1.1: from :: there must be no source link-layer option.
                if (fromUnspecified && hasSourceLinkLayer)
                {
                    counters.Drop(GatewayDrop.NdpMalformed);
                    return;
                }

                if (hasSourceLinkLayer)
                {
                    learn(sourceLinkLayer, packet.Source);
                }

                if (fromUnspecified)
                {
                    // §6.2.6: multicast answers at most every MIN_DELAY_BETWEEN_RAS (3 s), so one guest
                    // cannot make us flood every other.
                    long now = context.Clock.GetTimestamp();
                    if (now - lastMulticastRa < minDelayBetweenRas)
                    {
                        counters.Count(GatewayEvent.NdpIgnored);
                        return;
                    }

                    lastMulticastRa = now;
                    SendAdvertisement(AllNodes, MulticastMac(AllNodes));
                }
                else
                {
                    SendAdvertisement(packet.Source, hasSourceLinkLayer ? sourceLinkLayer : packet.SourceMac);
                }

                break;
            case NdpMessage.TypeNeighbourSolicitation:
            {
                var target = IpAddr.Read(ndp.Target);

                // §7.1.1: target not multicast; from :: (DAD) only to a solicited-node group and without
                // a source link-layer option.
                if (target.IsMulticastOrBroadcast
                    || (fromUnspecified && (hasSourceLinkLayer || packet.Destination != SolicitedNode(target))))
                {
                    counters.Drop(GatewayDrop.NdpMalformed);
                    return;
                }

                if (hasSourceLinkLayer && !fromUnspecified)
                {
                    learn(sourceLinkLayer, packet.Source);
                }

                if (!IsOurs(target))
                {
                    counters.Count(GatewayEvent.NdpIgnored);
                    return;
                }

                // §7.2.4: answer DAD to all-nodes without S; otherwise to the soliciting host with S.
                byte flags = NdpMessage.FlagRouter | NdpMessage.FlagOverride;
                if (fromUnspecified)
                {
                    SendNeighbourAdvertisement(target, AllNodes, MulticastMac(AllNodes), flags);
                }
                else
                {
                    SendNeighbourAdvertisement(target, packet.Source, hasSourceLinkLayer ? sourceLinkLayer : packet.SourceMac, (byte)(flags | NdpMessage.FlagSolicited));
                }

                break;
            }

            case NdpMessage.TypeNeighbourAdvertisement:
            {
                var target = IpAddr.Read(ndp.Target);

                // §7.1.2: target not multicast; a reply to a multicast destination must not be solicited.
                if (target.IsMulticastOrBroadcast
                    || (packet.Destination.IsMulticastOrBroadcast && (ndp.Flags & NdpMessage.FlagSolicited) != 0))
                {
                    counters.Drop(GatewayDrop.NdpMalformed);
                    return;
                }

                if (!IsOurs(target) && (target.IsLinkLocalV6 || context.Plan.IsGuestSide(target)))
                {
                    learn(ndp.TryGetLinkLayerAddress(NdpMessage.OptionTargetLinkLayer, out ulong mac) ? mac : packet.SourceMac, target);
                }
                else
                {
                    counters.Count(GatewayEvent.NdpIgnored);
                }

                break;
            }

            default:
                // A router advertisement from a guest: we are the only router here; ignore it.
                counters.Count(GatewayEvent.NdpIgnored);
                break;
        }
    }

    private void SendNeighbourAdvertisement(IpAddr target, IpAddr destination, ulong destinationMac, byte flags)
    {
        Span<byte> frame = context.TxBuffer;
        Span<byte> l4 = frame[PacketWriter.L4Offset(true)..];
        int length = NdpBuilder.WriteNeighbourMessage(l4, NdpMessage.TypeNeighbourAdvertisement, flags, target);
        length = NdpBuilder.AppendLinkLayerAddress(l4, length, NdpMessage.OptionTargetLinkLayer, options.Mac);
        IcmpBuilder.WriteChecksum(l4[..length], target, destination);
        int frameLength = PacketWriter.WriteEthernetAndIp(frame, destinationMac, options.Mac, target, destination, PacketWriter.ProtocolIcmpV6, length, 0, NdpHopLimit);
        context.Link.Send(frame[..frameLength], OffloadInfo.None);
        counters.Count(GatewayEvent.NeighbourAdvertisements);
    }

    private void SendAdvertisement(IpAddr destination, ulong destinationMac)
    {
        Span<byte> frame = context.TxBuffer;
        Span<byte> l4 = frame[PacketWriter.L4Offset(true)..];
        int length = NdpBuilder.WriteRouterAdvertisement(l4, PacketWriter.DefaultTtl, NdpMessage.FlagOther, RouterLifetimeSeconds, 0, 0);
        length = NdpBuilder.AppendLinkLayerAddress(l4, length, NdpMessage.OptionSourceLinkLayer, options.Mac);
        length = NdpBuilder.AppendMtu(l4, length, (uint)options.Mtu);
        IpPrefix prefix = options.Network6;
        byte prefixFlags = prefix.Length == 64 ? (byte)(NdpPrefixInformation.FlagOnLink | NdpPrefixInformation.FlagAutonomous) : NdpPrefixInformation.FlagOnLink;
        length = NdpBuilder.AppendPrefixInformation(l4, length, prefix.Address, (byte)prefix.Length, prefixFlags, PrefixValidSeconds, PrefixPreferredSeconds);
        length = NdpBuilder.AppendRdnss(l4, length, RouterLifetimeSeconds, dnsServers);
        length = NdpBuilder.AppendDnssl(l4, length, RouterLifetimeSeconds, domainSearch);
        IcmpBuilder.WriteChecksum(l4[..length], LinkLocal, destination);
        int frameLength = PacketWriter.WriteEthernetAndIp(frame, destinationMac, options.Mac, LinkLocal, destination, PacketWriter.ProtocolIcmpV6, length, 0, NdpHopLimit);
        context.Link.Send(frame[..frameLength], OffloadInfo.None);
        counters.Count(GatewayEvent.RouterAdvertisements);
    }

    private void Echo(in GuestPacket packet, in IcmpMessage request)
    {
        if (packet.Source.IsUnspecified || request.Code != 0)
        {
            counters.Drop(GatewayDrop.IcmpMalformed);
            return;
        }

        Span<byte> frame = context.TxBuffer;
        int length = IcmpBuilder.WriteEcho(frame[PacketWriter.L4Offset(true)..], IcmpMessage.EchoReplyV6, request.Identifier, request.Sequence, request.Data, packet.Destination, packet.Source);
        int frameLength = PacketWriter.WriteEthernetAndIp(frame, packet.SourceMac, options.Mac, packet.Destination, packet.Source, PacketWriter.ProtocolIcmpV6, length);
        context.Link.Send(frame[..frameLength], OffloadInfo.None);
        counters.Count(GatewayEvent.EchoRepliesFromGateway);
    }

    private void SendDhcpv6(in GuestPacket packet, byte type, uint transactionId, bool hasClientId, ReadOnlySpan<byte> clientId, bool noAddresses)
    {
        Span<byte> frame = context.TxBuffer;
        Span<byte> payload = frame[PacketWriter.UdpPayloadOffset(true)..];
        var b = new Dhcpv6Builder(payload, type, transactionId);
        b.Add(Dhcpv6Message.OptionServerId, duid);
        if (hasClientId)
        {
            b.Add(Dhcpv6Message.OptionClientId, clientId);
        }

        if (noAddresses)
        {
            b.AddStatus(Dhcpv6Message.StatusNoAddrsAvail, "stateless server: use SLAAC");
        }
        else
        {
            b.AddAddresses(Dhcpv6Message.OptionDnsServers, dnsServers);
            if (domainSearch.Length > 0)
            {
                b.Add(Dhcpv6Message.OptionDomainList, domainSearch);
            }
        }

        int frameLength = PacketWriter.WriteUdpFrame(
            frame, packet.SourceMac, options.Mac, LinkLocal, Dhcpv6Message.ServerPort, packet.Source, Dhcpv6Message.ClientPort, b.Length);
        context.Link.Send(frame[..frameLength], OffloadInfo.None);
    }
}
