// QEMU's stream/socket wire format: each frame is a 4-byte big-endian length, then that many bytes
// of Ethernet frame, with no virtio-net header (QEMU net/stream_data.c, net/socket.c). A stream is
// a byte pipe, so a frame may arrive split across reads; this parser works on whatever is buffered
// and says whether a whole frame is there yet.
using System.Buffers.Binary;

namespace Switchyard.Ports.Stream;

/// <summary>Outcome of looking at the front of a stream's receive buffer.</summary>
public enum FramingStatus
{
    /// <summary>A whole frame is buffered.</summary>
    Frame,

    /// <summary>Not enough bytes yet.</summary>
    NeedMore,

    /// <summary>A length prefix of zero: the peer is broken; close the connection.</summary>
    ZeroLength,

    /// <summary>A length prefix above <see cref="StreamFraming.MaxFrameLength"/>; close the connection.</summary>
    Oversized,
}

public static class StreamFraming
{
    /// <summary>Length prefix size.</summary>
    public const int PrefixLength = 4;

    /// <summary>QEMU's NET_BUFSIZE (4096 + 65536): the largest frame QEMU sends or accepts on a stream.</summary>
    public const int MaxFrameLength = 4096 + 65536;

    /// <summary>Looks at the front of <paramref name="buffered"/>. On <see cref="FramingStatus.Frame"/>,
    /// the frame is <c>buffered.Slice(PrefixLength, frameLength)</c>.</summary>
    public static FramingStatus TryRead(ReadOnlySpan<byte> buffered, out int frameLength)
    {
        frameLength = 0;
        if (buffered.Length < PrefixLength)
        {
            return FramingStatus.NeedMore;
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(buffered);
        if (length == 0)
        {
            return FramingStatus.ZeroLength;
        }

        if (length > MaxFrameLength)
        {
            return FramingStatus.Oversized;
        }

        frameLength = (int)length;
        return buffered.Length - PrefixLength >= frameLength ? FramingStatus.Frame : FramingStatus.NeedMore;
    }

    /// <summary>Writes the length prefix for a frame of <paramref name="frameLength"/> bytes.</summary>
    public static void WritePrefix(Span<byte> destination, int frameLength) =>
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)frameLength);
}
