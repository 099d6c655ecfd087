// TCP NAT: the guests' TCP connections terminated here and carried on host sockets, and TCP forwards.
//
// Theory of operation: every TCP segment a guest sends past the link services arrives in OnSegment.
// It is validated once (header, data offset, ports, checksum unless the guest's offload vouched for
// it) and looked up by (guest address, guest port, remote address, remote port) in the flow table.
// A guest SYN with no flow asks the address plan where it goes (Carry to a host address, the DNS
// address's port 53 to the first upstream resolver over TCP, or Refuse), asks the FlowLimiter for
// admission (every flow, half-open ones included, so a SYN flood is bounded by the per-guest limit)
// and starts a non-blocking connect; the guest hears SYN-ACK only once the host connect succeeded, or
// RST|ACK if it failed, so "connection refused" reaches the guest as it would on a real network. Any
// other segment without a flow gets an RST (RFC 9293 §3.10.7.1), except an RST, which never gets one.
// Forwards: a listener per rule; each accepted client becomes a flow that sends SYN to the guest.
// Each flow (Tcp/TcpFlow.cs) is a TCP endpoint toward the guest spliced to its host socket; host
// readiness arrives in OnHostIo and is routed to the flow that owns the socket. Buffers come from one
// ChunkPool, taken as bytes arrive and returned when consumed, so memory follows buffered bytes, not
// connection count. Everything runs on the gateway's loop; nothing here allocates per packet.
using System.Buffers.Binary;
using Switchyard.Core.Frames;
using Switchyard.Core.Host;
using Switchyard.Core.Loop;
using Switchyard.Protocols;
using Switchyard.UserNet.Tcp;

namespace Switchyard.UserNet.Tcp;

public sealed class TcpNat : IHostSocketOwner
{
    private const ushort DnsPort = 53;

    private readonly GatewayContext context;
    private readonly FlowLimiter limiter;
    private readonly Dictionary<TcpFlowKey, TcpFlow> flows = [];
    private readonly Dictionary<IHostSocket, TcpFlow> bySocket = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<IHostSocket, ForwardRule> listeners = new(ReferenceEqualityComparer.Instance);

    public TcpNat(GatewayContext context, FlowLimiter limiter)
    {
        ArgumentNullException.ThrowIfNull(context);
        this.context = context;
        this.limiter = limiter;
        Pool = new ChunkPool(globalLimit: context.Options.RelayBufferBytes, portLimit: context.Options.RelayBufferBytesPerPort, counters: context.Counters);
        Pool.Freed = OnChunkFreed;
    }

    /// <summary>Flows that found the relay budget exhausted and wait for chunks to come back.</summary>
    private List<TcpFlow> budgetWaiters = [];
    private List<TcpFlow> budgetWaking = [];
    private bool chunkFreed;

    /// <summary>Initial sequence numbers come from here (STYLE.md habit 13: tests seed it).</summary>
    private readonly List<TcpFlow> ackQueue = [];

    internal Random Random { get; set; } = new();

    /// <summary>When set (NatGateway sets it), flows owe their ACKs until <see cref="FlushAcks"/> at the
    /// end of the loop iteration, so a batch of guest segments is acknowledged once.</summary>
    internal bool DeferAcks { get; set; }

    internal ChunkPool Pool { get; }

    internal int FlowCount => flows.Count;

    internal TcpFlow? Find(in TcpFlowKey key) => flows.GetValueOrDefault(key);

    /// <summary>A TCP segment from a guest to any address but the gateway's own services.</summary>
    public void OnSegment(in GuestPacket packet)
    {
        GatewayCounters counters = context.Counters;
        if (!TcpHeader.TryParse(packet.L4, out TcpHeader tcp) || tcp.SourcePort == 0 || tcp.DestinationPort == 0)
        {
            counters.Drop(GatewayDrop.TcpMalformed);
            return;
        }

        if (!packet.L4ChecksumOk())
        {
            counters.Drop(GatewayDrop.TcpChecksumBad);
            return;
        }

        var key = new TcpFlowKey(packet.Source, tcp.SourcePort, packet.Destination, tcp.DestinationPort);
        byte flags = tcp.Flags;
        bool synOnly = (flags & (TcpHeader.FlagSyn | TcpHeader.FlagAck | TcpHeader.FlagRst)) == TcpHeader.FlagSyn;
        if (flows.TryGetValue(key, out TcpFlow? flow))
        {
            if (synOnly && flow.State == TcpFlowState.Linger)
            {
                // The guest reuses the port of a connection that has ended: start afresh.
                flow.Release();
            }
            else
            {
                flow.OnSegment(tcp);
                return;
            }
        }

        if ((flags & TcpHeader.FlagRst) != 0)
        {
            // RFC 9293 §3.10.7.1: an RST is never answered.
            counters.Drop(GatewayDrop.TcpNoFlow);
            return;
        }

        if (!synOnly)
        {
            counters.Drop(GatewayDrop.TcpNoFlow);
            ResetFor(in packet, tcp);
            return;
        }

        OpenOutbound(in packet, tcp, key);
    }

    private void OpenOutbound(in GuestPacket packet, in TcpHeader tcp, in TcpFlowKey key)
    {
        GatewayCounters counters = context.Counters;
        ushort port = tcp.DestinationPort;
        switch (context.Plan.MapOutbound(packet.Destination, out IpAddr hostAddress))
        {
            case OutboundVerdict.Carry:
                break;
            case OutboundVerdict.DnsAddress when port == DnsPort:
                IReadOnlyList<DnsUpstream> upstreams = context.CurrentUpstreams();
                if (upstreams.Count == 0)
                {
                    counters.Drop(GatewayDrop.DnsNoUpstream);
                    ResetFor(in packet, tcp);
                    return;
                }

                hostAddress = upstreams[0].Address;
                port = upstreams[0].Port;
                break;
            case OutboundVerdict.DnsAddress:
                counters.Drop(GatewayDrop.NotCarried);
                ResetFor(in packet, tcp);
                return;
            default:
                counters.Drop(context.Options.Restrict ? GatewayDrop.Restricted : GatewayDrop.NotCarried);
                ResetFor(in packet, tcp);
                return;
        }

        if (context.IsOwnEndpoint(OwnProtocol.Tcp, hostAddress, port))
        {
            // The daemon's own listeners (HTTP API, stream/socket listeners, forwards) are not the guests'
            // to reach: through 10.0.2.2 they would arrive from loopback, with the host's authority.
            counters.Drop(GatewayDrop.TcpToOwnListener);
            ResetFor(in packet, tcp);
            return;
        }

        if (!limiter.TryAdmit(packet.IngressPort))
        {
            // Counted by the limiter. Refuse at once rather than let the guest wait out its SYN timeouts.
            ResetFor(in packet, tcp);
            return;
        }

        IHostTcpSocket? socket = context.Host.ConnectTcp(hostAddress, port, this, out _);
        if (socket is null)
        {
            limiter.Release(packet.IngressPort);
            counters.Drop(GatewayDrop.TcpConnectFailed);
            ResetFor(in packet, tcp);
            return;
        }

        TcpOptions.TryParse(tcp, out TcpOptions options);
        var flow = new TcpFlow(this, context, key, packet.SourceMac, packet.IngressPort, inbound: false, NextIsn());
        flows.Add(key, flow);
        bySocket.Add(socket, flow);
        counters.Count(GatewayEvent.TcpFlowsOpened);
        flow.StartOutbound(socket, tcp.SequenceNumber, tcp.Window, options);
    }

    private uint NextIsn() => (uint)Random.NextInt64(0, 1L << 32);

    /// <summary>Opens a forward's listener. Throws HostNetworkException.</summary>
    public void AddForward(ForwardRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        IHostTcpListener listener = context.Host.ListenTcp(rule.HostAddress, rule.HostPort, this);
        listeners.Add(listener, rule);
    }

    /// <summary>Closes a forward's listener (live connections stay). False if there is no such forward.</summary>
    public bool RemoveForward(ForwardRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        foreach (KeyValuePair<IHostSocket, ForwardRule> entry in listeners)
        {
            if (entry.Value.HostKey == rule.HostKey)
            {
                listeners.Remove(entry.Key);
                entry.Key.Dispose();
                return true;
            }
        }

        return false;
    }

    /// <summary>Appends every live TCP flow.</summary>
    public void AddFlows(List<FlowInfo> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        long now = context.Clock.GetTimestamp();
        foreach (TcpFlow flow in flows.Values)
        {
            TcpFlowKey k = flow.Key;
            into.Add(new FlowInfo(
                "tcp",
                Endpoint(k.Guest, k.GuestPort),
                Endpoint(k.Remote, k.RemotePort),
                flow.StateName,
                flow.Inbound,
                flow.BytesFromGuest,
                flow.BytesToGuest,
                context.Clock.GetElapsedTime(flow.LastActivity, now)));
        }
    }

    private static string Endpoint(IpAddr address, ushort port) => address.IsV4 ? $"{address}:{port}" : $"[{address}]:{port}";

    public void OnHostIo(IHostSocket socket, IoEvents events)
    {
        if (bySocket.TryGetValue(socket, out TcpFlow? flow))
        {
            flow.OnHostIo(events);
            return;
        }

        if (socket is IHostTcpListener listener && listeners.TryGetValue(socket, out ForwardRule? rule))
        {
            AcceptAll(listener, rule);
        }
    }

    private void AcceptAll(IHostTcpListener listener, ForwardRule rule)
    {
        // Bounded: a flood of clients cannot hold the loop in one wake-up.
        for (int i = 0; i < 64; i++)
        {
            IHostTcpSocket? client = listener.Accept(this);
            if (client is null)
            {
                return;
            }

            Accept(client, rule);
        }
    }

    private void Accept(IHostTcpSocket client, ForwardRule rule)
    {
        IpAddr guest = rule.GuestAddress == IpAddr.None ? context.Plan.DefaultGuest : rule.GuestAddress;
        IpAddr source = context.Plan.GuestSourceFor(client.RemoteAddress, guest);
        var key = new TcpFlowKey(guest, rule.GuestPort, source, client.RemotePort);
        context.Neighbours.TryResolve(guest, out ulong mac);
        if (flows.ContainsKey(key) || !limiter.TryAdmit(FlowLimiter.ForwardsPort))
        {
            client.Abort();
            return;
        }

        var flow = new TcpFlow(this, context, key, 0, FlowLimiter.ForwardsPort, inbound: true, NextIsn());
        flows.Add(key, flow);
        bySocket.Add(client, flow);
        context.Counters.Count(GatewayEvent.TcpForwardsAccepted);
        context.Counters.Count(GatewayEvent.TcpFlowsOpened);
        flow.StartInbound(client);
    }

    /// <summary>Closes every flow and listener. On the loop.</summary>
    public void Stop()
    {
        foreach (IHostSocket listener in listeners.Keys)
        {
            listener.Dispose();
        }

        listeners.Clear();
        ackQueue.Clear();
        var all = new List<TcpFlow>(flows.Values);
        foreach (TcpFlow flow in all)
        {
            flow.Reset(sendRst: true);
        }

        flows.Clear();
        bySocket.Clear();
    }

    /// <summary>Queues <paramref name="flow"/>'s owed ACK for <see cref="FlushAcks"/>.</summary>
    internal void QueueAck(TcpFlow flow)
    {
        if (!flow.AckQueued)
        {
            flow.AckQueued = true;
            ackQueue.Add(flow);
            context.RequestFlush?.Invoke();
        }
    }

    /// <summary>Remembers that <paramref name="flow"/> is held back by the relay budget, to be woken at the
    /// end of an iteration in which chunks came back.</summary>
    internal void WaitForBudget(TcpFlow flow)
    {
        if (!flow.BudgetWaiting)
        {
            flow.BudgetWaiting = true;
            budgetWaiters.Add(flow);
        }
    }

    private void OnChunkFreed()
    {
        if (!chunkFreed && budgetWaiters.Count > 0)
        {
            chunkFreed = true;
            context.RequestFlush?.Invoke();
        }
    }

    /// <summary>Lets the flows waiting for budget try again (they wait again if there is still none).</summary>
    private void WakeBudgetWaiters()
    {
        chunkFreed = false;
        (budgetWaking, budgetWaiters) = (budgetWaiters, budgetWaking);
        for (int i = 0; i < budgetWaking.Count; i++)
        {
            TcpFlow flow = budgetWaking[i];
            flow.BudgetWaiting = false;
            flow.OnBudgetAvailable();
        }

        budgetWaking.Clear();
    }

    /// <summary>Sends every ACK owed since the last call. On the loop, at the end of an iteration.</summary>
    public void FlushAcks()
    {
        if (chunkFreed)
        {
            WakeBudgetWaiters();
        }

        for (int i = 0; i < ackQueue.Count; i++)
        {
            ackQueue[i].SendDeferredAck();
        }

        ackQueue.Clear();
    }

    internal void Forget(IHostSocket socket) => bySocket.Remove(socket);

    /// <summary>Closes every flow admitted under <paramref name="portId"/> without a word to the guest (its port
    /// is gone); returns how many. Forwarded connections (admitted under the forwards' budget) stay.</summary>
    internal int ClosePortFlows(int portId)
    {
        List<TcpFlow>? gone = null;
        foreach (TcpFlow flow in flows.Values)
        {
            if (flow.AdmittedPort == portId)
            {
                (gone ??= []).Add(flow);
            }
        }

        foreach (TcpFlow flow in gone ?? [])
        {
            flow.Reset(sendRst: false);
        }

        return gone?.Count ?? 0;
    }

    internal void Remove(TcpFlow flow)
    {
        if (flows.TryGetValue(flow.Key, out TcpFlow? current) && ReferenceEquals(current, flow))
        {
            flows.Remove(flow.Key);
            limiter.Release(flow.AdmittedPort);
        }
    }

    /// <summary>The RST that answers <paramref name="tcp"/> when there is no connection (RFC 9293 §3.10.7.1):
    /// SEQ=SEG.ACK if it had ACK, else SEQ=0 ACK=SEG.SEQ+SEG.LEN with RST|ACK.</summary>
    private void ResetFor(in GuestPacket packet, in TcpHeader tcp)
    {
        byte flags = tcp.Flags;
        var key = new TcpFlowKey(packet.Source, tcp.SourcePort, packet.Destination, tcp.DestinationPort);
        if ((flags & TcpHeader.FlagAck) != 0)
        {
            SendReset(key, packet.SourceMac, tcp.AcknowledgmentNumber, 0, TcpHeader.FlagRst);
            return;
        }

        uint length = (uint)tcp.Payload.Length;
        if ((flags & TcpHeader.FlagSyn) != 0)
        {
            length++;
        }

        if ((flags & TcpHeader.FlagFin) != 0)
        {
            length++;
        }

        SendReset(key, packet.SourceMac, 0, tcp.SequenceNumber + length, TcpHeader.FlagRst | TcpHeader.FlagAck);
    }

    /// <summary>Sends a bare RST (or RST|ACK) from the remote side of <paramref name="key"/> to the guest.</summary>
    internal void SendReset(in TcpFlowKey key, ulong guestMac, uint seq, uint ack, byte flags)
    {
        if (guestMac == 0)
        {
            return;
        }

        byte[] buffer = context.TxBuffer;
        bool v6 = !key.Guest.IsV4;
        int l4 = PacketWriter.L4Offset(v6);
        Span<byte> tcp = buffer.AsSpan(l4, TcpHeader.MinLength);
        tcp.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(tcp, key.RemotePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], key.GuestPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[TcpHeader.SequenceNumberOffset..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[TcpHeader.AcknowledgmentNumberOffset..], ack);
        tcp[TcpHeader.DataOffsetOffset] = (TcpHeader.MinLength / 4) << 4;
        tcp[TcpHeader.FlagsOffset] = flags;
        PacketWriter.WriteL4Checksum(tcp, key.Remote, key.Guest, InternetChecksum.ProtocolTcp, TcpHeader.ChecksumOffset);
        int length = PacketWriter.WriteEthernetAndIp(
            buffer, guestMac, context.Options.Mac, key.Remote, key.Guest, InternetChecksum.ProtocolTcp, TcpHeader.MinLength, context.NextIpId());
        context.Link.Send(buffer.AsSpan(0, length), OffloadInfo.None);
    }
}
