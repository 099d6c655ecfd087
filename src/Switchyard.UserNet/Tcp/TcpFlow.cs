// One TCP connection: a TCP endpoint toward a guest (RFC 9293) spliced to a host socket.
//
// Theory of operation. The guest talks TCP to us; we talk to the host kernel through a non-blocking
// socket, so there are two byte streams to move and two sets of buffers:
//   guest → host: in-order payload is sent to the host socket at once (one Send per segment, TSO
//     super frames whole). What the socket does not take goes to `toHost` (bounded by
//     Options.TcpBufferBytes); the window we advertise is the free space of `toHost`, so a slow host
//     peer pushes back on the guest instead of making us buffer without bound. Out-of-order and
//     beyond-window data is dropped and answered with a duplicate ACK (the guest retransmits; we keep
//     no reassembly queue a guest could fill). On EAGAIN the socket gets Writable interest and
//     `toHost` drains on Writable, followed by a window update.
//   host → guest: bytes received from the socket go into `toGuest` (bounded, chunked, taken lazily)
//     and stay there until the guest acknowledges them. Readable interest is dropped while `toGuest`
//     is full. We send within the guest's advertised window, in GSO super frames of up to ~64 KiB
//     (gso_size = the guest's MSS) that the switch segments for ports without TSO.
// Loss recovery toward the guest: one timer per flow serves as SYN timer, retransmission timer
// (RFC 6298 RTO from SRTT/RTTVAR, Karn's rule, 200 ms minimum, doubling backoff, give up after two
// minutes → RST both ways), persist timer (zero-window probes) and linger timer. An RTO goes back to
// SND.UNA and resends (go-back-N: the guest link is local, so a burst costs little and any pattern of
// loss is repaired in one round); three duplicate ACKs retransmit the first unacknowledged segment and
// each partial ACK during that recovery the next one (RFC 6582 NewReno style). There is no congestion
// window: the guest is one memory copy away and its receive window is the only limit that matters.
// Close: host EOF → our FIN after every buffered byte; guest FIN → ShutdownSend after `toHost` is
// written; both done and our FIN acknowledged → the host socket is closed and the flow lingers briefly
// to re-ACK a retransmitted FIN, then is released. Guest RST → Abort (RST to the host peer); host error
// → RST to the guest.
// What it trusts: the guest packet was validated by NatGateway and TcpNat (header, checksum); every
// sequence and acknowledgment number is checked against our state here before it moves anything.
// Budget: both rings borrow from the relay budget of the flow's switch port (ByteRing.cs); when it lends
// no more, the window we advertise shrinks (to zero) and we stop reading the host socket, and TcpNat wakes
// the flow (OnBudgetAvailable) when chunks come back.
// What it owns: its host socket, its timer, its two rings (chunks returned to the pool on release).
using System.Buffers.Binary;
using Switchyard.Core.Frames;
using Switchyard.Core.Loop;
using Switchyard.Protocols;

namespace Switchyard.UserNet.Tcp;

/// <summary>Identifies a flow as the guest sees it: guest address and port, remote address and port.</summary>
internal readonly record struct TcpFlowKey(IpAddr Guest, ushort GuestPort, IpAddr Remote, ushort RemotePort);

internal enum TcpFlowState
{
    /// <summary>Outbound: the guest's SYN arrived; the host connect is in progress; the guest hears nothing yet.</summary>
    Connecting,

    /// <summary>Forward: we sent SYN to the guest (or wait to resolve its MAC).</summary>
    SynSent,

    /// <summary>Outbound: host connected, SYN-ACK sent to the guest.</summary>
    SynReceived,

    /// <summary>Both directions open or closing (the close flags say which).</summary>
    Established,

    /// <summary>Both directions done; the host socket is closed; re-ACKs retransmitted FINs.</summary>
    Linger,

    /// <summary>Released.</summary>
    Closed,
}

internal sealed class TcpFlow
{
    public static readonly TimeSpan InitialRto = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MinRto = TimeSpan.FromMilliseconds(200);
    public static readonly TimeSpan MaxRto = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan GiveUpAfter = TimeSpan.FromMinutes(2);
    public static readonly TimeSpan LingerTime = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan NeighbourRetry = TimeSpan.FromMilliseconds(250);
    public const int MaxSynTries = 6;
    public const int MaxResolveTries = 12;

    /// <summary>Largest payload of one GSO frame: IPv4 total length (16 bits) minus the IP and TCP headers.</summary>
    public const int MaxFramePayload = 65535 - 40 - 20;

    /// <summary>Most bytes read from the host socket per readiness event, so one busy flow cannot hold the loop.</summary>
    private const int ReadBudget = 512 * 1024;

    private readonly TcpNat nat;
    private readonly GatewayContext context;
    private readonly GatewayCounters counters;
    private readonly LoopTimer timer;
    private readonly RelayAccount account;
    private readonly ByteRing toHost;
    private readonly ByteRing toGuest;
    private readonly bool v6;

    private IHostTcpSocket? socket;
    private IoEvents interest;
    private TimerMode timerMode;

    // Send sequence space (toward the guest).
    private uint iss;
    private uint sndUna;
    private uint sndNxt;
    private uint sndMax;
    private uint sndBase;
    private uint sndWl1;
    private uint sndWl2;
    private long sndWnd;
    private int sndShift;
    private int mss;

    // Receive sequence space (from the guest).
    private uint rcvNxt;
    private int rcvShift;
    private int offeredShift;
    private long lastAdvertised;
    private bool ackPending;

    // RFC 6298 state, in TimeSpan ticks.
    private long srtt;
    private long rttvar;
    private TimeSpan rto = InitialRto;
    private TimeSpan baseRto = InitialRto;
    private int backoff;
    private bool rttTiming;
    private uint rttSeq;
    private long rttStart;
    private long firstTimeoutAt;
    private TimeSpan persistBackoff;
    private long probingSince;

    private int dupAcks;
    private bool inRecovery;
    private uint recover;
    private int synTries;

    private bool hostEof;
    private bool finSent;
    private bool finAcked;
    private bool guestFin;
    private bool hostShutdown;

    private enum TimerMode
    {
        None,
        Syn,
        Retransmit,
        Persist,
        Linger,
    }

    public TcpFlow(TcpNat nat, GatewayContext context, in TcpFlowKey key, ulong guestMac, int admittedPort, bool inbound, uint iss)
    {
        this.nat = nat;
        this.context = context;
        counters = context.Counters;
        Key = key;
        GuestMac = guestMac;
        AdmittedPort = admittedPort;
        Inbound = inbound;
        v6 = !key.Guest.IsV4;
        this.iss = iss;
        sndUna = iss;
        sndNxt = iss;
        sndMax = iss;
        sndBase = iss + 1;
        int limit = Math.Max(context.Options.TcpBufferBytes, 4096);
        account = nat.Pool.Acquire(admittedPort);
        toHost = new ByteRing(nat.Pool, limit, account);
        toGuest = new ByteRing(nat.Pool, limit, account);
        offeredShift = ShiftFor(limit);
        OurMss = context.Options.Mtu - (v6 ? 60 : 40);
        mss = v6 ? 1220 : 536;
        timer = context.Loop.CreateTimer(OnTimer);
        LastActivity = context.Clock.GetTimestamp();
    }

    public TcpFlowKey Key { get; }

    public ulong GuestMac { get; private set; }

    /// <summary>The switch port the flow was admitted under (FlowLimiter key; ForwardsPort for forwards).</summary>
    public int AdmittedPort { get; }

    public bool Inbound { get; }

    public TcpFlowState State { get; private set; }

    public IHostTcpSocket? Socket => socket;

    public long BytesFromGuest { get; private set; }

    public long BytesToGuest { get; private set; }

    public long LastActivity { get; private set; }

    /// <summary>The MSS we announce: the MTU less the IP and TCP headers.</summary>
    public int OurMss { get; }

    /// <summary>The MSS we send with: the guest's, bounded by ours.</summary>
    public int SendMss => mss;

    public int SendShift => sndShift;

    public int ReceiveShift => rcvShift;

    /// <summary>Bytes of host data waiting for the guest (unsent or unacknowledged).</summary>
    public int ToGuestBuffered => toGuest.Count;

    /// <summary>Bytes of guest data waiting for the host socket.</summary>
    public int ToHostBuffered => toHost.Count;

    public string StateName => State switch
    {
        TcpFlowState.Connecting => "CONNECTING",
        TcpFlowState.SynSent => "SYN_SENT",
        TcpFlowState.SynReceived => "SYN_RCVD",
        TcpFlowState.Linger => "TIME_WAIT",
        TcpFlowState.Closed => "CLOSED",
        _ => (guestFin, finSent) switch
        {
            (false, false) => "ESTABLISHED",
            (true, false) => "CLOSE_WAIT",
            (false, true) => "FIN_WAIT",
            _ => "LAST_ACK",
        },
    };

    /// <summary>The window scale shift we offer for a buffer of <paramref name="limit"/> bytes (RFC 7323 §2.3).</summary>
    public static int ShiftFor(int limit)
    {
        int shift = 0;
        while (shift < TcpOptions.MaxWindowScale && (limit >> shift) > 65535)
        {
            shift++;
        }

        return shift;
    }

    // ---------------------------------------------------------------- opening

    /// <summary>Outbound: the guest's SYN; the host connect has been started on <paramref name="hostSocket"/>.</summary>
    public void StartOutbound(IHostTcpSocket hostSocket, uint guestIsn, ushort guestWindow, TcpOptions options)
    {
        socket = hostSocket;
        interest = IoEvents.Readable | IoEvents.Writable;
        State = TcpFlowState.Connecting;
        rcvNxt = guestIsn + 1;
        TakeSynOptions(options);
        sndWnd = guestWindow;
        sndWl1 = guestIsn;
    }

    /// <summary>Forward: a host client was accepted; send SYN to the guest (once its MAC is known).</summary>
    public void StartInbound(IHostTcpSocket hostSocket)
    {
        socket = hostSocket;
        interest = IoEvents.Readable;
        State = TcpFlowState.SynSent;
        SendSynToGuest();
    }

    private void TakeSynOptions(TcpOptions options)
    {
        int guestMss = options.Mss != 0 ? options.Mss : (v6 ? 1220 : 536);
        mss = Math.Clamp(guestMss, 64, OurMss);
        if (options.WindowScale >= 0)
        {
            sndShift = options.WindowScale;
            rcvShift = offeredShift;
        }
        else
        {
            sndShift = 0;
            rcvShift = 0;
            offeredShift = -1;
        }
    }

    private void SendSynToGuest()
    {
        if (GuestMac == 0)
        {
            if (!context.Neighbours.TryResolve(Key.Guest, out ulong mac))
            {
                synTries++;
                if (synTries > MaxResolveTries)
                {
                    counters.Drop(GatewayDrop.NeighbourUnknown);
                    Reset(sendRst: false);
                    return;
                }

                Arm(TimerMode.Syn, NeighbourRetry);
                return;
            }

            GuestMac = mac;
            synTries = 0;
        }

        sndNxt = iss + 1;
        sndMax = sndNxt;
        SendSegment(iss, TcpHeader.FlagSyn, 0, 0, syn: true);
        Arm(TimerMode.Syn, Backoff(InitialRto, synTries));
    }

    private static TimeSpan Backoff(TimeSpan start, int tries) =>
        TimeSpan.FromTicks(Math.Min(start.Ticks << Math.Min(tries, 10), MaxRto.Ticks));

    // ---------------------------------------------------------------- host socket events

    public void OnHostIo(IoEvents events)
    {
        if (socket is null || State == TcpFlowState.Closed)
        {
            return;
        }

        LastActivity = context.Clock.GetTimestamp();
        if (State == TcpFlowState.Connecting)
        {
            OnConnectEvent(events);
            return;
        }

        if ((events & IoEvents.Error) != 0)
        {
            int error = socket.TakeError();
            if (error != 0)
            {
                HostError();
                return;
            }
        }

        if ((events & (IoEvents.Readable | IoEvents.HangUp)) != 0 && !hostEof)
        {
            ReadFromHost();
            if (State == TcpFlowState.Closed)
            {
                return;
            }
        }

        if ((events & IoEvents.Writable) != 0)
        {
            DrainToHost();
            if (State == TcpFlowState.Closed)
            {
                return;
            }
        }

        if ((events & IoEvents.HangUp) != 0 && socket is not null)
        {
            // Both directions of the host connection are shut. Normal only if we shut ours and read EOF.
            if (!hostShutdown || !hostEof)
            {
                if (!hostEof && toGuest.Free == 0)
                {
                    // Unread data behind a full ring: read it later; HangUp stays reported until then.
                    return;
                }

                HostError();
                return;
            }

            CloseHostSocket();
            CheckDone();
        }
    }

    private void OnConnectEvent(IoEvents events)
    {
        int error = socket!.TakeError();
        if (error == 0 && (events & (IoEvents.Error | IoEvents.HangUp)) == 0)
        {
            if ((events & IoEvents.Writable) == 0)
            {
                return;
            }

            State = TcpFlowState.SynReceived;
            SetInterest(IoEvents.Readable);
            sndNxt = iss + 1;
            sndMax = sndNxt;
            SendSegment(iss, TcpHeader.FlagSyn | TcpHeader.FlagAck, 0, 0, syn: true);
            Arm(TimerMode.Syn, InitialRto);
            return;
        }

        counters.Drop(GatewayDrop.TcpConnectFailed);
        // We never sent a SYN-ACK: answer the guest's SYN as RFC 9293 §3.10.7.1 answers a segment without ACK.
        nat.SendReset(Key, GuestMac, 0, rcvNxt, TcpHeader.FlagRst | TcpHeader.FlagAck);
        Reset(sendRst: false);
    }

    private void ReadFromHost()
    {
        int budget = ReadBudget;
        while (budget > 0 && socket is not null)
        {
            Span<byte> span = toGuest.GetWriteSpan(budget);
            if (span.IsEmpty)
            {
                break;
            }

            HostIo io = socket.Receive(span);
            if (io.Ok && io.Bytes > 0)
            {
                toGuest.Commit(io.Bytes);
                budget -= io.Bytes;
                continue;
            }

            if (io.Ok)
            {
                hostEof = true;
                break;
            }

            if (io.WouldBlock)
            {
                break;
            }

            HostError();
            return;
        }

        if (toGuest.IsEmpty)
        {
            // A read that found nothing must not keep the chunk it was offered.
            toGuest.Clear();
        }

        UpdateInterest();
        PumpToGuest();
        CheckDone();
    }

    private void DrainToHost()
    {
        bool drained = false;
        while (!toHost.IsEmpty && socket is not null)
        {
            HostIo io = socket.Send(toHost.Contiguous(0));
            if (io.Ok && io.Bytes > 0)
            {
                toHost.Discard(io.Bytes);
                drained = true;
                continue;
            }

            if (io.Ok || io.WouldBlock)
            {
                break;
            }

            HostError();
            return;
        }

        MaybeShutdownHost();
        UpdateInterest();
        if (drained && State == TcpFlowState.Established)
        {
            long window = AdvertisableWindow();
            if (lastAdvertised < Math.Min(toHost.Limit / 2, 65535L << rcvShift) && window > lastAdvertised)
            {
                SendAck();
            }
        }

        CheckDone();
    }

    private void MaybeShutdownHost()
    {
        if (guestFin && !hostShutdown && toHost.IsEmpty && socket is not null)
        {
            socket.ShutdownSend();
            hostShutdown = true;
        }
    }

    private void UpdateInterest()
    {
        if (socket is null || State is TcpFlowState.Connecting or TcpFlowState.Closed)
        {
            return;
        }

        IoEvents want = IoEvents.None;
        if (!hostEof && toGuest.Free > 0)
        {
            want |= IoEvents.Readable;
        }
        else if (!hostEof && toGuest.BudgetLimited)
        {
            // Not full, but the port's (or the global) relay budget lends no more: wait for chunks.
            nat.WaitForBudget(this);
        }

        if (!toHost.IsEmpty)
        {
            want |= IoEvents.Writable;
        }

        SetInterest(want);
    }

    private void SetInterest(IoEvents want)
    {
        if (want != interest && socket is not null)
        {
            interest = want;
            socket.SetInterest(want);
        }
    }

    private void HostError()
    {
        counters.Drop(GatewayDrop.TcpHostError);
        Reset(sendRst: true);
    }

    // ---------------------------------------------------------------- guest segments

    /// <summary>A validated segment from the guest for this flow.</summary>
    public void OnSegment(in TcpHeader tcp)
    {
        LastActivity = context.Clock.GetTimestamp();
        probingSince = 0;
        byte flags = tcp.Flags;
        uint seq = tcp.SequenceNumber;
        uint ack = tcp.AcknowledgmentNumber;
        switch (State)
        {
            case TcpFlowState.Connecting:
                // The guest retransmits its SYN while the host connect is pending; it hears from us when it completes.
                if ((flags & TcpHeader.FlagRst) != 0)
                {
                    Reset(sendRst: false);
                }

                return;
            case TcpFlowState.SynSent:
                OnSegmentSynSent(tcp, flags, seq, ack);
                return;
            case TcpFlowState.Linger:
                OnSegmentLinger(tcp, flags);
                return;
            case TcpFlowState.Closed:
                return;
            default:
                break;
        }

        ReadOnlySpan<byte> payload = tcp.Payload;
        bool fin = (flags & TcpHeader.FlagFin) != 0;

        // RFC 9293 §3.10.7.4, first check sequence number (for RST, RFC 5961 §3: in window is enough here,
        // since only the guest on its own link can reach us).
        if ((flags & TcpHeader.FlagRst) != 0)
        {
            int offset = (int)(seq - rcvNxt);
            if (offset >= 0 && offset <= Math.Max(AdvertisableWindow(), 1))
            {
                Reset(sendRst: false);
            }
            else
            {
                counters.Drop(GatewayDrop.TcpOutOfWindow);
            }

            return;
        }

        if ((flags & TcpHeader.FlagSyn) != 0)
        {
            if (State == TcpFlowState.SynReceived && seq + 1 == rcvNxt)
            {
                // Our SYN-ACK was lost: send it again.
                SendSegment(iss, TcpHeader.FlagSyn | TcpHeader.FlagAck, 0, 0, syn: true);
                return;
            }

            // RFC 9293 §3.10.7.4 fourth: a SYN in a synchronized state gets a challenge ACK (RFC 5961 §4).
            counters.Drop(GatewayDrop.TcpOutOfWindow);
            SendAck();
            return;
        }

        if ((flags & TcpHeader.FlagAck) == 0)
        {
            counters.Drop(GatewayDrop.TcpMalformed);
            return;
        }

        if (State == TcpFlowState.SynReceived)
        {
            if (ack != iss + 1)
            {
                counters.Drop(GatewayDrop.TcpOutOfWindow);
                nat.SendReset(Key, GuestMac, ack, 0, TcpHeader.FlagRst);
                return;
            }

            Establish(seq, ack, tcp.Window);
        }
        else if (!OnAck(seq, ack, tcp.Window, payload.Length, fin))
        {
            return;
        }

        if (State == TcpFlowState.Closed)
        {
            return;
        }

        if (payload.Length == 0 && !fin && Lt(seq, rcvNxt))
        {
            // RFC 9293 §3.10.7.4 first check: an unacceptable segment is answered with an ACK (this is how
            // a zero-window probe, sent one below RCV.NXT, learns our window).
            ackPending = true;
        }

        if (payload.Length > 0 || fin)
        {
            OnData(seq, payload, fin);
            if (State == TcpFlowState.Closed)
            {
                return;
            }
        }

        PumpToGuest();
        if (ackPending)
        {
            // Behind the gateway, one ACK per batch of guest segments (sent at the end of the loop
            // iteration) instead of one per segment: a tap guest sends 64 segments per wake-up.
            if (nat.DeferAcks)
            {
                nat.QueueAck(this);
            }
            else
            {
                SendAck();
            }
        }

        CheckDone();
    }

    private void OnSegmentSynSent(in TcpHeader tcp, byte flags, uint seq, uint ack)
    {
        bool hasAck = (flags & TcpHeader.FlagAck) != 0;
        if (hasAck && ack != iss + 1)
        {
            if ((flags & TcpHeader.FlagRst) == 0)
            {
                nat.SendReset(Key, GuestMac, ack, 0, TcpHeader.FlagRst);
            }

            counters.Drop(GatewayDrop.TcpOutOfWindow);
            return;
        }

        if ((flags & TcpHeader.FlagRst) != 0)
        {
            if (hasAck)
            {
                // The guest refused the forwarded connection: refuse the host client too.
                Reset(sendRst: false);
            }

            return;
        }

        if ((flags & TcpHeader.FlagSyn) == 0 || !hasAck)
        {
            counters.Drop(GatewayDrop.TcpOutOfWindow);
            return;
        }

        TcpOptions.TryParse(tcp, out TcpOptions options);
        TakeSynOptions(options);
        rcvNxt = seq + 1;
        sndUna = ack;
        sndBase = ack;
        sndWnd = tcp.Window;
        sndWl1 = seq;
        sndWl2 = ack;
        State = TcpFlowState.Established;
        Disarm();
        synTries = 0;
        SendAck();
        UpdateInterest();
        PumpToGuest();
    }

    private void OnSegmentLinger(in TcpHeader tcp, byte flags)
    {
        if ((flags & TcpHeader.FlagRst) != 0)
        {
            Release();
            return;
        }

        if ((flags & TcpHeader.FlagFin) != 0 || tcp.Payload.Length > 0)
        {
            // A retransmitted FIN (our ACK was lost): acknowledge it again.
            SendAck();
        }
    }

    private void Establish(uint seq, uint ack, ushort window)
    {
        State = TcpFlowState.Established;
        sndUna = ack;
        sndNxt = ack;
        sndMax = ack;
        sndBase = ack;
        sndWnd = (long)window << sndShift;
        sndWl1 = seq;
        sndWl2 = ack;
        Disarm();
        synTries = 0;
        UpdateInterest();
    }

    /// <summary>RFC 9293 §3.10.7.4 fifth: the ACK field. False when the segment is to be dropped.</summary>
    private bool OnAck(uint seq, uint ack, ushort window, int payloadLength, bool fin)
    {
        if (Gt(ack, sndMax))
        {
            // Acknowledges something we never sent.
            counters.Drop(GatewayDrop.TcpOutOfWindow);
            SendAck();
            return false;
        }

        long scaled = (long)window << sndShift;
        if (Lt(ack, sndUna))
        {
            return true;
        }

        if (Gt(ack, sndUna))
        {
            AckAdvanced(ack);
        }
        else if (payloadLength == 0 && !fin && sndMax != sndUna && scaled == sndWnd)
        {
            dupAcks++;
            if (dupAcks == 3)
            {
                FastRetransmit();
            }
        }

        // RFC 9293 §3.10.7.4: update the window from the newest segment only (SND.WL1, SND.WL2).
        if (Lt(sndWl1, seq) || (sndWl1 == seq && Ge(ack, sndWl2)))
        {
            bool opened = sndWnd == 0 && scaled > 0;
            sndWnd = scaled;
            sndWl1 = seq;
            sndWl2 = ack;
            if (opened && timerMode == TimerMode.Persist)
            {
                Disarm();
                persistBackoff = TimeSpan.Zero;
            }
        }

        return true;
    }

    private void AckAdvanced(uint ack)
    {
        long now = context.Clock.GetTimestamp();
        if (rttTiming && Ge(ack, rttSeq))
        {
            rttTiming = false;
            Sample(context.Clock.GetElapsedTime(rttStart, now));
        }

        uint dataEnd = sndBase + (uint)toGuest.Count;
        uint ackedData = Gt(ack, dataEnd) ? dataEnd : ack;
        int acked = (int)(ackedData - sndBase);
        if (acked > 0)
        {
            bool wasFull = toGuest.Free == 0;
            toGuest.Discard(acked);
            sndBase = ackedData;
            if (wasFull && !hostEof)
            {
                UpdateInterest();
            }
        }

        if (finSent && ack == dataEnd + 1)
        {
            finAcked = true;
        }

        sndUna = ack;
        if (Lt(sndNxt, sndUna))
        {
            sndNxt = sndUna;
        }

        dupAcks = 0;
        firstTimeoutAt = 0;
        if (backoff > 0)
        {
            // New data acknowledged: the path works, so drop the backoff (as Linux does) instead of waiting
            // for a fresh RTT sample that Karn's rule keeps from retransmitted segments (RFC 6298 §5.7).
            backoff = 0;
            rto = baseRto;
        }
        if (inRecovery)
        {
            if (Ge(ack, recover))
            {
                inRecovery = false;
            }
            else
            {
                // A partial ACK: the next hole starts at SND.UNA (RFC 6582 §3.2 step 3).
                RetransmitFirst();
            }
        }

        if (sndMax == sndUna)
        {
            if (timerMode == TimerMode.Retransmit)
            {
                Disarm();
            }
        }
        else
        {
            Arm(TimerMode.Retransmit, rto);
        }
    }

    private void Sample(TimeSpan measured)
    {
        // RFC 6298 §2.2 and §2.3, with G folded into the 200 ms minimum.
        long r = Math.Max(measured.Ticks, 1);
        if (srtt == 0)
        {
            srtt = r;
            rttvar = r / 2;
        }
        else
        {
            rttvar = ((3 * rttvar) + Math.Abs(srtt - r)) / 4;
            srtt = ((7 * srtt) + r) / 8;
        }

        long value = srtt + Math.Max(TimeSpan.TicksPerMillisecond, 4 * rttvar);
        baseRto = TimeSpan.FromTicks(Math.Clamp(value, MinRto.Ticks, MaxRto.Ticks));
        rto = baseRto;
        backoff = 0;
    }

    private void FastRetransmit()
    {
        counters.Count(GatewayEvent.TcpFastRetransmits);
        inRecovery = true;
        recover = sndMax;
        rttTiming = false;
        RetransmitFirst();
        Arm(TimerMode.Retransmit, rto);
    }

    /// <summary>Sends the first unacknowledged segment again (one MSS, or the FIN).</summary>
    private void RetransmitFirst()
    {
        uint dataEnd = sndBase + (uint)toGuest.Count;
        int outstanding = (int)(dataEnd - sndUna);
        if (outstanding > 0)
        {
            int n = Math.Min(outstanding, mss);
            SendData(sndUna, n);

            // With the window closed this is new data (a probe that carries a segment): account for it.
            uint end = sndUna + (uint)n;
            if (Gt(end, sndNxt))
            {
                sndNxt = end;
            }

            if (Gt(end, sndMax))
            {
                sndMax = end;
            }
        }
        else if (finSent && !finAcked)
        {
            SendSegment(dataEnd, TcpHeader.FlagFin | TcpHeader.FlagAck, 0, 0, syn: false);
        }
    }

    private void OnData(uint seq, ReadOnlySpan<byte> payload, bool fin)
    {
        ackPending = true;
        if (guestFin)
        {
            // Everything up to the FIN is already ours: a retransmission.
            return;
        }

        int offset = (int)(seq - rcvNxt);
        if (offset > 0)
        {
            // Out of order (or beyond the window): drop; the duplicate ACK tells the guest what we miss.
            counters.Drop(GatewayDrop.TcpOutOfWindow);
            return;
        }

        if (offset < 0)
        {
            int skip = -offset;
            if (skip > payload.Length || (skip == payload.Length && !fin))
            {
                counters.Drop(GatewayDrop.TcpOutOfWindow);
                return;
            }

            payload = payload[skip..];
        }

        int taken = payload.IsEmpty ? 0 : Deliver(payload);
        if (taken < 0)
        {
            return;
        }

        rcvNxt += (uint)taken;
        BytesFromGuest += taken;
        if (taken < payload.Length)
        {
            counters.Drop(GatewayDrop.TcpBufferFull);
            return;
        }

        if (fin)
        {
            guestFin = true;
            rcvNxt++;
            MaybeShutdownHost();
        }
    }

    /// <summary>Moves in-order guest payload toward the host: straight into the socket when nothing is
    /// queued, the rest into toHost. Returns the bytes taken, or -1 when the flow was reset.</summary>
    private int Deliver(ReadOnlySpan<byte> payload)
    {
        if (socket is null || hostShutdown)
        {
            return payload.Length;
        }

        int sent = 0;
        if (toHost.IsEmpty)
        {
            HostIo io = socket.Send(payload);
            if (io.Ok)
            {
                sent = io.Bytes;
            }
            else if (!io.WouldBlock)
            {
                HostError();
                return -1;
            }
        }

        int taken = sent;
        if (sent < payload.Length)
        {
            taken += toHost.Write(payload[sent..]);
            UpdateInterest();
        }

        return taken;
    }

    // ---------------------------------------------------------------- sending to the guest

    /// <summary>Sends what the guest's window allows: data in GSO frames, then our FIN when the host is done.</summary>
    private void PumpToGuest()
    {
        if (State != TcpFlowState.Established || GuestMac == 0)
        {
            return;
        }

        bool sent = false;
        while (true)
        {
            uint dataEnd = sndBase + (uint)toGuest.Count;
            int unsent = (int)(dataEnd - sndNxt);
            long room = sndWnd - (long)(uint)(sndNxt - sndUna);
            if (unsent > 0 && room > 0)
            {
                int n = (int)Math.Min(Math.Min(unsent, room), MaxFramePayload);
                if (n > mss && n < unsent)
                {
                    n = n / mss * mss;
                }

                bool fresh = sndNxt == sndMax;
                SendData(sndNxt, n);
                if (fresh && !rttTiming)
                {
                    rttTiming = true;
                    rttSeq = sndNxt + (uint)n;
                    rttStart = context.Clock.GetTimestamp();
                }

                sndNxt += (uint)n;
                if (Gt(sndNxt, sndMax))
                {
                    sndMax = sndNxt;
                }

                sent = true;
                continue;
            }

            if (unsent == 0 && hostEof && sndNxt == dataEnd)
            {
                SendSegment(dataEnd, TcpHeader.FlagFin | TcpHeader.FlagAck, 0, 0, syn: false);
                finSent = true;
                sndNxt = dataEnd + 1;
                if (Gt(sndNxt, sndMax))
                {
                    sndMax = sndNxt;
                }

                sent = true;
            }

            if (unsent > 0 && room <= 0 && sndNxt == sndUna && sndWnd == 0 && timerMode != TimerMode.Persist)
            {
                persistBackoff = persistBackoff == TimeSpan.Zero ? rto : persistBackoff;
                Arm(TimerMode.Persist, persistBackoff);
            }

            break;
        }

        if (sent && timerMode != TimerMode.Retransmit && sndMax != sndUna)
        {
            Arm(TimerMode.Retransmit, rto);
        }
    }

    private void SendData(uint seq, int length)
    {
        int offset = (int)(seq - sndBase);
        byte flags = TcpHeader.FlagAck;
        if (offset + length == toGuest.Count)
        {
            flags |= TcpHeader.FlagPsh;
        }

        if (Gt(seq + (uint)length, sndMax))
        {
            BytesToGuest += (int)(seq + (uint)length - (Gt(seq, sndMax) ? seq : sndMax));
        }

        SendSegment(seq, flags, offset, length, syn: false);
    }

    private void SendAck() => SendSegment(sndNxt, TcpHeader.FlagAck, 0, 0, syn: false);

    private long AdvertisableWindow()
    {
        long free = toHost.Free;
        if (toHost.BudgetLimited && !guestFin)
        {
            // A smaller window than the ring allows: reopen it when the budget has room again.
            nat.WaitForBudget(this);
        }

        return Math.Min(free, 65535L << rcvShift);
    }

    /// <summary>Builds one segment (or GSO super frame) toward the guest in the TX buffer and sends it.</summary>
    private void SendSegment(uint seq, byte flags, int dataOffset, int dataLength, bool syn)
    {
        if (GuestMac == 0)
        {
            return;
        }

        byte[] buffer = context.TxBuffer;
        int l4 = PacketWriter.L4Offset(v6);
        int optionsLength = syn ? TcpOptions.WriteSyn(buffer.AsSpan(l4 + TcpHeader.MinLength), (ushort)OurMss, offeredShift, sackPermitted: false) : 0;
        int headerLength = TcpHeader.MinLength + optionsLength;
        if (dataLength > 0)
        {
            toGuest.CopyTo(dataOffset, buffer.AsSpan(l4 + headerLength, dataLength));
        }

        long window = syn ? Math.Min(toHost.Free, 65535) : AdvertisableWindow();
        ushort windowField = syn ? (ushort)window : (ushort)Math.Min(window >> rcvShift, 65535);
        if (!syn)
        {
            lastAdvertised = (long)windowField << rcvShift;
        }

        Span<byte> tcp = buffer.AsSpan(l4, headerLength + dataLength);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, Key.RemotePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], Key.GuestPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[TcpHeader.SequenceNumberOffset..], seq);
        bool hasAck = (flags & TcpHeader.FlagAck) != 0;
        BinaryPrimitives.WriteUInt32BigEndian(tcp[TcpHeader.AcknowledgmentNumberOffset..], hasAck ? rcvNxt : 0);
        tcp[TcpHeader.DataOffsetOffset] = (byte)((headerLength / 4) << 4);
        tcp[TcpHeader.FlagsOffset] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[TcpHeader.WindowOffset..], windowField);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[TcpHeader.ChecksumOffset..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[TcpHeader.UrgentPointerOffset..], 0);
        int frameLength = PacketWriter.WriteEthernetAndIp(
            buffer, GuestMac, context.Options.Mac, Key.Remote, Key.Guest, InternetChecksum.ProtocolTcp, tcp.Length, context.NextIpId());

        OffloadInfo offload = OffloadInfo.None;
        if (dataLength > mss)
        {
            PacketWriter.WritePartialL4Checksum(tcp, Key.Remote, Key.Guest, InternetChecksum.ProtocolTcp, TcpHeader.ChecksumOffset);
            offload = new OffloadInfo(
                OffloadInfo.FlagNeedsChecksum,
                v6 ? OffloadInfo.GsoTcpV6 : OffloadInfo.GsoTcpV4,
                (ushort)(l4 + headerLength),
                (ushort)mss,
                (ushort)l4,
                TcpHeader.ChecksumOffset);
        }
        else
        {
            PacketWriter.WriteL4Checksum(tcp, Key.Remote, Key.Guest, InternetChecksum.ProtocolTcp, TcpHeader.ChecksumOffset);
        }

        ackPending = false;
        context.Link.Send(buffer.AsSpan(0, frameLength), offload);
    }

    // ---------------------------------------------------------------- timers and the end

    private void Arm(TimerMode mode, TimeSpan due)
    {
        timerMode = mode;
        timer.Arm(due);
    }

    /// <summary>Stops the timer lazily: a timer that fires with no mode does nothing. Cancelling and re-arming
    /// on every ACK would cost the loop a timer-list removal per ACK; re-arming an armed timer is cheap.</summary>
    private void Disarm() => timerMode = TimerMode.None;

    private void OnTimer()
    {
        TimerMode mode = timerMode;
        timerMode = TimerMode.None;
        switch (mode)
        {
            case TimerMode.Syn:
                OnSynTimer();
                break;
            case TimerMode.Retransmit:
                OnRetransmitTimer();
                break;
            case TimerMode.Persist:
                OnPersistTimer();
                break;
            case TimerMode.Linger:
                Release();
                break;
            default:
                break;
        }
    }

    private void OnSynTimer()
    {
        if (State == TcpFlowState.SynSent && GuestMac == 0)
        {
            SendSynToGuest();
            return;
        }

        synTries++;
        if (synTries >= MaxSynTries)
        {
            Reset(sendRst: State == TcpFlowState.SynReceived);
            return;
        }

        counters.Count(GatewayEvent.TcpRetransmits);
        if (State == TcpFlowState.SynSent)
        {
            SendSegment(iss, TcpHeader.FlagSyn, 0, 0, syn: true);
        }
        else if (State == TcpFlowState.SynReceived)
        {
            SendSegment(iss, TcpHeader.FlagSyn | TcpHeader.FlagAck, 0, 0, syn: true);
        }
        else
        {
            return;
        }

        Arm(TimerMode.Syn, Backoff(InitialRto, synTries));
    }

    private void OnRetransmitTimer()
    {
        if (State != TcpFlowState.Established || sndMax == sndUna)
        {
            return;
        }

        long now = context.Clock.GetTimestamp();
        if (firstTimeoutAt == 0)
        {
            firstTimeoutAt = now;
        }
        else if (context.Clock.GetElapsedTime(firstTimeoutAt, now) >= GiveUpAfter)
        {
            Reset(sendRst: true);
            return;
        }

        counters.Count(GatewayEvent.TcpRetransmits);
        backoff++;
        rto = Backoff(baseRto, backoff);
        rttTiming = false;
        inRecovery = false;
        dupAcks = 0;

        // Go back to SND.UNA and send again everything the window allows.
        sndNxt = sndUna;
        PumpToGuest();
        if (sndNxt == sndUna)
        {
            // The window is closed: still resend the first segment, which probes it.
            RetransmitFirst();
        }

        Arm(TimerMode.Retransmit, rto);
    }

    private void OnPersistTimer()
    {
        if (State != TcpFlowState.Established || sndWnd != 0 || sndNxt != sndUna)
        {
            PumpToGuest();
            return;
        }

        // A zero-window probe: an ACK one below SND.UNA, which the guest must answer with its window
        // (RFC 9293 §3.8.6.1; the form Linux uses). A guest that answers none for two minutes is gone.
        long now = context.Clock.GetTimestamp();
        if (probingSince == 0)
        {
            probingSince = now;
        }
        else if (context.Clock.GetElapsedTime(probingSince, now) >= GiveUpAfter)
        {
            Reset(sendRst: true);
            return;
        }

        counters.Count(GatewayEvent.TcpZeroWindowProbes);
        SendSegment(sndUna - 1, TcpHeader.FlagAck, 0, 0, syn: false);
        persistBackoff = TimeSpan.FromTicks(Math.Min(persistBackoff.Ticks * 2, MaxRto.Ticks));
        Arm(TimerMode.Persist, persistBackoff);
    }

    private void CheckDone()
    {
        if (State != TcpFlowState.Established || !guestFin || !hostShutdown || !hostEof || !finAcked)
        {
            return;
        }

        CloseHostSocket();
        State = TcpFlowState.Linger;
        counters.Count(GatewayEvent.TcpFlowsClosed);
        toGuest.Clear();
        toHost.Clear();
        Arm(TimerMode.Linger, LingerTime);
    }

    private void CloseHostSocket()
    {
        if (socket is not null)
        {
            nat.Forget(socket);
            socket.Dispose();
            socket = null;
        }
    }

    /// <summary>Set while the flow waits in TcpNat's list of flows held back by the relay budget.</summary>
    internal bool BudgetWaiting { get; set; }

    /// <summary>Chunks came back to the pool: read the host socket again and reopen the guest's window
    /// if the budget now allows. On the loop, at the end of an iteration.</summary>
    internal void OnBudgetAvailable()
    {
        if (State is TcpFlowState.Closed or TcpFlowState.Linger)
        {
            return;
        }

        UpdateInterest();
        if (State == TcpFlowState.Established && AdvertisableWindow() > lastAdvertised)
        {
            SendAck();
        }
    }

    /// <summary>Set while the flow waits in TcpNat's deferred-ACK queue.</summary>
    internal bool AckQueued { get; set; }

    /// <summary>Sends the ACK a batch of guest segments left owed (nothing if data or a window update
    /// already carried it). On the loop, at the end of the iteration.</summary>
    internal void SendDeferredAck()
    {
        AckQueued = false;
        if (ackPending && State != TcpFlowState.Closed)
        {
            SendAck();
        }
    }

    /// <summary>Ends the flow abortively: RST to the guest (if asked), RST to the host peer, released now.</summary>
    public void Reset(bool sendRst)
    {
        if (State == TcpFlowState.Closed)
        {
            return;
        }

        if (sendRst && State is not (TcpFlowState.Connecting or TcpFlowState.Linger))
        {
            SendSegment(sndMax, TcpHeader.FlagRst | TcpHeader.FlagAck, 0, 0, syn: false);
        }

        if (socket is not null)
        {
            nat.Forget(socket);
            socket.Abort();
            socket = null;
        }

        if (State != TcpFlowState.Linger)
        {
            counters.Count(GatewayEvent.TcpFlowsReset);
        }

        Release();
    }

    /// <summary>Frees everything and leaves the flow table.</summary>
    public void Release()
    {
        if (State == TcpFlowState.Closed)
        {
            return;
        }

        if (socket is not null)
        {
            nat.Forget(socket);
            socket.Dispose();
            socket = null;
        }

        State = TcpFlowState.Closed;
        timerMode = TimerMode.None;
        timer.Dispose();
        toGuest.Clear();
        toHost.Clear();
        nat.Pool.Release(account);
        nat.Remove(this);
    }

    private static bool Lt(uint a, uint b) => (int)(a - b) < 0;

    private static bool Gt(uint a, uint b) => (int)(a - b) > 0;

    private static bool Ge(uint a, uint b) => (int)(a - b) >= 0;
}
