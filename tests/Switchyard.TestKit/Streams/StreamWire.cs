// QEMU's stream framing (`-netdev stream`/`socket`: a 4-byte big-endian length, then the frame), as a test
// peer speaks it over a connected socket, and the small Ethernet frames tests push through a switch.
// One copy for every test that plays a stream guest by hand.
using System.Buffers.Binary;
using System.Net.Sockets;
using Switchyard.Core.Frames;

namespace Switchyard.TestKit.Streams;

public static class StreamWire
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>An Ethernet frame of <paramref name="length"/> bytes from <paramref name="source"/> to
    /// <paramref name="destination"/>, EtherType <paramref name="etherType"/> (IPv4 unless told), its payload
    /// a fixed pattern so that captures and echoes can be compared byte for byte.</summary>
    public static byte[] Frame(ulong destination, ulong source, int length = 64, ushort etherType = 0x0800)
    {
        byte[] f = new byte[length];
        for (int i = 14; i < length; i++)
        {
            f[i] = (byte)(i * 13);
        }

        Ethernet.WriteMac(f, destination);
        Ethernet.WriteMac(f.AsSpan(6), source);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), etherType);
        return f;
    }

    /// <summary>The frame with its length prefix, as it goes on the wire.</summary>
    public static byte[] Prefixed(ReadOnlySpan<byte> frame)
    {
        byte[] wire = new byte[4 + frame.Length];
        BinaryPrimitives.WriteUInt32BigEndian(wire, (uint)frame.Length);
        frame.CopyTo(wire.AsSpan(4));
        return wire;
    }

    public static async Task SendFrameAsync(Socket s, byte[] frame) => await s.SendAsync(Prefixed(frame));

    /// <summary>The next frame from the peer; throws on end of stream and after <paramref name="timeout"/>
    /// (10 s unless told).</summary>
    public static async Task<byte[]> ReceiveFrameAsync(Socket s, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        byte[] prefix = await ReceiveExactlyAsync(s, 4, cts.Token);
        return await ReceiveExactlyAsync(s, (int)BinaryPrimitives.ReadUInt32BigEndian(prefix), cts.Token);
    }

    public static async Task<byte[]> ReceiveExactlyAsync(Socket s, int count, CancellationToken cancel)
    {
        byte[] buffer = new byte[count];
        int got = 0;
        while (got < count)
        {
            int n = await s.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, cancel);
            if (n == 0)
            {
                throw new EndOfStreamException($"the peer closed the stream after {got} of {count} bytes");
            }

            got += n;
        }

        return buffer;
    }

    /// <summary>The blocking form, for tests that drive a port on their own thread.</summary>
    public static byte[] ReceiveExactly(Socket s, int count)
    {
        s.ReceiveTimeout = (int)DefaultTimeout.TotalMilliseconds;
        byte[] buffer = new byte[count];
        int got = 0;
        while (got < count)
        {
            int n = s.Receive(buffer, got, count - got, SocketFlags.None);
            if (n == 0)
            {
                throw new EndOfStreamException($"the peer closed the stream after {got} of {count} bytes");
            }

            got += n;
        }

        return buffer;
    }
}
