// RFC 1071 checksum: published vectors, and agreement with the naive reference over random data of
// every length and alignment (the fast path reads 8-byte words, so tails and misalignment matter).
using System.Buffers.Binary;
using static Switchyard.Protocols.Tests.TestPackets;

namespace Switchyard.Protocols.Tests;

public sealed class InternetChecksumTests
{
    [Fact]
    public void Sum_Rfc1071Example_IsDdf2()
    {
        // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
        byte[] data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];

        Assert.Equal(0xDDF2u, InternetChecksum.Sum(data));
        Assert.Equal((ushort)0x220D, InternetChecksum.Compute(data));
    }

    [Fact]
    public void Compute_KnownIPv4Header_MatchesItsChecksumAndVerifiesToZero()
    {
        // A well-known IPv4 header (192.168.0.1 -> 192.168.0.199, UDP) whose checksum is 0xb861.
        byte[] header = Convert.FromHexString("450000730000400040110000c0a80001c0a800c7");

        Assert.Equal((ushort)0xB861, InternetChecksum.Compute(header));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), 0xB861);
        Assert.Equal((ushort)0, InternetChecksum.Compute(header));
        Assert.Equal(0xFFFFu, InternetChecksum.Sum(header));
    }

    [Fact]
    public void Sum_EmptyAndSingleByte_PadOddByteWithZero()
    {
        Assert.Equal(0u, InternetChecksum.Sum([]));
        Assert.Equal(0xAB00u, InternetChecksum.Sum([0xAB]));
        Assert.Equal(0x1234u, InternetChecksum.Sum([], 0x1234));
    }

    [Fact]
    public void Sum_RandomLengthsAndAlignments_MatchesReference()
    {
        var random = new Random(1071);
        byte[] buffer = new byte[700];
        for (int trial = 0; trial < 3000; trial++)
        {
            random.NextBytes(buffer);
            int offset = random.Next(0, 16);
            int length = random.Next(0, buffer.Length - offset);
            uint initial = (uint)random.Next(0, 0x10000);
            ReadOnlySpan<byte> data = buffer.AsSpan(offset, length);

            uint expected = ReferenceFold(ReferenceSum(data) + initial);
            uint actual = InternetChecksum.Sum(data, initial);

            Assert.True(
                expected == actual,
                $"trial {trial}: offset {offset} length {length} initial {initial:x}: expected {expected:x4}, got {actual:x4}");
        }
    }

    [Fact]
    public void Sum_AllOnesAt64KiB_DoesNotOverflow()
    {
        byte[] data = new byte[65536];
        Array.Fill(data, (byte)0xFF);

        Assert.Equal(ReferenceFold(ReferenceSum(data)), InternetChecksum.Sum(data));
    }

    [Fact]
    public void Sum_ChainedEvenSpans_EqualsSumOfWhole()
    {
        byte[] data = PayloadBytes(1001, 7);

        uint chained = InternetChecksum.Sum(data.AsSpan(500), InternetChecksum.Sum(data.AsSpan(0, 500)));

        Assert.Equal(InternetChecksum.Sum(data), chained);
    }

    [Fact]
    public void PseudoHeaderIPv4_MatchesReferenceBytes()
    {
        var p = Build(new PacketSpec());
        uint expected = ReferenceFold(ReferenceSum(PseudoHeader(p.Frame, p, 1234)));

        Assert.Equal(expected, InternetChecksum.PseudoHeaderIPv4(SourceIPv4, DestinationIPv4, 6, 1234));
    }

    [Fact]
    public void PseudoHeaderIPv6_MatchesReferenceBytes()
    {
        var p = Build(new PacketSpec { IPv6 = true, Udp = true });
        uint expected = ReferenceFold(ReferenceSum(PseudoHeader(p.Frame, p, 70000)));

        Assert.Equal(expected, InternetChecksum.PseudoHeaderIPv6(SourceIPv6, DestinationIPv6, 17, 70000));
    }

    [Fact]
    public void PseudoHeader_WrongAddressLength_IsZeroNotAnException()
    {
        Assert.Equal(0u, InternetChecksum.PseudoHeaderIPv4(SourceIPv6, DestinationIPv4, 6, 20));
        Assert.Equal(0u, InternetChecksum.PseudoHeaderIPv6(SourceIPv4, DestinationIPv6, 6, 20));
    }

    [Fact]
    public void Compute_FullTcpPacketWithPseudoHeader_VerifiesToZero()
    {
        var p = Build(new PacketSpec { Checksum = ChecksumFill.Full, Payload = PayloadBytes(1337, 3) });
        uint pseudo = InternetChecksum.PseudoHeaderIPv4(SourceIPv4, DestinationIPv4, 6, p.End - p.L4);

        Assert.Equal((ushort)0, InternetChecksum.Compute(p.Frame.AsSpan(p.L4, p.End - p.L4), pseudo));
    }
}
