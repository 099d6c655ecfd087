// Test frames: recognisable Ethernet frames of any length, so a test can tell which one arrived.
using System.Buffers.Binary;

namespace Switchyard.VhostUser.Tests.Support;

internal static class Frames
{
    /// <summary>A frame of <paramref name="length"/> bytes (at least 14): broadcast destination, a locally administered
    /// source ending in <paramref name="seed"/>, EtherType 0x88B5 (local experimental), then a byte pattern from the seed.</summary>
    public static byte[] Make(int length, byte seed)
    {
        byte[] frame = new byte[Math.Max(length, 14)];
        frame.AsSpan(0, 6).Fill(0xFF);
        byte[] source = [0x02, 0x00, 0x00, 0x00, 0x00, seed];
        source.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x88B5);
        for (int i = 14; i < frame.Length; i++)
        {
            frame[i] = (byte)(seed + i);
        }

        return frame;
    }
}
