// ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) messages: the 4-byte common header, echo request/reply.
//
// Theory of operation: both families share the layout type, code, checksum, then a 4-byte field
// (identifier and sequence number for echo). TryParse checks once that those 8 bytes are present;
// the checksum is not verified here because ICMPv6 needs the IP pseudo-header (the caller has it).
// The builder turns an echo request into its reply in place: the identifier, sequence and data are
// echoed unchanged (RFC 792 "Echo or Echo Reply Message"; RFC 4443 §4.2).
using System.Buffers.Binary;

namespace Switchyard.Protocols;

/// <summary>An ICMP or ICMPv6 message with its 8-byte header present.</summary>
public readonly ref struct IcmpMessage
{
    public const int HeaderLength = 8;
    public const int ChecksumOffset = 2;

    public const byte EchoReplyV4 = 0;
    public const byte EchoRequestV4 = 8;
    public const byte EchoRequestV6 = 128;
    public const byte EchoReplyV6 = 129;

    private readonly ReadOnlySpan<byte> message;

    private IcmpMessage(ReadOnlySpan<byte> message) => this.message = message;

    public byte Type => message[0];

    public byte Code => message[1];

    public ushort Checksum => BinaryPrimitives.ReadUInt16BigEndian(message[ChecksumOffset..]);

    public ushort Identifier => BinaryPrimitives.ReadUInt16BigEndian(message[4..]);

    public ushort Sequence => BinaryPrimitives.ReadUInt16BigEndian(message[6..]);

    /// <summary>Everything after the 8-byte header.</summary>
    public ReadOnlySpan<byte> Data => message[HeaderLength..];

    /// <summary>The whole message.</summary>
    public ReadOnlySpan<byte> Message => message;

    public static bool TryParse(ReadOnlySpan<byte> data, out IcmpMessage message)
    {
        message = default;
        if (data.Length < HeaderLength)
        {
            return false;
        }

        message = new IcmpMessage(data);
        return true;
    }
}

/// <summary>Writes ICMP echo messages.</summary>
public static class IcmpBuilder
{
    /// <summary>Writes an echo message (request or reply per <paramref name="type"/>) with the given
    /// identifier, sequence and data at the start of <paramref name="at"/>, checksum included; returns
    /// its length. <paramref name="source"/> and <paramref name="destination"/> give the family (ICMPv6
    /// checksums cover the pseudo-header, RFC 4443 §2.3; ICMPv4 ones do not).</summary>
    public static int WriteEcho(Span<byte> at, byte type, ushort identifier, ushort sequence, ReadOnlySpan<byte> data, IpAddr source, IpAddr destination)
    {
        int length = IcmpMessage.HeaderLength + data.Length;
        Span<byte> m = at[..length];
        m[0] = type;
        m[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(m[4..], identifier);
        BinaryPrimitives.WriteUInt16BigEndian(m[6..], sequence);
        data.CopyTo(m[IcmpMessage.HeaderLength..]);
        WriteChecksum(m, source, destination);
        return length;
    }

    /// <summary>Most bytes of the offending packet a port-unreachable quotes: enough for the IP and L4
    /// headers the sender matches it on (RFC 792 asks for the IP header and 8 bytes; RFC 4443 §3.1 for as
    /// much as fits, which we cap to keep the message small).</summary>
    public const int MaxQuoted = 128;

    /// <summary>Writes a destination unreachable / port unreachable (ICMPv4 type 3 code 3, RFC 792; ICMPv6
    /// type 1 code 4, RFC 4443 §3.1) quoting the start of <paramref name="offending"/> (the IP packet that
    /// caused it) at the start of <paramref name="at"/>, checksum included; returns its length.
    /// <paramref name="source"/> and <paramref name="destination"/> are the message's own addresses.</summary>
    public static int WritePortUnreachable(Span<byte> at, ReadOnlySpan<byte> offending, IpAddr source, IpAddr destination)
    {
        bool v6 = !source.IsV4;
        int quoted = Math.Min(offending.Length, MaxQuoted);
        int length = IcmpMessage.HeaderLength + quoted;
        Span<byte> m = at[..length];
        m[0] = v6 ? (byte)1 : (byte)3;
        m[1] = v6 ? (byte)4 : (byte)3;
        m[2..IcmpMessage.HeaderLength].Clear();
        offending[..quoted].CopyTo(m[IcmpMessage.HeaderLength..]);
        WriteChecksum(m, source, destination);
        return length;
    }

    /// <summary>Computes and stores the checksum of a finished ICMP/ICMPv6 message.</summary>
    public static void WriteChecksum(Span<byte> message, IpAddr source, IpAddr destination) =>
        PacketWriter.WriteL4Checksum(message, source, destination, source.IsV4 ? PacketWriter.ProtocolIcmp : PacketWriter.ProtocolIcmpV6, IcmpMessage.ChecksumOffset);
}
