// The two synthetic peers, A (sender) and B (receiver), driven by ONE thread with non-blocking sockets.
//
// Theory of operation: on two CPUs, the switch under test gets one and everything else gets the other.
// A sender thread plus a receiver thread plus the switch would be three busy threads on two CPUs and
// measure the scheduler (see shared/reference/benchmarks.md), so A and B share one loop: each round
// drains B (and A, which only ever sees the learning frame or floods), then offers A's socket more
// frames (one send() of up to 256 KiB on a stream, up to 64 datagrams), and sleeps in poll() only when
// neither moved a byte. Receiving first keeps B's socket drained,
// so any frame the switch drops is the switch's doing, not a full receiver.
//
// Generator: for the stream wire a pre-built buffer of ~256 KiB holds whole framed frames back to back;
// A sends from a cursor that wraps at the end, so the cost per frame is a fraction of one send().
// For the datagram wire there is no batching without sendmmsg(); A sends one datagram per frame, which
// the datagram ceiling (no switch) puts a number on. B receives with 1 MiB reads (stream) and walks
// only the length prefixes; a datagram is one frame.
//
// A run: B sends one frame to A first (dst A, src B), which the switch floods and learns B from; once
// A has it, A -> B is known unicast. Then A sends for warm-up + measured seconds; counters are sampled
// at the start and end of the measured window; then A stops and B drains until 100 ms pass without a
// frame (at most 2 s), so sent - received is the loss. Everything is bounded by the clock.
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;

namespace Switchyard.Bench;

internal sealed class PeerLoop
{
    private const int StreamPrefix = 4;
    private const int StreamTxBytes = 256 * 1024;
    private const ushort EtherType = 0x88b5; // IEEE 802 local experimental
    private static readonly byte[] MacA = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];
    private static readonly byte[] MacB = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0b];

    private readonly byte[] rx = GC.AllocateUninitializedArray<byte>(1 << 20);
    private readonly List<Socket> readable = new(2);
    private readonly List<Socket> writable = new(1);

    /// <summary>Runs one measurement on connected peers; peer errors (a switch that closes or crashes)
    /// come back as a failed result, not an exception.</summary>
    public static LoadResult Run(Peers peers, int size, double warmupSeconds, double seconds, int? switchPid) =>
        new PeerLoop().RunCore(peers, size, warmupSeconds, seconds, switchPid);

    private static void WriteFrame(Span<byte> frame, ReadOnlySpan<byte> dst, ReadOnlySpan<byte> src)
    {
        frame.Clear();
        dst.CopyTo(frame);
        src.CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherType);
    }

    /// <summary>One frame as the wire carries it (with the length prefix on a stream).</summary>
    private static byte[] Framed(Wire wire, int size, ReadOnlySpan<byte> dst, ReadOnlySpan<byte> src)
    {
        int prefix = wire == Wire.Stream ? StreamPrefix : 0;
        var buffer = new byte[prefix + size];
        if (prefix > 0)
        {
            BinaryPrimitives.WriteUInt32BigEndian(buffer, (uint)size);
        }

        WriteFrame(buffer.AsSpan(prefix), dst, src);
        return buffer;
    }

    private static double Elapsed(long from, long to) => (to - from) / (double)Stopwatch.Frequency;

    private LoadResult RunCore(Peers peers, int size, double warmupSeconds, double seconds, int? switchPid)
    {
        Wire wire = peers.Wire;
        Socket a = peers.A;
        Socket b = peers.B;
        var atA = new FrameCounter(wire, size);
        var atB = new FrameCounter(wire, size);

        // A's transmit data: a run of whole framed frames (stream) or one frame (datagram).
        byte[] one = Framed(wire, size, MacB, MacA);
        byte[] tx;
        if (wire == Wire.Stream)
        {
            int count = Math.Max(1, StreamTxBytes / one.Length);
            tx = new byte[count * one.Length];
            for (int i = 0; i < count; i++)
            {
                one.CopyTo(tx, i * one.Length);
            }
        }
        else
        {
            tx = one;
        }

        // Learning: B speaks first; A must see it (flooded by the switch) before the load starts.
        a.Blocking = false;
        b.Blocking = false;
        if (!SendAll(b, Framed(wire, size, MacA, MacB), TimeSpan.FromSeconds(5)))
        {
            return LoadResult.Failed("B could not send its learning frame within 5 s");
        }

        long learnStart = Stopwatch.GetTimestamp();
        while (atA.Frames == 0)
        {
            if (Elapsed(learnStart, Stopwatch.GetTimestamp()) > 5)
            {
                return LoadResult.Failed("A never received B's learning frame (5 s)");
            }

            string? error = Drain(a, atA, 4);
            if (error is not null)
            {
                return LoadResult.Failed($"A: {error}");
            }

            Wait(a, null);
        }

        long learned = atA.Frames;
        long frequency = Stopwatch.Frequency;
        long start = Stopwatch.GetTimestamp();
        long windowStart = start + (long)(warmupSeconds * frequency);
        long windowEnd = windowStart + (long)(seconds * frequency);
        long hardEnd = windowEnd + (2 * frequency);
        long quiet = frequency / 10;

        long txBytes = 0;
        long txFrames = 0;
        int txOffset = 0;
        bool inWindow = false;
        bool sending = true;
        long lastProgress = start;

        long t0 = 0, t1 = 0, rxFrames0 = 0, rxBytes0 = 0, rxFrames1 = 0, rxBytes1 = 0, txFrames0 = 0, txFrames1 = 0;
        double switchCpu0 = 0, switchCpu1 = 0, selfCpu0 = 0, selfCpu1 = 0, busy0 = 0, busy1 = 0;
        string? failure = null;
        int sendBurst = wire == Wire.Stream ? 1 : 64;
        int receiveBurst = wire == Wire.Stream ? 8 : 128;

        while (true)
        {
            long now = Stopwatch.GetTimestamp();
            if (!inWindow && sending && now >= windowStart)
            {
                inWindow = true;
                t0 = now;
                rxFrames0 = atB.Frames;
                rxBytes0 = atB.Bytes;
                txFrames0 = txFrames;
                switchCpu0 = switchPid is null ? double.NaN : CpuTime.Seconds(switchPid);
                selfCpu0 = CpuTime.Seconds(null);
                busy0 = CpuTime.MachineBusySeconds();
            }
            else if (inWindow && now >= windowEnd)
            {
                inWindow = false;
                sending = false;
                t1 = now;
                rxFrames1 = atB.Frames;
                rxBytes1 = atB.Bytes;
                txFrames1 = txFrames;
                switchCpu1 = switchPid is null ? double.NaN : CpuTime.Seconds(switchPid);
                selfCpu1 = CpuTime.Seconds(null);
                busy1 = CpuTime.MachineBusySeconds();
                lastProgress = now;
            }

            if (!sending && (now - lastProgress > quiet || now > hardEnd))
            {
                break;
            }

            bool progress = false;
            long before = atB.Frames;
            failure = Drain(b, atB, receiveBurst);
            if (failure is not null)
            {
                failure = $"B: {failure}";
                break;
            }

            progress |= atB.Frames != before;
            failure = Drain(a, atA, 1);
            if (failure is not null)
            {
                failure = $"A: {failure}";
                break;
            }

            bool blocked = false;
            if (sending)
            {
                for (int i = 0; i < sendBurst; i++)
                {
                    int n;
                    SocketError err;
                    if (wire == Wire.Stream)
                    {
                        n = a.Send(tx.AsSpan(txOffset), SocketFlags.None, out err);
                    }
                    else
                    {
                        n = a.Send(tx, SocketFlags.None, out err);
                    }

                    if (err == SocketError.WouldBlock || err == SocketError.NoBufferSpaceAvailable)
                    {
                        blocked = true;
                        break;
                    }

                    if (err != SocketError.Success)
                    {
                        failure = $"A: send failed: {err}";
                        break;
                    }

                    progress = true;
                    txBytes += n;
                    if (wire == Wire.Stream)
                    {
                        txOffset += n;
                        if (txOffset == tx.Length)
                        {
                            txOffset = 0;
                        }

                        txFrames = txBytes / one.Length; // whole frames handed to the socket
                    }
                    else
                    {
                        txFrames++;
                    }
                }

                if (failure is not null)
                {
                    break;
                }
            }

            if (progress)
            {
                lastProgress = now;
            }
            else
            {
                Wait(b, sending && blocked ? a : null);
            }
        }

        if (failure is not null)
        {
            return LoadResult.Failed(failure);
        }

        double window = Elapsed(t0, t1);
        return new LoadResult
        {
            Seconds = window,
            Frames = rxFrames1 - rxFrames0,
            Bytes = rxBytes1 - rxBytes0,
            OfferedFrames = txFrames1 - txFrames0,
            SentTotal = txFrames,
            ReceivedTotal = atB.Frames,
            Unexpected = atB.Unexpected + (atA.Frames - learned),
            SwitchCpu = (switchCpu1 - switchCpu0) / window,
            PeerCpu = (selfCpu1 - selfCpu0) / window,
            MachineCpu = (busy1 - busy0) / window,
        };
    }

    /// <summary>Blocks in poll() for up to 1 ms until B (or A) is readable or A is writable.</summary>
    private void Wait(Socket receiver, Socket? sender)
    {
        readable.Clear();
        readable.Add(receiver);
        writable.Clear();
        if (sender is not null)
        {
            writable.Add(sender);
        }

        Socket.Select(readable, writable.Count > 0 ? writable : null, null, 1000);
    }

    /// <summary>Reads what is there (up to <paramref name="reads"/> reads) and counts frames; returns an
    /// error if the other end closed or failed.</summary>
    private string? Drain(Socket s, FrameCounter counter, int reads)
    {
        for (int i = 0; i < reads; i++)
        {
            int n = s.Receive(rx, SocketFlags.None, out SocketError err);
            if (err == SocketError.WouldBlock)
            {
                return null;
            }

            if (err != SocketError.Success)
            {
                return $"receive failed: {err}";
            }

            if (n == 0 && counter.Wire == Wire.Stream)
            {
                return "the switch closed the connection";
            }

            counter.Consume(rx.AsSpan(0, n));
        }

        return null;
    }

    private static bool SendAll(Socket s, byte[] data, TimeSpan timeout)
    {
        int offset = 0;
        var clock = Stopwatch.StartNew();
        while (offset < data.Length)
        {
            int n = s.Send(data.AsSpan(offset), SocketFlags.None, out SocketError err);
            if (err == SocketError.Success)
            {
                offset += n;
            }
            else if (err != SocketError.WouldBlock || clock.Elapsed > timeout)
            {
                return false;
            }
            else
            {
                s.Poll(1000, SelectMode.SelectWrite);
            }
        }

        return true;
    }

    /// <summary>Counts frames in what a peer receives: walks the 4-byte prefixes of a stream (a prefix may
    /// be split across reads), or takes each datagram as one frame.</summary>
    private sealed class FrameCounter(Wire wire, int expectedSize)
    {
        private int headerHave;
        private uint header;
        private long skip;

        public Wire Wire { get; } = wire;

        public long Frames { get; private set; }

        /// <summary>Frame bytes, without length prefixes.</summary>
        public long Bytes { get; private set; }

        /// <summary>Frames of another size than the run's.</summary>
        public long Unexpected { get; private set; }

        public void Consume(ReadOnlySpan<byte> data)
        {
            if (Wire == Wire.Datagram)
            {
                Count((uint)data.Length);
                return;
            }

            // A frame is counted when its last byte has arrived, not when its prefix has.
            int i = 0;
            while (i < data.Length)
            {
                if (skip > 0)
                {
                    int take = (int)Math.Min(skip, data.Length - i);
                    i += take;
                    skip -= take;
                    if (skip == 0)
                    {
                        Count(header);
                        header = 0;
                    }

                    continue;
                }

                if (headerHave == 0 && data.Length - i >= StreamPrefix)
                {
                    header = BinaryPrimitives.ReadUInt32BigEndian(data[i..]);
                    i += StreamPrefix;
                    headerHave = StreamPrefix;
                }
                else
                {
                    while (headerHave < StreamPrefix && i < data.Length)
                    {
                        header = (header << 8) | data[i++];
                        headerHave++;
                    }
                }

                if (headerHave == StreamPrefix)
                {
                    headerHave = 0;
                    skip = header;
                    if (skip == 0)
                    {
                        Count(0);
                    }
                }
            }
        }

        private void Count(uint length)
        {
            Frames++;
            Bytes += length;
            if (length != expectedSize)
            {
                Unexpected++;
            }
        }
    }
}

/// <summary>What one run measured. Rates are over the measured window and counted at the receiver.</summary>
internal sealed record LoadResult
{
    public string? Error { get; init; }

    public double Seconds { get; init; }

    /// <summary>Frames B received in the window.</summary>
    public long Frames { get; init; }

    /// <summary>Frame bytes (no prefixes) B received in the window.</summary>
    public long Bytes { get; init; }

    /// <summary>Whole frames A handed to its socket in the window.</summary>
    public long OfferedFrames { get; init; }

    /// <summary>Whole frames A sent over the whole run (warm-up, window).</summary>
    public long SentTotal { get; init; }

    /// <summary>Frames B received over the whole run (warm-up, window, drain).</summary>
    public long ReceivedTotal { get; init; }

    /// <summary>Frames of the wrong size at B, plus anything at A after the learning frame (floods).</summary>
    public long Unexpected { get; init; }

    /// <summary>The switch's CPU time over the window, in CPUs (1.0 = one CPU busy); NaN without a switch.</summary>
    public double SwitchCpu { get; init; }

    /// <summary>This process's CPU time over the window, in CPUs.</summary>
    public double PeerCpu { get; init; }

    /// <summary>Busy CPU time of the whole machine over the window, in CPUs.</summary>
    public double MachineCpu { get; init; }

    /// <summary>CPUs used by everything but the switch and the peers over the window (other people's
    /// work on a shared machine, kernel threads): the noise indicator.</summary>
    public double OthersCpu => Math.Max(0, MachineCpu - PeerCpu - (double.IsNaN(SwitchCpu) ? 0 : SwitchCpu));

    public double OfferedPerSecond => Seconds > 0 ? OfferedFrames / Seconds : 0;

    public double FramesPerSecond => Seconds > 0 ? Frames / Seconds : 0;

    public double Gbps => Seconds > 0 ? Bytes * 8 / Seconds / 1e9 : 0;

    public long Lost => SentTotal - ReceivedTotal;

    public double LossFraction => SentTotal > 0 ? (double)Lost / SentTotal : 0;

    public static LoadResult Failed(string error) => new() { Error = error };
}
