// The DNS forwarder: guests ask the gateway's DNS address (10.0.2.3 / fd00::3) port 53; the gateway
// asks an upstream resolver and answers from that address.
//
// Theory of operation: a query is validated once (a header, QR = 0, a first question whose name is
// within bounds) and copied into a slot of a fixed pending table, with its ID replaced by one this
// forwarder allocates (random, unique among pending queries), so two guests that both use ID 1 never
// collide and an upstream reply maps back to exactly one guest. Upstreams are the configured ones,
// else the host's resolvers (re-read by IResolverSource when resolv.conf changes, user-pains row 9),
// looked up at each query; each has one connected UDP socket, kept open while it stays in the list.
// A reply is accepted only from the socket and address of an upstream its query went to, with QR = 1,
// a pending ID and the same question (ASCII case ignored); it is sent to the guest with the guest's
// ID restored, from the DNS address port 53. A reply larger than the guest MTU becomes a header-only
// answer with TC set, so the guest retries over TCP. One timer, armed for the earliest deadline,
// expires queries after QueryTimeout: a query is re-sent once to the next upstream if there is one,
// else answered SERVFAIL. With no upstream at all the guest gets SERVFAIL at once. The table is
// bounded (MaxPending); a query beyond it is dropped and counted, and the guest's resolver retries.
// Trusts: nothing from guests or upstreams. Owns: the upstream sockets and the pending table.
using System.Buffers.Binary;
using Switchyard.Core.Loop;
using Switchyard.Protocols;

namespace Switchyard.UserNet.Udp;

internal sealed class DnsForwarder : IHostSocketOwner
{
    public const int MaxPending = 512;
    public const ushort DnsPort = 53;
    public static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(5);

    private const int MaxRepliesPerWake = 64;
    private const int SlotBufferSize = 1024;
    private static readonly TimeSpan MinimumTimerDelay = TimeSpan.FromMilliseconds(100);

    private readonly GatewayContext context;
    private readonly Random random;
    private readonly Slot[] slots = new Slot[MaxPending];
    private readonly int[] freeSlots = new int[MaxPending];
    private readonly Dictionary<ushort, int> slotById = new(MaxPending);
    private readonly Dictionary<DnsUpstream, Upstream> upstreams = [];
    private readonly Dictionary<IHostSocket, Upstream> upstreamBySocket = new(ReferenceEqualityComparer.Instance);
    private readonly byte[] receiveBuffer = new byte[65536];
    private readonly DeadlineTimer timer;
    private IReadOnlyList<DnsUpstream>? lastUpstreams;
    private int freeCount;

    public DnsForwarder(GatewayContext context, Random random)
    {
        this.context = context;
        this.random = random;
        for (int i = 0; i < MaxPending; i++)
        {
            slots[i] = new Slot();
            freeSlots[i] = MaxPending - 1 - i;
        }

        freeCount = MaxPending;
        timer = new DeadlineTimer(context.Loop, OnTimer, MinimumTimerDelay);
    }

    /// <summary>Queries waiting for an upstream reply.</summary>
    public int Pending => MaxPending - freeCount;

    /// <summary>Upstream sockets open now.</summary>
    public int OpenUpstreams => upstreams.Count;

    /// <summary>A UDP datagram from a guest to the DNS address port 53; <paramref name="query"/> is its payload.</summary>
    public void OnQuery(in GuestPacket packet, ushort guestPort, ReadOnlySpan<byte> query)
    {
        GatewayCounters counters = context.Counters;
        if (!DnsMessage.TryParse(query, out DnsMessage dns) || dns.IsResponse || !dns.TryGetFirstQuestion(out _, out _, out _))
        {
            counters.Drop(GatewayDrop.DnsMalformed);
            return;
        }

        IReadOnlyList<DnsUpstream> current = context.CurrentUpstreams();
        if (!ReferenceEquals(current, lastUpstreams))
        {
            // The list changed (configuration, or resolv.conf re-read): close sockets to upstreams it dropped.
            lastUpstreams = current;
            PruneUpstreams(current);
        }

        if (current.Count == 0)
        {
            counters.Drop(GatewayDrop.DnsNoUpstream);
            AnswerServerFailure(packet.SourceMac, packet.Destination, packet.Source, guestPort, query);
            return;
        }

        if (freeCount == 0)
        {
            counters.Drop(GatewayDrop.DnsPendingFull);
            return;
        }

        int index = freeSlots[--freeCount];
        Slot slot = slots[index];
        slot.InUse = true;
        slot.GuestMac = packet.SourceMac;
        slot.Guest = packet.Source;
        slot.GuestPort = guestPort;
        slot.DnsAddress = packet.Destination;
        slot.GuestId = dns.Id;
        slot.Id = AllocateId();
        slot.Attempts = 0;
        slot.Store(query);
        BinaryPrimitives.WriteUInt16BigEndian(slot.Query, slot.Id);
        slotById.Add(slot.Id, index);

        // The first upstream that takes the query; a socket that cannot open or send moves to the next.
        for (int i = 0; i < current.Count; i++)
        {
            if (TrySend(slot, current[i]))
            {
                counters.Count(GatewayEvent.DnsQueriesForwarded);
                ArmTimer(slot.SentAt + ToTimestamp(QueryTimeout));
                return;
            }
        }

        counters.Drop(GatewayDrop.UdpSendFailed);
        FailSlot(index);
    }

    public void OnHostIo(IHostSocket socket, IoEvents events)
    {
        if (!upstreamBySocket.TryGetValue(socket, out Upstream? upstream))
        {
            return;
        }

        if ((events & (IoEvents.Error | IoEvents.HangUp)) != 0)
        {
            // An ICMP unreachable from the upstream: the pending queries time out and move on.
            upstream.Socket.TakeError();
        }

        for (int n = 0; n < MaxRepliesPerWake; n++)
        {
            HostIo io = upstream.Socket.ReceiveFrom(receiveBuffer, out IpAddr from, out ushort fromPort);
            if (!io.Ok)
            {
                break;
            }

            OnReply(upstream, from, fromPort, receiveBuffer.AsSpan(0, io.Bytes));
        }
    }

    public void Stop()
    {
        timer.Cancel();
        foreach (Upstream upstream in upstreams.Values)
        {
            upstream.Socket.Dispose();
        }

        upstreams.Clear();
        upstreamBySocket.Clear();
        for (int i = 0; i < MaxPending; i++)
        {
            if (slots[i].InUse)
            {
                Release(i);
            }
        }
    }

    private void OnReply(Upstream upstream, IpAddr from, ushort fromPort, ReadOnlySpan<byte> reply)
    {
        GatewayCounters counters = context.Counters;
        if (from != upstream.Endpoint.Address || fromPort != upstream.Endpoint.Port
            || !DnsMessage.TryParse(reply, out DnsMessage dns) || !dns.IsResponse
            || !slotById.TryGetValue(dns.Id, out int index))
        {
            counters.Drop(GatewayDrop.DnsUpstreamReplyInvalid);
            return;
        }

        Slot slot = slots[index];
        DnsMessage.TryParse(slot.Query.AsSpan(0, slot.QueryLength), out DnsMessage query);
        query.TryGetFirstQuestion(out ReadOnlySpan<byte> asked, out _, out _);
        // After a retry the first upstream may still answer late; either answer will do.
        bool askedThere = slot.Upstream == upstream.Endpoint || (slot.Attempts > 1 && slot.FirstUpstream == upstream.Endpoint);
        if (!askedThere
            || !dns.TryGetFirstQuestion(out ReadOnlySpan<byte> answered, out _, out _)
            || !DnsMessage.QuestionsMatch(asked, answered))
        {
            counters.Drop(GatewayDrop.DnsUpstreamReplyInvalid);
            return;
        }

        bool v6 = !slot.Guest.IsV4;
        Span<byte> payload = context.TxBuffer.AsSpan(PacketWriter.UdpPayloadOffset(v6));
        int length;
        if (reply.Length <= GuestUdp.MaxPayload(context.Options, v6))
        {
            reply.CopyTo(payload);
            length = reply.Length;
        }
        else
        {
            // Too big for the guest in one packet: TC tells its resolver to ask again over TCP (RFC 7766 §5).
            length = DnsMessage.WriteHeaderOnlyAnswer(reply, payload, dns.Rcode, truncated: true);
        }

        BinaryPrimitives.WriteUInt16BigEndian(payload, slot.GuestId);
        if (GuestUdp.Send(context, slot.GuestMac, slot.DnsAddress, DnsPort, slot.Guest, slot.GuestPort, length))
        {
            counters.Count(GatewayEvent.DnsRepliesReturned);
        }

        Release(index);
    }

    private void OnTimer()
    {
        long now = context.Clock.GetTimestamp();
        long timeout = ToTimestamp(QueryTimeout);
        long earliest = long.MaxValue;
        for (int i = 0; i < MaxPending; i++)
        {
            Slot slot = slots[i];
            if (!slot.InUse)
            {
                continue;
            }

            if (now - slot.SentAt >= timeout && !Retry(slot))
            {
                FailSlot(i);
                continue;
            }

            earliest = Math.Min(earliest, slot.SentAt + timeout);
        }

        if (earliest != long.MaxValue)
        {
            ArmTimer(earliest);
        }
    }

    /// <summary>Sends a timed-out query once more, to the upstream after the one that did not answer.</summary>
    private bool Retry(Slot slot)
    {
        if (slot.Attempts >= 2)
        {
            return false;
        }

        IReadOnlyList<DnsUpstream> current = context.CurrentUpstreams();
        int next = 0;
        for (int i = 0; i < current.Count; i++)
        {
            if (current[i] == slot.Upstream)
            {
                next = i + 1;
                break;
            }
        }

        if (next >= current.Count || current[next] == slot.Upstream || !TrySend(slot, current[next]))
        {
            return false;
        }

        context.Counters.Count(GatewayEvent.DnsRetries);
        return true;
    }

    private bool TrySend(Slot slot, DnsUpstream endpoint)
    {
        if (!upstreams.TryGetValue(endpoint, out Upstream? upstream))
        {
            IHostDatagramSocket? socket = context.Host.OpenUdp(endpoint.Address, endpoint.Port, this, out _);
            if (socket is null)
            {
                return false;
            }

            upstream = new Upstream(endpoint, socket);
            upstreams.Add(endpoint, upstream);
            upstreamBySocket.Add(socket, upstream);
        }

        HostIo io = upstream.Socket.Send(slot.Query.AsSpan(0, slot.QueryLength));
        if (!io.Ok)
        {
            return false;
        }

        if (slot.Attempts == 0)
        {
            slot.FirstUpstream = endpoint;
        }

        slot.Upstream = endpoint;
        slot.Attempts++;
        slot.SentAt = context.Clock.GetTimestamp();
        return true;
    }

    /// <summary>Answers the guest SERVFAIL for the query in <paramref name="index"/> and frees it.</summary>
    private void FailSlot(int index)
    {
        Slot slot = slots[index];
        BinaryPrimitives.WriteUInt16BigEndian(slot.Query, slot.GuestId);
        AnswerServerFailure(slot.GuestMac, slot.DnsAddress, slot.Guest, slot.GuestPort, slot.Query.AsSpan(0, slot.QueryLength));
        Release(index);
    }

    private void AnswerServerFailure(ulong guestMac, IpAddr dnsAddress, IpAddr guest, ushort guestPort, ReadOnlySpan<byte> query)
    {
        Span<byte> payload = context.TxBuffer.AsSpan(PacketWriter.UdpPayloadOffset(!guest.IsV4));
        int length = DnsMessage.WriteHeaderOnlyAnswer(query, payload, DnsMessage.RcodeServerFailure, truncated: false);
        if (length > 0 && GuestUdp.Send(context, guestMac, dnsAddress, DnsPort, guest, guestPort, length))
        {
            context.Counters.Count(GatewayEvent.DnsServerFailuresReturned);
        }
    }

    private void Release(int index)
    {
        Slot slot = slots[index];
        slotById.Remove(slot.Id);
        slot.InUse = false;
        freeSlots[freeCount++] = index;
    }

    /// <summary>A random ID no pending query uses (the table is at most 512 of 65536, so probing ends fast).</summary>
    private ushort AllocateId()
    {
        var id = (ushort)random.Next(0, 65536);
        while (slotById.ContainsKey(id))
        {
            id++;
        }

        return id;
    }

    private void PruneUpstreams(IReadOnlyList<DnsUpstream> current)
    {
        foreach (KeyValuePair<DnsUpstream, Upstream> pair in upstreams)
        {
            bool listed = false;
            for (int i = 0; i < current.Count && !listed; i++)
            {
                listed = current[i] == pair.Key;
            }

            if (!listed)
            {
                // Queries still waiting on it time out and get SERVFAIL (or the next upstream).
                pair.Value.Socket.Dispose();
                upstreamBySocket.Remove(pair.Value.Socket);
                upstreams.Remove(pair.Key);
            }
        }
    }

    private void ArmTimer(long due) => timer.ArmFor(due);

    private long ToTimestamp(TimeSpan span) => timer.Ticks(span);

    private sealed class Upstream(DnsUpstream endpoint, IHostDatagramSocket socket)
    {
        public DnsUpstream Endpoint { get; } = endpoint;

        public IHostDatagramSocket Socket { get; } = socket;
    }

    /// <summary>One pending query. Slots and their buffers are reused: a buffer is made on a slot's first use and grows only for a query larger than any before.</summary>
    private sealed class Slot
    {
        public bool InUse;
        public ushort Id;
        public ushort GuestId;
        public ulong GuestMac;
        public IpAddr Guest;
        public ushort GuestPort;
        public IpAddr DnsAddress;
        public DnsUpstream Upstream;
        public DnsUpstream FirstUpstream;
        public int Attempts;
        public long SentAt;
        public byte[] Query = [];
        public int QueryLength;

        public void Store(ReadOnlySpan<byte> query)
        {
            if (query.Length > Query.Length)
            {
                Query = new byte[Math.Max(SlotBufferSize, query.Length)];
            }

            query.CopyTo(Query);
            QueryLength = query.Length;
        }
    }
}
