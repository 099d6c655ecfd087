// A minimal read-only view of a DNS message (RFC 1035 §4.1), enough for a forwarder.
//
// Theory of operation: a forwarder does not interpret answers; it needs the header (ID, QR, opcode,
// RCODE, the four counts) and the first question, to check that a query is a query, that a reply
// answers the question that was asked, and to build a header-only answer (SERVFAIL, or a truncated
// reply with TC set) from a query. TryParse checks the 12-byte header. TryGetFirstQuestion walks the
// first question's name label by label with every length checked against the bytes present, the
// whole name at most 255 bytes (RFC 1035 §3.1), and compression pointers (§4.1.4) only followed
// backwards, to an offset before the label that points, with a hop budget, so a hostile message
// cannot loop. Nothing here throws, allocates or mutates; the builder (WriteHeaderOnlyAnswer) writes
// into a span the caller owns.
using System.Buffers.Binary;

namespace Switchyard.Protocols;

/// <summary>A DNS message with its 12-byte header present.</summary>
public readonly ref struct DnsMessage
{
    public const int HeaderLength = 12;

    /// <summary>Longest name on the wire, length bytes included (RFC 1035 §3.1).</summary>
    public const int MaxNameLength = 255;

    /// <summary>RCODE 2, server failure (RFC 1035 §4.1.1).</summary>
    public const int RcodeServerFailure = 2;

    public const int IdOffset = 0;
    public const int FlagsOffset = 2;

    private const ushort FlagQr = 0x8000;
    private const ushort FlagTc = 0x0200;
    private const ushort FlagRd = 0x0100;
    private const ushort FlagRa = 0x0080;
    private const int MaxPointerHops = 64;

    private readonly ReadOnlySpan<byte> message;

    private DnsMessage(ReadOnlySpan<byte> message) => this.message = message;

    public ushort Id => BinaryPrimitives.ReadUInt16BigEndian(message);

    public ushort Flags => BinaryPrimitives.ReadUInt16BigEndian(message[FlagsOffset..]);

    /// <summary>QR: false for a query, true for a response.</summary>
    public bool IsResponse => (Flags & FlagQr) != 0;

    public int Opcode => (Flags >> 11) & 0xF;

    public bool IsTruncated => (Flags & FlagTc) != 0;

    public int Rcode => Flags & 0xF;

    public ushort QuestionCount => BinaryPrimitives.ReadUInt16BigEndian(message[4..]);

    public ushort AnswerCount => BinaryPrimitives.ReadUInt16BigEndian(message[6..]);

    public ushort AuthorityCount => BinaryPrimitives.ReadUInt16BigEndian(message[8..]);

    public ushort AdditionalCount => BinaryPrimitives.ReadUInt16BigEndian(message[10..]);

    /// <summary>The whole message.</summary>
    public ReadOnlySpan<byte> Message => message;

    /// <summary>Reads the header at the start of <paramref name="message"/>; false when shorter than 12 bytes.</summary>
    public static bool TryParse(ReadOnlySpan<byte> message, out DnsMessage dns)
    {
        dns = default;
        if (message.Length < HeaderLength)
        {
            return false;
        }

        dns = new DnsMessage(message);
        return true;
    }

    /// <summary>Finds the first question: false when QDCOUNT is 0 or its name or type/class run past the
    /// message, exceed 255 bytes or loop. <paramref name="question"/> spans the question's bytes as they
    /// stand (name, QTYPE, QCLASS), starting at offset 12.</summary>
    public bool TryGetFirstQuestion(out ReadOnlySpan<byte> question, out ushort qtype, out ushort qclass)
    {
        question = default;
        qtype = 0;
        qclass = 0;
        if (message.Length < HeaderLength || QuestionCount == 0)
        {
            return false;
        }

        if (!TryWalkName(message, HeaderLength, out int nameEnd))
        {
            return false;
        }

        if (nameEnd + 4 > message.Length)
        {
            return false;
        }

        qtype = BinaryPrimitives.ReadUInt16BigEndian(message[nameEnd..]);
        qclass = BinaryPrimitives.ReadUInt16BigEndian(message[(nameEnd + 2)..]);
        question = message[HeaderLength..(nameEnd + 4)];
        return true;
    }

    /// <summary>Walks the name at <paramref name="start"/>; <paramref name="end"/> is the offset just after
    /// the name where it starts (after its terminating zero or its first pointer). Never throws.</summary>
    public static bool TryWalkName(ReadOnlySpan<byte> message, int start, out int end)
    {
        end = 0;
        int position = start;
        int nameLength = 0;
        int hops = 0;
        bool jumped = false;
        while (true)
        {
            if ((uint)position >= (uint)message.Length)
            {
                return false;
            }

            byte length = message[position];
            if ((length & 0xC0) == 0xC0)
            {
                if (position + 1 >= message.Length || ++hops > MaxPointerHops)
                {
                    return false;
                }

                int target = ((length & 0x3F) << 8) | message[position + 1];

                // Only backwards, and only to a label that precedes this pointer: no loop can form.
                if (target >= position || target < HeaderLength)
                {
                    return false;
                }

                if (!jumped)
                {
                    end = position + 2;
                    jumped = true;
                }

                position = target;
                continue;
            }

            if ((length & 0xC0) != 0)
            {
                // 0x40 and 0x80 label types are reserved or obsolete (RFC 6891 §5).
                return false;
            }

            nameLength += length + 1;
            if (nameLength > MaxNameLength)
            {
                return false;
            }

            if (length == 0)
            {
                if (!jumped)
                {
                    end = position + 1;
                }

                return true;
            }

            position += length + 1;
        }
    }

    /// <summary>True when the two questions are the same, ignoring ASCII case in the name (resolvers may
    /// randomise case, draft-vixie-dnsext-dns0x20). Both spans come from TryGetFirstQuestion.</summary>
    public static bool QuestionsMatch(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        for (int i = 0; i < a.Length; i++)
        {
            byte x = a[i];
            byte y = b[i];
            if (x != y && ToLowerAscii(x) != ToLowerAscii(y))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Writes into <paramref name="destination"/> an answer to <paramref name="query"/> with only its
    /// header and first question: the query's ID, opcode and RD, QR and RA set, <paramref name="rcode"/>, and TC
    /// if <paramref name="truncated"/>. Returns the length, or 0 when the query has no valid question or the
    /// destination is too small.</summary>
    public static int WriteHeaderOnlyAnswer(ReadOnlySpan<byte> query, Span<byte> destination, int rcode, bool truncated)
    {
        if (!TryParse(query, out DnsMessage q) || !q.TryGetFirstQuestion(out ReadOnlySpan<byte> question, out _, out _))
        {
            return 0;
        }

        int length = HeaderLength + question.Length;
        if (destination.Length < length)
        {
            return 0;
        }

        ushort flags = (ushort)(FlagQr | (q.Flags & (0x7800 | FlagRd)) | FlagRa | (rcode & 0xF));
        if (truncated)
        {
            flags |= FlagTc;
        }

        ushort id = q.Id;

        // The question may be read from the same buffer: copy it before the header overwrites anything.
        question.CopyTo(destination[HeaderLength..]);
        BinaryPrimitives.WriteUInt16BigEndian(destination, id);
        BinaryPrimitives.WriteUInt16BigEndian(destination[FlagsOffset..], flags);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], 1);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(destination[8..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(destination[10..], 0);
        return length;
    }

    private static byte ToLowerAscii(byte b) => b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b | 0x20) : b;
}
