using System.Buffers.Binary;
using Switchyard.Ports.Stream;

namespace Switchyard.Ports.Tests;

public class StreamFramingTests
{
    [Fact]
    public void TryRead_FewerThanFourBytes_NeedsMore()
    {
        Assert.Equal(FramingStatus.NeedMore, StreamFraming.TryRead([0, 0, 0], out _));
    }

    [Fact]
    public void TryRead_ZeroLengthPrefix_IsZeroLength()
    {
        Assert.Equal(FramingStatus.ZeroLength, StreamFraming.TryRead([0, 0, 0, 0, 1, 2], out _));
    }

    [Fact]
    public void TryRead_PrefixAboveQemuNetBufSize_IsOversized()
    {
        byte[] buffer = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(buffer, StreamFraming.MaxFrameLength + 1);
        Assert.Equal(FramingStatus.Oversized, StreamFraming.TryRead(buffer, out _));
    }

    [Fact]
    public void TryRead_PrefixAtQemuNetBufSize_IsAccepted()
    {
        byte[] buffer = new byte[4 + StreamFraming.MaxFrameLength];
        BinaryPrimitives.WriteUInt32BigEndian(buffer, StreamFraming.MaxFrameLength);
        Assert.Equal(FramingStatus.Frame, StreamFraming.TryRead(buffer, out int length));
        Assert.Equal(StreamFraming.MaxFrameLength, length);
    }

    [Fact]
    public void TryRead_PartialFrame_NeedsMoreUntilComplete()
    {
        byte[] buffer = [0, 0, 0, 20, .. new byte[20]];
        for (int cut = 4; cut < buffer.Length; cut++)
        {
            Assert.Equal(FramingStatus.NeedMore, StreamFraming.TryRead(buffer.AsSpan(0, cut), out _));
        }

        Assert.Equal(FramingStatus.Frame, StreamFraming.TryRead(buffer, out int length));
        Assert.Equal(20, length);
    }

    [Fact]
    public void WritePrefix_IsBigEndian()
    {
        byte[] prefix = new byte[4];
        StreamFraming.WritePrefix(prefix, 0x0102);
        Assert.Equal(new byte[] { 0, 0, 1, 2 }, prefix);
    }
}
