// Reads structured values from a fuzzer's bytes. Once the input runs out every read returns zero (or an
// empty span) and IsEmpty is true, so a target never fails for lack of input and a short input is simply
// a short scenario.
using System.Buffers.Binary;

namespace Switchyard.Fuzz;

public ref struct FuzzReader(ReadOnlySpan<byte> input)
{
    private ReadOnlySpan<byte> rest = input;

    public readonly bool IsEmpty => rest.IsEmpty;

    public readonly int Remaining => rest.Length;

    public byte ReadByte()
    {
        if (rest.IsEmpty)
        {
            return 0;
        }

        byte b = rest[0];
        rest = rest[1..];
        return b;
    }

    public ushort ReadUInt16()
    {
        Span<byte> b = stackalloc byte[2];
        ReadBytes(2).CopyTo(b);
        return BinaryPrimitives.ReadUInt16LittleEndian(b);
    }

    public uint ReadUInt32()
    {
        Span<byte> b = stackalloc byte[4];
        ReadBytes(4).CopyTo(b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    /// <summary>Up to <paramref name="count"/> bytes (fewer when the input ends).</summary>
    public ReadOnlySpan<byte> ReadBytes(int count)
    {
        int n = Math.Min(Math.Max(count, 0), rest.Length);
        ReadOnlySpan<byte> taken = rest[..n];
        rest = rest[n..];
        return taken;
    }

    /// <summary>Everything left.</summary>
    public ReadOnlySpan<byte> ReadRest() => ReadBytes(rest.Length);
}
