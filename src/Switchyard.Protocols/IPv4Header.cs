// A read-only view of an IPv4 header (RFC 791 §3.1).
//
// Theory of operation: TryParse checks, once, every length the header states about itself against the
// bytes actually present: version 4, IHL at least 5 words, the header within the data, and a total
// length that covers the header and does not run past the data. The view then spans exactly the
// datagram (total length bytes; anything after it, such as Ethernet padding, is not part of it), and
// every property reads at a named offset. Options are not interpreted. Parsing never throws and never
// mutates; code that writes a header (segmentation) uses the offset constants below.
using System.Buffers.Binary;

namespace Switchyard.Protocols;

/// <summary>An IPv4 datagram whose header lengths have been checked.</summary>
public readonly ref struct IPv4Header
{
    public const int MinLength = 20;
    public const int TotalLengthOffset = 2;
    public const int IdentificationOffset = 4;
    public const int FragmentOffset = 6;
    public const int ProtocolOffset = 9;
    public const int ChecksumOffset = 10;
    public const int SourceOffset = 12;
    public const int DestinationOffset = 16;
    public const int AddressLength = 4;

    private const ushort MoreFragmentsBit = 0x2000;
    private const ushort FragmentOffsetMask = 0x1FFF;

    private readonly ReadOnlySpan<byte> datagram;

    private IPv4Header(ReadOnlySpan<byte> datagram) => this.datagram = datagram;

    /// <summary>IHL × 4: 20 to 60 bytes.</summary>
    public int HeaderLength => (datagram[0] & 0x0F) * 4;

    /// <summary>The total length field: header plus payload.</summary>
    public int TotalLength => datagram.Length;

    public ushort Identification => BinaryPrimitives.ReadUInt16BigEndian(datagram[IdentificationOffset..]);

    public byte Protocol => datagram[ProtocolOffset];

    public ushort HeaderChecksum => BinaryPrimitives.ReadUInt16BigEndian(datagram[ChecksumOffset..]);

    /// <summary>True for any fragment of a larger datagram: MF set or a nonzero fragment offset.</summary>
    public bool IsFragment => (BinaryPrimitives.ReadUInt16BigEndian(datagram[FragmentOffset..]) & (MoreFragmentsBit | FragmentOffsetMask)) != 0;

    public ReadOnlySpan<byte> Source => datagram.Slice(SourceOffset, AddressLength);

    public ReadOnlySpan<byte> Destination => datagram.Slice(DestinationOffset, AddressLength);

    /// <summary>The whole datagram: header and payload, total length bytes.</summary>
    public ReadOnlySpan<byte> Datagram => datagram;

    public byte TimeToLive => datagram[8];

    /// <summary>The header, options included.</summary>
    public ReadOnlySpan<byte> Header => datagram[..HeaderLength];

    /// <summary>The bytes after the header, up to the total length.</summary>
    public ReadOnlySpan<byte> Payload => datagram[HeaderLength..];

    /// <summary>Reads the IPv4 header at the start of <paramref name="data"/>; false when it is not
    /// IPv4 or its IHL or total length disagree with the data (RFC 791 §3.1).</summary>
    public static bool TryParse(ReadOnlySpan<byte> data, out IPv4Header header)
    {
        header = default;
        if (data.Length < MinLength || (data[0] >> 4) != 4)
        {
            return false;
        }

        int headerLength = (data[0] & 0x0F) * 4;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(data[TotalLengthOffset..]);
        if (headerLength < MinLength || totalLength < headerLength || totalLength > data.Length)
        {
            return false;
        }

        header = new IPv4Header(data[..totalLength]);
        return true;
    }
}
