// A read-only view of a TCP header (RFC 9293 §3.1).
//
// Theory of operation: TryParse checks once that the fixed 20 bytes are present and that the data
// offset is at least 5 words and lies within the segment it was given (the caller passes exactly the
// IP payload, so the header cannot reach into padding). Properties then read at named offsets; options
// are not interpreted. Parsing never throws and never mutates; writers use the offset constants.
using System.Buffers.Binary;

namespace Switchyard.Protocols;

/// <summary>A TCP segment whose data offset has been checked.</summary>
public readonly ref struct TcpHeader
{
    public const int MinLength = 20;
    public const int SequenceNumberOffset = 4;
    public const int AcknowledgmentNumberOffset = 8;
    public const int DataOffsetOffset = 12;
    public const int FlagsOffset = 13;
    public const int WindowOffset = 14;
    public const int ChecksumOffset = 16;
    public const int UrgentPointerOffset = 18;

    public const byte FlagFin = 0x01;
    public const byte FlagSyn = 0x02;
    public const byte FlagRst = 0x04;
    public const byte FlagPsh = 0x08;
    public const byte FlagAck = 0x10;
    public const byte FlagUrg = 0x20;
    public const byte FlagEce = 0x40;
    public const byte FlagCwr = 0x80;

    private readonly ReadOnlySpan<byte> segment;

    private TcpHeader(ReadOnlySpan<byte> segment) => this.segment = segment;

    public ushort SourcePort => BinaryPrimitives.ReadUInt16BigEndian(segment);

    public ushort DestinationPort => BinaryPrimitives.ReadUInt16BigEndian(segment[2..]);

    public uint SequenceNumber => BinaryPrimitives.ReadUInt32BigEndian(segment[SequenceNumberOffset..]);

    public uint AcknowledgmentNumber => BinaryPrimitives.ReadUInt32BigEndian(segment[AcknowledgmentNumberOffset..]);

    /// <summary>Data offset × 4: 20 to 60 bytes.</summary>
    public int HeaderLength => (segment[DataOffsetOffset] >> 4) * 4;

    /// <summary>CWR, ECE, URG, ACK, PSH, RST, SYN, FIN (the low byte of the control bits).</summary>
    public byte Flags => segment[FlagsOffset];

    /// <summary>The window field as sent (unscaled).</summary>
    public ushort Window => BinaryPrimitives.ReadUInt16BigEndian(segment[WindowOffset..]);

    /// <summary>The option bytes between the fixed header and the data offset.</summary>
    public ReadOnlySpan<byte> Options => segment[MinLength..HeaderLength];

    public ushort Checksum => BinaryPrimitives.ReadUInt16BigEndian(segment[ChecksumOffset..]);

    public ReadOnlySpan<byte> Payload => segment[HeaderLength..];

    /// <summary>Reads the TCP header at the start of <paramref name="segment"/> (exactly the IP payload);
    /// false when it is shorter than 20 bytes or its data offset is below 5 or past the segment.</summary>
    public static bool TryParse(ReadOnlySpan<byte> segment, out TcpHeader header)
    {
        header = default;
        if (segment.Length < MinLength)
        {
            return false;
        }

        int headerLength = (segment[DataOffsetOffset] >> 4) * 4;
        if (headerLength < MinLength || headerLength > segment.Length)
        {
            return false;
        }

        header = new TcpHeader(segment);
        return true;
    }
}
