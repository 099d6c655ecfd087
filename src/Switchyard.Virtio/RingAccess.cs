// Little-endian reads and writes of ring fields, plain and volatile.
//
// Theory of operation: with VIRTIO_F_VERSION_1 every ring field is little-endian (virtio 1.2 §2.7,
// legacy native-endian rings are not supported). Plain fields go through BinaryPrimitives. The few
// fields that are published by one side and polled by the other (avail.idx, used.idx, used_event,
// avail_event, the flags words) are read and written with Volatile through a ref obtained from the
// span, which gives the acquire/release ordering the ring protocol needs without unsafe code. Those
// fields are naturally aligned because SplitQueue checks ring alignment (virtio 1.2 §2.7.1), so the
// 16-bit access is a single atomic load or store.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Switchyard.Virtio;

internal static class RingAccess
{
    public static ushort ReadLe16(ReadOnlySpan<byte> span, int offset) =>
        BinaryPrimitives.ReadUInt16LittleEndian(span[offset..]);

    public static void WriteLe16(Span<byte> span, int offset, ushort value) =>
        BinaryPrimitives.WriteUInt16LittleEndian(span[offset..], value);

    /// <summary>Volatile (acquire) read of an aligned little-endian u16.</summary>
    public static ushort ReadLe16Acquire(Span<byte> span, int offset)
    {
        ref ushort field = ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetReference(span.Slice(offset, sizeof(ushort))));
        ushort raw = Volatile.Read(ref field);
        return BitConverter.IsLittleEndian ? raw : BinaryPrimitives.ReverseEndianness(raw);
    }

    /// <summary>Volatile (release) write of an aligned little-endian u16.</summary>
    public static void WriteLe16Release(Span<byte> span, int offset, ushort value)
    {
        ref ushort field = ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetReference(span.Slice(offset, sizeof(ushort))));
        Volatile.Write(ref field, BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value));
    }
}
