// A read-only view of a UDP header (RFC 768).
//
// Theory of operation: TryParse checks once that the 8-byte header is present in the datagram it was
// given (exactly the IP payload). The length field is reported as it stands but not trusted: Payload
// is everything after the header within the IP payload. Parsing never throws and never mutates.
using System.Buffers.Binary;

namespace Switchyard.Protocols;

/// <summary>A UDP datagram with its 8-byte header present.</summary>
public readonly ref struct UdpHeader
{
    public const int Length = 8;
    public const int LengthOffset = 4;
    public const int ChecksumOffset = 6;

    private readonly ReadOnlySpan<byte> datagram;

    private UdpHeader(ReadOnlySpan<byte> datagram) => this.datagram = datagram;

    public ushort SourcePort => BinaryPrimitives.ReadUInt16BigEndian(datagram);

    public ushort DestinationPort => BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]);

    /// <summary>The length field as sent (not checked against the datagram).</summary>
    public ushort LengthField => BinaryPrimitives.ReadUInt16BigEndian(datagram[LengthOffset..]);

    public ushort Checksum => BinaryPrimitives.ReadUInt16BigEndian(datagram[ChecksumOffset..]);

    public ReadOnlySpan<byte> Payload => datagram[Length..];

    /// <summary>Reads the UDP header at the start of <paramref name="datagram"/>; false when shorter than 8 bytes.</summary>
    public static bool TryParse(ReadOnlySpan<byte> datagram, out UdpHeader header)
    {
        header = default;
        if (datagram.Length < Length)
        {
            return false;
        }

        header = new UdpHeader(datagram);
        return true;
    }
}
