// A guest-side split-virtqueue driver for tests: it lays out the three rings in HeapGuestMemory, writes
// descriptors, posts heads, and reads back what the device wrote.
//
// Theory of operation: it does what a virtio driver does (virtio 1.2 §2.7.13), and, because tests need
// a hostile guest, it also lets a test write any descriptor, ring entry or index it likes, valid or not.
// Rings live at the start of the memory; buffers come from a bump allocator after them. The happy-path
// helpers (Post, WriteDescriptor) allocate nothing, so the allocation test can drive the device with them.
using System.Buffers.Binary;

namespace Switchyard.Virtio.Tests.Support;

internal readonly record struct GuestBuffer(ulong Address, uint Length, bool Writable);

internal sealed class GuestDriver
{
    public const ushort Next = 1;
    public const ushort Write = 2;
    public const ushort Indirect = 4;

    private ulong nextFree;
    private int nextDescriptor;

    public GuestDriver(HeapGuestMemory memory, int size, bool eventIdx = false)
    {
        Memory = memory;
        Size = size;
        EventIdx = eventIdx;
        ulong desc = Align(memory.BaseAddress, 4096);
        ulong avail = desc + (ulong)(16 * size);
        ulong used = Align(avail + (ulong)(6 + (2 * size)), 4096);
        Layout = new SplitQueueLayout(size, desc, avail, used);
        nextFree = Align(used + (ulong)(6 + (8 * size)), 4096);
    }

    public HeapGuestMemory Memory { get; }

    public int Size { get; }

    public bool EventIdx { get; }

    public SplitQueueLayout Layout { get; }

    public NegotiatedFeatures RingFeatures(bool indirect = false) =>
        (EventIdx ? NegotiatedFeatures.EventIdx : 0) | (indirect ? NegotiatedFeatures.IndirectDesc : 0);

    /// <summary>The driver's avail.idx (what it last published).</summary>
    public ushort AvailIdx { get; private set; }

    public static ulong Align(ulong value, ulong alignment) => (value + alignment - 1) & ~(alignment - 1);

    public SplitQueue CreateQueue(bool indirect = false, ushort nextAvail = 0, ushort usedIdx = 0)
    {
        Assert.True(
            SplitQueue.TryCreate(Memory, Layout, RingFeatures(indirect), nextAvail, usedIdx, out SplitQueue? queue, out QueueConfigError error),
            error.ToString());
        return queue;
    }

    /// <summary>Allocates guest memory for a buffer (bump allocator, never freed).</summary>
    public ulong Alloc(int length, int alignment = 16)
    {
        ulong at = Align(nextFree, (ulong)alignment);
        nextFree = at + (ulong)Math.Max(length, 1);
        Assert.True(Memory.Contains(at, (ulong)length), "test memory exhausted");
        return at;
    }

    public static void WriteDescriptor(Span<byte> table, int index, ulong address, uint length, ushort flags, ushort next)
    {
        Span<byte> d = table.Slice(index * 16, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(d, address);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(d[12..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(d[14..], next);
    }

    public void WriteDescriptor(int index, ulong address, uint length, ushort flags, ushort next = 0) =>
        WriteDescriptor(Memory.At(Layout.DescriptorTable, 16 * Size), index, address, length, flags, next);

    /// <summary>Writes avail.ring[AvailIdx % N] = head and publishes avail.idx + 1.</summary>
    public void Post(ushort head)
    {
        SetRingEntry(AvailIdx, head);
        SetAvailIdx((ushort)(AvailIdx + 1));
    }

    public void SetRingEntry(ushort availIndex, ushort head) =>
        BinaryPrimitives.WriteUInt16LittleEndian(Memory.At(Layout.AvailRing + 4 + (ulong)(2 * (availIndex % Size)), 2), head);

    public void SetAvailIdx(ushort idx)
    {
        AvailIdx = idx;
        BinaryPrimitives.WriteUInt16LittleEndian(Memory.At(Layout.AvailRing + 2, 2), idx);
    }

    public void SetAvailFlags(ushort flags) => BinaryPrimitives.WriteUInt16LittleEndian(Memory.At(Layout.AvailRing, 2), flags);

    public void SetUsedEvent(ushort value) =>
        BinaryPrimitives.WriteUInt16LittleEndian(Memory.At(Layout.AvailRing + 4 + (ulong)(2 * Size), 2), value);

    public ushort UsedIdx => BinaryPrimitives.ReadUInt16LittleEndian(Memory.At(Layout.UsedRing + 2, 2));

    public ushort UsedFlags => BinaryPrimitives.ReadUInt16LittleEndian(Memory.At(Layout.UsedRing, 2));

    public ushort AvailEvent => BinaryPrimitives.ReadUInt16LittleEndian(Memory.At(Layout.UsedRing + 4 + (ulong)(8 * Size), 2));

    public void SetUsedIdxInRing(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Memory.At(Layout.UsedRing + 2, 2), value);

    /// <summary>The used element at used index <paramref name="usedIndex"/> (mod N).</summary>
    public (uint Id, uint Length) UsedElement(ushort usedIndex)
    {
        Span<byte> e = Memory.At(Layout.UsedRing + 4 + (ulong)(8 * (usedIndex % Size)), 8);
        return (BinaryPrimitives.ReadUInt32LittleEndian(e), BinaryPrimitives.ReadUInt32LittleEndian(e[4..]));
    }

    /// <summary>Writes a chain of the given buffers into consecutive free descriptor slots (wrapping) and posts
    /// its head. Returns the head.</summary>
    public ushort PostChain(params GuestBuffer[] buffers)
    {
        ushort head = WriteChain(buffers);
        Post(head);
        return head;
    }

    /// <summary>Writes a chain into consecutive free descriptor slots without posting it.</summary>
    public ushort WriteChain(params GuestBuffer[] buffers)
    {
        Assert.True(buffers.Length <= Size);
        ushort head = (ushort)nextDescriptor;
        for (int i = 0; i < buffers.Length; i++)
        {
            int index = (nextDescriptor + i) % Size;
            bool last = i == buffers.Length - 1;
            ushort flags = (ushort)((buffers[i].Writable ? Write : 0) | (last ? 0 : Next));
            WriteDescriptor(index, buffers[i].Address, buffers[i].Length, flags, last ? (ushort)0 : (ushort)((index + 1) % Size));
        }

        nextDescriptor = (nextDescriptor + buffers.Length) % Size;
        return head;
    }

    /// <summary>Allocates and posts a single-buffer chain of <paramref name="length"/> bytes.</summary>
    public (ushort Head, ulong Address) PostBuffer(int length, bool writable)
    {
        ulong address = Alloc(length);
        ushort head = PostChain(new GuestBuffer(address, (uint)length, writable));
        return (head, address);
    }

    /// <summary>Allocates a readable buffer holding <paramref name="content"/>.</summary>
    public GuestBuffer Readable(ReadOnlySpan<byte> content)
    {
        ulong address = Alloc(content.Length);
        content.CopyTo(Memory.At(address, content.Length));
        return new GuestBuffer(address, (uint)content.Length, false);
    }

    public GuestBuffer WritableBuffer(int length) => new(Alloc(length), (uint)length, true);

    public byte[] Read(ulong address, int length) => Memory.At(address, length).ToArray();
}
