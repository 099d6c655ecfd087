// The gateway's link services: ARP, ICMP echo to the gateway itself, DHCPv4, and (in Link/Ipv6Services)
// NDP, router advertisements and stateless DHCPv6; plus the neighbour table the rest of the gateway
// resolves guest MACs through.
//
// Theory of operation: NatGateway hands over every ARP packet (OnArp) and offers every validated IP
// packet (TryHandle) before the NAT sees it. What belongs to the link services is consumed: ICMP and
// ICMPv6 to one of the gateway's addresses (echo is answered here, not forwarded to the host), NDP
// to the gateway or to multicast, DHCP to port 67 of the gateway or broadcast, DHCPv6 to port 547 of
// ff02::1:2 or the gateway. Consumed means answered, or dropped with a counted reason; malformed guest
// input never throws (the views validate once, STYLE.md habit 6). Everything else returns false and
// goes on to the NAT: echo requests to other addresses, for instance, go to the ICMP echo forwarder.
//
// ARP: requests for the gateway's IPv4 addresses (Host, Dns) are answered; the sender of every ARP
// packet is learned if it is on the guests' network and not one of ours (probes from 0.0.0.0 teach
// nothing). TryResolve looks a guest address up and, if unknown, sends one ARP request or neighbour
// solicitation per address per second. All frames are built in the context's TxBuffer and sent at
// once. All of it runs on the gateway's loop.
using Switchyard.Core.Frames;
using Switchyard.Protocols;
using Switchyard.UserNet.Link;

namespace Switchyard.UserNet.Link;

public sealed class LinkServices : INeighbours
{
    /// <summary>How long a neighbour entry lives without traffic from it.</summary>
    public static readonly TimeSpan NeighbourLifetime = TimeSpan.FromMinutes(20);

    private const ulong BroadcastMac = 0xFFFF_FFFF_FFFFUL;
    private const int MinimumFrame = 60;

    private readonly GatewayContext context;
    private readonly GatewayOptions options;
    private readonly GatewayCounters counters;
    private readonly NeighbourTable neighbours;
    private readonly DhcpServer dhcp;
    private readonly Ipv6Services? v6;
    private readonly uint networkAddress;
    private readonly uint networkBroadcast;

    public LinkServices(GatewayContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        this.context = context;
        options = context.Options;
        counters = context.Counters;
        neighbours = new NeighbourTable(context.Clock, NeighbourLifetime);
        byte[] search = options.DnsSearch.IsDefaultOrEmpty ? [] : DhcpDomainSearch.Encode(options.DnsSearch);
        dhcp = new DhcpServer(context, search);
        if (options.Ipv6)
        {
            v6 = new Ipv6Services(context, Learn, search);
        }

        networkAddress = options.Network.NetworkAddress.V4;
        networkBroadcast = options.Network.BroadcastAddress.V4;
    }

    /// <summary>The gateway's IPv6 link-local address (fe80::EUI-64 of its MAC).</summary>
    public IpAddr LinkLocal => Ipv6Services.LinkLocalFor(options.Mac);

    /// <summary>Arms timers (unsolicited RAs). On the loop.</summary>
    public void Start() => v6?.Start();

    /// <summary>Cancels timers. On the loop.</summary>
    public void Stop() => v6?.Stop();

    /// <summary>An ARP packet (the Ethernet payload) from <paramref name="sourceMac"/>.</summary>
    public void OnArp(ulong sourceMac, ReadOnlySpan<byte> arp)
    {
        if (!ArpPacket.TryParse(arp, out ArpPacket packet) || Ethernet.IsGroup(packet.SenderMac) || packet.SenderMac == 0)
        {
            counters.Drop(GatewayDrop.ArpMalformed);
            return;
        }

        // Learn filters out 0.0.0.0 (probes), our own addresses (a guest claiming them teaches nothing)
        // and anything off the guests' network.
        Learn(packet.SenderMac, IpAddr.FromV4(packet.SenderIp));

        if (!packet.IsRequest)
        {
            return;
        }

        var target = IpAddr.FromV4(packet.TargetIp);
        if (target != options.Host && target != options.Dns)
        {
            return;
        }

        // RFC 826 reply; a probe from 0.0.0.0 (RFC 5227) is answered the same way, to its hardware address.
        Span<byte> frame = context.TxBuffer;
        PacketWriter.WriteEthernet(frame, packet.SenderMac, options.Mac, Ethernet.EtherTypeArp);
        ArpBuilder.Write(frame[Ethernet.HeaderLength..], ArpPacket.OperationReply, options.Mac, packet.TargetIp, packet.SenderMac, packet.SenderIp);
        int length = Ethernet.HeaderLength + ArpPacket.Length;
        frame[length..MinimumFrame].Clear();
        context.Link.Send(frame[..MinimumFrame], OffloadInfo.None);
        counters.Count(GatewayEvent.ArpReplies);
        _ = sourceMac;
    }

    /// <summary>Handles what the link services own: ICMP/ICMPv6 to the gateway's addresses (echo, NDP),
    /// DHCP (UDP 67), DHCPv6 (UDP 547). True when the packet was consumed (answered or dropped and counted).</summary>
    public bool TryHandle(in GuestPacket packet)
    {
        if (!packet.IsV6)
        {
            return packet.Protocol switch
            {
                PacketWriter.ProtocolIcmp => TryHandleIcmpV4(in packet),
                InternetChecksum.ProtocolUdp => TryHandleDhcp(in packet),
                _ => false,
            };
        }

        if (v6 is null)
        {
            return false;
        }

        if (packet.Protocol == PacketWriter.ProtocolIcmpV6)
        {
            return v6.TryHandleIcmp(in packet);
        }

        return packet.Protocol == InternetChecksum.ProtocolUdp
            && UdpHeader.TryParse(packet.L4, out UdpHeader udp)
            && v6.TryHandleDhcpv6(in packet, in udp);
    }

    /// <summary>Remembers that <paramref name="address"/> is at <paramref name="mac"/> (from any valid packet).</summary>
    public void Learn(ulong mac, IpAddr address)
    {
        if (IsResolvable(address) && !IsOurAddress(address))
        {
            LearnOrCount(mac, address);
        }
    }

    public bool TryResolve(IpAddr address, out ulong mac)
    {
        mac = 0;
        if (!IsResolvable(address) || IsOurAddress(address))
        {
            return false;
        }

        if (neighbours.TryGet(address, out mac))
        {
            return true;
        }

        if (!neighbours.TryStartResolution(address))
        {
            return false;
        }

        if (address.IsV4)
        {
            Span<byte> frame = context.TxBuffer;
            PacketWriter.WriteEthernet(frame, BroadcastMac, options.Mac, Ethernet.EtherTypeArp);
            ArpBuilder.Write(frame[Ethernet.HeaderLength..], ArpPacket.OperationRequest, options.Mac, options.Host.V4, 0, address.V4);
            frame[(Ethernet.HeaderLength + ArpPacket.Length)..MinimumFrame].Clear();
            context.Link.Send(frame[..MinimumFrame], OffloadInfo.None);
            counters.Count(GatewayEvent.ArpRequestsSent);
        }
        else
        {
            v6!.SendSolicitation(address);
        }

        return false;
    }

    /// <summary>The DHCP leases, for `switchyard leases`.</summary>
    public IReadOnlyList<LeaseInfo> Leases() => dhcp.Leases();

    private bool TryHandleIcmpV4(in GuestPacket packet)
    {
        if (packet.Destination != options.Host && packet.Destination != options.Dns)
        {
            return false;
        }

        if (!IcmpMessage.TryParse(packet.L4, out IcmpMessage request))
        {
            counters.Drop(GatewayDrop.IcmpMalformed);
            return true;
        }

        if (!packet.L4ChecksumTrusted && InternetChecksum.Compute(packet.L4) != 0)
        {
            counters.Drop(GatewayDrop.IcmpChecksumBad);
            return true;
        }

        if (request.Type != IcmpMessage.EchoRequestV4)
        {
            counters.Drop(GatewayDrop.IcmpTypeUnsupported);
            return true;
        }

        if (request.Code != 0 || packet.Source.IsUnspecified)
        {
            counters.Drop(GatewayDrop.IcmpMalformed);
            return true;
        }

        Span<byte> frame = context.TxBuffer;
        int length = IcmpBuilder.WriteEcho(frame[PacketWriter.L4Offset(false)..], IcmpMessage.EchoReplyV4, request.Identifier, request.Sequence, request.Data, packet.Destination, packet.Source);
        int frameLength = PacketWriter.WriteEthernetAndIp(frame, packet.SourceMac, options.Mac, packet.Destination, packet.Source, PacketWriter.ProtocolIcmp, length, context.NextIpId());
        context.Link.Send(frame[..frameLength], OffloadInfo.None);
        counters.Count(GatewayEvent.EchoRepliesFromGateway);
        return true;
    }

    private bool TryHandleDhcp(in GuestPacket packet)
    {
        if (!UdpHeader.TryParse(packet.L4, out UdpHeader udp)
            || udp.DestinationPort != DhcpMessage.ServerPort
            || (packet.Destination.V4 != uint.MaxValue && packet.Destination != options.Host && packet.Destination.V4 != networkBroadcast))
        {
            return false;
        }

        // A zero UDP checksum over IPv4 means "none" (RFC 768).
        if (udp.Checksum != 0 && !packet.L4ChecksumOk())
        {
            counters.Drop(GatewayDrop.UdpChecksumBad);
            return true;
        }

        ReadOnlySpan<byte> payload = udp.Payload;
        int declared = udp.LengthField - UdpHeader.Length;
        if (declared >= 0 && declared < payload.Length)
        {
            payload = payload[..declared];
        }

        dhcp.OnMessage(in packet, payload);
        return true;
    }

    private void LearnOrCount(ulong mac, IpAddr address)
    {
        if (!neighbours.Learn(mac, address))
        {
            counters.Drop(GatewayDrop.NeighbourTableFull);
        }
    }

    private bool IsGuestAddressV4(uint address) =>
        options.Network.Contains(IpAddr.FromV4(address)) && address != networkAddress && address != networkBroadcast;

    /// <summary>Addresses a guest can hold on this link: the IPv4 network's hosts, the IPv6 prefix, link-local.</summary>
    private bool IsResolvable(IpAddr address) =>
        address.IsV4
            ? IsGuestAddressV4(address.V4)
            : v6 is not null && (address.IsLinkLocalV6 || options.Network6.Contains(address)) && !address.IsMulticastOrBroadcast;

    private bool IsOurAddress(IpAddr address) =>
        address.IsV4 ? address == options.Host || address == options.Dns : v6 is not null && v6.IsOurs(address);
}
