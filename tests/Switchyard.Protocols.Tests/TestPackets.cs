// Packet builders and a reference checksum for offload tests.
//
// Theory of operation: the builder writes Ethernet (optionally 802.1Q-tagged) + IPv4/IPv6 + TCP/UDP
// frames byte by byte from the RFC layouts, independently of the views in Switchyard.Protocols, so the
// tests compare the production code against a second implementation rather than against itself. The
// reference checksum is the slow, obvious RFC 1071 loop over big-endian 16-bit words with a naive
// pseudo-header built as a byte array. This file is also compiled into Switchyard.Switching.Tests.
using System.Buffers.Binary;
using Switchyard.Core.Frames;

namespace Switchyard.Protocols.Tests;

/// <summary>How the builder fills the transport checksum field.</summary>
internal enum ChecksumFill
{
    /// <summary>The complete, correct checksum.</summary>
    Full,

    /// <summary>Only the pseudo-header sum, as a virtio-net driver leaves it for NEEDS_CSUM.</summary>
    PseudoHeader,
}

/// <summary>What to build. Defaults: untagged TCPv4, 100 bytes of payload.</summary>
internal sealed record PacketSpec
{
    public bool IPv6 { get; init; }

    public bool Udp { get; init; }

    /// <summary>An 802.1Q TCI to tag the frame with, or null for untagged.</summary>
    public ushort? Tag { get; init; }

    public byte[] Payload { get; init; } = TestPackets.PayloadBytes(100, 1);

    public byte TcpFlags { get; init; } = TcpHeader.FlagAck | TcpHeader.FlagPsh;

    public uint Sequence { get; init; } = 0x1234_5678;

    public ushort Identification { get; init; } = 0xBEEF;

    /// <summary>Bytes of IPv4 options (a multiple of 4).</summary>
    public int IPv4OptionsLength { get; init; }

    /// <summary>Bytes of TCP options (a multiple of 4).</summary>
    public int TcpOptionsLength { get; init; } = 12;

    /// <summary>Zero bytes appended after the IP packet (Ethernet padding).</summary>
    public int Padding { get; init; }

    public ChecksumFill Checksum { get; init; } = ChecksumFill.PseudoHeader;
}

/// <summary>A built frame and where its layers start.</summary>
internal sealed record Packet(byte[] Frame, int L3, int L4, int HeadersEnd, int End, bool IsIPv6, bool IsUdp)
{
    public int PayloadLength => End - HeadersEnd;

    public byte Protocol => IsUdp ? (byte)17 : (byte)6;

    /// <summary>Offload metadata as a virtio-net driver would send it for this frame.</summary>
    public OffloadInfo Offload(byte gsoType = OffloadInfo.GsoNone, ushort gsoSize = 0) => new(
        OffloadInfo.FlagNeedsChecksum,
        gsoType,
        gsoType == OffloadInfo.GsoNone ? (ushort)0 : (ushort)HeadersEnd,
        gsoSize,
        (ushort)L4,
        (ushort)(IsUdp ? 6 : 16));

    /// <summary>The GSO type that matches this frame's IP version and transport.</summary>
    public byte GsoType => IsUdp ? OffloadInfo.GsoUdpL4 : IsIPv6 ? OffloadInfo.GsoTcpV6 : OffloadInfo.GsoTcpV4;
}

internal static class TestPackets
{
    public static readonly byte[] SourceIPv4 = [10, 0, 2, 15];
    public static readonly byte[] DestinationIPv4 = [192, 168, 77, 201];
    public static readonly byte[] SourceIPv6 = [0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x11, 0x22, 0x33, 0x44];
    public static readonly byte[] DestinationIPv6 = [0xfd, 0x00, 0xfe, 0xed, 0xbe, 0xef, 0x00, 0x01, 0x80, 0x00, 0x00, 0x00, 0xff, 0xee, 0xdd, 0x02];

    public const ulong DestinationMac = 0x02_00_00_00_00_0B;
    public const ulong SourceMac = 0x02_00_00_00_00_0A;

    public static byte[] PayloadBytes(int length, int seed)
    {
        byte[] payload = new byte[length];
        new Random(seed).NextBytes(payload);
        return payload;
    }

    public static Packet Build(PacketSpec spec) => Build(spec, DestinationMac);

    public static Packet Build(PacketSpec spec, ulong destinationMac)
    {
        int l2 = spec.Tag is null ? 14 : 18;
        int ipHeader = spec.IPv6 ? 40 : 20 + spec.IPv4OptionsLength;
        int l4Header = spec.Udp ? 8 : 20 + spec.TcpOptionsLength;
        int l3 = l2;
        int l4 = l3 + ipHeader;
        int headersEnd = l4 + l4Header;
        int end = headersEnd + spec.Payload.Length;
        byte[] f = new byte[end + spec.Padding];
        Span<byte> s = f;

        Ethernet.WriteMac(s, destinationMac);
        Ethernet.WriteMac(s[6..], SourceMac);
        if (spec.Tag is { } tci)
        {
            BinaryPrimitives.WriteUInt16BigEndian(s[12..], 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(s[14..], tci);
        }

        BinaryPrimitives.WriteUInt16BigEndian(s[(l2 - 2)..], spec.IPv6 ? (ushort)0x86DD : (ushort)0x0800);
        byte protocol = spec.Udp ? (byte)17 : (byte)6;
        if (spec.IPv6)
        {
            s[l3] = 0x60;
            s[l3 + 1] = 0x0A; // traffic class / flow label bits, to be copied unchanged
            s[l3 + 3] = 0x77;
            BinaryPrimitives.WriteUInt16BigEndian(s[(l3 + 4)..], (ushort)(end - l4));
            s[l3 + 6] = protocol;
            s[l3 + 7] = 64;
            SourceIPv6.CopyTo(s[(l3 + 8)..]);
            DestinationIPv6.CopyTo(s[(l3 + 24)..]);
        }
        else
        {
            s[l3] = (byte)(0x40 | (ipHeader / 4));
            BinaryPrimitives.WriteUInt16BigEndian(s[(l3 + 2)..], (ushort)(end - l3));
            BinaryPrimitives.WriteUInt16BigEndian(s[(l3 + 4)..], spec.Identification);
            BinaryPrimitives.WriteUInt16BigEndian(s[(l3 + 6)..], 0x4000); // DF
            s[l3 + 8] = 64;
            s[l3 + 9] = protocol;
            SourceIPv4.CopyTo(s[(l3 + 12)..]);
            DestinationIPv4.CopyTo(s[(l3 + 16)..]);
            for (int i = 0; i < spec.IPv4OptionsLength; i++)
            {
                s[l3 + 20 + i] = 1; // NOP
            }

            BinaryPrimitives.WriteUInt16BigEndian(s[(l3 + 10)..], ReferenceChecksum(f.AsSpan(l3, ipHeader)));
        }

        BinaryPrimitives.WriteUInt16BigEndian(s[l4..], 40000);
        BinaryPrimitives.WriteUInt16BigEndian(s[(l4 + 2)..], spec.Udp ? (ushort)53 : (ushort)443);
        if (spec.Udp)
        {
            BinaryPrimitives.WriteUInt16BigEndian(s[(l4 + 4)..], (ushort)(end - l4));
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(s[(l4 + 4)..], spec.Sequence);
            BinaryPrimitives.WriteUInt32BigEndian(s[(l4 + 8)..], 0xA5A5_0001);
            s[l4 + 12] = (byte)((l4Header / 4) << 4);
            s[l4 + 13] = spec.TcpFlags;
            BinaryPrimitives.WriteUInt16BigEndian(s[(l4 + 14)..], 502);
            for (int i = 0; i < spec.TcpOptionsLength; i++)
            {
                s[l4 + 20 + i] = 1; // NOP
            }
        }

        spec.Payload.CopyTo(s[headersEnd..]);
        var packet = new Packet(f, l3, l4, headersEnd, end, spec.IPv6, spec.Udp);
        int checksumAt = l4 + (spec.Udp ? 6 : 16);
        ushort value = spec.Checksum == ChecksumFill.Full
            ? ReferenceTransportChecksum(f, packet)
            : ReferenceFold(ReferenceSum(PseudoHeader(f, packet, end - l4)));
        if (spec.Checksum == ChecksumFill.Full && spec.Udp && value == 0)
        {
            value = 0xFFFF;
        }

        BinaryPrimitives.WriteUInt16BigEndian(s[checksumAt..], value);
        return packet;
    }

    /// <summary>RFC 1071 the obvious way: 32-bit sum of big-endian words, odd byte padded.</summary>
    public static uint ReferenceSum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (int i = 0; i < data.Length; i += 2)
        {
            int hi = data[i];
            int lo = i + 1 < data.Length ? data[i + 1] : 0;
            sum += (uint)((hi << 8) | lo);
        }

        return sum;
    }

    public static ushort ReferenceFold(uint sum)
    {
        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)sum;
    }

    public static ushort ReferenceChecksum(ReadOnlySpan<byte> data) => (ushort)~ReferenceFold(ReferenceSum(data));

    /// <summary>The pseudo-header of <paramref name="p"/>'s addresses as bytes (RFC 793 / RFC 8200 §8.1).</summary>
    public static byte[] PseudoHeader(byte[] frame, Packet p, int transportLength)
    {
        if (p.IsIPv6)
        {
            byte[] ph = new byte[40];
            frame.AsSpan(p.L3 + 8, 32).CopyTo(ph);
            BinaryPrimitives.WriteUInt32BigEndian(ph.AsSpan(32), (uint)transportLength);
            ph[39] = p.Protocol;
            return ph;
        }

        byte[] ph4 = new byte[12];
        frame.AsSpan(p.L3 + 12, 8).CopyTo(ph4);
        ph4[9] = p.Protocol;
        BinaryPrimitives.WriteUInt16BigEndian(ph4.AsSpan(10), (ushort)transportLength);
        return ph4;
    }

    /// <summary>The correct transport checksum of the packet in <paramref name="frame"/> laid out like
    /// <paramref name="p"/>, computed with its checksum field taken as zero.</summary>
    public static ushort ReferenceTransportChecksum(byte[] frame, Packet p)
    {
        int end = TransportEnd(frame, p);
        byte[] transport = frame[p.L4..end];
        transport[p.IsUdp ? 6 : 16] = 0;
        transport[p.IsUdp ? 7 : 17] = 0;
        return ReferenceChecksum([.. PseudoHeader(frame, p, transport.Length), .. transport]);
    }

    /// <summary>True when the transport checksum in <paramref name="frame"/> (laid out like
    /// <paramref name="p"/>, lengths read from its IP header) verifies: the sum over pseudo-header and
    /// segment is 0xFFFF.</summary>
    public static bool TransportChecksumValid(byte[] frame, Packet p)
    {
        int end = TransportEnd(frame, p);
        byte[] all = [.. PseudoHeader(frame, p, end - p.L4), .. frame.AsSpan(p.L4, end - p.L4)];
        return ReferenceFold(ReferenceSum(all)) == 0xFFFF;
    }

    public static bool IPv4HeaderChecksumValid(byte[] frame, Packet p) =>
        ReferenceFold(ReferenceSum(frame.AsSpan(p.L3, p.L4 - p.L3))) == 0xFFFF;

    /// <summary>End of the IP packet in <paramref name="frame"/> according to its own length field.</summary>
    public static int TransportEnd(byte[] frame, Packet p) => p.IsIPv6
        ? p.L4 + BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(p.L3 + 4))
        : p.L3 + BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(p.L3 + 2));
}
