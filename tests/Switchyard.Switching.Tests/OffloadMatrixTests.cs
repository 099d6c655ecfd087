// The offload rules across every pair of port kinds (issue 5, item 3): for each ingress kind, each
// egress kind and each kind of frame, the switch hands the frame on whole with its OffloadInfo when the
// egress declares the offload, and otherwise completes the checksum or segments in software, with
// correct checksums, IPv4 identifications and TCP flags (checked by the reference model in
// Switchyard.Protocols.Tests/SegmentChecks.cs). gso_frames_passed and software_segmented_frames say which
// happened.
//
// The kinds stand for the real ports by the offloads each declares: a vhost-user guest that negotiated
// GUEST_CSUM and GUEST_TSO4/6 (VhostUserPort.Offloads), a tap with vnet_hdr on (TapPort: TUN_F_CSUM, TSO4/6
// and, on kernels from 6.2, USO4/6), a tap with vnet_hdr off, stream and dgram ports (Port's default, None)
// and the NAT gateway (NatGateway.Offloads). The switch's choice depends on the egress only, so every frame
// kind is sent from every ingress kind, including kinds whose peers never produce offloads themselves.
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;
using Switchyard.Protocols;
using Switchyard.Protocols.Tests;
using static Switchyard.Protocols.Tests.SegmentChecks;
using static Switchyard.Protocols.Tests.TestPackets;
using static Switchyard.Switching.Tests.TestFrames;

namespace Switchyard.Switching.Tests;

public sealed class OffloadMatrixTests : SwitchTestBase
{
    private static readonly (string Kind, PortOffloads Offloads)[] Kinds =
    [
        ("vhost-user-tso", PortOffloads.PartialChecksum | PortOffloads.TcpSegmentation),
        ("tap-vnet-hdr", PortOffloads.PartialChecksum | PortOffloads.TcpSegmentation | PortOffloads.UdpSegmentation),
        ("tap-no-vnet-hdr", PortOffloads.None),
        ("stream", PortOffloads.None),
        ("dgram", PortOffloads.None),
        ("gateway", PortOffloads.PartialChecksum | PortOffloads.TcpSegmentation),
    ];

    private static readonly string[] FrameKinds = ["plain", "needs-csum", "gso-tcpv4", "gso-tcpv6", "gso-udp-l4"];

    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach ((string ingress, _) in Kinds)
        {
            foreach ((string egress, _) in Kinds)
            {
                foreach (string frame in FrameKinds)
                {
                    data.Add(ingress, egress, frame);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Offloads_EveryPortKindPairAndFrameKind_PassedWholeOrCompletedInSoftware(string ingressKind, string egressKind, string frameKind)
    {
        LearningSwitch sw = NewSwitch();
        TestPort ingress = AddPort(sw, "in", offloads: OffloadsOf(ingressKind));
        PortOffloads egressOffloads = OffloadsOf(egressKind);
        TestPort egress = AddPort(sw, "out", offloads: egressOffloads);
        const byte flags = TcpHeader.FlagCwr | TcpHeader.FlagAck | TcpHeader.FlagPsh | TcpHeader.FlagFin;
        (PacketSpec spec, ushort gsoSize) = frameKind switch
        {
            "plain" => (new PacketSpec { Payload = PayloadBytes(1000, 1), Checksum = ChecksumFill.Full }, (ushort)0),
            "needs-csum" => (new PacketSpec { Payload = PayloadBytes(1000, 2) }, (ushort)0),
            "gso-tcpv4" => (new PacketSpec { Payload = PayloadBytes(10_000, 3), TcpFlags = flags }, (ushort)1448),
            "gso-tcpv6" => (new PacketSpec { IPv6 = true, Payload = PayloadBytes(10_000, 4), TcpFlags = flags }, (ushort)1428),
            "gso-udp-l4" => (new PacketSpec { Udp = true, Payload = PayloadBytes(4000, 5) }, (ushort)1400),
            _ => throw new ArgumentOutOfRangeException(nameof(frameKind)),
        };
        Packet p = Build(spec, Broadcast);
        OffloadInfo offload = frameKind switch
        {
            "plain" => OffloadInfo.None,
            "needs-csum" => p.Offload(),
            _ => p.Offload(p.GsoType, gsoSize),
        };

        ingress.Inject(p.Frame, offload);

        bool carried = offload.IsPlain
            || ((!offload.NeedsChecksum || egressOffloads.HasFlag(PortOffloads.PartialChecksum))
                && (!offload.IsGso
                    || (p.IsUdp ? egressOffloads.HasFlag(PortOffloads.UdpSegmentation) : egressOffloads.HasFlag(PortOffloads.TcpSegmentation))));
        Assert.Equal(0, egress.Counters.TotalDrops);
        if (carried)
        {
            SentFrame sent = Assert.Single(egress.Sent);
            Assert.Equal(p.Frame, sent.Bytes);
            Assert.Equal(offload, sent.Offload);
            Assert.Equal(offload.IsGso ? 1 : 0, sw.Counters.GsoFramesPassed);
            Assert.Equal(0, sw.Counters.SoftwareSegmentedFrames + sw.Counters.SoftwareChecksums);
        }
        else if (!offload.IsGso)
        {
            SentFrame sent = Assert.Single(egress.Sent);
            Assert.Equal(OffloadInfo.None, sent.Offload);
            Assert.Equal(Build(spec with { Checksum = ChecksumFill.Full }, Broadcast).Frame, sent.Bytes);
            Assert.True(TransportChecksumValid(sent.Bytes, p));
            Assert.Equal(1, sw.Counters.SoftwareChecksums);
        }
        else
        {
            Assert.All(egress.Sent, f => Assert.Equal(OffloadInfo.None, f.Offload));
            AssertSegmentsCorrect(p, [.. egress.Sent.Select(f => f.Bytes)], gsoSize, p.IsUdp ? (byte)0 : flags);
            Assert.Equal((p.PayloadLength + gsoSize - 1) / gsoSize, egress.Sent.Count);
            Assert.Equal(1, sw.Counters.SoftwareSegmentedFrames);
            Assert.Equal(egress.Sent.Count, sw.Counters.SoftwareSegments);
            Assert.Equal(0, sw.Counters.GsoFramesPassed);
        }
    }

    [Fact]
    public void Offloads_GsoFloodToMixedPorts_PassedOnceAndSegmentedOnce()
    {
        LearningSwitch sw = NewSwitch();
        TestPort ingress = AddPort(sw, "tap-a", offloads: OffloadsOf("tap-vnet-hdr"));
        TestPort tap = AddPort(sw, "tap-b", offloads: OffloadsOf("tap-vnet-hdr"));
        TestPort vhost = AddPort(sw, "vhost", offloads: OffloadsOf("vhost-user-tso"));
        TestPort stream = AddPort(sw, "stream", offloads: OffloadsOf("stream"));
        Packet p = Build(new PacketSpec { Payload = PayloadBytes(6000, 6) }, Broadcast);

        ingress.Inject(p.Frame, p.Offload(p.GsoType, 1448));

        Assert.Single(tap.Sent);
        Assert.Single(vhost.Sent);
        Assert.Equal(5, stream.Sent.Count);
        Assert.Equal(2, sw.Counters.GsoFramesPassed);
        Assert.Equal(1, sw.Counters.SoftwareSegmentedFrames);
    }

    private static PortOffloads OffloadsOf(string kind)
    {
        foreach ((string k, PortOffloads offloads) in Kinds)
        {
            if (k == kind)
            {
                return offloads;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(kind));
    }
}
