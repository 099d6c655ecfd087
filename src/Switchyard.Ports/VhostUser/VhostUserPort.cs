// A port on one vhost-user connection: a guest's virtio-net NIC served from shared guest memory.
//
// Theory of operation: the control side is the VhostUserBackend state machine; this class feeds it
// messages read from the connection (header, then exactly the payload, with the descriptors that
// came along) and sends its replies. The data side is the set of started rings the back-end hands
// over through IVhostUserDevice:
//   - TX rings (odd indices, guest to switch) are processed when their kick eventfd fires: pop a
//     bounded batch of chains, hand each frame to the switch as a span straight into guest memory
//     when it is contiguous (the one copy then happens at the egress port), return the chains with
//     used length 0, publish the used index once and signal the call eventfd at most once.
//   - RX rings (even indices, switch to guest) receive in Transmit: NetRx scatters the frame into
//     the guest's buffers (mergeable when negotiated); the used index is published and the guest
//     notified once per loop iteration, in Flush.
// With several queue pairs, a frame goes to the RX ring chosen by a hash of its addresses, so one
// flow stays on one queue.
//
// Trust: the back-end state machine and the virtio layer validate everything the guest controls; a
// chain that breaks a rule is returned empty and counted, a ring whose indices jump is broken and
// left alone, a message that breaks a rule closes this connection only (also counted under its own drop
// reason when the back-end names one: a descriptor of the wrong type, shrinkable memory, the mapping
// budget). Call eventfds are non-blocking (the back-end made them so): a write to a saturated one fails
// at once and is counted as call_signal_failed, never waited for. A kick eventfd that reports an error or
// hang-up (it cannot, being an eventfd, but the loop must never spin on one) ends the connection.
//
// Counting: every rule has its own counter (IRuleCounters), in five sets owned by the port (a persistent
// port keeps them across reconnects; the network keeps those of a port that goes, Network.ClosedPortRules):
// "virtqueue" (QueueError, TX and RX rings), "net_tx" (NetTxError), "net_rx" (NetRxStatus: a frame not
// delivered because of the guest's RX buffers), "vhost_user" (VhostUserRejection) and "guest_memory"
// (GuestMemoryRule). rx_bad_descriptor stays the port drop that sums the TX chains returned empty (every
// ReturnEmpty QueueError and every NetTxError); the rules that stop a ring are counted in "virtqueue" only.
// A count is one array increment: no allocation or lookup per frame.
using System.Buffers.Binary;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Switchyard.Core.Counters;
using Switchyard.Core.Frames;
using Switchyard.Core.Loop;
using Switchyard.Core.Ports;
using Switchyard.Native;
using Switchyard.VhostUser;
using Switchyard.Virtio;

namespace Switchyard.Ports.VhostUser;

public sealed partial class VhostUserPort : ConnectionPort, IIoHandler, IVhostUserDevice, IRuleCounters
{
    private const int TxBatch = 256;
    private const int MaxMessagesPerWake = 64;

    private readonly IEventLoop loop;
    private readonly ILogger logger;
    private readonly VhostUserBackendOptions options;
    private readonly Ring[] rings;
    private readonly byte[] message = new byte[VhostUserHeader.Length + MessageRules.MaxPayload];
    private readonly byte[] reply = new byte[VhostUserHeader.Length + 64];
    private readonly int[] fds = new int[FdPassing.MaxFds];
    private readonly byte[] txScratch = GC.AllocateUninitializedArray<byte>(NetTx.ScratchLength, pinned: true);
    private readonly List<Ring> dirtyRx = [];
    private readonly CounterSet<QueueError> queueErrors = new("virtqueue");
    private readonly CounterSet<NetTxError> txErrors = new("net_tx");
    private readonly CounterSet<NetRxStatus> rxErrors = new("net_rx");
    private readonly CounterSet<VhostUserRejection> rejections = new("vhost_user");
    private readonly CounterSet<GuestMemoryRule> memoryRules = new("guest_memory");
    private ICounterSet[]? ruleCounters;
    private VhostUserBackend backend;
    private Socket? socket;
    private IoRegistration? registration;
    private NegotiatedFeatures features;
    private int have;
    private int fdCount;
    private int enabledRxCount;
    private bool stopped;
    private string peer;

    public VhostUserPort(string name, IEventLoop loop, ILogger logger, string peer, VhostUserBackendOptions options, bool persistent)
        : base(name, persistent)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.loop = loop;
        this.logger = logger;
        this.peer = peer;
        this.options = options;
        rings = new Ring[options.MaxRings];
        for (int i = 0; i < rings.Length; i++)
        {
            rings[i] = new Ring(this, i);
        }

        backend = new VhostUserBackend(options, this);
    }

    public override string Kind => "vhost-user";

    public override string Peer => peer;

    public override int MaxFrameLength => NetRx.MaxFrameLength;

    public override PortOffloads Offloads =>
        ((features & NegotiatedFeatures.GuestCsum) != 0 ? PortOffloads.PartialChecksum : PortOffloads.None)
        | ((features & (NegotiatedFeatures.GuestTso4 | NegotiatedFeatures.GuestTso6)) == (NegotiatedFeatures.GuestTso4 | NegotiatedFeatures.GuestTso6)
            ? PortOffloads.TcpSegmentation : PortOffloads.None);

    public override bool IsConnected => socket is not null;

    /// <summary>Each virtqueue, virtio-net TX and RX, message and guest-memory rule a front-end broke, by name.</summary>
    public IReadOnlyList<ICounterSet> RuleCounters => ruleCounters ??= [queueErrors, txErrors, rxErrors, rejections, memoryRules];

    /// <summary>Chains and frames refused per QueueError rule.</summary>
    public CounterSet<QueueError> QueueErrors => queueErrors;

    /// <summary>Frames not delivered to the guest because its RX buffers broke a rule, per NetRxStatus.</summary>
    public CounterSet<NetRxStatus> RxErrors => rxErrors;

    /// <summary>TX frames refused per NetTxError rule.</summary>
    public CounterSet<NetTxError> TxErrors => txErrors;

    /// <summary>Connections closed per VhostUserRejection rule.</summary>
    public CounterSet<VhostUserRejection> Rejections => rejections;

    /// <summary>The negotiated virtio features (0 until SET_FEATURES).</summary>
    public NegotiatedFeatures Features => features;

    /// <summary>Attaches a connected socket (the port takes ownership); starts reading messages. On the loop.</summary>
    public override void Connect(Socket connected, string? peerDescription = null)
    {
        ArgumentNullException.ThrowIfNull(connected);
        if (stopped)
        {
            connected.Dispose();
            return;
        }

        DetachConnection();
        connected.Blocking = false;
        socket = connected;
        peer = peerDescription ?? peer;
        registration = loop.Register((int)connected.Handle, this, IoEvents.Readable);
    }

    public override void Start()
    {
        // I/O starts with Connect.
    }

    public override void Stop()
    {
        if (!stopped)
        {
            stopped = true;
            DetachConnection();
        }
    }

    public void OnIo(IoEvents events)
    {
        for (int i = 0; i < MaxMessagesPerWake && socket is { } s; i++)
        {
            if (!ReadMessage((int)s.Handle))
            {
                return;
            }
        }
    }

    public override void Transmit(in EgressFrame frame)
    {
        Ring? ring = PickRxRing(frame.Data);
        if (ring?.Rx is not { } rx)
        {
            Counters.Drop(DropReason.TxLinkDown);
            return;
        }

        NetRxStatus status = rx.TryDeliver(frame);
        switch (status)
        {
            case NetRxStatus.Delivered:
                Counters.CountTx(frame.Length);
                if (!ring.Dirty)
                {
                    ring.Dirty = true;
                    dirtyRx.Add(ring);
                    loop.RequestFlush(this);
                }

                break;
            case NetRxStatus.NoBuffers:
                Counters.Drop(DropReason.TxQueueFull);
                break;
            case NetRxStatus.BufferTooSmall:
                rxErrors.Increment(status); // The guest posted buffers smaller than virtio 1.2 §5.1.6.3.1 asks.
                Counters.Drop(DropReason.TxQueueFull);
                break;
            case NetRxStatus.FrameTooLong:
                Counters.Drop(DropReason.TxTooBig);
                break;
            case NetRxStatus.OffloadNotNegotiated:
                Counters.Drop(DropReason.TxOffloadUnsupported);
                break;
            default:
                // The guest's RX ring broke a rule: the chains went back empty, the frame is lost. A queue rule
                // is counted under its own name too.
                rxErrors.Increment(status);
                if (status is NetRxStatus.InvalidChain or NetRxStatus.QueueBroken)
                {
                    queueErrors.Increment(rx.LastQueueError);
                }

                Counters.Drop(DropReason.TxError);
                if (!ring.Dirty)
                {
                    ring.Dirty = true;
                    dirtyRx.Add(ring);
                    loop.RequestFlush(this);
                }

                break;
        }
    }

    public override void Flush()
    {
        foreach (Ring ring in dirtyRx)
        {
            ring.Dirty = false;
            if (ring.Queue is { } q && q.PublishUsed())
            {
                ring.Signal();
            }
        }

        dirtyRx.Clear();
    }

    // --- IVhostUserDevice: the back-end's view of rings coming and going. ---

    public void RingStarted(int index, SplitQueue queue, EventFd kick, EventFd? call)
    {
        Ring ring = rings[index];
        ring.Queue = queue;
        ring.Call = call;
        ring.Chain = ring.Chain is { } c && c.Capacity >= queue.Size ? c : new DescriptorChain(queue.Size);
        ring.Kick = kick;
        if (IsTx(index))
        {
            ring.KickRegistration = loop.Register(kick.Fd, ring, IoEvents.Readable);

            // Frames may have been queued before we started (e.g. after a back-end restart).
            loop.Post(() => ring.ProcessTx());
        }
        else
        {
            ring.Rx = new NetRx(queue, features);

            // We never wait for RX buffers (a frame without room is dropped), so ask the guest not to kick.
            queue.DisableNotifications();
        }

        LogRingStarted(Name, index, queue.Size);
    }

    public void RingStopped(int index)
    {
        Ring ring = rings[index];
        ring.KickRegistration?.Dispose();
        ring.KickRegistration = null;
        if (ring.Enabled && !IsTx(index))
        {
            enabledRxCount--;
        }

        ring.Enabled = false;
        ring.Queue = null;
        ring.Rx = null;
        ring.Call = null;
        ring.Kick = null;
        if (ring.Dirty)
        {
            ring.Dirty = false;
            dirtyRx.Remove(ring);
        }
    }

    public void CallChanged(int index, EventFd? call) => rings[index].Call = call;

    public void RingEnabled(int index, bool enabled)
    {
        Ring ring = rings[index];
        if (ring.Enabled == enabled)
        {
            return;
        }

        ring.Enabled = enabled;
        if (!IsTx(index))
        {
            enabledRxCount += enabled ? 1 : -1;
        }
    }

    public void FeaturesNegotiated(NegotiatedFeatures negotiated) => features = negotiated;

    public void AnnounceMac(ulong mac)
    {
        // A RARP request from the guest's MAC (what QEMU's qemu_announce_self sends), so the switch
        // learns where the guest is now.
        Span<byte> rarp = stackalloc byte[60];
        rarp.Clear();
        Ethernet.WriteMac(rarp, 0xFFFF_FFFF_FFFFUL);
        Ethernet.WriteMac(rarp[6..], mac);
        BinaryPrimitives.WriteUInt16BigEndian(rarp[12..], 0x8035);
        BinaryPrimitives.WriteUInt16BigEndian(rarp[14..], 1); // hardware type Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(rarp[16..], Ethernet.EtherTypeIPv4);
        rarp[18] = 6;
        rarp[19] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(rarp[20..], 3); // reverse request
        Ethernet.WriteMac(rarp[22..], mac);
        Ethernet.WriteMac(rarp[32..], mac);
        Deliver(rarp, OffloadInfo.None);
    }

    private static bool IsTx(int index) => (index & 1) == 1;

    /// <summary>Reads one message (or what is there of it) and handles it when complete. Returns false
    /// when there is nothing more to read now or the connection ended.</summary>
    private bool ReadMessage(int fd)
    {
        int want = have < VhostUserHeader.Length
            ? VhostUserHeader.Length
            : VhostUserHeader.Length + (int)VhostUserHeader.Read(message).Size;
        IoResult result = FdPassing.ReceiveWithFds(fd, message.AsSpan(have, want - have), fds.AsSpan(fdCount), out int got, out bool truncated);
        fdCount += got;
        if (result.WouldBlock)
        {
            return false;
        }

        if (truncated)
        {
            rejections.Increment(VhostUserRejection.TooManyFds);
            return Close("a message carried more file descriptors than any request allows");
        }

        if (!result.Ok || result.Bytes == 0)
        {
            return Close(result.Ok ? (have == 0 ? "front-end closed the connection" : "front-end closed the connection mid-message") : $"receive failed: {result.ErrorMessage}");
        }

        have += result.Bytes;
        if (have == VhostUserHeader.Length)
        {
            uint size = VhostUserHeader.Read(message).Size;
            if (size > MessageRules.MaxPayload)
            {
                rejections.Increment(VhostUserRejection.PayloadTooLarge);
                return Close($"message claims a {size}-byte payload (at most {MessageRules.MaxPayload})");
            }

            if (size > 0)
            {
                return true; // Read the payload next.
            }
        }

        var header = VhostUserHeader.Read(message);
        if (have < VhostUserHeader.Length + (int)header.Size)
        {
            return true;
        }

        LogMessage(Name, header.Request, header.Size, fdCount);
        HandleResult handled = backend.Handle(header, message.AsSpan(VhostUserHeader.Length, (int)header.Size), fds.AsSpan(0, fdCount), reply);
        have = 0;
        fdCount = 0;
        if (handled.Close)
        {
            rejections.Increment(handled.Rejection);
            if (handled.MemoryRule is { } rule)
            {
                memoryRules.Increment(rule);
            }

            if (handled.Drop is { } drop)
            {
                Counters.Drop(drop);
            }

            LogProtocolViolation(Name, peer, handled.Reason ?? "?");
            return Close(handled.Reason ?? "protocol violation", alreadyLogged: true);
        }

        if (handled.ReplyLength > 0 && socket is { } s)
        {
            IoResult sent = SocketIo.Send((int)s.Handle, reply.AsSpan(0, handled.ReplyLength));
            if (!sent.Ok || sent.Bytes != handled.ReplyLength)
            {
                return Close("could not send a reply to the front-end");
            }
        }

        return true;
    }

    private Ring? PickRxRing(ReadOnlySpan<byte> frame)
    {
        if (enabledRxCount == 0)
        {
            return null;
        }

        if (enabledRxCount == 1 || rings.Length == 2)
        {
            return rings[0].Enabled && rings[0].Rx is not null ? rings[0] : FirstEnabledRx();
        }

        // Keep a flow on one queue: hash the addresses (MACs, and the IPv4 addresses and ports when present) onto the
        // RX rings the guest enabled. Those are often far fewer than the pairs offered (a Linux guest enables one per
        // vCPU): hashing over all offered pairs and probing onwards from an unused one would put nearly every flow on
        // the first enabled ring.
        int pick = (int)(FlowHash(frame) % (uint)enabledRxCount);
        for (int i = 0; i < rings.Length; i += 2)
        {
            Ring candidate = rings[i];
            if (candidate.Enabled && candidate.Rx is not null && pick-- == 0)
            {
                return candidate;
            }
        }

        // An enabled ring that has not started yet was counted: any ring that can take the frame will do.
        return FirstEnabledRx();
    }

    private Ring? FirstEnabledRx()
    {
        for (int i = 0; i < rings.Length; i += 2)
        {
            if (rings[i].Enabled && rings[i].Rx is not null)
            {
                return rings[i];
            }
        }

        return null;
    }

    private static uint FlowHash(ReadOnlySpan<byte> frame)
    {
        // Symmetric in source and destination, so both directions of a flow land on the same queue.
        const int ipv4Addresses = 26;
        uint a = BinaryPrimitives.ReadUInt32LittleEndian(frame) ^ BinaryPrimitives.ReadUInt32LittleEndian(frame[6..]);
        if (frame.Length >= ipv4Addresses + 12 && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == Ethernet.EtherTypeIPv4)
        {
            a ^= BinaryPrimitives.ReadUInt32LittleEndian(frame[ipv4Addresses..]) ^ BinaryPrimitives.ReadUInt32LittleEndian(frame[(ipv4Addresses + 4)..]);
            a ^= (uint)(BinaryPrimitives.ReadUInt16LittleEndian(frame[(ipv4Addresses + 8)..]) ^ BinaryPrimitives.ReadUInt16LittleEndian(frame[(ipv4Addresses + 10)..]));
        }

        a ^= a >> 16;
        a *= 0x7feb352d;
        a ^= a >> 15;
        return a;
    }

    /// <summary>A kick descriptor reported an error or hang-up: this connection cannot go on. An eventfd never does
    /// so, so the descriptor is not what the back-end checked it was: counted as vhost_fd_wrong_type.</summary>
    private void CloseOnBrokenKick()
    {
        rejections.Increment(VhostUserRejection.KickBroken);
        Counters.Drop(DropReason.VhostFdWrongType);
        LogProtocolViolation(Name, peer, "a kick descriptor reported an error or hang-up");
        _ = Close("a kick descriptor reported an error or hang-up", alreadyLogged: true);
    }

    private bool Close(string reason, bool alreadyLogged = false)
    {
        if (!alreadyLogged)
        {
            LogDisconnected(Name, peer, reason);
        }

        EndConnection(reason);
        return false;
    }

    protected override void DetachConnection()
    {
        FileDescriptors.CloseAll(fds.AsSpan(0, fdCount));
        fdCount = 0;
        have = 0;
        backend.Dispose(); // Stops every ring (RingStopped) and unmaps guest memory.
        backend = new VhostUserBackend(options, this);
        features = NegotiatedFeatures.None;
        registration?.Dispose();
        registration = null;
        socket?.Dispose();
        socket = null;
    }

    [LoggerMessage(EventId = 240, Level = LogLevel.Warning, Message = "port {Port} ({Peer}): closing the vhost-user connection: {Reason}")]
    private partial void LogProtocolViolation(string port, string peer, string reason);

    [LoggerMessage(EventId = 241, Level = LogLevel.Information, Message = "port {Port} ({Peer}): {Reason}")]
    private partial void LogDisconnected(string port, string peer, string reason);

    [LoggerMessage(EventId = 244, Level = LogLevel.Debug, Message = "port {Port}: {Request} ({Size} bytes, {Fds} fds)")]
    private partial void LogMessage(string port, VhostUserRequest request, uint size, int fds);

    [LoggerMessage(EventId = 242, Level = LogLevel.Debug, Message = "port {Port}: ring {Index} started, size {Size}")]
    private partial void LogRingStarted(string port, int index, int size);

    [LoggerMessage(EventId = 243, Level = LogLevel.Warning, Message = "port {Port}: ring {Index} is broken ({Error}); it is no longer processed")]
    private partial void LogRingBroken(string port, int index, QueueError error);

    /// <summary>One ring as the data plane sees it; also the kick handler of a TX ring.</summary>
    private sealed class Ring(VhostUserPort port, int index) : IIoHandler
    {
        public SplitQueue? Queue;
        public EventFd? Call;
        public NetRx? Rx;
        public DescriptorChain? Chain;
        public IoRegistration? KickRegistration;
        public bool Enabled;
        public bool Dirty;
        private bool brokenLogged;

        private Action? processTx;

        public EventFd? Kick;

        public void OnIo(IoEvents events)
        {
            if ((events & (IoEvents.Error | IoEvents.HangUp)) != 0)
            {
                // Level-triggered: left registered it would be reported on every wait, spinning the loop.
                port.CloseOnBrokenKick();
                return;
            }

            Kick?.Drain();
            ProcessTx();
        }

        /// <summary>Notifies the guest once; a saturated call eventfd (EAGAIN) is counted, never waited for.</summary>
        public void Signal()
        {
            if (Call is { } call && !call.TrySignal())
            {
                port.Counters.Drop(DropReason.CallSignalFailed);
            }
        }

        /// <summary>Guest to switch: drains the TX ring in bounded batches with one publish and at most one call each.</summary>
        public void ProcessTx()
        {
            if (Queue is not { } q || Chain is not { } chain)
            {
                return;
            }

            bool more = true;
            for (int rounds = 0; more && rounds < 4; rounds++)
            {
                q.DisableNotifications();
                int n = 0;
                while (n < TxBatch)
                {
                    QueueError error = q.TryPop(chain);
                    if (error == QueueError.NoneAvailable)
                    {
                        break;
                    }

                    if (error != QueueError.Ok)
                    {
                        if (error.GetDisposition() == QueueErrorDisposition.ReturnEmpty)
                        {
                            q.PushUsed(chain.HeadIndex, 0);
                            port.queueErrors.Increment(error);
                            port.Counters.Drop(DropReason.RxBadDescriptor);
                            n++;
                            continue;
                        }

                        // StopQueue: counted each time the ring is kicked while broken (queue_broken after the first).
                        port.queueErrors.Increment(error);
                        if (!brokenLogged)
                        {
                            brokenLogged = true;
                            port.LogRingBroken(port.Name, index, error);
                        }

                        break;
                    }

                    n++;
                    NetTxError txError = NetTx.TryGetFrame(q.Memory, chain, port.features, port.txScratch, out VirtioNetHeader header, out ReadOnlySpan<byte> frame, out _);
                    if (txError == NetTxError.None && Enabled)
                    {
                        port.Deliver(frame, header.ToOffloadInfo());
                    }
                    else if (txError != NetTxError.None)
                    {
                        port.txErrors.Increment(txError);
                        port.Counters.Drop(DropReason.RxBadDescriptor);
                    }

                    // The device writes nothing into TX buffers: used length 0.
                    q.PushUsed(chain.HeadIndex, 0);
                }

                if (n > 0 && q.PublishUsed())
                {
                    Signal();
                }

                more = n == TxBatch || q.EnableNotifications();
            }

            if (more)
            {
                // Still busy after a few batches: yield to the other ports and come back.
                port.loop.Post(processTx ??= ProcessTx);
            }
        }
    }

}
