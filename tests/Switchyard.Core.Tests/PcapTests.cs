// The pcap writer's bytes (pcap-savefile(5)): the file header, record headers, snap-length truncation
// that keeps the original length, and the capture queue's records as a reader sees them.
using Switchyard.Core.Capture;
using Switchyard.Core.Frames;
using Switchyard.TestKit;

namespace Switchyard.Core.Tests;

public sealed class PcapTests
{
    [Fact]
    public void FileHeader_DefaultSnapLength_IsLittleEndianMicrosecondPcap24Ethernet()
    {
        byte[] header = new byte[Pcap.FileHeaderLength];

        Pcap.WriteFileHeader(header, Pcap.DefaultSnapLength);

        Assert.Equal(
            Convert.FromHexString(
                "d4c3b2a1" // magic 0xa1b2c3d4, little-endian: microsecond timestamps
                + "0200" + "0400" // version 2.4
                + "00000000" // thiszone
                + "00000000" // sigfigs
                + "00000400" // snaplen 262144
                + "01000000"), // LINKTYPE_ETHERNET
            header);
    }

    [Fact]
    public void RecordHeader_Timestamp_SplitsIntoSecondsAndMicroseconds()
    {
        byte[] header = new byte[Pcap.RecordHeaderLength];

        Pcap.WriteRecordHeader(header, 1_767_225_600_123_456L, capturedLength: 60, originalLength: 1514);

        Assert.Equal(
            Convert.FromHexString(
                "00b95569" // ts_sec 1767225600 (2026-01-01T00:00:00Z)
                + "40e20100" // ts_usec 123456
                + "3c000000" // incl_len 60
                + "ea050000"), // orig_len 1514
            header);
    }

    [Fact]
    public async Task Capture_OneFrame_HeaderThenRecordWithClockTimestamp()
    {
        var clock = new ManualClock();
        var capture = new PacketCapture(clock: clock);
        byte[] frame = Frame(60);

        Assert.True(capture.Add(frame));
        byte[] written = await Drain(capture);

        long micros = (clock.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks / 10;
        byte[] expected = new byte[Pcap.FileHeaderLength + Pcap.RecordHeaderLength + frame.Length];
        Pcap.WriteFileHeader(expected, Pcap.DefaultSnapLength);
        Pcap.WriteRecordHeader(expected.AsSpan(Pcap.FileHeaderLength), micros, 60, 60);
        frame.CopyTo(expected, Pcap.FileHeaderLength + Pcap.RecordHeaderLength);
        Assert.Equal(expected, written);
        Assert.Equal(written.Length, capture.BytesWritten);
    }

    [Fact]
    public async Task Capture_FrameLongerThanSnapLength_TruncatedAndKeepsOriginalLength()
    {
        var capture = new PacketCapture(snapLength: 64, clock: new ManualClock());
        byte[] frame = Frame(1514);

        capture.Add(frame);
        PcapFile file = PcapFile.Parse(await Drain(capture));

        Assert.Equal(64, file.SnapLength);
        PcapRecord record = Assert.Single(file.Records);
        Assert.Equal(1514, record.OriginalLength);
        Assert.Equal(frame[..64], record.Data);
    }

    [Fact]
    public async Task Capture_EgressFrameWithTagInsert_RecordsTheFrameAsItLeaves()
    {
        var capture = new PacketCapture(clock: new ManualClock());
        byte[] frame = Frame(100);
        var egress = new EgressFrame(frame, VlanRewrite.Insert, 0x2064, OffloadInfo.None);
        byte[] leaves = new byte[egress.Length];
        egress.CopyTo(leaves);

        capture.Add(in egress);
        PcapRecord record = Assert.Single(PcapFile.Parse(await Drain(capture)).Records);

        Assert.Equal(104, record.OriginalLength);
        Assert.Equal(leaves, record.Data);
    }

    [Fact]
    public async Task Capture_RecordsWrapAroundTheQueue_BytesStayExact()
    {
        // 300 bytes of queue and 90-byte records: the writer drains after every few frames, so records
        // straddle the end of the ring at several offsets.
        var capture = new PacketCapture(bufferBytes: 300, clock: new ManualClock());
        var all = new List<byte[]>();
        using var sink = new MemoryStream();
        Task<string> writer = capture.WriteToAsync(sink, CancellationToken.None);
        for (int i = 0; i < 40; i++)
        {
            byte[] frame = Frame(74, seed: i);
            while (!(i % 2 == 0 ? capture.Add(frame) : AddAsEgress(capture, frame)))
            {
                await Task.Delay(1); // full: let the writer catch up (the loop would drop instead)
            }

            all.Add(frame);
        }

        capture.End("test");
        Assert.Equal("test", await writer.WaitAsync(TimeSpan.FromSeconds(10)));

        PcapFile file = PcapFile.Parse(sink.ToArray());
        Assert.Equal(all.Count, file.Records.Count);
        for (int i = 0; i < all.Count; i++)
        {
            Assert.Equal(all[i], file.Records[i].Data);
        }
    }

    [Fact]
    public async Task Capture_QueueFull_DropsAndCountsWithoutBlocking()
    {
        var capture = new PacketCapture(bufferBytes: 1024, clock: new ManualClock());
        int queued = 0;
        for (int i = 0; i < 100; i++)
        {
            if (capture.Add(Frame(60, seed: i)))
            {
                queued++;
            }
        }

        Assert.Equal(1024 / (16 + 60), queued);
        Assert.Equal(100 - queued, capture.Dropped);
        Assert.Equal(queued, capture.Frames);

        PcapFile file = PcapFile.Parse(await Drain(capture));
        Assert.Equal(queued, file.Records.Count);
        Assert.Equal(Frame(60, seed: 0), file.Records[0].Data);
    }

    [Fact]
    public async Task Capture_MaxFramesQueued_EndsWithCountReachedAfterWritingThem()
    {
        var capture = new PacketCapture(maxFrames: 3, clock: new ManualClock());
        using var sink = new MemoryStream();
        Task<string> writer = capture.WriteToAsync(sink, CancellationToken.None);

        for (int i = 0; i < 5; i++)
        {
            Assert.True(capture.Add(Frame(60, seed: i)));
        }

        Assert.Equal(PacketCapture.CountReached, await writer.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(3, capture.Frames);
        Assert.Equal(3, PcapFile.Parse(sink.ToArray()).Records.Count);
    }

    [Fact]
    public async Task Capture_EndedWhileTheWriterWaits_WriterReturnsTheReason()
    {
        var capture = new PacketCapture(clock: new ManualClock());
        using var sink = new MemoryStream();
        Task<string> writer = capture.WriteToAsync(sink, CancellationToken.None);
        await Task.Delay(50);

        Assert.True(capture.End("client hung up"));
        Assert.False(capture.End("later reasons lose"));

        Assert.Equal("client hung up", await writer.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.True(capture.Add(Frame(60))); // ended: taken and ignored, not a drop
        Assert.Equal(0, capture.Frames);
        Assert.Empty(PcapFile.Parse(sink.ToArray()).Records);
    }

    [Fact]
    public async Task Capture_ProducerThreadAndWriterConcurrently_EveryFrameWrittenOrCountedAsDropped()
    {
        const int Frames = 20000;
        var capture = new PacketCapture(bufferBytes: 4096);
        using var sink = new MemoryStream();
        Task<string> writer = capture.WriteToAsync(sink, CancellationToken.None);
        var producer = new Thread(() =>
        {
            for (int i = 0; i < Frames; i++)
            {
                capture.Add(Frame(60 + (i % 64), seed: i));
            }

            capture.End("done");
        });
        producer.Start();
        producer.Join();

        Assert.Equal("done", await writer.WaitAsync(TimeSpan.FromSeconds(30)));
        PcapFile file = PcapFile.Parse(sink.ToArray());
        Assert.Equal(Frames, file.Records.Count + capture.Dropped);
        Assert.Equal(capture.Frames, file.Records.Count);
        foreach (PcapRecord r in file.Records)
        {
            // Each record is one whole frame as it was added: its seed byte says which, and the length matches it.
            int seed = r.Data[14] | (r.Data[15] << 8);
            Assert.Equal(Frame(60 + (seed % 64), seed), r.Data);
        }
    }

    private static bool AddAsEgress(PacketCapture capture, byte[] frame)
    {
        var egress = new EgressFrame(frame);
        return capture.Add(in egress);
    }

    private static async Task<byte[]> Drain(PacketCapture capture)
    {
        capture.End("test");
        using var sink = new MemoryStream();
        await capture.WriteToAsync(sink, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        return sink.ToArray();
    }

    /// <summary>An Ethernet frame of <paramref name="length"/> bytes whose bytes 14-15 hold the seed.</summary>
    private static byte[] Frame(int length, int seed = 0)
    {
        byte[] frame = new byte[length];
        for (int i = 0; i < length; i++)
        {
            frame[i] = (byte)((i * 31) + seed);
        }

        frame[12] = 0x08;
        frame[13] = 0x00;
        frame[14] = (byte)seed;
        frame[15] = (byte)(seed >> 8);
        return frame;
    }
}
