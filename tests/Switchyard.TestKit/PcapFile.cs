// A strict reader of classic pcap streams for tests, written from the format description
// (pcap-savefile(5)) rather than from Switchyard's writer, so a test that reads what the writer wrote
// checks the writer against the format and not against itself. It accepts only what `switchyard
// capture` promises: little-endian microsecond pcap 2.4, LINKTYPE_ETHERNET, and whole records.
using System.Buffers.Binary;

namespace Switchyard.TestKit;

/// <summary>One pcap record: the timestamp, the length on the wire and the captured bytes.</summary>
public sealed record PcapRecord(long Seconds, long Microseconds, int OriginalLength, byte[] Data);

/// <summary>A parsed pcap stream.</summary>
public sealed record PcapFile(int SnapLength, IReadOnlyList<PcapRecord> Records)
{
    /// <summary>Parses <paramref name="bytes"/>; throws <see cref="FormatException"/> on anything a reader would reject.</summary>
    public static PcapFile Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 24)
            throw new FormatException($"a pcap stream starts with a 24-byte header; got {bytes.Length} bytes");
        if (!bytes[..4].SequenceEqual(new byte[] { 0xd4, 0xc3, 0xb2, 0xa1 }))
            throw new FormatException($"magic {Convert.ToHexString(bytes[..4])} is not d4c3b2a1 (little-endian, microseconds)");
        if (BinaryPrimitives.ReadUInt16LittleEndian(bytes[4..]) != 2 || BinaryPrimitives.ReadUInt16LittleEndian(bytes[6..]) != 4)
            throw new FormatException("version is not 2.4");
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes[20..]) != 1)
            throw new FormatException("link type is not LINKTYPE_ETHERNET (1)");

        int snap = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(bytes[16..]));
        var records = new List<PcapRecord>();
        int at = 24;
        while (at < bytes.Length)
        {
            if (bytes.Length - at < 16)
                throw new FormatException($"a partial record header at offset {at}");
            uint seconds = BinaryPrimitives.ReadUInt32LittleEndian(bytes[at..]);
            uint micros = BinaryPrimitives.ReadUInt32LittleEndian(bytes[(at + 4)..]);
            int captured = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(bytes[(at + 8)..]));
            int original = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(bytes[(at + 12)..]));
            if (micros >= 1_000_000)
                throw new FormatException($"ts_usec {micros} at offset {at} is not below one second");
            if (captured > snap || captured > original)
                throw new FormatException($"record at offset {at}: incl_len {captured} exceeds the snap length {snap} or orig_len {original}");
            if (bytes.Length - at - 16 < captured)
                throw new FormatException($"record at offset {at} is cut short");
            records.Add(new PcapRecord(seconds, micros, original, bytes.Slice(at + 16, captured).ToArray()));
            at += 16 + captured;
        }

        return new PcapFile(snap, records);
    }
}
