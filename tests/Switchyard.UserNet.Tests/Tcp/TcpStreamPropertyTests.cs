// The stream properties: whatever the guest's segmentation, loss, duplication and reordering and
// whatever the host socket's partial sends and EAGAINs, bytes arrive exactly once, in order, both ways.
using FsCheck;
using FsCheck.Fluent;
using Switchyard.Core.Loop;
using Switchyard.Protocols;

namespace Switchyard.UserNet.Tests.Tcp;

public class TcpStreamPropertyTests
{
    private const int MaxRounds = 20000;

    /// <summary>Seeds over the whole int range (FsCheck's own int generator stays near zero).</summary>
    private static readonly Arbitrary<int> Seeds = Arb.From(Gen.Choose(0, int.MaxValue));

    [Fact]
    public void GuestToHost_RandomSegmentationLossAndPartialSends_HostGetsExactStream() =>
        Prop.ForAll(Seeds, seed => GuestToHost(seed)).QuickCheckThrowOnFailure();

    [Fact]
    public void HostToGuest_RandomReadsLossAndReordering_GuestGetsExactStream() =>
        Prop.ForAll(Seeds, seed => HostToGuest(seed)).QuickCheckThrowOnFailure();

    [Theory]
    [InlineData(6)]
    [InlineData(1237)]
    [InlineData(1281)]
    [InlineData(1570)]
    public void HostToGuest_SeedsThatOnceFailed_GuestGetsExactStream(int seed) => HostToGuest(seed);

    [Fact]
    public void GuestToHost_FsCheckBytes_HostGetsExactStream() =>
        Prop.ForAll<byte[], int>((data, seed) => GuestToHost(seed, data ?? [])).QuickCheckThrowOnFailure();

    [Fact]
    public void OnSegment_RandomBytes_NeverThrows() =>
        Prop.ForAll<byte[], bool>((bytes, trusted) =>
        {
            var h = new TcpHarness();
            bytes ??= [];
            var packet = new GuestPacket(TcpHarness.GuestMac, TcpHarness.GuestIp, TcpHarness.RemoteIp, 6, 64, bytes, bytes, trusted);
            h.Nat.OnSegment(in packet);
            if (bytes.Length >= 20)
            {
                // Also as a segment of a live flow.
                h.Link.Frames.Clear();
                var c = TcpConn.Open(h, port: 9);
                byte[] copy = (byte[])bytes.Clone();
                copy[0] = 0;
                copy[1] = 9;
                copy[2] = 0;
                copy[3] = 80;
                var live = new GuestPacket(TcpHarness.GuestMac, TcpHarness.GuestIp, TcpHarness.RemoteIp, 6, 64, copy, copy, true);
                h.Nat.OnSegment(in live);
                _ = c;
            }

            return true;
        }).QuickCheckThrowOnFailure();

    internal static bool GuestToHost(int seed, byte[]? given = null)
    {
        var rng = new Random(seed);
        byte[] data = given ?? new byte[rng.Next(0, 150_000)];
        if (given is null)
        {
            rng.NextBytes(data);
        }

        var h = new TcpHarness(GatewayOptions.Default with { TcpBufferBytes = rng.Next(4096, 300_000) });
        int guestShift = rng.Next(-1, 9);
        var c = TcpConn.Open(h, wscale: guestShift);
        int ourShift = c.SynAck.Options.WindowScale < 0 ? 0 : c.SynAck.Options.WindowScale;
        c.Socket.SendPolicy = n => rng.Next(4) == 0 ? 0 : rng.Next(1, n + 1);
        uint start = c.Seq;
        uint end = start + (uint)data.Length;
        uint una = start;
        uint nxt = start;
        long wnd = c.SynAck.Window;
        double loss = rng.NextDouble() * 0.15;
        int maxSegment = rng.Next(2) == 0 ? 1460 : 65000;
        h.Link.Take();

        for (int round = 0; round < MaxRounds; round++)
        {
            if (una == end + 1 && c.Socket.ShutdownSent)
            {
                break;
            }

            // The guest sends a burst within the window it was given (and its FIN at the end).
            var burst = new List<(uint Seq, int Length, bool Fin)>();
            while ((int)(nxt - una) < wnd && nxt != end + 1)
            {
                int room = (int)Math.Min(wnd - (nxt - una), end - nxt);
                int n = Math.Min(room, rng.Next(1, maxSegment + 1));
                bool fin = nxt + (uint)n == end;
                burst.Add((nxt, n, fin));
                nxt += (uint)n + (fin ? 1u : 0u);
                if (burst.Count > 64)
                {
                    break;
                }
            }

            if (burst.Count == 0 && wnd == 0)
            {
                // A zero-window probe, as Linux sends it.
                burst.Add((una - 1, 0, false));
            }

            foreach ((uint seq, int length, bool fin) in Mangle(burst, rng, loss))
            {
                int offset = (int)(seq - start);
                ReadOnlySpan<byte> payload = length == 0 ? [] : data.AsSpan(offset, length);
                c.Send(payload, fin ? TcpHeader.FlagFin : (byte)0, seq: seq);
            }

            if ((c.Socket.Interest & IoEvents.Writable) != 0 && rng.Next(3) != 0)
            {
                c.Socket.Fire(IoEvents.Writable);
            }

            uint before = una;
            foreach (Segment s in h.Link.Take())
            {
                Assert.False(s.Rst, $"seed {seed}: unexpected RST");
                if ((int)(s.Ack - una) >= 0)
                {
                    una = s.Ack;
                    wnd = (long)s.Window << ourShift;
                }
            }

            if (una == before || rng.Next(8) == 0)
            {
                // Nothing moved (or the guest's own timer fired): go back to the first unacknowledged byte.
                nxt = una;
            }
        }

        byte[] got = [.. c.Socket.Received];
        Assert.True(data.AsSpan().SequenceEqual(got), $"seed {seed}: host got {got.Length} of {data.Length} bytes, or different bytes");
        Assert.True(c.Socket.ShutdownSent, $"seed {seed}: no shutdown");
        return true;
    }

    internal static bool HostToGuest(int seed)
    {
        var rng = new Random(seed);
        byte[] data = new byte[rng.Next(0, 300_000)];
        rng.NextBytes(data);
        var h = new TcpHarness(GatewayOptions.Default with { TcpBufferBytes = rng.Next(4096, 1 << 20) });
        int guestShift = rng.Next(-1, 8);
        int shift = Math.Max(guestShift, 0);
        int guestCapacity = rng.Next(1, 400_000);
        var c = TcpConn.Open(h, mss: (ushort)rng.Next(200, 1461), wscale: guestShift, window: (ushort)Math.Min(guestCapacity >> shift, 65535));
        c.Socket.ReceivePolicy = n => rng.Next(5) == 0 ? 0 : rng.Next(1, n + 1);
        int fed = 0;
        var received = new List<byte>();
        bool finReceived = false;
        double loss = rng.NextDouble() * 0.15;

        for (int round = 0; round < MaxRounds && !finReceived; round++)
        {
            if (fed < data.Length && rng.Next(2) == 0)
            {
                int n = Math.Min(data.Length - fed, rng.Next(1, 100_000));
                c.Socket.PeerSends(data[fed..(fed + n)]);
                fed += n;
                if (fed == data.Length)
                {
                    c.Socket.PeerEof = true;
                }
            }
            else if (data.Length == 0)
            {
                c.Socket.PeerEof = true;
            }

            if ((c.Socket.Interest & IoEvents.Readable) != 0 && (c.Socket.IncomingBytes > 0 || c.Socket.PeerEof))
            {
                c.Socket.Fire(IoEvents.Readable);
            }

            List<Segment> segs = h.Link.Take();
            var burst = new List<(uint Seq, int Length, bool Fin)>();
            var bySeq = new Dictionary<(uint, int, bool), Segment>();
            foreach (Segment s in segs)
            {
                Assert.False(s.Rst, $"seed {seed}: unexpected RST round {round} fed {fed} got {received.Count} time {h.Loop.Clock.GetUtcNow()} retrans {h.Counters.Events(GatewayEvent.TcpRetransmits)} probes {h.Counters.Events(GatewayEvent.TcpZeroWindowProbes)} drops {string.Join(",", h.Counters.DropSnapshot())} cap {guestCapacity} shift {guestShift}");
                var k = (s.Seq, s.Payload.Length, s.Fin);
                bySeq[k] = s;
                burst.Add(k);
            }

            // A window of zero for a while now and then, to make the gateway probe.
            bool closed = rng.Next(20) == 0;
            c.Window = closed ? (ushort)0 : (ushort)Math.Min(guestCapacity >> shift, 65535);
            uint before = c.Rcv;
            bool ackEach = rng.Next(2) == 0;
            foreach ((uint seq, int length, bool fin) in Mangle(burst, rng, loss))
            {
                Segment s = bySeq[(seq, length, fin)];
                Assert.True(s.Payload.Length <= c.SynAck.Options.Mss);
                if (!closed && s.Seq == c.Rcv && s.Payload.Length > 0)
                {
                    received.AddRange(s.Payload);
                    c.Rcv += (uint)s.Payload.Length;
                }

                if (!closed && s.Fin && s.Seq + (uint)s.Payload.Length == c.Rcv)
                {
                    c.Rcv++;
                    finReceived = true;
                }

                if (ackEach)
                {
                    c.Ack();
                }
            }

            if (!ackEach || burst.Count == 0)
            {
                c.Ack();
            }

            if (c.Rcv == before && rng.Next(2) == 0)
            {
                h.Loop.Advance(TimeSpan.FromMilliseconds(rng.Next(100, 2500)));
            }
        }

        Assert.True(finReceived, $"seed {seed}: no FIN; guest got {received.Count} of {data.Length}");
        Assert.True(data.AsSpan().SequenceEqual([.. received]), $"seed {seed}: guest got different bytes");
        return true;
    }

    /// <summary>Drops, duplicates and reorders a burst of segments.</summary>
    private static List<(uint Seq, int Length, bool Fin)> Mangle(List<(uint Seq, int Length, bool Fin)> burst, Random rng, double loss)
    {
        var result = new List<(uint, int, bool)>();
        foreach (var s in burst)
        {
            if (rng.NextDouble() < loss)
            {
                continue;
            }

            result.Add(s);
            if (rng.NextDouble() < loss / 2)
            {
                result.Add(s);
            }
        }

        for (int i = 0; i + 1 < result.Count; i++)
        {
            if (rng.NextDouble() < loss)
            {
                (result[i], result[i + 1]) = (result[i + 1], result[i]);
            }
        }

        return result;
    }
}
