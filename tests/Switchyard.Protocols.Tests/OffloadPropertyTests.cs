// Property test (STYLE.md habit 14: parsers get fuzz/property tests). Random frames, and valid super
// frames with random corruption, meet random offload metadata. Whatever the input, completion and
// segmentation must not throw, must not write outside the span they were given (guard bytes on both
// sides of the frame and of the scratch buffer), the segmenter must never write its input, and
// whatever they accept must come out valid. Seeded, so a failure reproduces.
using System.Buffers.Binary;
using Switchyard.Core.Frames;
using static Switchyard.Protocols.Tests.TestPackets;

namespace Switchyard.Protocols.Tests;

public sealed class OffloadPropertyTests
{
    private const int Guard = 64;
    private const byte GuardByte = 0xA5;

    private static readonly byte[] GsoTypes =
    [
        OffloadInfo.GsoNone, OffloadInfo.GsoTcpV4, OffloadInfo.GsoUdp, OffloadInfo.GsoTcpV6, OffloadInfo.GsoUdpL4,
        OffloadInfo.GsoTcpV4 | OffloadInfo.GsoEcn, 0x21, 0x41, 2, 0xFF,
    ];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(1234)]
    [InlineData(20260901)]
    public void Offloads_RandomFramesAndMetadata_NeverThrowNeverWriteOutsideTheirSpans(int seed)
    {
        var random = new Random(seed);
        int accepted = 0;
        for (int trial = 0; trial < 1500; trial++)
        {
            (byte[] frame, Packet? shape) = RandomFrame(random);
            OffloadInfo offload = RandomOffload(random, frame, shape);
            string where = $"seed {seed} trial {trial} offload {offload} length {frame.Length}";

            CheckCompletion(frame, offload, where);
            if (CheckSegmentation(random, frame, offload, shape, where))
            {
                accepted++;
            }
        }

        // Half the frames are uncorrupted and most offloads nearly right, so the happy path (segments
        // checked by the reference model) is exercised too, not only the rejections.
        Assert.True(accepted > 60, $"only {accepted} requests were accepted");
    }

    private static void CheckCompletion(byte[] frame, OffloadInfo offload, string where)
    {
        byte[] buffer = Guarded(frame.Length, out Span<byte> span);
        frame.CopyTo(span);

        bool ok = OffloadCompletion.TryCompleteChecksum(span, offload, out OffloadError error);

        AssertGuards(buffer, frame.Length, where);
        Assert.True(ok == (error == OffloadError.None), where);
        for (int i = 0; i < frame.Length; i++)
        {
            bool inField = ok && offload.NeedsChecksum && i >= offload.ChecksumStart + offload.ChecksumOffset
                && i < offload.ChecksumStart + offload.ChecksumOffset + 2;
            if (!inField && span[i] != frame[i])
            {
                Assert.Fail($"{where}: byte {i} changed outside the checksum field");
            }
        }

        if (ok && offload.NeedsChecksum)
        {
            // The completed range, plus the partial sum the field held before (the pseudo-header, for a
            // real packet), must now sum to 0xFFFF: that is what a receiver verifies.
            int start = offload.ChecksumStart;
            int at = start + offload.ChecksumOffset;
            if ((offload.ChecksumOffset & 1) == 0)
            {
                uint partial = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(at));
                Assert.Equal(0xFFFF, ReferenceFold(ReferenceSum(span[start..]) + partial));
            }
        }
    }

    private static bool CheckSegmentation(Random random, byte[] frame, OffloadInfo offload, Packet? shape, string where)
    {
        byte[] input = (byte[])frame.Clone();
        if (!GsoSegmenter.TryCreate(input, offload, out GsoSegmenter segmenter, out OffloadError error))
        {
            Assert.NotEqual(OffloadError.None, error);
            Assert.Equal(frame, input);
            return false;
        }

        int scratchLength = random.Next(4) switch
        {
            0 => random.Next(0, segmenter.MaxSegmentLength + 1),
            1 => segmenter.MaxSegmentLength + random.Next(0, 100),
            _ => segmenter.MaxSegmentLength,
        };
        byte[] buffer = Guarded(scratchLength, out _);
        int produced = 0;
        while (true)
        {
            Span<byte> scratch = buffer.AsSpan(Guard, scratchLength);
            if (!segmenter.TryNext(scratch, out int length))
            {
                break;
            }

            produced++;
            Assert.InRange(length, 1, scratchLength);
            AssertGuards(buffer, scratchLength, where);
            if (shape is not null)
            {
                // Every accepted segment of an uncorrupted frame is a valid packet by the reference model.
                byte[] segment = scratch[..length].ToArray();
                Packet layout = shape with { Frame = segment };
                Assert.True(TransportChecksumValid(segment, layout), $"{where}: segment {produced - 1} transport checksum");
                if (!layout.IsIPv6)
                {
                    Assert.True(IPv4HeaderChecksumValid(segment, layout), $"{where}: segment {produced - 1} IPv4 header checksum");
                }
            }
        }

        AssertGuards(buffer, scratchLength, where);
        Assert.Equal(frame, input); // the segmenter never writes its input
        Assert.True(produced == segmenter.SegmentCount || scratchLength < segmenter.MaxSegmentLength, where);
        return true;
    }

    private static (byte[] Frame, Packet? Shape) RandomFrame(Random random)
    {
        if (random.Next(4) == 0)
        {
            byte[] noise = new byte[random.Next(0, 2000)];
            random.NextBytes(noise);
            return (noise, null);
        }

        var spec = new PacketSpec
        {
            IPv6 = random.Next(2) == 0,
            Udp = random.Next(3) == 0,
            Tag = random.Next(3) == 0 ? (ushort)random.Next(0x10000) : null,
            Payload = PayloadBytes(random.Next(0, 6000), random.Next()),
            TcpFlags = (byte)random.Next(256),
            Sequence = (uint)random.NextInt64(0, 1L << 32),
            Identification = (ushort)random.Next(0x10000),
            IPv4OptionsLength = 4 * random.Next(0, 11),
            TcpOptionsLength = 4 * random.Next(0, 11),
            Padding = random.Next(3) == 0 ? random.Next(1, 20) : 0,
        };
        Packet p = Build(spec);
        byte[] frame = p.Frame;
        int corruptions = random.Next(2) == 0 ? 0 : random.Next(1, 4);
        for (int i = 0; i < corruptions && frame.Length > 0; i++)
        {
            int at = random.Next(2) == 0 ? random.Next(Math.Min(frame.Length, p.HeadersEnd + 4)) : random.Next(frame.Length);
            frame[at] = (byte)random.Next(256);
        }

        if (random.Next(8) == 0)
        {
            frame = frame[..random.Next(0, frame.Length + 1)];
        }

        return (frame, corruptions == 0 ? p : null);
    }

    private static OffloadInfo RandomOffload(Random random, byte[] frame, Packet? shape)
    {
        if (shape is not null && random.Next(3) != 0)
        {
            // Mostly right, with one field possibly off.
            OffloadInfo o = random.Next(3) == 0 ? shape.Offload() : shape.Offload(shape.GsoType, (ushort)random.Next(1, 3000));
            return random.Next(5) switch
            {
                0 => o with { GsoSize = (ushort)random.Next(0, 70000 & 0xFFFF) },
                1 => o with { HeaderLength = (ushort)random.Next(0, 0x10000) },
                2 => o with { ChecksumStart = (ushort)random.Next(0, frame.Length + 8) },
                _ => o,
            };
        }

        return new OffloadInfo(
            (byte)random.Next(256),
            random.Next(2) == 0 ? GsoTypes[random.Next(GsoTypes.Length)] : (byte)random.Next(256),
            (ushort)random.Next(0x10000),
            (ushort)(random.Next(2) == 0 ? random.Next(0, 4) : random.Next(0x10000)),
            (ushort)(random.Next(2) == 0 ? random.Next(0, frame.Length + 4) : random.Next(0x10000)),
            (ushort)(random.Next(2) == 0 ? random.Next(0, 20) : random.Next(0x10000)));
    }

    private static byte[] Guarded(int length, out Span<byte> inner)
    {
        byte[] buffer = new byte[Guard + length + Guard];
        buffer.AsSpan(0, Guard).Fill(GuardByte);
        buffer.AsSpan(Guard + length).Fill(GuardByte);
        inner = buffer.AsSpan(Guard, length);
        return buffer;
    }

    private static void AssertGuards(byte[] buffer, int length, string where)
    {
        Assert.True(buffer.AsSpan(0, Guard).IndexOfAnyExcept(GuardByte) < 0, $"{where}: wrote before the span");
        Assert.True(buffer.AsSpan(Guard + length).IndexOfAnyExcept(GuardByte) < 0, $"{where}: wrote after the span");
    }
}
