// The classic libpcap file format: what `switchyard capture` writes and Wireshark, tshark and tcpdump read.
//
// Theory of operation: a pcap stream is a 24-byte file header followed by records, each a 16-byte record
// header and the captured bytes (https://www.tcpdump.org/manpages/pcap-savefile.5.html, and
// draft-ietf-opsawg-pcap §4-§5). We always write the little-endian, microsecond-resolution variant
// (magic 0xa1b2c3d4 written in our byte order, version 2.4) with link type LINKTYPE_ETHERNET (1), so
// a reader needs no guessing. Everything here is pure span arithmetic: the capture queue writes record
// headers with it on the loop, and the CLI splits the stream it receives into whole records with
// TryReadRecordLength so that a file stopped by Ctrl-C never ends inside a record.
using System.Buffers.Binary;

namespace Switchyard.Core.Capture;

/// <summary>Writers and readers of classic pcap headers (little-endian, microseconds, Ethernet).</summary>
public static class Pcap
{
    /// <summary>The magic number of a microsecond-resolution pcap file, written in the writer's byte order.</summary>
    public const uint Magic = 0xa1b2c3d4;

    public const ushort VersionMajor = 2;

    public const ushort VersionMinor = 4;

    /// <summary>LINKTYPE_ETHERNET: IEEE 802.3 frames starting with the destination MAC.</summary>
    public const uint LinkTypeEthernet = 1;

    public const int FileHeaderLength = 24;

    public const int RecordHeaderLength = 16;

    /// <summary>tcpdump's default snap length (its MAXIMUM_SNAPLEN): every frame we carry fits whole.</summary>
    public const int DefaultSnapLength = 262144;

    /// <summary>Writes the file header. <paramref name="destination"/> must hold <see cref="FileHeaderLength"/> bytes.</summary>
    public static void WriteFileHeader(Span<byte> destination, int snapLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(snapLength, 1);
        Span<byte> h = destination[..FileHeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(h, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], VersionMajor);
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], VersionMinor);
        BinaryPrimitives.WriteInt32LittleEndian(h[8..], 0); // thiszone: timestamps are UTC
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], 0); // sigfigs: always 0
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], (uint)snapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], LinkTypeEthernet);
    }

    /// <summary>Writes one record header: the timestamp (microseconds since the Unix epoch), the number of
    /// bytes that follow (<paramref name="capturedLength"/>, at most the snap length) and the frame's length
    /// on the wire (<paramref name="originalLength"/>, kept when the snap length truncates).</summary>
    public static void WriteRecordHeader(Span<byte> destination, long unixMicroseconds, int capturedLength, int originalLength)
    {
        Span<byte> h = destination[..RecordHeaderLength];
        long seconds = Math.DivRem(unixMicroseconds, 1_000_000L, out long micros);
        if (micros < 0)
        {
            // Before 1970 only with a broken clock; keep ts_usec in 0..999999 as readers expect.
            seconds--;
            micros += 1_000_000L;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(h, (uint)seconds);
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], (uint)micros);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], (uint)capturedLength);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], (uint)originalLength);
    }

    /// <summary>True when <paramref name="header"/> is a file header we write (little-endian microsecond
    /// pcap, version 2.4, Ethernet); <paramref name="snapLength"/> is its snap length.</summary>
    public static bool TryReadFileHeader(ReadOnlySpan<byte> header, out int snapLength)
    {
        snapLength = 0;
        if (header.Length < FileHeaderLength
            || BinaryPrimitives.ReadUInt32LittleEndian(header) != Magic
            || BinaryPrimitives.ReadUInt16LittleEndian(header[4..]) != VersionMajor
            || BinaryPrimitives.ReadUInt16LittleEndian(header[6..]) != VersionMinor
            || BinaryPrimitives.ReadUInt32LittleEndian(header[20..]) != LinkTypeEthernet)
        {
            return false;
        }

        uint snap = BinaryPrimitives.ReadUInt32LittleEndian(header[16..]);
        if (snap is 0 or > int.MaxValue)
        {
            return false;
        }

        snapLength = (int)snap;
        return true;
    }

    /// <summary>
    /// Reads the record header at the start of <paramref name="data"/>. Returns false when fewer than
    /// <see cref="RecordHeaderLength"/> bytes are there (wait for more). Otherwise <paramref name="recordLength"/>
    /// is the whole record's length (header plus captured bytes), and <paramref name="valid"/> says whether its
    /// captured length is at most <paramref name="snapLength"/> and its original length (a stream that breaks
    /// that is not one we wrote, and must not be trusted to size anything).
    /// </summary>
    public static bool TryReadRecordLength(ReadOnlySpan<byte> data, int snapLength, out int recordLength, out bool valid)
    {
        recordLength = 0;
        valid = false;
        if (data.Length < RecordHeaderLength)
        {
            return false;
        }

        uint captured = BinaryPrimitives.ReadUInt32LittleEndian(data[8..]);
        uint original = BinaryPrimitives.ReadUInt32LittleEndian(data[12..]);
        valid = captured <= (uint)snapLength && captured <= original;
        recordLength = valid ? RecordHeaderLength + (int)captured : 0;
        return true;
    }
}
