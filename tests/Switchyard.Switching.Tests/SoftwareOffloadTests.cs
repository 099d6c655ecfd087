// Software offloads in the switch (DESIGN.md, "The data path"): a port that cannot carry a partial
// checksum or a GSO super frame gets the checksum completed or the frame segmented; a port that can
// gets the frame and its OffloadInfo untouched; a request that cannot be completed is dropped and
// counted on that port only. Expected bytes come from the independent builder and reference model in
// Switchyard.Protocols.Tests (linked into this project).
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;
using Switchyard.Protocols;
using Switchyard.Protocols.Tests;
using static Switchyard.Protocols.Tests.SegmentChecks;
using static Switchyard.Protocols.Tests.TestPackets;
using static Switchyard.Switching.Tests.TestFrames;

namespace Switchyard.Switching.Tests;

public sealed class SoftwareOffloadTests : SwitchTestBase
{
    private const PortOffloads All = PortOffloads.PartialChecksum | PortOffloads.TcpSegmentation;

    [Fact]
    public void NeedsChecksum_FloodToPortWithoutOffloads_ArrivesWithValidChecksum()
    {
        LearningSwitch sw = NewSwitch();
        TestPort ingress = AddPort(sw, "in", offloads: PortOffloads.PartialChecksum);
        TestPort plain = AddPort(sw, "plain");
        TestPort capable = AddPort(sw, "capable", offloads: PortOffloads.PartialChecksum);
        var spec = new PacketSpec { Payload = PayloadBytes(1200, 1) };
        Packet p = Build(spec, Broadcast);

        ingress.Inject(p.Frame, p.Offload());

        SentFrame completed = Assert.Single(plain.Sent);
        Assert.Equal(OffloadInfo.None, completed.Offload);
        Assert.Equal(Build(spec with { Checksum = ChecksumFill.Full }, Broadcast).Frame, completed.Bytes);
        Assert.True(TransportChecksumValid(completed.Bytes, p));
        SentFrame carried = Assert.Single(capable.Sent);
        Assert.Equal(p.Frame, carried.Bytes);
        Assert.Equal(p.Offload(), carried.Offload);
        Assert.Equal(1, sw.Counters.SoftwareChecksums);
        Assert.Equal(0, plain.Counters.TotalDrops + capable.Counters.TotalDrops);
    }

    [Fact]
    public void NeedsChecksum_FloodToSeveralPlainPorts_CompletedOncePerFrame()
    {
        LearningSwitch sw = NewSwitch();
        TestPort ingress = AddPort(sw, "in", offloads: PortOffloads.PartialChecksum);
        TestPort[] plain = [AddPort(sw, "p1"), AddPort(sw, "p2"), AddPort(sw, "p3")];
        var spec = new PacketSpec { Udp = true, IPv6 = true, Payload = PayloadBytes(800, 2) };
        Packet p = Build(spec, Broadcast);
        byte[] expected = Build(spec with { Checksum = ChecksumFill.Full }, Broadcast).Frame;

        ingress.Inject(p.Frame, p.Offload());
        ingress.Inject(p.Frame, p.Offload());

        Assert.All(plain, port => Assert.Equal([expected, expected], port.Sent.Select(f => f.Bytes)));
        Assert.Equal(2, sw.Counters.SoftwareChecksums);
    }

    [Fact]
    public void NeedsChecksum_AccessToTrunkWithoutOffloads_TaggedAndValid()
    {
        LearningSwitch sw = NewSwitch();
        TestPort access = AddPort(sw, "access", new AccessVlan(10), PortOffloads.PartialChecksum);
        TestPort trunk = AddPort(sw, "trunk", Trunk(null, 10));
        var spec = new PacketSpec { Payload = PayloadBytes(300, 3) };
        Packet p = Build(spec, Broadcast);

        access.Inject(p.Frame, p.Offload());

        Assert.Equal(Build(spec with { Tag = 10, Checksum = ChecksumFill.Full }, Broadcast).Frame, Assert.Single(trunk.Sent).Bytes);
    }

    [Fact]
    public void NeedsChecksum_TrunkToAccessWithoutOffloads_StrippedAndValid()
    {
        LearningSwitch sw = NewSwitch();
        TestPort trunk = AddPort(sw, "trunk", Trunk(null, 20), PortOffloads.PartialChecksum);
        TestPort access = AddPort(sw, "access", new AccessVlan(20));
        var spec = new PacketSpec { IPv6 = true, Payload = PayloadBytes(301, 4) };
        Packet tagged = Build(spec with { Tag = 20 }, Broadcast);

        trunk.Inject(tagged.Frame, tagged.Offload());

        Assert.Equal(Build(spec with { Checksum = ChecksumFill.Full }, Broadcast).Frame, Assert.Single(access.Sent).Bytes);
    }

    [Fact]
    public void NeedsChecksum_PriorityTaggedToTrunkAndAccess_RetaggedOrStrippedAndValid()
    {
        LearningSwitch sw = NewSwitch();
        TestPort ingress = AddPort(sw, "in", new AccessVlan(10), PortOffloads.PartialChecksum);
        TestPort trunk = AddPort(sw, "trunk", Trunk(null, 10));
        TestPort access = AddPort(sw, "access", new AccessVlan(10));
        var spec = new PacketSpec { Udp = true, Payload = PayloadBytes(99, 5) };
        Packet priority = Build(spec with { Tag = 0xA000 }, Broadcast);

        ingress.Inject(priority.Frame, priority.Offload());

        Assert.Equal(Build(spec with { Tag = 0xA00A, Checksum = ChecksumFill.Full }, Broadcast).Frame, Assert.Single(trunk.Sent).Bytes);
        Assert.Equal(Build(spec with { Checksum = ChecksumFill.Full }, Broadcast).Frame, Assert.Single(access.Sent).Bytes);
    }

    [Fact]
    public void NeedsChecksum_StartInsideEthernetHeader_DroppedAsMalformedOnPlainPortsOnly()
    {
        LearningSwitch sw = NewSwitch();
        TestPort ingress = AddPort(sw, "in", offloads: PortOffloads.PartialChecksum);
        TestPort plain = AddPort(sw, "plain");
        TestPort plain2 = AddPort(sw, "plain2");
        TestPort capable = AddPort(sw, "capable", offloads: PortOffloads.PartialChecksum);
        Packet p = Build(new PacketSpec(), Broadcast);
        OffloadInfo hostile = p.Offload() with { ChecksumStart = 0, ChecksumOffset = 0 };

        ingress.Inject(p.Frame, hostile);

        Assert.Empty(plain.Sent);
        Assert.Empty(plain2.Sent);
        Assert.Equal(1, plain.Counters.Drops(DropReason.TxOffloadMalformed));
        Assert.Equal(1, plain2.Counters.Drops(DropReason.TxOffloadMalformed));
        Assert.Equal(p.Frame, Assert.Single(capable.Sent).Bytes);
        Assert.Equal(0, sw.Counters.SoftwareChecksums);
    }

    [Fact]
    public void Gso_TcpV4ToPortWithoutOffloads_ArrivesAsCorrectSegments()
    {
        LearningSwitch sw = NewSwitch();
        TestPort ingress = AddPort(sw, "in", offloads: All);
        TestPort plain = AddPort(sw, "plain");
        TestPort capable = AddPort(sw, "capable", offloads: All);
        Packet p = Build(new PacketSpec { Payload = PayloadBytes(10_000, 6), TcpFlags = 0x99 }, Broadcast);
        OffloadInfo gso = p.Offload(p.GsoType, 1448);

        ingress.Inject(p.Frame, gso);

        Assert.Equal(7, plain.Sent.Count);
        Assert.All(plain.Sent, f => Assert.Equal(OffloadInfo.None, f.Offload));
        AssertSegmentsCorrect(p, [.. plain.Sent.Select(f => f.Bytes)], 1448, 0x99);
        SentFrame carried = Assert.Single(capable.Sent);
        Assert.Equal(p.Frame, carried.Bytes);
        Assert.Equal(gso, carried.Offload);
        Assert.Equal(1, sw.Counters.SoftwareSegmentedFrames);
        Assert.Equal(7, sw.Counters.SoftwareSegments);
        Assert.Equal(7, plain.Counters.TxFrames);
    }

    [Fact]
    public void Gso_ToPortWithChecksumOffloadOnly_Segmented()
    {
        LearningSwitch sw = NewSwitch();
        TestPort ingress = AddPort(sw, "in", offloads: All);
        TestPort csumOnly = AddPort(sw, "csum", offloads: PortOffloads.PartialChecksum);
        Packet p = Build(new PacketSpec { IPv6 = true, Payload = PayloadBytes(3000, 7) }, Broadcast);

        ingress.Inject(p.Frame, p.Offload(p.GsoType, 1440));

        Assert.Equal(3, csumOnly.Sent.Count);
        AssertSegmentsCorrect(p, [.. csumOnly.Sent.Select(f => f.Bytes)], 1440, p.Frame[p.L4 + 13]);
    }

    [Fact]
    public void Gso_TaggedTcpV6TrunkToAccess_SegmentsOfTheStrippedFrame()
    {
        LearningSwitch sw = NewSwitch();
        TestPort trunk = AddPort(sw, "trunk", Trunk(null, 20), All);
        TestPort access = AddPort(sw, "access", new AccessVlan(20));
        var spec = new PacketSpec { IPv6 = true, Payload = PayloadBytes(10_000, 8), TcpFlags = 0x99 };
        Packet tagged = Build(spec with { Tag = 0x6014 }, Broadcast);
        Packet untagged = Build(spec, Broadcast);

        trunk.Inject(tagged.Frame, tagged.Offload(tagged.GsoType, 1448));

        List<byte[]> expected = SegmentAll(untagged.Frame, untagged.Offload(untagged.GsoType, 1448));
        Assert.Equal(expected, access.Sent.Select(f => f.Bytes));
        AssertSegmentsCorrect(untagged, expected, 1448, 0x99);
    }

    [Fact]
    public void Gso_AccessToTrunk_SegmentsTagged()
    {
        LearningSwitch sw = NewSwitch();
        TestPort access = AddPort(sw, "access", new AccessVlan(30), All);
        TestPort trunk = AddPort(sw, "trunk", Trunk(null, 30));
        var spec = new PacketSpec { Payload = PayloadBytes(5000, 9) };
        Packet p = Build(spec, Broadcast);
        Packet tagged = Build(spec with { Tag = 30 }, Broadcast);

        access.Inject(p.Frame, p.Offload(p.GsoType, 1448));

        Assert.Equal(4, trunk.Sent.Count);
        AssertSegmentsCorrect(tagged, [.. trunk.Sent.Select(f => f.Bytes)], 1448, p.Frame[p.L4 + 13]);
    }

    [Fact]
    public void Gso_UsoToPortWithEveryOffload_SegmentedSinceNoPortCarriesUso()
    {
        LearningSwitch sw = NewSwitch();
        TestPort ingress = AddPort(sw, "in", offloads: All);
        TestPort full = AddPort(sw, "full", offloads: All);
        Packet p = Build(new PacketSpec { Udp = true, Payload = PayloadBytes(4000, 10) }, Broadcast);

        ingress.Inject(p.Frame, p.Offload(p.GsoType, 1400));

        Assert.Equal(3, full.Sent.Count);
        AssertSegmentsCorrect(p, [.. full.Sent.Select(f => f.Bytes)], 1400, 0);
    }

    [Fact]
    public void Gso_LegacyUfo_DroppedAsTxOffloadUnsupported()
    {
        LearningSwitch sw = NewSwitch();
        TestPort ingress = AddPort(sw, "in", offloads: All);
        TestPort full = AddPort(sw, "full", offloads: All);
        Packet p = Build(new PacketSpec { Udp = true, Payload = PayloadBytes(4000, 11) }, Broadcast);

        ingress.Inject(p.Frame, p.Offload(OffloadInfo.GsoUdp, 1400));

        Assert.Empty(full.Sent);
        Assert.Equal(1, full.Counters.Drops(DropReason.TxOffloadUnsupported));
    }

    [Fact]
    public void Gso_MalformedHeaders_DroppedAsMalformedOnlyWhereSoftwareWasNeeded()
    {
        LearningSwitch sw = NewSwitch();
        TestPort ingress = AddPort(sw, "in", offloads: All);
        TestPort plain = AddPort(sw, "plain");
        TestPort capable = AddPort(sw, "capable", offloads: All);
        Packet p = Build(new PacketSpec { Payload = PayloadBytes(4000, 12) }, Broadcast);
        byte[] lying = (byte[])p.Frame.Clone();
        lying[p.L3] = 0x4F; // IHL 15: the IP header claims to reach into the TCP header

        ingress.Inject(lying, p.Offload(p.GsoType, 1448));

        Assert.Empty(plain.Sent);
        Assert.Equal(1, plain.Counters.Drops(DropReason.TxOffloadMalformed));
        Assert.Equal(lying, Assert.Single(capable.Sent).Bytes);
        Assert.Equal(0, sw.Counters.SoftwareSegmentedFrames);
    }

    [Fact]
    public void Hub_NeedsChecksumAndGsoToPortWithoutOffloads_CompletedInSoftware()
    {
        LearningSwitch sw = NewSwitch(new SwitchOptions { Hub = true });
        TestPort ingress = AddPort(sw, "in", offloads: All);
        TestPort plain = AddPort(sw, "plain");
        var spec = new PacketSpec { Payload = PayloadBytes(2000, 13) };
        Packet p = Build(spec, MacB);

        ingress.Inject(p.Frame, p.Offload());
        ingress.Inject(p.Frame, p.Offload(p.GsoType, 1000));

        Assert.Equal(Build(spec with { Checksum = ChecksumFill.Full }, MacB).Frame, plain.Sent[0].Bytes);
        Assert.Equal(3, plain.Sent.Count);
        AssertSegmentsCorrect(p, [.. plain.Sent.Skip(1).Select(f => f.Bytes)], 1000, p.Frame[p.L4 + 13]);
    }

    [Fact]
    public void Gso_PortReentersSwitchDuringSegmentation_BothFramesCorrect()
    {
        // A port that answers synchronously from inside Transmit re-enters Receive while the outer
        // frame's segments are being written to the scratch buffer: the inner frame must not use it.
        LearningSwitch sw = NewSwitch();
        TestPort ingress = AddPort(sw, "in", offloads: All);
        TestPort echo = AddPort(sw, "echo");
        TestPort observer = AddPort(sw, "observer");
        Packet outer = Build(new PacketSpec { Payload = PayloadBytes(6000, 14) }, Broadcast);
        var innerSpec = new PacketSpec { IPv6 = true, Payload = PayloadBytes(3000, 15) };
        Packet inner = Build(innerSpec, Broadcast);
        byte[] innerFrame = (byte[])inner.Frame.Clone();
        Ethernet.WriteMac(innerFrame.AsSpan(6), MacC); // from another station, so both are flooded
        bool answered = false;
        echo.OnTransmit = port =>
        {
            if (!answered)
            {
                answered = true;
                port.Inject(innerFrame, inner.Offload(inner.GsoType, 1000));
            }
        };

        ingress.Inject(outer.Frame, outer.Offload(outer.GsoType, 1448));

        // echo: outer segment 0, then the inner frame went to in/observer, then outer segments 1..4.
        AssertSegmentsCorrect(outer, [.. echo.Sent.Select(f => f.Bytes)], 1448, outer.Frame[outer.L4 + 13]);
        List<byte[]> observed = [.. observer.Sent.Select(f => f.Bytes)];
        Assert.Equal(3 + 5, observed.Count);
        Packet innerLayout = inner with { Frame = innerFrame };
        AssertSegmentsCorrect(innerLayout, observed[..3], 1000, inner.Frame[inner.L4 + 13]);
        AssertSegmentsCorrect(outer, observed[3..], 1448, outer.Frame[outer.L4 + 13]);
    }

    [Fact]
    public void Gso_PortClosesDuringSegmentation_RestNotSent()
    {
        LearningSwitch sw = NewSwitch();
        TestPort ingress = AddPort(sw, "in", offloads: All);
        TestPort closing = AddPort(sw, "closing");
        closing.OnTransmit = port => port.HangUp("peer went away");
        Packet p = Build(new PacketSpec { Payload = PayloadBytes(6000, 16) }, Broadcast);

        ingress.Inject(p.Frame, p.Offload(p.GsoType, 1448));

        Assert.Single(closing.Sent);
        Assert.True(closing.Stopped);
        Assert.Null(sw.FindPort("closing"));
    }

    [Fact]
    public void SoftwareOffloads_SteadyState_AllocateNothing()
    {
        LearningSwitch sw = NewSwitch();
        var ingress = new SinkPort("in", All);
        var plain = new SinkPort("plain", PortOffloads.None);
        var plain2 = new SinkPort("plain2", PortOffloads.None);
        var trunk = new SinkPort("trunk", PortOffloads.None);
        sw.AddPort(ingress, Vlan1);
        sw.AddPort(plain, Vlan1);
        sw.AddPort(plain2, Vlan1);
        sw.AddPort(trunk, Trunk(null, 1));
        Packet csum = Build(new PacketSpec { Payload = PayloadBytes(1400, 17) }, Broadcast);
        Packet tso = Build(new PacketSpec { Payload = PayloadBytes(20_000, 18) }, Broadcast);
        Packet uso = Build(new PacketSpec { Udp = true, IPv6 = true, Payload = PayloadBytes(9000, 19) }, Broadcast);

        void RunAll()
        {
            ingress.Inject(csum.Frame, csum.Offload());
            ingress.Inject(tso.Frame, tso.Offload(tso.GsoType, 1448));
            ingress.Inject(uso.Frame, uso.Offload(uso.GsoType, 1200));
        }

        for (int i = 0; i < 200; i++)
        {
            RunAll();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 200; i++)
        {
            RunAll();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(plain.Counters.TxFrames > 0 && trunk.Counters.TxFrames == plain.Counters.TxFrames);
    }

    private sealed class SinkPort(string name, PortOffloads offloads) : Port(name)
    {
        private readonly byte[] buffer = new byte[2048];

        public override string Kind => "sink";

        public override PortOffloads Offloads => offloads;

        public override void Start()
        {
        }

        public override void Stop()
        {
        }

        public override void Transmit(in EgressFrame frame) => Counters.CountTx(frame.CopyTo(buffer));

        public void Inject(byte[] frame, OffloadInfo offload) => Deliver(frame, offload);
    }
}
