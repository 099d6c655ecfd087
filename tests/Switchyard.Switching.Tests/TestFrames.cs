// Frame builders for tests: exact bytes, so expected egress frames can be compared byte for byte.
using System.Buffers.Binary;
using Switchyard.Core.Frames;

namespace Switchyard.Switching.Tests;

internal static class TestFrames
{
    public const ulong MacA = 0x02_00_00_00_00_0A;
    public const ulong MacB = 0x02_00_00_00_00_0B;
    public const ulong MacC = 0x02_00_00_00_00_0C;
    public const ulong MacD = 0x02_00_00_00_00_0D;
    public const ulong Broadcast = 0xFF_FF_FF_FF_FF_FF;
    public const ulong Multicast = 0x01_00_5E_00_00_FB;

    /// <summary>dst, src, EtherType, then <paramref name="payloadLength"/> recognisable bytes.</summary>
    public static byte[] Untagged(ulong destination, ulong source, int payloadLength = 46, ushort etherType = Ethernet.EtherTypeIPv4)
    {
        byte[] frame = new byte[Ethernet.HeaderLength + payloadLength];
        WriteHeader(frame, destination, source);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(Ethernet.EtherTypeOffset), etherType);
        FillPayload(frame.AsSpan(Ethernet.HeaderLength));
        return frame;
    }

    /// <summary>The same frame as <see cref="Untagged"/> with an 802.1Q tag carrying <paramref name="tagControl"/>.</summary>
    public static byte[] Tagged(ulong destination, ulong source, ushort tagControl, int payloadLength = 46, ushort etherType = Ethernet.EtherTypeIPv4)
    {
        byte[] frame = new byte[Ethernet.HeaderLength + Ethernet.VlanTagLength + payloadLength];
        WriteHeader(frame, destination, source);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), Ethernet.EtherTypeVlan);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), tagControl);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), etherType);
        FillPayload(frame.AsSpan(Ethernet.HeaderLength + Ethernet.VlanTagLength));
        return frame;
    }

    private static void WriteHeader(Span<byte> frame, ulong destination, ulong source)
    {
        Ethernet.WriteMac(frame, destination);
        Ethernet.WriteMac(frame[Ethernet.AddressLength..], source);
    }

    private static void FillPayload(Span<byte> payload)
    {
        for (int i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)((i * 7) + 1);
        }
    }
}
