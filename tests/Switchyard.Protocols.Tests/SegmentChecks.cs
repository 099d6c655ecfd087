// Reference checks of software segmentation, shared by the Protocols and Switching tests (this file
// is also compiled into Switchyard.Switching.Tests).
//
// Theory of operation: a super frame built by TestPackets is cut by GsoSegmenter (or by the switch),
// and every resulting segment is checked field by field against what RFC 791/8200 (lengths, IPv4
// identification and header checksum), RFC 9293 (sequence numbers) and Linux's tcp_gso_segment (FIN
// and PSH on the last segment only, CWR on the first only) say it must be, with checksums verified by
// the naive reference implementation; the payloads must concatenate back to the original.
using System.Buffers.Binary;
using Switchyard.Core.Frames;
using static Switchyard.Protocols.Tests.TestPackets;

namespace Switchyard.Protocols.Tests;

internal static class SegmentChecks
{
    internal static List<byte[]> SegmentAll(byte[] frame, OffloadInfo offload)
    {
        Assert.True(GsoSegmenter.TryCreate(frame, offload, out GsoSegmenter segmenter, out OffloadError error), error.ToString());
        byte[] scratch = new byte[65536];
        var segments = new List<byte[]>();
        while (segmenter.TryNext(scratch, out int length))
        {
            segments.Add(scratch[..length]);
        }

        Assert.Equal(segmenter.SegmentCount, segments.Count);
        return segments;
    }

    /// <summary>Checks segments against the super frame <paramref name="p"/> with the reference model.</summary>
    internal static void AssertSegmentsCorrect(Packet p, List<byte[]> segments, int mss, byte superFlags)
    {
        byte[] original = p.Frame;
        var payload = new List<byte>();
        for (int i = 0; i < segments.Count; i++)
        {
            byte[] s = segments[i];
            bool first = i == 0;
            bool last = i == segments.Count - 1;
            int chunk = s.Length - p.HeadersEnd;
            Assert.True(chunk == Math.Min(mss, p.PayloadLength - (i * mss)), $"segment {i}: payload {chunk}");

            // Everything before the IP header (MACs, tag) is repeated unchanged.
            Assert.True(s.AsSpan(0, p.L3).SequenceEqual(original.AsSpan(0, p.L3)), $"segment {i}: L2 header");
            if (p.IsIPv6)
            {
                Assert.Equal(s.Length - p.L4, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(p.L3 + 4)));
                Assert.True(s.AsSpan(p.L3, 4).SequenceEqual(original.AsSpan(p.L3, 4)), "version/class/flow label kept");
            }
            else
            {
                Assert.Equal(s.Length - p.L3, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(p.L3 + 2)));
                ushort id = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(original.AsSpan(p.L3 + 4)) + i);
                Assert.Equal(id, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(p.L3 + 4)));
                Assert.True(IPv4HeaderChecksumValid(s, p), $"segment {i}: IPv4 header checksum");
            }

            if (p.IsUdp)
            {
                Assert.Equal(s.Length - p.L4, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(p.L4 + 4)));
                Assert.NotEqual(0, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(p.L4 + 6)));
            }
            else
            {
                uint seq = BinaryPrimitives.ReadUInt32BigEndian(original.AsSpan(p.L4 + 4)) + (uint)(i * mss);
                Assert.Equal(seq, BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(p.L4 + 4)));
                byte expectedFlags = superFlags;
                if (!last)
                {
                    expectedFlags &= unchecked((byte)~(TcpHeader.FlagFin | TcpHeader.FlagPsh));
                }

                if (!first)
                {
                    expectedFlags &= unchecked((byte)~TcpHeader.FlagCwr);
                }

                Assert.Equal(expectedFlags, s[p.L4 + 13]);
                Assert.True(s.AsSpan(p.L4 + 8, 5).SequenceEqual(original.AsSpan(p.L4 + 8, 5)), "ack and data offset kept");
                Assert.True(s.AsSpan(p.L4 + 18, p.HeadersEnd - p.L4 - 18).SequenceEqual(original.AsSpan(p.L4 + 18, p.HeadersEnd - p.L4 - 18)), "urgent pointer and options kept");
            }

            Assert.True(TransportChecksumValid(s, p), $"segment {i}: transport checksum");
            payload.AddRange(s.AsSpan(p.HeadersEnd).ToArray());
        }

        Assert.Equal(original.AsSpan(p.HeadersEnd, p.PayloadLength).ToArray(), payload.ToArray());
    }
}
