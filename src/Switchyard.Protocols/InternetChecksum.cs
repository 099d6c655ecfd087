// The Internet checksum (RFC 1071): the 16-bit ones'-complement of the ones'-complement sum of the
// data taken as big-endian 16-bit words, as used by IPv4 headers, TCP, UDP and ICMP.
//
// Theory of operation. Ones'-complement addition is commutative, associative and independent of byte
// order (RFC 1071 §2 (A)-(C)): summing the words in the machine's own byte order and swapping the
// folded result once gives the big-endian sum. So the loop reads the data as native 64-bit words and
// adds each word's two 32-bit halves into 64-bit accumulators (2^32 ≡ 1 modulo 2^16 - 1, so the halves
// may be added without shifting). One add is at most 2^33, so an accumulator cannot overflow for any
// span .NET can address; carries are folded back once, at the end. No unsafe code: the words are
// read through MemoryMarshal.Cast, which is bounds-checked at the span level.
//
// Partial sums travel as uint values in network order, folded to 16 bits (at most 0xFFFF). They can
// be added together (a + b + c) and folded again with Fold; Complete turns a sum into the checksum
// that goes on the wire. A span of odd length is padded with a zero byte (RFC 1071 §4.1), so when a
// checksum covers several spans, every span but the last must have an even length.
//
// What it trusts: nothing; every method accepts any span, including an empty one, and never throws.
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Switchyard.Protocols;

/// <summary>RFC 1071 ones'-complement sums and checksums, and the IPv4/IPv6 pseudo-header sums that
/// TCP and UDP checksums start from.</summary>
public static class InternetChecksum
{
    /// <summary>IP protocol number of TCP (also the IPv6 next header value).</summary>
    public const byte ProtocolTcp = 6;

    /// <summary>IP protocol number of UDP.</summary>
    public const byte ProtocolUdp = 17;

    /// <summary>Adds <paramref name="data"/>, taken as big-endian 16-bit words, to the partial sum
    /// <paramref name="sum"/>; returns the new partial sum folded to 16 bits (0..0xFFFF). An odd final
    /// byte is padded with zero, so only the last span of a chained sum may have an odd length.</summary>
    public static uint Sum(ReadOnlySpan<byte> data, uint sum = 0)
    {
        // Accumulate in native order: swap the incoming network-order sum once here and the result
        // once at the end (RFC 1071 §2 (B), byte order independence).
        ulong acc0 = ToNative(Fold(sum));
        ulong acc1 = 0;
        ulong acc2 = 0;
        ulong acc3 = 0;

        ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(data);
        int i = 0;
        for (; i + 4 <= words.Length; i += 4)
        {
            ulong w0 = words[i];
            ulong w1 = words[i + 1];
            ulong w2 = words[i + 2];
            ulong w3 = words[i + 3];
            acc0 += (uint)w0 + (w0 >> 32);
            acc1 += (uint)w1 + (w1 >> 32);
            acc2 += (uint)w2 + (w2 >> 32);
            acc3 += (uint)w3 + (w3 >> 32);
        }

        for (; i < words.Length; i++)
        {
            ulong w = words[i];
            acc0 += (uint)w + (w >> 32);
        }

        ReadOnlySpan<byte> tail = data[(words.Length * sizeof(ulong))..];
        if (tail.Length >= 4)
        {
            acc1 += MemoryMarshal.Read<uint>(tail);
            tail = tail[4..];
        }

        if (tail.Length >= 2)
        {
            acc2 += MemoryMarshal.Read<ushort>(tail);
            tail = tail[2..];
        }

        if (tail.Length == 1)
        {
            // The pad byte goes after the data byte: in network order the byte is the high half of
            // its word, in little-endian order the low half.
            acc3 += BitConverter.IsLittleEndian ? tail[0] : (uint)tail[0] << 8;
        }

        // Each accumulator is below 2^62 (see the theory of operation), so their sum cannot overflow.
        return (uint)ToNative(Fold(acc0 + acc1 + acc2 + acc3));
    }

    /// <summary>Folds a sum of 16-bit words (any width) to a 16-bit ones'-complement sum.</summary>
    public static ushort Fold(ulong sum)
    {
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>The checksum to store: the ones'-complement of the folded <paramref name="sum"/>.</summary>
    public static ushort Complete(ulong sum) => (ushort)~Fold(sum);

    /// <summary>The checksum of <paramref name="data"/> on top of the partial sum <paramref name="initial"/>
    /// (a pseudo-header sum, say). Over data that contains a correct checksum the result is 0.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data, uint initial = 0) => Complete(Sum(data, initial));

    /// <summary>Partial sum of the IPv4 pseudo-header (RFC 793 §3.1, RFC 768): source and destination
    /// address (4 bytes each), zero, protocol, and the TCP/UDP length. Wrong-sized addresses give 0.</summary>
    public static uint PseudoHeaderIPv4(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, byte protocol, int length)
    {
        if (source.Length != 4 || destination.Length != 4)
        {
            return 0;
        }

        ulong sum = (ulong)BinaryPrimitives.ReadUInt16BigEndian(source) + BinaryPrimitives.ReadUInt16BigEndian(source[2..])
            + BinaryPrimitives.ReadUInt16BigEndian(destination) + BinaryPrimitives.ReadUInt16BigEndian(destination[2..])
            + protocol + (uint)length;
        return Fold(sum);
    }

    /// <summary>Partial sum of the IPv6 pseudo-header (RFC 8200 §8.1): source and destination address
    /// (16 bytes each), the 32-bit upper-layer packet length and the next header value. Wrong-sized
    /// addresses give 0.</summary>
    public static uint PseudoHeaderIPv6(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, byte nextHeader, uint length)
    {
        if (source.Length != 16 || destination.Length != 16)
        {
            return 0;
        }

        ulong sum = (ulong)Sum(source) + Sum(destination) + (length >> 16) + (length & 0xFFFF) + nextHeader;
        return Fold(sum);
    }

    private static ulong ToNative(ushort networkOrder) =>
        BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(networkOrder) : networkOrder;
}
