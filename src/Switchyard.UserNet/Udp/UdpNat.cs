// UDP flows, DNS forwarding and UDP forwards.
//
// Theory of operation: a guest's UDP datagram (not DHCP: the link services take that) is checked once
// (header present, the length field within the IP payload, non-zero ports, the checksum unless the
// virtio header vouched for it; a zero checksum is "none" on IPv4 only, RFC 8200 §8.1) and then, in
// this order: (1) if it answers an inbound flow of a UDP forward (guest port of the rule, addressed
// to the source the guest was shown), it goes back out of the forward's bound socket to that client;
// (2) to the DNS address port 53 it goes to the DnsForwarder, to any other port there it is dropped;
// (3) otherwise AddressPlan decides whether it is carried and where (10.0.2.2 is the host's
// 127.0.0.1), and it is sent on the flow's connected host socket, opened on first use after the flow
// limiter admits it. Flows are keyed (guest address, guest port, destination, destination port) by
// value in a Dictionary; a socket finds its flow through a reference-keyed Dictionary. Host replies
// are read straight into the context's TxBuffer behind the headers, at most MaxReceivesPerWake per
// wake-up, and sent to the guest from the address and port the guest addressed, not the mapped one,
// so the NAT is invisible. A reply too large for the guest MTU is dropped and counted (we never
// fragment). A forward's datagrams from a host client open an inbound flow per client (address, port);
// the guest sees the client's own address (user-pains row 2), or the gateway for a loopback client.
// One sweep timer, armed for the earliest idle deadline, closes flows idle for Options.UdpIdleTimeout
// and gives their limiter slots back. Trusts: nothing from guests or host peers. Owns: the flow and
// forward sockets, the DnsForwarder. Everything runs on the gateway's loop.
using Switchyard.Core.Host;
using Switchyard.Core.Loop;
using Switchyard.Protocols;
using Switchyard.UserNet.Udp;

namespace Switchyard.UserNet.Udp;

public sealed class UdpNat : IHostSocketOwner
{
    /// <summary>Datagrams read from one socket per wake-up, so one busy flow cannot starve the loop.</summary>
    internal const int MaxReceivesPerWake = 64;

    /// <summary>Host clients one forward keeps flows for; more are dropped until some idle out.</summary>
    internal const int MaxClientsPerForward = 1024;

    private static readonly TimeSpan MinimumSweepDelay = TimeSpan.FromSeconds(1);

    private readonly GatewayContext context;
    private readonly FlowLimiter limiter;
    private readonly DnsForwarder dns;
    private readonly Dictionary<UdpFlowKey, UdpFlow> flows = [];
    private readonly Dictionary<IHostSocket, UdpFlow> flowBySocket = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<UdpFlowKey, InboundFlow> inbound = [];
    private readonly Dictionary<IHostSocket, UdpForward> forwardBySocket = new(ReferenceEqualityComparer.Instance);
    private readonly List<UdpForward> forwards = [];
    private readonly DeadlineTimer sweep;

    public UdpNat(GatewayContext context, FlowLimiter limiter)
        : this(context, limiter, new Random())
    {
    }

    internal UdpNat(GatewayContext context, FlowLimiter limiter, Random random)
    {
        ArgumentNullException.ThrowIfNull(context);
        this.context = context;
        this.limiter = limiter;
        dns = new DnsForwarder(context, random);
        sweep = new DeadlineTimer(context.Loop, OnSweep, MinimumSweepDelay);
    }

    /// <summary>Outbound flows open now.</summary>
    internal int FlowCount => flows.Count;

    /// <summary>Inbound (forward) flows open now.</summary>
    internal int InboundCount => inbound.Count;

    internal DnsForwarder Dns => dns;

    /// <summary>A UDP datagram from a guest, except DHCP/DHCPv6 (link services): DNS to the DNS
    /// address is forwarded upstream, the rest is carried on a flow's host socket.</summary>
    public void OnDatagram(in GuestPacket packet)
    {
        GatewayCounters counters = context.Counters;
        ReadOnlySpan<byte> l4 = packet.L4;
        if (!UdpHeader.TryParse(l4, out UdpHeader udp) || udp.LengthField < UdpHeader.Length || udp.LengthField > l4.Length
            || udp.SourcePort == 0 || udp.DestinationPort == 0)
        {
            counters.Drop(GatewayDrop.UdpMalformed);
            return;
        }

        ReadOnlySpan<byte> datagram = l4[..udp.LengthField];
        if (!packet.L4ChecksumTrusted && !ChecksumOk(in packet, datagram, udp.Checksum))
        {
            counters.Drop(GatewayDrop.UdpChecksumBad);
            return;
        }

        ReadOnlySpan<byte> payload = datagram[UdpHeader.Length..];
        var key = new UdpFlowKey(packet.Source, udp.SourcePort, packet.Destination, udp.DestinationPort);
        if (inbound.Count > 0 && inbound.TryGetValue(key, out InboundFlow? back))
        {
            ToClient(back, payload);
            return;
        }

        switch (context.Plan.MapOutbound(packet.Destination, out IpAddr hostDestination))
        {
            case OutboundVerdict.DnsAddress:
                if (key.RemotePort == DnsForwarder.DnsPort)
                {
                    dns.OnQuery(in packet, key.GuestPort, payload);
                }
                else
                {
                    counters.Drop(GatewayDrop.NotCarried);
                }

                return;
            case OutboundVerdict.Refuse:
                counters.Drop(context.Options.Restrict ? GatewayDrop.Restricted : GatewayDrop.NotCarried);
                return;
        }

        if (!flows.TryGetValue(key, out UdpFlow? flow))
        {
            if (context.IsOwnEndpoint(OwnProtocol.Udp, hostDestination, key.RemotePort))
            {
                // A dgram port's or a UDP forward's socket: a guest must not inject into it from loopback.
                counters.Drop(GatewayDrop.UdpToOwnListener);
                context.SendPortUnreachable(in packet);
                return;
            }

            flow = Open(key, packet.SourceMac, packet.IngressPort, hostDestination);
            if (flow is null)
            {
                return;
            }
        }

        flow.LastActive = context.Clock.GetTimestamp();
        HostIo io = flow.Socket.Send(payload);
        if (io.Ok)
        {
            flow.BytesFromGuest += payload.Length;
        }
        else
        {
            counters.Drop(GatewayDrop.UdpSendFailed);
        }
    }

    /// <summary>Opens a forward's socket. Throws HostNetworkException.</summary>
    public void AddForward(ForwardRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        IpAddr guest = rule.GuestAddress == IpAddr.None ? context.Plan.DefaultGuest : rule.GuestAddress;
        IHostDatagramSocket socket = context.Host.BindUdp(rule.HostAddress, rule.HostPort, this);
        var forward = new UdpForward(rule, socket, guest);
        forwards.Add(forward);
        forwardBySocket.Add(socket, forward);
    }

    /// <summary>Closes the forward with <paramref name="rule"/>'s host side and its flows; false if none.</summary>
    public bool RemoveForward(ForwardRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        for (int i = 0; i < forwards.Count; i++)
        {
            UdpForward forward = forwards[i];
            if (forward.Rule.HostKey != rule.HostKey)
            {
                continue;
            }

            foreach (InboundFlow flow in forward.Clients.Values)
            {
                inbound.Remove(flow.Key);
            }

            forward.Clients.Clear();
            forwardBySocket.Remove(forward.Socket);
            forward.Socket.Dispose();
            forwards.RemoveAt(i);
            return true;
        }

        return false;
    }

    public void AddFlows(List<FlowInfo> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        foreach (UdpFlow flow in flows.Values)
        {
            UdpFlowKey k = flow.Key;
            into.Add(new FlowInfo(
                "udp", GuestUdp.Format(k.Guest, k.GuestPort), GuestUdp.Format(k.Remote, k.RemotePort), "open", false,
                flow.BytesFromGuest, flow.BytesToGuest, context.Clock.GetElapsedTime(flow.LastActive)));
        }

        foreach (InboundFlow flow in inbound.Values)
        {
            UdpFlowKey k = flow.Key;
            into.Add(new FlowInfo(
                "udp", GuestUdp.Format(k.Guest, k.GuestPort), GuestUdp.Format(flow.Client, flow.ClientPort), "open", true,
                flow.BytesFromGuest, flow.BytesToGuest, context.Clock.GetElapsedTime(flow.LastActive)));
        }
    }

    public void OnHostIo(IHostSocket socket, IoEvents events)
    {
        if (flowBySocket.TryGetValue(socket, out UdpFlow? flow))
        {
            FromHost(flow, events);
        }
        else if (forwardBySocket.TryGetValue(socket, out UdpForward? forward))
        {
            FromClients(forward, events);
        }
    }

    public void Stop()
    {
        sweep.Cancel();
        foreach (UdpFlow flow in flows.Values)
        {
            flow.Socket.Dispose();
            limiter.Release(flow.AdmittedPort);
        }

        flows.Clear();
        flowBySocket.Clear();
        foreach (UdpForward forward in forwards)
        {
            forward.Socket.Dispose();
            forward.Clients.Clear();
        }

        forwards.Clear();
        forwardBySocket.Clear();
        inbound.Clear();
        dns.Stop();
    }

    private static bool ChecksumOk(in GuestPacket packet, ReadOnlySpan<byte> datagram, ushort checksum)
    {
        if (checksum == 0)
        {
            // "No checksum" exists for UDP over IPv4 only (RFC 768); over IPv6 it is mandatory (RFC 8200 §8.1).
            return !packet.IsV6;
        }

        uint pseudo = PacketWriter.PseudoHeaderSum(packet.Source, packet.Destination, InternetChecksum.ProtocolUdp, datagram.Length);
        return InternetChecksum.Compute(datagram, pseudo) == 0;
    }

    private UdpFlow? Open(UdpFlowKey key, ulong guestMac, int ingressPort, IpAddr hostDestination)
    {
        if (!limiter.TryAdmit(ingressPort))
        {
            return null;
        }

        IHostDatagramSocket? socket = context.Host.OpenUdp(hostDestination, key.RemotePort, this, out _);
        if (socket is null)
        {
            limiter.Release(ingressPort);
            context.Counters.Drop(GatewayDrop.UdpSendFailed);
            return null;
        }

        long now = context.Clock.GetTimestamp();
        var flow = new UdpFlow(key, guestMac, ingressPort, socket, now);
        flows.Add(key, flow);
        flowBySocket.Add(socket, flow);
        context.Counters.Count(GatewayEvent.UdpFlowsOpened);
        ArmSweep(now + IdleTimeout);
        return flow;
    }

    /// <summary>Replies on an outbound flow's socket: to the guest, from the address it addressed.</summary>
    private void FromHost(UdpFlow flow, IoEvents events)
    {
        if ((events & (IoEvents.Error | IoEvents.HangUp)) != 0)
        {
            // ICMP port unreachable on a connected UDP socket; UDP has no way to tell the guest but silence.
            flow.Socket.TakeError();
        }

        UdpFlowKey key = flow.Key;
        Span<byte> buffer = context.TxBuffer.AsSpan(PacketWriter.UdpPayloadOffset(!key.Guest.IsV4));
        for (int n = 0; n < MaxReceivesPerWake; n++)
        {
            // Connected socket: the kernel only delivers datagrams from the flow's remote.
            HostIo io = flow.Socket.ReceiveFrom(buffer, out _, out _);
            if (!io.Ok)
            {
                break;
            }

            flow.LastActive = context.Clock.GetTimestamp();
            if (GuestUdp.Send(context, flow.GuestMac, key.Remote, key.RemotePort, key.Guest, key.GuestPort, io.Bytes))
            {
                flow.BytesToGuest += io.Bytes;
            }
        }
    }

    /// <summary>Datagrams from host clients on a forward's socket: each to the guest, on the client's inbound flow.</summary>
    private void FromClients(UdpForward forward, IoEvents events)
    {
        if ((events & (IoEvents.Error | IoEvents.HangUp)) != 0)
        {
            forward.Socket.TakeError();
        }

        IpAddr guest = forward.Guest;
        Span<byte> buffer = context.TxBuffer.AsSpan(PacketWriter.UdpPayloadOffset(!guest.IsV4));
        for (int n = 0; n < MaxReceivesPerWake; n++)
        {
            // Resolve before receiving: a resolution may build an ARP/NDP frame in TxBuffer.
            bool known = context.Neighbours.TryResolve(guest, out ulong guestMac);
            HostIo io = forward.Socket.ReceiveFrom(buffer, out IpAddr client, out ushort clientPort);
            if (!io.Ok)
            {
                break;
            }

            context.Counters.Count(GatewayEvent.UdpForwardsReceived);
            if (!known)
            {
                context.Counters.Drop(GatewayDrop.NeighbourUnknown);
                continue;
            }

            if (!forward.Clients.TryGetValue((client, clientPort), out InboundFlow? flow))
            {
                flow = OpenInbound(forward, client, clientPort);
                if (flow is null)
                {
                    continue;
                }
            }

            flow.LastActive = context.Clock.GetTimestamp();
            if (GuestUdp.Send(context, guestMac, flow.Key.Remote, flow.Key.RemotePort, guest, flow.Key.GuestPort, io.Bytes))
            {
                flow.BytesToGuest += io.Bytes;
            }
        }
    }

    private InboundFlow? OpenInbound(UdpForward forward, IpAddr client, ushort clientPort)
    {
        if (forward.Clients.Count >= MaxClientsPerForward)
        {
            context.Counters.Drop(GatewayDrop.FlowTableFull);
            return null;
        }

        IpAddr shown = context.Plan.GuestSourceFor(client, forward.Guest);
        var key = new UdpFlowKey(forward.Guest, forward.Rule.GuestPort, shown, clientPort);
        if (inbound.TryGetValue(key, out InboundFlow? previous))
        {
            // Two loopback clients on one port look the same to the guest; the newer one takes the mapping.
            RemoveInbound(previous);
        }

        long now = context.Clock.GetTimestamp();
        var flow = new InboundFlow(forward, client, clientPort, key, now);
        forward.Clients.Add((client, clientPort), flow);
        inbound.Add(key, flow);
        ArmSweep(now + IdleTimeout);
        return flow;
    }

    /// <summary>A guest's answer on an inbound flow: out of the forward's socket to the client.</summary>
    private void ToClient(InboundFlow flow, ReadOnlySpan<byte> payload)
    {
        flow.LastActive = context.Clock.GetTimestamp();
        HostIo io = flow.Forward.Socket.SendTo(payload, flow.Client, flow.ClientPort);
        if (io.Ok)
        {
            flow.BytesFromGuest += payload.Length;
        }
        else
        {
            context.Counters.Drop(GatewayDrop.UdpSendFailed);
        }
    }

    private void RemoveInbound(InboundFlow flow)
    {
        inbound.Remove(flow.Key);
        flow.Forward.Clients.Remove((flow.Client, flow.ClientPort));
    }

    private long IdleTimeout => sweep.Ticks(context.Options.UdpIdleTimeout);

    /// <summary>The one sweep: closes idle flows and re-arms for the earliest deadline still ahead.</summary>
    /// <summary>Closes every outbound flow admitted under <paramref name="portId"/> (its port is gone); returns how many.</summary>
    internal int ClosePortFlows(int portId)
    {
        int closed = 0;

        // Dictionary.Remove during enumeration is allowed (.NET Core 3.0+).
        foreach (UdpFlow flow in flows.Values)
        {
            if (flow.AdmittedPort == portId)
            {
                flows.Remove(flow.Key);
                flowBySocket.Remove(flow.Socket);
                flow.Socket.Dispose();
                limiter.Release(flow.AdmittedPort);
                closed++;
            }
        }

        return closed;
    }

    private void OnSweep()
    {
        long now = context.Clock.GetTimestamp();
        long timeout = IdleTimeout;
        long earliest = long.MaxValue;

        // Dictionary.Remove during enumeration is allowed (.NET Core 3.0+) and does not allocate.
        foreach (UdpFlow flow in flows.Values)
        {
            if (now - flow.LastActive >= timeout)
            {
                flows.Remove(flow.Key);
                flowBySocket.Remove(flow.Socket);
                flow.Socket.Dispose();
                limiter.Release(flow.AdmittedPort);
                context.Counters.Count(GatewayEvent.UdpFlowsExpired);
            }
            else
            {
                earliest = Math.Min(earliest, flow.LastActive + timeout);
            }
        }

        foreach (InboundFlow flow in inbound.Values)
        {
            if (now - flow.LastActive >= timeout)
            {
                RemoveInbound(flow);
                context.Counters.Count(GatewayEvent.UdpFlowsExpired);
            }
            else
            {
                earliest = Math.Min(earliest, flow.LastActive + timeout);
            }
        }

        if (earliest != long.MaxValue)
        {
            ArmSweep(earliest);
        }
    }

    private void ArmSweep(long due) => sweep.ArmFor(due);
}
