// A read-only view of an IPv6 fixed header (RFC 8200 §3).
//
// Theory of operation: TryParse checks once that the 40-byte header is present, the version is 6 and
// the payload length does not run past the data; the view then spans exactly header + payload
// (Ethernet padding excluded). Extension headers are not walked: NextHeader is the value in the fixed
// header, and a caller that needs TCP or UDP right after it checks that itself. A payload length of 0
// is read as an empty payload (a jumbogram would need a hop-by-hop header, which is not followed).
// Parsing never throws and never mutates.
using System.Buffers.Binary;

namespace Switchyard.Protocols;

/// <summary>An IPv6 packet whose payload length has been checked.</summary>
public readonly ref struct IPv6Header
{
    public const int Length = 40;
    public const int PayloadLengthOffset = 4;
    public const int NextHeaderOffset = 6;
    public const int SourceOffset = 8;
    public const int DestinationOffset = 24;
    public const int AddressLength = 16;

    private readonly ReadOnlySpan<byte> packet;

    private IPv6Header(ReadOnlySpan<byte> packet) => this.packet = packet;

    public int PayloadLength => packet.Length - Length;

    public byte NextHeader => packet[NextHeaderOffset];

    public ReadOnlySpan<byte> Source => packet.Slice(SourceOffset, AddressLength);

    public ReadOnlySpan<byte> Destination => packet.Slice(DestinationOffset, AddressLength);

    /// <summary>The bytes after the fixed header, up to the payload length.</summary>
    public ReadOnlySpan<byte> Payload => packet[Length..];

    /// <summary>Reads the IPv6 header at the start of <paramref name="data"/>; false when it is not IPv6
    /// or its payload length runs past the data (RFC 8200 §3).</summary>
    public static bool TryParse(ReadOnlySpan<byte> data, out IPv6Header header)
    {
        header = default;
        if (data.Length < Length || (data[0] >> 4) != 6)
        {
            return false;
        }

        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(data[PayloadLengthOffset..]);
        if (payloadLength > data.Length - Length)
        {
            return false;
        }

        header = new IPv6Header(data[..(Length + payloadLength)]);
        return true;
    }
}
