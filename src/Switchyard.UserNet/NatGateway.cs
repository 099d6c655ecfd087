// The NAT gateway: an internal port of a network that is the guests' router, DHCP and DNS server,
// and their way to the host and the world, without privileges.
//
// Theory of operation: the switch sees the gateway as one more port (kind "gateway", MAC
// 52:55:0a:00:02:02). Frames the switch transmits to it are copied once into a receive buffer and
// validated here, once, at the boundary: Ethernet, then the IPv4 header (lengths, header checksum, no
// fragments) or the IPv6 header (no extension headers), then a GuestPacket goes to the one service
// that owns it: LinkServices (ARP, NDP, ICMP to the gateway, DHCP, DHCPv6, RA), TcpNat (TCP flows
// on host sockets), UdpNat (UDP flows, DNS forwarding) or IcmpEcho (echo through ping sockets).
// Everything the services send toward guests goes back through this port's Deliver into the switch,
// synchronously, built in the context's TxBuffer. The gateway accepts partial checksums and TSO
// super frames from guests (a 64 KiB segment is one send() on the host socket) and may send them
// to guests; the switch segments for ports that cannot take them. Everything runs on one loop.
using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Switchyard.Core.Frames;
using Switchyard.Core.Loop;
using Switchyard.Core.Ports;
using Switchyard.Protocols;
using Switchyard.UserNet.Link;
using Switchyard.UserNet.Tcp;
using Switchyard.UserNet.Udp;

namespace Switchyard.UserNet;

public sealed class NatGateway : Port, IGuestLink
{
    private const ushort IcmpEchoRequestV4 = 8;
    private const ushort IcmpEchoRequestV6 = 128;

    private readonly byte[] rxBuffer = GC.AllocateArray<byte>(GatewayContext.TxBufferSize, pinned: true);
    private readonly List<ForwardRule> forwards = [];
    private bool started;

    public NatGateway(string name, GatewayOptions options, IEventLoop loop, IHostNetwork host, IResolverSource? resolvers, ILogger logger)
        : base(name)
    {
        Context = new GatewayContext(options, this, host, loop, logger) { Resolvers = resolvers };
        Limiter = new FlowLimiter(options, Context.Counters);
        Link = new LinkServices(Context);
        Context.Neighbours = Link;
        Tcp = new TcpNat(Context, Limiter) { DeferAcks = true };
        Context.RequestFlush = () => loop.RequestFlush(this);
        Udp = new UdpNat(Context, Limiter);
        Echo = new IcmpEcho(Context, Limiter);
    }

    public override string Kind => "gateway";

    public override string Peer => $"{Options.Host} {Options.Network}";

    public override PortOffloads Offloads => PortOffloads.PartialChecksum | PortOffloads.TcpSegmentation;

    public GatewayOptions Options => Context.Options;

    public GatewayContext Context { get; }

    public GatewayCounters GatewayCounters => Context.Counters;

    internal LinkServices Link { get; }

    internal TcpNat Tcp { get; }

    internal UdpNat Udp { get; }

    internal IcmpEcho Echo { get; }

    internal FlowLimiter Limiter { get; }

    /// <summary>The forwards open now, in the order they were added.</summary>
    public IReadOnlyList<ForwardRule> Forwards => forwards;

    /// <summary>Starts the services and opens the configured forwards. Throws
    /// <see cref="HostNetworkException"/> listing every forward that could not be opened. On the loop.</summary>
    public override void Start()
    {
        if (started)
        {
            return;
        }

        started = true;
        Link.Start();
        var errors = new List<string>();
        foreach (ForwardRule rule in Options.Forwards)
        {
            try
            {
                AddForward(rule);
            }
            catch (HostNetworkException ex)
            {
                errors.Add(ex.Message);
            }
        }

        if (errors.Count > 0)
        {
            throw new HostNetworkException(string.Join("; ", errors));
        }
    }

    public override void Stop()
    {
        if (!started)
        {
            return;
        }

        started = false;
        Link.Stop();
        Tcp.Stop();
        Udp.Stop();
        Echo.Stop();
        forwards.Clear();
    }

    /// <summary>Opens a forward. Throws <see cref="HostNetworkException"/> if its host side is taken. On the loop.</summary>
    public void AddForward(ForwardRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        foreach (ForwardRule existing in forwards)
        {
            if (existing.HostKey == rule.HostKey)
            {
                throw new HostNetworkException($"a forward for {rule.Protocol.ToString().ToLowerInvariant()} host port {rule.HostPort} already exists: {existing}");
            }
        }

        if (rule.Protocol == ForwardProtocol.Tcp)
        {
            Tcp.AddForward(rule);
        }
        else
        {
            Udp.AddForward(rule);
        }

        forwards.Add(rule);
    }

    /// <summary>Closes the forward whose host side matches <paramref name="rule"/>'s; false if none. On the loop.</summary>
    public bool RemoveForward(ForwardRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        int index = forwards.FindIndex(f => f.HostKey == rule.HostKey);
        if (index < 0)
        {
            return false;
        }

        ForwardRule existing = forwards[index];
        forwards.RemoveAt(index);
        return existing.Protocol == ForwardProtocol.Tcp ? Tcp.RemoveForward(existing) : Udp.RemoveForward(existing);
    }

    public IReadOnlyList<LeaseInfo> Leases() => Link.Leases();

    /// <summary>Every live NAT flow. On the loop.</summary>
    public IReadOnlyList<FlowInfo> Flows()
    {
        var flows = new List<FlowInfo>();
        Tcp.AddFlows(flows);
        Udp.AddFlows(flows);
        Echo.AddFlows(flows);
        return flows;
    }

    /// <summary>A frame from the switch: copied once, then validated and dispatched.</summary>
    public override void Transmit(in EgressFrame frame)
    {
        int length = frame.Length;
        if (length > rxBuffer.Length)
        {
            Counters.Drop(DropReason.TxTooBig);
            Context.Counters.Drop(GatewayDrop.FrameTooLarge);
            return;
        }

        Span<byte> data = rxBuffer.AsSpan(0, length);
        frame.CopySlice(0, data);
        Counters.CountTx(length);
        Context.Counters.Count(GatewayEvent.FramesFromGuests);
        OffloadInfo offload = frame.Offload;
        Dispatch(data, (offload.Flags & (OffloadInfo.FlagNeedsChecksum | OffloadInfo.FlagDataValid)) != 0, frame.IngressPort);
    }

    /// <summary>End of a loop iteration: the ACKs this batch of guest segments earned.</summary>
    public override void Flush() => Tcp.FlushAcks();

    /// <summary>The guest behind port <paramref name="portId"/> is gone: its TCP and UDP flows are closed (host
    /// sockets, flow-table places, relay memory), quietly, since nobody is left to tell. Without this a peer that
    /// reconnects gets a fresh per-port budget each time while the old flows linger until they time out, and
    /// can fill the gateway's table for everyone.</summary>
    /// <remarks>The switch can remove a port from deep inside a frame's journey (a port that fails in its own
    /// Transmit while one of our flows is sending to it), so the flows are closed in a posted step, never under
    /// a flow that is still on the stack.</remarks>
    public override void OnPeerPortRemoved(int portId) => Context.Loop.Post(() => ClosePortFlows(portId));

    private void ClosePortFlows(int portId)
    {
        int closed = Tcp.ClosePortFlows(portId) + Udp.ClosePortFlows(portId);
        if (closed > 0)
        {
            Context.Counters.Count(GatewayEvent.FlowsClosedPortGone, closed);
        }
    }

    void IGuestLink.Send(ReadOnlySpan<byte> frame, in OffloadInfo offload)
    {
        Context.Counters.Count(GatewayEvent.FramesToGuests);
        Deliver(frame, offload);
    }

    private void Dispatch(ReadOnlySpan<byte> frame, bool checksumTrusted, int ingressPort)
    {
        GatewayCounters counters = Context.Counters;
        if (!EthernetHeader.TryParse(frame, out EthernetHeader eth))
        {
            counters.Drop(GatewayDrop.EthernetMalformed);
            return;
        }

        ulong destinationMac = Ethernet.Destination(frame);
        bool group = Ethernet.IsGroup(destinationMac);
        if (!group && destinationMac != Options.Mac)
        {
            // Flooded unicast for another guest: not ours, not a fault.
            counters.Count(GatewayEvent.FramesNotForGateway);
            return;
        }

        ulong sourceMac = Ethernet.Source(frame);
        if (Ethernet.IsGroup(sourceMac) || sourceMac == 0)
        {
            counters.Drop(GatewayDrop.EthernetMalformed);
            return;
        }

        switch (eth.EtherType)
        {
            case Ethernet.EtherTypeArp:
                Link.OnArp(sourceMac, eth.Payload);
                break;
            case Ethernet.EtherTypeIPv4:
                DispatchIPv4(sourceMac, group, eth.Payload, checksumTrusted, ingressPort);
                break;
            case Ethernet.EtherTypeIPv6 when Options.Ipv6:
                DispatchIPv6(sourceMac, group, eth.Payload, checksumTrusted, ingressPort);
                break;
            default:
                if (group)
                {
                    counters.Count(GatewayEvent.FramesNotForGateway);
                }
                else
                {
                    counters.Drop(GatewayDrop.UnsupportedEtherType);
                }

                break;
        }
    }

    private void DispatchIPv4(ulong sourceMac, bool group, ReadOnlySpan<byte> payload, bool checksumTrusted, int ingressPort)
    {
        GatewayCounters counters = Context.Counters;
        if (!IPv4Header.TryParse(payload, out IPv4Header ip))
        {
            counters.Drop(GatewayDrop.IpMalformed);
            return;
        }

        if (InternetChecksum.Compute(ip.Header) != 0)
        {
            counters.Drop(GatewayDrop.IpChecksumBad);
            return;
        }

        if (ip.IsFragment)
        {
            // Guests send with DF and the MTU we announce; reassembly is a memory-exhaustion door we keep shut.
            counters.Drop(GatewayDrop.IpFragment);
            return;
        }

        var source = IpAddr.Read(ip.Source);
        var destination = IpAddr.Read(ip.Destination);
        if (source.IsMulticastOrBroadcast || source.IsLoopback)
        {
            counters.Drop(GatewayDrop.IpSourceInvalid);
            return;
        }

        if (group && !destination.IsMulticastOrBroadcast && !Context.Plan.IsGatewayAddress(destination))
        {
            counters.Count(GatewayEvent.FramesNotForGateway);
            return;
        }

        if (!source.IsUnspecified && Context.Plan.IsGuestSide(source))
        {
            Link.Learn(sourceMac, source);
        }

        var packet = new GuestPacket(sourceMac, source, destination, ip.Protocol, ip.TimeToLive, ip.Datagram, ip.Payload, checksumTrusted) { IngressPort = ingressPort };
        Deliver(in packet, group, IcmpEchoRequestV4, PacketWriter.ProtocolIcmp);
    }

    private void DispatchIPv6(ulong sourceMac, bool group, ReadOnlySpan<byte> payload, bool checksumTrusted, int ingressPort)
    {
        GatewayCounters counters = Context.Counters;
        if (!IPv6Header.TryParse(payload, out IPv6Header ip))
        {
            counters.Drop(GatewayDrop.IpMalformed);
            return;
        }

        var source = IpAddr.Read(ip.Source);
        var destination = IpAddr.Read(ip.Destination);
        if (source.IsMulticastOrBroadcast || source.IsLoopback)
        {
            counters.Drop(GatewayDrop.IpSourceInvalid);
            return;
        }

        byte next = ip.NextHeader;
        if (next is not (InternetChecksum.ProtocolTcp or InternetChecksum.ProtocolUdp or PacketWriter.ProtocolIcmpV6))
        {
            // MLD reports (hop-by-hop) and other multicast chatter are normal; only unicast to us is a drop.
            if (group)
            {
                counters.Count(GatewayEvent.FramesNotForGateway);
            }
            else
            {
                counters.Drop(GatewayDrop.IpExtensionHeader);
            }

            return;
        }

        if (!source.IsUnspecified && (Context.Plan.IsGuestSide(source) || source.IsLinkLocalV6))
        {
            Link.Learn(sourceMac, source);
        }

        var packet = new GuestPacket(sourceMac, source, destination, next, payload[7], payload[..(IPv6Header.Length + ip.PayloadLength)], ip.Payload, checksumTrusted) { IngressPort = ingressPort };
        Deliver(in packet, group, IcmpEchoRequestV6, PacketWriter.ProtocolIcmpV6);
    }

    private bool IsHostLoopbackAddress(IpAddr destination) =>
        Options.HostLoopback && !Options.Restrict && (destination == Options.Host || (Options.Ipv6 && destination == Options.Host6));

    private void Deliver(in GuestPacket packet, bool group, ushort echoRequestType, byte icmpProtocol)
    {
        bool echoRequest = packet.Protocol == icmpProtocol && packet.L4.Length >= 8 && packet.L4[0] == echoRequestType;
        if (echoRequest && !group && IsHostLoopbackAddress(packet.Destination) && !Echo.RecentlyRefused
            && Echo.OnEchoRequest(in packet) != EchoOutcome.NotPermitted)
        {
            // The gateway address stands for the host's loopback, for ping too (so a ping of 10.0.2.2
            // measures the host). Without ping sockets (refused now, or within the last minute) the link
            // services below answer it themselves, this request included.
            return;
        }

        if (Link.TryHandle(in packet))
        {
            return;
        }

        if (group || packet.Destination.IsMulticastOrBroadcast)
        {
            // Broadcast and multicast the link services did not want (mDNS, SSDP, ...) stay on the link.
            Context.Counters.Count(GatewayEvent.FramesNotForGateway);
            return;
        }

        if (packet.Source.IsUnspecified)
        {
            Context.Counters.Drop(GatewayDrop.IpSourceInvalid);
            return;
        }

        switch (packet.Protocol)
        {
            case InternetChecksum.ProtocolTcp:
                Tcp.OnSegment(in packet);
                break;
            case InternetChecksum.ProtocolUdp:
                Udp.OnDatagram(in packet);
                break;
            default:
                if (echoRequest)
                {
                    Echo.OnEchoRequest(in packet);
                }
                else
                {
                    Context.Counters.Drop(GatewayDrop.UnsupportedProtocol);
                }

                break;
        }
    }
}
