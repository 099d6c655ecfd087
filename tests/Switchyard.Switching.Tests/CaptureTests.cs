// Capture taps on the switch (LearningSwitch.Capture.cs): a port capture sees the port's ingress and
// egress as they cross its boundary, a network capture sees each frame entering the switch once, a full
// queue drops and counts without disturbing forwarding, a port that leaves ends its captures, and with
// the taps removed the switch forwards as before and allocates nothing.
using Switchyard.Core.Capture;
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;
using Switchyard.Protocols.Tests;
using Switchyard.TestKit;
using static Switchyard.Protocols.Tests.TestPackets;
using static Switchyard.Switching.Tests.TestFrames;

namespace Switchyard.Switching.Tests;

public sealed class CaptureTests : SwitchTestBase
{
    [Fact]
    public async Task PortCapture_FramesBothWays_SeesIngressAndEgressInOrder()
    {
        LearningSwitch sw = NewSwitch();
        TestPort a = AddPort(sw, "a");
        TestPort b = AddPort(sw, "b");
        TestPort c = AddPort(sw, "c");
        var capture = new PacketCapture(clock: Clock);
        sw.AddCapture(capture, a);

        byte[] fromA = Untagged(Broadcast, MacA);
        byte[] toA = Untagged(MacA, MacB, payloadLength: 100);
        byte[] elsewhere = Untagged(MacC, MacB, payloadLength: 70);
        a.Inject(fromA);        // a's ingress
        b.Inject(toA);          // a's egress (MacA is learned)
        c.Inject(Untagged(MacB, MacC)); // neither: c to b
        b.Inject(elsewhere);    // b to c: not a's

        PcapFile file = await Drain(capture);
        Assert.Equal([fromA, toA], file.Records.Select(r => r.Data));
        Assert.Equal(toA, Assert.Single(a.Sent).Bytes);
    }

    [Fact]
    public async Task NetworkCapture_FloodedFrame_SeenOnceAsItEnters()
    {
        LearningSwitch sw = NewSwitch();
        TestPort a = AddPort(sw, "a");
        TestPort b = AddPort(sw, "b");
        TestPort c = AddPort(sw, "c");
        var capture = new PacketCapture(clock: Clock);
        sw.AddCapture(capture, null);

        byte[] flood = Untagged(Broadcast, MacA);
        byte[] unicast = Untagged(MacA, MacC, payloadLength: 90);
        a.Inject(flood);
        c.Inject(unicast);

        PcapFile file = await Drain(capture);
        Assert.Equal([flood, unicast], file.Records.Select(r => r.Data));
        Assert.Single(b.Sent);
        Assert.Single(c.Sent);
    }

    [Fact]
    public async Task PortCapture_TrunkEgress_RecordsTheTaggedFrameThePortGets()
    {
        LearningSwitch sw = NewSwitch();
        TestPort access = AddPort(sw, "access", new AccessVlan(10));
        TestPort trunk = AddPort(sw, "trunk", Trunk(null, 10, 20));
        var onTrunk = new PacketCapture(clock: Clock);
        var onAccess = new PacketCapture(clock: Clock);
        sw.AddCapture(onTrunk, trunk);
        sw.AddCapture(onAccess, access);

        byte[] untagged = Untagged(Broadcast, MacA);
        access.Inject(untagged);

        Assert.Equal(Tagged(Broadcast, MacA, 10), Assert.Single((await Drain(onTrunk)).Records).Data);
        Assert.Equal(untagged, Assert.Single((await Drain(onAccess)).Records).Data);
    }

    [Fact]
    public async Task PortCapture_GsoFrame_CapturedAsItCrosses_WholeToTsoPort_SegmentsToPlainPort()
    {
        const PortOffloads Tso = PortOffloads.PartialChecksum | PortOffloads.TcpSegmentation;
        LearningSwitch sw = NewSwitch();
        TestPort ingress = AddPort(sw, "in", offloads: Tso);
        TestPort plain = AddPort(sw, "plain");
        TestPort capable = AddPort(sw, "capable", offloads: Tso);
        var onIngress = new PacketCapture(clock: Clock);
        var onPlain = new PacketCapture(clock: Clock);
        var onCapable = new PacketCapture(clock: Clock);
        sw.AddCapture(onIngress, ingress);
        sw.AddCapture(onPlain, plain);
        sw.AddCapture(onCapable, capable);
        Packet p = Build(new PacketSpec { Payload = PayloadBytes(10_000, 6) }, Broadcast);

        ingress.Inject(p.Frame, p.Offload(p.GsoType, 1448));

        Assert.Equal(p.Frame, Assert.Single((await Drain(onIngress)).Records).Data);
        Assert.Equal(p.Frame, Assert.Single((await Drain(onCapable)).Records).Data);
        Assert.Equal(plain.Sent.Select(f => f.Bytes), (await Drain(onPlain)).Records.Select(r => r.Data));
        Assert.Equal(7, plain.Sent.Count);
    }

    [Fact]
    public async Task TwoCapturesOnOnePort_BothSeeEveryFrame()
    {
        LearningSwitch sw = NewSwitch();
        TestPort a = AddPort(sw, "a");
        AddPort(sw, "b");
        var first = new PacketCapture(clock: Clock);
        var second = new PacketCapture(clock: Clock);
        sw.AddCapture(first, a);
        sw.AddCapture(second, a);

        for (int i = 0; i < 5; i++)
        {
            a.Inject(Untagged(Broadcast, MacA, payloadLength: 46 + i));
        }

        Assert.Equal(5, (await Drain(first)).Records.Count);
        Assert.Equal(5, (await Drain(second)).Records.Count);
    }

    [Fact]
    public async Task CaptureQueueFull_DropsAndCounts_ForwardingUnaffected()
    {
        LearningSwitch sw = NewSwitch();
        TestPort a = AddPort(sw, "a");
        TestPort b = AddPort(sw, "b");
        var capture = new PacketCapture(bufferBytes: 1024, clock: Clock);
        sw.AddCapture(capture, a);

        for (int i = 0; i < 50; i++)
        {
            a.Inject(Untagged(Broadcast, MacA));
        }

        int fits = 1024 / (Pcap.RecordHeaderLength + 60);
        Assert.Equal(50, b.Sent.Count);
        Assert.Equal(fits, capture.Frames);
        Assert.Equal(50 - fits, capture.Dropped);
        Assert.Equal(50 - fits, sw.Counters.CaptureDropped);
        Assert.Equal(0, a.Counters.TotalDrops + b.Counters.TotalDrops);
        Assert.Equal(fits, (await Drain(capture)).Records.Count);
    }

    [Fact]
    public async Task CaptureRemoved_SwitchForwardsAsBefore_AndCaptureGetsNothingMore()
    {
        LearningSwitch sw = NewSwitch();
        TestPort a = AddPort(sw, "a");
        TestPort b = AddPort(sw, "b");
        var capture = new PacketCapture(clock: Clock);
        sw.AddCapture(capture, null);
        a.Inject(Untagged(Broadcast, MacA));

        Assert.True(sw.RemoveCapture(capture));
        Assert.False(sw.RemoveCapture(capture));
        Assert.Equal(0, sw.CaptureCount);
        byte[] after = Untagged(MacA, MacB);
        b.Inject(after);

        Assert.Single((await Drain(capture)).Records);
        Assert.Equal(after, Assert.Single(a.Sent).Bytes);
        Assert.Equal(1, sw.Counters.UnicastForwarded);
    }

    [Fact]
    public void PortLeavesTheSwitch_ItsCapturesEnd_NetworkCaptureRuns()
    {
        LearningSwitch sw = NewSwitch();
        TestPort a = AddPort(sw, "a");
        AddPort(sw, "b");
        var onA = new PacketCapture(clock: Clock);
        var network = new PacketCapture(clock: Clock);
        sw.AddCapture(onA, a);
        sw.AddCapture(network, null);

        sw.RemovePort(a);

        Assert.Equal("port a left network net0", onA.EndReason);
        Assert.False(network.IsEnded);
        Assert.Equal(1, sw.CaptureCount);
    }

    [Fact]
    public void AddCapture_PortNotOnTheSwitch_Throws()
    {
        LearningSwitch sw = NewSwitch();
        var stranger = new TestPort("stranger");

        Assert.Throws<ArgumentException>(() => sw.AddCapture(new PacketCapture(bufferBytes: 4096), stranger));
        Assert.Equal(0, sw.CaptureCount);
    }

    [Fact]
    public void Receive_CaptureAddedThenRemoved_AllocatesNothingPerFrame()
    {
        LearningSwitch sw = NewSwitch();
        TestPort a = AddPort(sw, "a");
        var sink = new CopyPort("sink");
        sw.AddPort(sink, Vlan1);
        var capture = new PacketCapture(clock: Clock);
        sw.AddCapture(capture, sink);
        byte[] frame = Untagged(Broadcast, MacA);
        a.Inject(frame);
        sw.RemoveCapture(capture);

        for (int i = 0; i < 2000; i++)
        {
            a.Inject(frame);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            a.Inject(frame);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1, capture.Frames);
    }

    [Fact]
    public void Receive_CaptureOn_AllocatesNothingPerFrame()
    {
        LearningSwitch sw = NewSwitch();
        var a = new CopyPort("a");
        var b = new CopyPort("b");
        sw.AddPort(a, Vlan1);
        sw.AddPort(b, Vlan1);
        var onB = new PacketCapture(bufferBytes: 64 * 1024, clock: Clock);
        var network = new PacketCapture(bufferBytes: 64 * 1024, clock: Clock);
        sw.AddCapture(onB, b);
        sw.AddCapture(network, null);
        byte[] frame = Untagged(Broadcast, MacA);
        for (int i = 0; i < 2000; i++)
        {
            a.Inject(frame); // fills both queues: the rest are drops, which must not allocate either
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            a.Inject(frame);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(onB.Frames > 0 && onB.Dropped > 0 && network.Frames > 0);
    }

    private static async Task<PcapFile> Drain(PacketCapture capture)
    {
        capture.End("test");
        using var sink = new MemoryStream();
        await capture.WriteToAsync(sink, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        return PcapFile.Parse(sink.ToArray());
    }

    /// <summary>A port that copies into a reused buffer (TestPort allocates a byte[] per frame it records).</summary>
    private sealed class CopyPort(string name) : Port(name)
    {
        private readonly byte[] buffer = new byte[2048];

        public override string Kind => "sink";

        public override void Start()
        {
        }

        public override void Stop()
        {
        }

        public override void Transmit(in EgressFrame frame) => Counters.CountTx(frame.CopyTo(buffer));

        public void Inject(byte[] frame) => Deliver(frame, OffloadInfo.None);
    }
}
