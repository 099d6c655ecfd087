// TCP options that matter to a host-side endpoint: MSS (RFC 9293 §3.2), window scale and timestamps
// (RFC 7323 §2, §3) and SACK-permitted (RFC 2018 §2).
//
// Theory of operation: TryParse walks the option bytes of one header (at most 40) once, kind by kind.
// End-of-list stops the walk; NOP is skipped; every other kind must carry a length byte of at least 2
// that stays inside the options, or the walk stops and returns false (the options seen so far are
// kept, so a caller may still use a well-formed MSS that came before the garbage). Known kinds with a
// wrong length are ignored, as RFC 9293 §3.1 asks of a receiver. Unknown kinds are skipped. The walk
// is bounded by the span length and never throws. Write* builders fill a caller's span and pad to a
// multiple of 4 with NOPs so the result is a valid data-offset length.
using System.Buffers.Binary;

namespace Switchyard.Protocols;

/// <summary>The options of one TCP header that this endpoint reads.</summary>
public struct TcpOptions
{
    public const byte KindEnd = 0;
    public const byte KindNop = 1;
    public const byte KindMss = 2;
    public const byte KindWindowScale = 3;
    public const byte KindSackPermitted = 4;
    public const byte KindTimestamps = 8;

    /// <summary>RFC 7323 §2.3: a shift above 14 is used as 14.</summary>
    public const int MaxWindowScale = 14;

    /// <summary>Most bytes of options a header can carry (data offset 15 words).</summary>
    public const int MaxLength = 40;

    /// <summary>Bytes <see cref="WriteSyn"/> writes at most (MSS 4 + NOP + WS 3 + SACK-permitted 2, padded).</summary>
    public const int MaxSynLength = 12;

    /// <summary>The MSS option's value, or 0 when absent.</summary>
    public ushort Mss { get; set; }

    /// <summary>The window scale shift (0..14, clamped), or -1 when absent.</summary>
    public int WindowScale { get; set; }

    public bool SackPermitted { get; set; }

    public bool HasTimestamps { get; set; }

    public uint TimestampValue { get; set; }

    public uint TimestampEcho { get; set; }

    /// <summary>No options at all.</summary>
    public static TcpOptions None => new() { WindowScale = -1 };

    /// <summary>Reads the options area of a TCP header (the bytes between the fixed 20 and the data
    /// offset). False when the list is malformed (a length byte below 2 or past the end); the options
    /// read before the fault are kept. Never throws.</summary>
    public static bool TryParse(ReadOnlySpan<byte> options, out TcpOptions result)
    {
        result = None;
        if (options.Length > MaxLength)
        {
            options = options[..MaxLength];
        }

        int i = 0;
        while (i < options.Length)
        {
            byte kind = options[i];
            if (kind == KindEnd)
            {
                return true;
            }

            if (kind == KindNop)
            {
                i++;
                continue;
            }

            if (i + 1 >= options.Length)
            {
                return false;
            }

            int length = options[i + 1];
            if (length < 2 || i + length > options.Length)
            {
                return false;
            }

            ReadOnlySpan<byte> value = options.Slice(i + 2, length - 2);
            switch (kind)
            {
                case KindMss when length == 4:
                    result.Mss = BinaryPrimitives.ReadUInt16BigEndian(value);
                    break;
                case KindWindowScale when length == 3:
                    result.WindowScale = Math.Min((int)value[0], MaxWindowScale);
                    break;
                case KindSackPermitted when length == 2:
                    result.SackPermitted = true;
                    break;
                case KindTimestamps when length == 10:
                    result.HasTimestamps = true;
                    result.TimestampValue = BinaryPrimitives.ReadUInt32BigEndian(value);
                    result.TimestampEcho = BinaryPrimitives.ReadUInt32BigEndian(value[4..]);
                    break;
                default:
                    break;
            }

            i += length;
        }

        return true;
    }

    /// <summary>Reads the options of a parsed header (never throws).</summary>
    public static bool TryParse(in TcpHeader header, out TcpOptions result) => TryParse(header.Options, out result);

    /// <summary>Writes the options of a SYN or SYN-ACK: MSS, window scale (when <paramref name="windowScale"/>
    /// is 0..14) and SACK-permitted (when asked), padded with NOPs to a multiple of 4. Returns the length
    /// written, or 0 when <paramref name="destination"/> is shorter than <see cref="MaxSynLength"/>.</summary>
    public static int WriteSyn(Span<byte> destination, ushort mss, int windowScale, bool sackPermitted)
    {
        if (destination.Length < MaxSynLength)
        {
            return 0;
        }

        destination[0] = KindMss;
        destination[1] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], mss);
        int n = 4;
        if (windowScale >= 0)
        {
            destination[n++] = KindNop;
            destination[n++] = KindWindowScale;
            destination[n++] = 3;
            destination[n++] = (byte)Math.Min(windowScale, MaxWindowScale);
        }

        if (sackPermitted)
        {
            destination[n++] = KindNop;
            destination[n++] = KindNop;
            destination[n++] = KindSackPermitted;
            destination[n++] = 2;
        }

        return n;
    }

    /// <summary>Writes a timestamps option (NOP, NOP, kind 8, length 10, TSval, TSecr): 12 bytes, or 0 when
    /// <paramref name="destination"/> is too short.</summary>
    public static int WriteTimestamps(Span<byte> destination, uint value, uint echo)
    {
        if (destination.Length < 12)
        {
            return 0;
        }

        destination[0] = KindNop;
        destination[1] = KindNop;
        destination[2] = KindTimestamps;
        destination[3] = 10;
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], value);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], echo);
        return 12;
    }
}
