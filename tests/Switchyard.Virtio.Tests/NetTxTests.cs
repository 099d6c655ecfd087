// Tests of NetTx: the zero-copy and gather paths and one test per TX chain rule.
using Switchyard.Virtio.Tests.Support;

namespace Switchyard.Virtio.Tests;

/// <summary>Frames out of TX chains: zero-copy versus gather, and one test per TX chain rule.</summary>
public class NetTxTests
{
    private readonly HeapGuestMemory memory = new(0x10_0000, 1 << 20);
    private readonly GuestDriver driver;
    private readonly SplitQueue queue;
    private readonly DescriptorChain chain = new(16);
    private readonly byte[] scratch = new byte[NetTx.ScratchLength];

    public NetTxTests()
    {
        driver = new GuestDriver(memory, 16);
        queue = driver.CreateQueue();
    }

    private static byte[] Frame(int length)
    {
        byte[] frame = new byte[length];
        for (int i = 0; i < length; i++)
        {
            frame[i] = (byte)(i * 7);
        }

        return frame;
    }

    private static byte[] Header(byte flags = 0, ushort csumStart = 0, ushort csumOffset = 0)
    {
        byte[] bytes = new byte[VirtioNetHeader.Size];
        new VirtioNetHeader(flags, 0, 0, 0, csumStart, csumOffset, 0).Write(bytes);
        return bytes;
    }

    private NetTxError Pop(out VirtioNetHeader header, out byte[] frame, out bool zeroCopy, NegotiatedFeatures features = NegotiatedFeatures.None)
    {
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        NetTxError error = NetTx.TryGetFrame(memory, chain, features, scratch, out header, out ReadOnlySpan<byte> span, out zeroCopy);
        frame = span.ToArray();
        return error;
    }

    [Fact]
    public void TryGetFrame_HeaderAndFrameInOneBuffer_ZeroCopySpanIntoGuestMemory()
    {
        byte[] frame = Frame(1514);
        GuestBuffer buffer = driver.Readable([.. Header(), .. frame]);
        driver.PostChain(buffer);
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        Assert.Equal(NetTxError.None, NetTx.TryGetFrame(memory, chain, NegotiatedFeatures.None, scratch, out _, out ReadOnlySpan<byte> span, out bool zeroCopy));
        Assert.True(zeroCopy);
        Assert.Equal(frame, span.ToArray());

        // The span is the guest's memory itself, not a copy.
        memory.At(buffer.Address + 12, 1)[0] = 0xEE;
        Assert.Equal(0xEE, span[0]);
    }

    [Fact]
    public void TryGetFrame_HeaderInOwnBuffer_ZeroCopy()
    {
        byte[] frame = Frame(60);
        driver.PostChain(driver.Readable(Header()), driver.Readable(frame));
        Assert.Equal(NetTxError.None, Pop(out _, out byte[] got, out bool zeroCopy));
        Assert.True(zeroCopy);
        Assert.Equal(frame, got);
    }

    [Fact]
    public void TryGetFrame_FrameSpreadOverBuffers_GatheredIntoScratch()
    {
        byte[] frame = Frame(3000);
        byte[] stream = [.. Header(), .. frame];
        driver.PostChain(driver.Readable(stream.AsSpan(0, 5)), driver.Readable(stream.AsSpan(5, 1000)), driver.Readable(stream.AsSpan(1005, 1)), driver.Readable(stream.AsSpan(1006)));
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        Assert.Equal(NetTxError.None, NetTx.TryGetFrame(memory, chain, NegotiatedFeatures.None, scratch, out _, out ReadOnlySpan<byte> span, out bool zeroCopy));
        Assert.False(zeroCopy);
        Assert.Equal(frame, span.ToArray());
        Assert.True(span.Overlaps(scratch));
    }

    [Fact]
    public void TryGetFrame_HeaderStraddlingBuffers_ParsedWhole()
    {
        byte[] header = Header(VirtioNetHeader.FlagNeedsChecksum, 34, 16);
        byte[] frame = Frame(100);
        driver.PostChain(driver.Readable(header.AsSpan(0, 7)), driver.Readable([.. header.AsSpan(7), .. frame]));
        Assert.Equal(NetTxError.None, Pop(out VirtioNetHeader parsed, out byte[] got, out bool zeroCopy, NegotiatedFeatures.Csum));
        Assert.True(zeroCopy);
        Assert.Equal(34, parsed.ChecksumStart);
        Assert.Equal(16, parsed.ChecksumOffset);
        Assert.Equal(frame, got);
    }

    [Fact]
    public void TryGetFrame_WritableDescriptor_ReturnsWritableDescriptor()
    {
        driver.PostChain(driver.Readable([.. Header(), .. Frame(60)]), driver.WritableBuffer(64));
        Assert.Equal(NetTxError.WritableDescriptor, Pop(out _, out _, out _));
    }

    [Fact]
    public void TryGetFrame_OnlyWritableDescriptors_ReturnsWritableDescriptor()
    {
        driver.PostChain(driver.WritableBuffer(100));
        Assert.Equal(NetTxError.WritableDescriptor, Pop(out _, out _, out _));
    }

    [Fact]
    public void TryGetFrame_ChainShorterThanHeader_ReturnsShorterThanHeader()
    {
        driver.PostChain(driver.Readable(new byte[11]));
        Assert.Equal(NetTxError.ShorterThanHeader, Pop(out _, out _, out _));
    }

    [Fact]
    public void TryGetFrame_FrameShorterThanEthernetHeader_ReturnsFrameTooShort()
    {
        driver.PostChain(driver.Readable([.. Header(), .. Frame(13)]));
        Assert.Equal(NetTxError.FrameTooShort, Pop(out _, out _, out _));
    }

    [Fact]
    public void TryGetFrame_FrameLongerThan65550_ReturnsFrameTooLong()
    {
        driver.PostChain(driver.Readable([.. Header(), .. Frame(65551)]));
        Assert.Equal(NetTxError.FrameTooLong, Pop(out _, out _, out _));
    }

    [Fact]
    public void TryGetFrame_Frame65550Gathered_Accepted()
    {
        byte[] frame = Frame(65550);
        driver.PostChain(driver.Readable(Header()), driver.Readable(frame.AsSpan(0, 30000)), driver.Readable(frame.AsSpan(30000)));
        Assert.Equal(NetTxError.None, Pop(out _, out byte[] got, out bool zeroCopy));
        Assert.False(zeroCopy);
        Assert.Equal(frame, got);
    }

    [Fact]
    public void TryGetFrame_InvalidHeader_ReturnsHeaderRule()
    {
        driver.PostChain(driver.Readable([.. Header(VirtioNetHeader.FlagNeedsChecksum, 34, 16), .. Frame(60)]));
        Assert.Equal(NetTxError.ChecksumNotNegotiated, Pop(out _, out _, out _));
    }

    [Fact]
    public void TryGetFrame_ScratchTooSmall_Throws()
    {
        driver.PostChain(driver.Readable([.. Header(), .. Frame(60)]));
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        Assert.Throws<ArgumentException>(() => NetTx.TryGetFrame(memory, chain, NegotiatedFeatures.None, new byte[100], out _, out _, out _));
    }
}
