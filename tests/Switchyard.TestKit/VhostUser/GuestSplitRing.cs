// The driver (guest) side of one split virtqueue in TestGuestMemory (virtio 1.2 §2.7), for tests.
//
// Theory of operation: it does what a virtio driver does: owns the descriptor table, hands out free
// descriptors, writes chains, puts heads in the available ring and publishes avail.idx (release), and
// later consumes used elements after an acquire read of used.idx (virtio 1.2 §2.7.13, §2.7.14). Under
// EVENT_IDX it keeps used_event at the next used index it wants to hear about, so the device signals
// the call eventfd for every publish the driver has not consumed yet. It does not suppress kicks: a
// driver may always notify (the device copes), and tests want every kick.
//
// Because tests need a hostile guest too, every field is also writable raw: any descriptor, ring entry
// or index, valid or not, with no checks. Rings are page aligned (beyond the 16/2/4-byte minimum) and
// allocated from the memory's bump allocator, each inside one region; the used ring has room for
// avail_event and the available ring for used_event whatever is negotiated.
//
// It is this version of the Virtio tests' GuestDriver (heap memory) for memfd-backed memory shared
// with a real back-end. What it owns: nothing but its bookkeeping; the memory belongs to the caller.
using Switchyard.TestKit.Memory;

namespace Switchyard.TestKit.VhostUser;

public sealed class GuestSplitRing
{
    public const ushort DescFlagNext = 1;
    public const ushort DescFlagWrite = 2;
    public const ushort DescFlagIndirect = 4;
    public const int DescriptorSize = 16;

    private const ulong PageSize = 4096;

    private readonly TestGuestMemory memory;
    private readonly Queue<ushort> free = new();
    private readonly bool[] inUse;

    /// <summary>Lays out ring <paramref name="index"/> with <paramref name="size"/> entries in <paramref name="memory"/>.</summary>
    public GuestSplitRing(TestGuestMemory memory, int index, int size)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (size <= 0 || size > 32768 || (size & (size - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "Queue Size must be a power of two in 1..32768.");
        }

        this.memory = memory;
        Index = index;
        Size = size;
        DescriptorTable = memory.Allocate((ulong)(DescriptorSize * size), PageSize);
        AvailRing = memory.Allocate((ulong)(6 + (2 * size)), PageSize);
        UsedRing = memory.Allocate((ulong)(6 + (8 * size)), PageSize);
        inUse = new bool[size];
        for (int i = 0; i < size; i++)
        {
            free.Enqueue((ushort)i);
        }
    }

    /// <summary>The vring index (rxq k = 2k, txq k = 2k + 1).</summary>
    public int Index { get; }

    /// <summary>Queue Size.</summary>
    public int Size { get; }

    public ulong DescriptorTable { get; }

    public ulong AvailRing { get; }

    public ulong UsedRing { get; }

    /// <summary>The driver's avail.idx: what it last published.</summary>
    public ushort AvailIdx { get; private set; }

    /// <summary>The next used index the driver will consume.</summary>
    public ushort LastUsedIdx { get; private set; }

    /// <summary>Whether VIRTIO_F_EVENT_IDX was negotiated (set after negotiation).</summary>
    public bool EventIdx { get; set; }

    /// <summary>Descriptors not in any chain the driver has outstanding.</summary>
    public int FreeCount => free.Count;

    /// <summary>The ring as SET_VRING_NUM/BASE/ADDR describe it; the device starts at the driver's avail.idx.</summary>
    public GuestRingLayout Layout => new(Size, DescriptorTable, AvailRing, UsedRing, AvailIdx);

    /// <summary>used.idx as the device last published it (acquire read).</summary>
    public ushort UsedIdx => memory.ReadU16Volatile(UsedRing + 2);

    /// <summary>used.flags (VIRTQ_USED_F_NO_NOTIFY).</summary>
    public ushort UsedFlags => memory.ReadU16Volatile(UsedRing);

    /// <summary>avail_event (under EVENT_IDX: the device wants a kick once the driver publishes this index).</summary>
    public ushort AvailEvent => memory.ReadU16Volatile(UsedRing + 4 + (ulong)(8 * Size));

    /// <summary>Takes a free descriptor index.</summary>
    /// <exception cref="InvalidOperationException">Every descriptor is in use.</exception>
    public ushort AllocateDescriptor()
    {
        if (!free.TryDequeue(out ushort index))
        {
            throw new InvalidOperationException($"Ring {Index}: all {Size} descriptors are in use.");
        }

        inUse[index] = true;
        return index;
    }

    /// <summary>Returns a descriptor index to the free list (a no-op for one already free).</summary>
    public void FreeDescriptor(ushort index)
    {
        if (inUse[index])
        {
            inUse[index] = false;
            free.Enqueue(index);
        }
    }

    /// <summary>Writes descriptor <paramref name="index"/> of the ring's table, unchecked.</summary>
    public void WriteDescriptor(ushort index, ulong address, uint length, ushort flags, ushort next = 0) =>
        WriteTableEntry(memory, DescriptorTable, index, address, length, flags, next);

    /// <summary>Writes entry <paramref name="index"/> of any descriptor table at <paramref name="table"/> (indirect tables), unchecked.</summary>
    public static void WriteTableEntry(TestGuestMemory memory, ulong table, int index, ulong address, uint length, ushort flags, ushort next = 0)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ulong at = table + (ulong)(DescriptorSize * index);
        memory.WriteU64(at, address);
        memory.WriteU32(at + 8, length);
        memory.WriteU16(at + 12, flags);
        memory.WriteU16(at + 14, next);
    }

    /// <summary>Writes avail.ring[<paramref name="availIndex"/> % N] = <paramref name="head"/>, unchecked.</summary>
    public void SetRingEntry(ushort availIndex, ushort head) =>
        memory.WriteU16(AvailRing + 4 + (ulong)(2 * (availIndex % Size)), head);

    /// <summary>Publishes avail.idx = <paramref name="idx"/> (release: ring entries and descriptors first). Any value.</summary>
    public void PublishAvailIdx(ushort idx)
    {
        AvailIdx = idx;
        memory.WriteU16Volatile(AvailRing + 2, idx);
    }

    /// <summary>Makes the chain at <paramref name="head"/> available: ring entry, then avail.idx + 1.</summary>
    public void Post(ushort head)
    {
        SetRingEntry(AvailIdx, head);
        PublishAvailIdx((ushort)(AvailIdx + 1));
    }

    public void SetAvailFlags(ushort flags) => memory.WriteU16Volatile(AvailRing, flags);

    /// <summary>Writes used_event (the avail ring's trailing field, used under EVENT_IDX).</summary>
    public void SetUsedEvent(ushort value) => memory.WriteU16Volatile(AvailRing + 4 + (ulong)(2 * Size), value);

    /// <summary>Consumes the next used element, if the device published one: (id = head, len = bytes written).</summary>
    public bool TryPopUsed(out uint id, out uint length)
    {
        // Acquire: pairs with the device's release store of used.idx, so the element below is the one it wrote.
        if (UsedIdx == LastUsedIdx)
        {
            id = 0;
            length = 0;
            return false;
        }

        ulong element = UsedRing + 4 + (ulong)(8 * (LastUsedIdx % Size));
        id = memory.ReadU32(element);
        length = memory.ReadU32(element + 4);
        LastUsedIdx++;
        if (EventIdx)
        {
            // "Interrupt me when you publish used index LastUsedIdx" (virtio 1.2 §2.7.10).
            SetUsedEvent(LastUsedIdx);
        }

        return true;
    }

    /// <summary>Sets both rings' indices (and the driver's shadows) as if <paramref name="next"/> chains had already
    /// gone round: what a ring looks like when a new back-end takes it over (SET_VRING_BASE = next).</summary>
    public void ResetIndices(ushort next)
    {
        PublishAvailIdx(next);
        memory.WriteU16Volatile(UsedRing + 2, next);
        LastUsedIdx = next;
        SetUsedEvent(next);
    }
}
