// Software segmentation: TSO (TCPv4, TCPv6) and USO, with and without a VLAN tag, checked field by
// field against the reference model (RFC 791/8200 lengths, RFC 9293 sequence numbers, Linux
// tcp_gso_segment flag rules, full checksums), and every validation rule rejecting without throwing.
using System.Buffers.Binary;
using Switchyard.Core.Frames;
using static Switchyard.Protocols.Tests.SegmentChecks;
using static Switchyard.Protocols.Tests.TestPackets;

namespace Switchyard.Protocols.Tests;

public sealed class GsoSegmenterTests
{
    private const byte AllFlags = TcpHeader.FlagAck | TcpHeader.FlagPsh | TcpHeader.FlagFin | TcpHeader.FlagCwr | TcpHeader.FlagEce;

    public static TheoryData<bool, bool, bool> Shapes() => new()
    {
        { false, false, false }, // TCPv4
        { true, false, false },  // TCPv6
        { false, false, true },  // TCPv4, tagged
        { true, false, true },   // TCPv6, tagged
        { false, true, false },  // USO v4
        { true, true, true },    // USO v6, tagged
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Segment_10KBWithMss1448_SevenValidSegmentsCarryingThePayload(bool ipv6, bool udp, bool tagged)
    {
        byte[] payload = PayloadBytes(10_000, 42);
        var p = Build(new PacketSpec { IPv6 = ipv6, Udp = udp, Tag = tagged ? (ushort)0x3064 : null, Payload = payload, TcpFlags = AllFlags });

        List<byte[]> segments = SegmentAll(p.Frame, p.Offload(p.GsoType, 1448));

        Assert.Equal(7, segments.Count);
        AssertSegmentsCorrect(p, segments, 1448, AllFlags);
    }

    [Fact]
    public void Segment_EcnBitInGsoType_SegmentsAsTcp()
    {
        var p = Build(new PacketSpec { Payload = PayloadBytes(3000, 1), TcpFlags = AllFlags });
        var offload = p.Offload((byte)(OffloadInfo.GsoTcpV4 | OffloadInfo.GsoEcn), 1000);

        List<byte[]> segments = SegmentAll(p.Frame, offload);

        Assert.Equal(3, segments.Count);
        AssertSegmentsCorrect(p, segments, 1000, AllFlags);
    }

    [Fact]
    public void Segment_PayloadAMultipleOfMss_NoEmptyTrailingSegment()
    {
        var p = Build(new PacketSpec { Payload = PayloadBytes(4 * 1000, 2) });

        List<byte[]> segments = SegmentAll(p.Frame, p.Offload(p.GsoType, 1000));

        Assert.Equal(4, segments.Count);
        AssertSegmentsCorrect(p, segments, 1000, p.Frame[p.L4 + 13]);
    }

    [Fact]
    public void Segment_PayloadNoLargerThanMss_OneCompleteSegment()
    {
        var p = Build(new PacketSpec { Payload = PayloadBytes(500, 3), TcpFlags = AllFlags });

        List<byte[]> segments = SegmentAll(p.Frame, p.Offload(p.GsoType, 1448));

        Assert.Single(segments);
        AssertSegmentsCorrect(p, segments, 1448, AllFlags);
    }

    [Fact]
    public void Segment_NoPayload_OneHeaderOnlySegment()
    {
        var p = Build(new PacketSpec { Payload = [], TcpFlags = TcpHeader.FlagAck | TcpHeader.FlagFin });

        List<byte[]> segments = SegmentAll(p.Frame, p.Offload(p.GsoType, 1448));

        Assert.Equal(p.HeadersEnd, Assert.Single(segments).Length);
        AssertSegmentsCorrect(p, segments, 1448, TcpHeader.FlagAck | TcpHeader.FlagFin);
    }

    [Fact]
    public void Segment_EthernetPaddingAfterIpPacket_NotPayload()
    {
        var p = Build(new PacketSpec { Payload = PayloadBytes(2000, 4), Padding = 9 });

        List<byte[]> segments = SegmentAll(p.Frame, p.Offload(p.GsoType, 1448));

        Assert.Equal(2, segments.Count);
        AssertSegmentsCorrect(p, segments, 1448, p.Frame[p.L4 + 13]);
    }

    [Fact]
    public void Segment_IPv4OptionsAndSequenceWrap_RepeatedAndWrapped()
    {
        var p = Build(new PacketSpec { IPv4OptionsLength = 8, Sequence = 0xFFFF_FC00, Identification = 0xFFFE, Payload = PayloadBytes(5000, 5) });

        List<byte[]> segments = SegmentAll(p.Frame, p.Offload(p.GsoType, 1460));

        Assert.Equal(4, segments.Count);
        AssertSegmentsCorrect(p, segments, 1460, p.Frame[p.L4 + 13]);
        Assert.Equal(0x0000, BinaryPrimitives.ReadUInt16BigEndian(segments[2].AsSpan(p.L3 + 4))); // 0xFFFE + 2 wraps
    }

    [Fact]
    public void Segment_HdrLenIsOnlyAHint_HeadersComeFromTheHeaders()
    {
        // Linux sends skb_headlen() as hdr_len, which may include payload; the device MUST NOT rely on
        // it (virtio 1.2 §5.1.6.2.2).
        var p = Build(new PacketSpec { Payload = PayloadBytes(3000, 6) });
        var offload = p.Offload(p.GsoType, 1448) with { HeaderLength = 200 };

        List<byte[]> segments = SegmentAll(p.Frame, offload);

        AssertSegmentsCorrect(p, segments, 1448, p.Frame[p.L4 + 13]);
    }

    [Fact]
    public void TryNext_ScratchTooSmall_FalseAndNothingWritten()
    {
        var p = Build(new PacketSpec { Payload = PayloadBytes(3000, 7) });
        Assert.True(GsoSegmenter.TryCreate(p.Frame, p.Offload(p.GsoType, 1448), out GsoSegmenter segmenter, out _));
        byte[] scratch = new byte[segmenter.MaxSegmentLength - 1];

        Assert.False(segmenter.TryNext(scratch, out int length));
        Assert.Equal(0, length);
        Assert.All(scratch, b => Assert.Equal(0, b));
        Assert.Equal(0, segmenter.Produced);
    }

    [Fact]
    public void TryNext_AfterLastSegment_False()
    {
        var p = Build(new PacketSpec { Payload = PayloadBytes(100, 8) });
        Assert.True(GsoSegmenter.TryCreate(p.Frame, p.Offload(p.GsoType, 1448), out GsoSegmenter segmenter, out _));
        byte[] scratch = new byte[segmenter.MaxSegmentLength];

        Assert.True(segmenter.TryNext(scratch, out _));
        Assert.False(segmenter.TryNext(scratch, out int length));
        Assert.Equal(0, length);
    }

    public static TheoryData<string, OffloadError> HostileCases() => new()
    {
        { "gso_size 0", OffloadError.GsoSizeZero },
        { "no NEEDS_CSUM", OffloadError.GsoWithoutNeedsChecksum },
        { "hdr_len beyond frame", OffloadError.HeaderLengthBeyondFrame },
        { "legacy UFO", OffloadError.UdpFragmentationUnsupported },
        { "UDP tunnel bit", OffloadError.GsoTypeUnsupported },
        { "gso type NONE", OffloadError.GsoTypeUnsupported },
        { "TCPV6 on IPv4", OffloadError.EtherTypeMismatch },
        { "ARP EtherType", OffloadError.EtherTypeMismatch },
        { "frame shorter than Ethernet", OffloadError.FrameTooShort },
        { "IHL lies (past frame)", OffloadError.IPv4HeaderInvalid },
        { "IHL lies (below 5)", OffloadError.IPv4HeaderInvalid },
        { "total length past frame", OffloadError.IPv4HeaderInvalid },
        { "total length below header", OffloadError.IPv4HeaderInvalid },
        { "frame cut inside IP header", OffloadError.IPv4HeaderInvalid },
        { "IPv4 fragment", OffloadError.IPv4Fragment },
        { "UDP protocol under TCPV4", OffloadError.TransportProtocolMismatch },
        { "csum_start not at TCP", OffloadError.ChecksumStartNotTransportHeader },
        { "csum_start out of range", OffloadError.ChecksumStartNotTransportHeader },
        { "csum_offset not TCP's", OffloadError.ChecksumOffsetMismatch },
        { "TCP data offset past IP packet", OffloadError.TcpHeaderInvalid },
        { "TCP data offset below 5", OffloadError.TcpHeaderInvalid },
        { "IP packet cut inside TCP header", OffloadError.TcpHeaderInvalid },
        { "IPv6 payload length past frame", OffloadError.IPv6HeaderInvalid },
        { "IPv6 hop-by-hop header", OffloadError.IPv6ExtensionHeadersUnsupported },
        { "IPv6 next header ICMPv6", OffloadError.TransportProtocolMismatch },
        { "UDP header past IP packet", OffloadError.UdpHeaderInvalid },
    };

    [Theory]
    [MemberData(nameof(HostileCases))]
    public void TryCreate_HostileRequest_RejectedWithItsRule(string name, OffloadError expected)
    {
        (byte[] frame, OffloadInfo offload) = Hostile(name);

        bool ok = GsoSegmenter.TryCreate(frame, offload, out GsoSegmenter segmenter, out OffloadError error);

        Assert.False(ok, name);
        Assert.Equal(expected, error);
        Assert.Equal(0, segmenter.SegmentCount);
    }

    private static (byte[] Frame, OffloadInfo Offload) Hostile(string name)
    {
        var p = Build(new PacketSpec { Payload = PayloadBytes(3000, 99) });
        byte[] f = (byte[])p.Frame.Clone();
        OffloadInfo o = p.Offload(p.GsoType, 1448);
        switch (name)
        {
            case "gso_size 0": return (f, o with { GsoSize = 0 });
            case "no NEEDS_CSUM": return (f, o with { Flags = 0 });
            case "hdr_len beyond frame": return (f, o with { HeaderLength = (ushort)(f.Length + 1) });
            case "legacy UFO": return (f, o with { GsoType = OffloadInfo.GsoUdp });
            case "UDP tunnel bit": return (f, o with { GsoType = 0x21 });
            case "gso type NONE": return (f, o with { GsoType = OffloadInfo.GsoNone });
            case "TCPV6 on IPv4": return (f, o with { GsoType = OffloadInfo.GsoTcpV6 });
            case "ARP EtherType": f[13] = 0x06; return (f, o);
            case "frame shorter than Ethernet": return (f[..13], o with { HeaderLength = 0 });
            case "IHL lies (past frame)": f[p.L3] = 0x4F; return (f[..(p.L3 + 50)], o with { HeaderLength = 0 });
            case "IHL lies (below 5)": f[p.L3] = 0x44; return (f, o);
            case "total length past frame": BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(p.L3 + 2), (ushort)(f.Length - p.L3 + 1)); return (f, o);
            case "total length below header": BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(p.L3 + 2), 19); return (f, o);
            case "frame cut inside IP header": return (f[..(p.L3 + 19)], o with { HeaderLength = 0 });
            case "IPv4 fragment": f[p.L3 + 6] |= 0x20; return (f, o);
            case "UDP protocol under TCPV4": f[p.L3 + 9] = 17; return (f, o);
            case "csum_start not at TCP": return (f, o with { ChecksumStart = (ushort)(p.L4 + 2) });
            case "csum_start out of range": return (f, o with { ChecksumStart = 65535, ChecksumOffset = 65535 });
            case "csum_offset not TCP's": return (f, o with { ChecksumOffset = 6 });
            case "TCP data offset past IP packet":
                BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(p.L3 + 2), (ushort)(p.L4 - p.L3 + 40));
                f[p.L4 + 12] = 0xF0;
                return (f, o with { HeaderLength = 0 });
            case "TCP data offset below 5": f[p.L4 + 12] = 0x40; return (f, o);
            case "IP packet cut inside TCP header":
                BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(p.L3 + 2), (ushort)(p.L4 - p.L3 + 19));
                return (f, o with { HeaderLength = 0 });
            case "IPv6 payload length past frame":
            {
                var v6 = Build(new PacketSpec { IPv6 = true, Payload = PayloadBytes(3000, 98) });
                byte[] g = (byte[])v6.Frame.Clone();
                BinaryPrimitives.WriteUInt16BigEndian(g.AsSpan(v6.L3 + 4), (ushort)(g.Length - v6.L4 + 1));
                return (g, v6.Offload(v6.GsoType, 1448));
            }

            case "IPv6 hop-by-hop header":
            case "IPv6 next header ICMPv6":
            {
                var v6 = Build(new PacketSpec { IPv6 = true, Payload = PayloadBytes(3000, 97) });
                byte[] g = (byte[])v6.Frame.Clone();
                g[v6.L3 + 6] = name == "IPv6 hop-by-hop header" ? (byte)0 : (byte)58;
                return (g, v6.Offload(v6.GsoType, 1448));
            }

            case "UDP header past IP packet":
            {
                var u = Build(new PacketSpec { Udp = true, Payload = PayloadBytes(3000, 96) });
                byte[] g = (byte[])u.Frame.Clone();
                BinaryPrimitives.WriteUInt16BigEndian(g.AsSpan(u.L3 + 2), (ushort)(u.L4 - u.L3 + 7));
                return (g, u.Offload(u.GsoType, 1448) with { HeaderLength = 0 });
            }

            default: throw new ArgumentException(name);
        }
    }
}
