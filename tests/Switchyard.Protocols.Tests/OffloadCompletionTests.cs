// NEEDS_CSUM completion (virtio 1.2 §5.1.6.2.1): the checksum from csum_start to the end of the
// packet, stored at csum_start + csum_offset, over a field that already holds the pseudo-header sum.
using System.Buffers.Binary;
using Switchyard.Core.Frames;
using static Switchyard.Protocols.Tests.TestPackets;

namespace Switchyard.Protocols.Tests;

public sealed class OffloadCompletionTests
{
    public static TheoryData<bool, bool, bool> Shapes() => new()
    {
        { false, false, false }, // TCPv4
        { false, true, false },  // UDPv4
        { true, false, false },  // TCPv6
        { true, true, false },   // UDPv6
        { false, false, true },  // TCPv4, tagged
        { true, true, true },    // UDPv6, tagged
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TryCompleteChecksum_PartialChecksum_BecomesTheFullChecksum(bool ipv6, bool udp, bool tagged)
    {
        var p = Build(new PacketSpec { IPv6 = ipv6, Udp = udp, Tag = tagged ? (ushort)0x0064 : null, Payload = PayloadBytes(999, 5) });
        byte[] frame = (byte[])p.Frame.Clone();

        Assert.True(OffloadCompletion.TryCompleteChecksum(frame, p.Offload(), out OffloadError error));

        Assert.Equal(OffloadError.None, error);
        Assert.True(TransportChecksumValid(frame, p));
        ushort expected = ReferenceTransportChecksum(p.Frame, p);
        Assert.Equal(udp && expected == 0 ? (ushort)0xFFFF : expected, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(p.L4 + (udp ? 6 : 16))));
        frame.AsSpan(p.L4 + (udp ? 6 : 16), 2).Clear();
        byte[] original = (byte[])p.Frame.Clone();
        original.AsSpan(p.L4 + (udp ? 6 : 16), 2).Clear();
        Assert.Equal(original, frame); // nothing else touched
    }

    [Fact]
    public void TryCompleteChecksum_ResultZero_StoredAs0xFFFF()
    {
        // Choose two payload bytes so that the full checksum comes out as 0 (sum 0xFFFF).
        var spec = new PacketSpec { Udp = true, Payload = PayloadBytes(64, 9) };
        spec.Payload[0] = 0;
        spec.Payload[1] = 0;
        var p = Build(spec);
        uint sum = ReferenceFold(ReferenceSum([.. PseudoHeader(p.Frame, p, p.End - p.L4), .. p.Frame.AsSpan(p.L4, 6), 0, 0, .. p.Frame.AsSpan(p.L4 + 8, p.End - p.L4 - 8)]));
        ushort word = (ushort)(0xFFFF - sum);
        BinaryPrimitives.WriteUInt16BigEndian(spec.Payload, word);
        p = Build(spec);
        byte[] frame = (byte[])p.Frame.Clone();

        Assert.True(OffloadCompletion.TryCompleteChecksum(frame, p.Offload()));

        Assert.Equal((ushort)0xFFFF, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(p.L4 + 6)));
        Assert.True(TransportChecksumValid(frame, p));
    }

    [Fact]
    public void TryCompleteChecksum_NoNeedsChecksum_LeavesFrameAlone()
    {
        var p = Build(new PacketSpec());
        byte[] frame = (byte[])p.Frame.Clone();

        Assert.True(OffloadCompletion.TryCompleteChecksum(frame, OffloadInfo.None, out OffloadError error));
        Assert.Equal(OffloadError.None, error);
        Assert.Equal(p.Frame, frame);
    }

    [Theory]
    [InlineData(60, 0, 16, OffloadError.ChecksumInLinkHeader)]      // would overwrite the destination MAC
    [InlineData(60, 10, 2, OffloadError.ChecksumInLinkHeader)]      // would overwrite the EtherType
    [InlineData(60, 34, 25, OffloadError.ChecksumOutOfRange)]       // 34 + 25 + 2 = 61 > 60
    [InlineData(60, 59, 0, OffloadError.ChecksumOutOfRange)]        // field would straddle the end
    [InlineData(60, 65535, 65535, OffloadError.ChecksumOutOfRange)] // no overflow on the largest values
    [InlineData(13, 14, 0, OffloadError.FrameTooShort)]
    public void TryCompleteChecksum_BadStartOrOffset_RejectedAndFrameUntouched(int frameLength, int start, int offset, OffloadError expected)
    {
        byte[] frame = PayloadBytes(frameLength, 11);
        if (frameLength >= 14)
        {
            frame[12] = 0x08;
            frame[13] = 0x00;
        }

        byte[] before = (byte[])frame.Clone();
        var offload = new OffloadInfo(OffloadInfo.FlagNeedsChecksum, 0, 0, 0, (ushort)start, (ushort)offset);

        Assert.False(OffloadCompletion.TryCompleteChecksum(frame, offload, out OffloadError error));

        Assert.Equal(expected, error);
        Assert.Equal(before, frame);
    }

    [Fact]
    public void TryCompleteChecksum_StartInsideVlanTag_Rejected()
    {
        var p = Build(new PacketSpec { Tag = 10 });
        var offload = p.Offload() with { ChecksumStart = 16, ChecksumOffset = 0 };

        Assert.False(OffloadCompletion.TryCompleteChecksum((byte[])p.Frame.Clone(), offload, out OffloadError error));
        Assert.Equal(OffloadError.ChecksumInLinkHeader, error);
    }

    [Fact]
    public void TryCompleteChecksum_GsoFrame_MustBeSegmentedInstead()
    {
        var p = Build(new PacketSpec());

        Assert.False(OffloadCompletion.TryCompleteChecksum((byte[])p.Frame.Clone(), p.Offload(p.GsoType, 1448), out OffloadError error));
        Assert.Equal(OffloadError.GsoRequiresSegmentation, error);
    }
}
