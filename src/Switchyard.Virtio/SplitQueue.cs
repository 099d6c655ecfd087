// The device side of one split virtqueue (virtio 1.2 §2.7), as a pure state machine over guest memory.
//
// Theory of operation. The driver (guest) offers buffers by writing descriptor chains into the
// descriptor table, their heads into the available ring, and then bumping avail.idx. The device
// (us) pops heads from next_avail up to avail.idx, walks and validates each chain, copies it into a
// caller-owned DescriptorChain, and later returns it by writing {id, len} into the used ring and
// bumping used.idx. Indices are free-running 16-bit counters; slot = idx % N.
//
//   TryPop         read avail.idx (acquire), check it moved at most N past next_avail, read the head,
//                  walk the chain with every rule of STYLE.md habit 2, copy it out, next_avail++.
//   PushUsed       write one used element at used_idx % N, used_idx++ (shadow only, not yet visible).
//   PublishUsed    store used.idx (release), full fence, then decide whether the driver wants an
//                  interrupt (used_event under EVENT_IDX, else avail.flags NO_INTERRUPT). One per batch.
//   RewindTo       un-pop chains popped since a mark (the RX path uses it when a frame cannot be
//                  completed); nothing is written to the guest, so the driver cannot tell.
//   Enable/DisableNotifications, SetAvailEvent: kick suppression, with the standard re-check.
//
// Memory ordering (the three fences, each commented where it is):
//   1. avail.idx is read with acquire semantics before the ring entries and descriptors it covers;
//   2. used elements and payload bytes are written before used.idx is stored with release semantics;
//   3. a full fence separates the store of used.idx / avail_event / used.flags from the load of
//      used_event / avail.flags / avail.idx that decides about notifications.
//
// What it trusts: nothing the guest wrote. Ring indices, heads, descriptors and the addresses they
// name are checked before use, and each descriptor is read exactly once. Guest misbehaviour ends in a
// QueueError with a disposition: the chain goes back empty, or the queue marks itself broken and pops
// nothing more. It never throws on guest input; it throws only when our own code breaks a contract.
//
// What it owns: the device's shadow state (next_avail, the last avail.idx seen, used_idx, the used
// index last published) and nothing in guest memory. It holds no spans: every operation fetches the
// ring spans it needs through IGuestMemory.TryGetSpan, so a memory table that changes between
// vhost-user messages needs only Remap (which re-checks that the rings still lie inside it). Ring
// layout is checked once at configuration (alignment and that each ring lies inside one region), so
// on the data path a failed fetch can only mean the memory changed without Remap: the queue then
// marks itself broken. Not thread-safe: it belongs to the event loop that owns the port.
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using Switchyard.Core.Memory;

namespace Switchyard.Virtio;

/// <summary>Where a split virtqueue lives: Queue Size and the guest-physical addresses of its three parts
/// (vhost-user SET_VRING_NUM and SET_VRING_ADDR, the latter translated to guest-physical).</summary>
public readonly record struct SplitQueueLayout(int Size, ulong DescriptorTable, ulong AvailRing, ulong UsedRing);

/// <summary>The device side of one split virtqueue. Every member runs on the event loop that owns the queue.</summary>
public sealed class SplitQueue
{
    /// <summary>The largest Queue Size (virtio 1.2 §2.7).</summary>
    public const int MaxSize = 32768;

    internal const int DescriptorSize = 16;
    internal const ushort DescFlagNext = 1;
    internal const ushort DescFlagWrite = 2;
    internal const ushort DescFlagIndirect = 4;
    internal const ushort AvailFlagNoInterrupt = 1;
    internal const ushort UsedFlagNoNotify = 1;

    // Offsets inside the rings (virtio 1.2 §2.7.6, §2.7.8).
    private const int FlagsOffset = 0;
    private const int IdxOffset = 2;
    private const int RingOffset = 4;
    private const int UsedElementSize = 8;

    private readonly int size;
    private readonly int mask;
    private readonly SplitQueueLayout layout;
    private readonly bool eventIdx;
    private readonly bool indirectDesc;
    private readonly int descriptorTableBytes;
    private readonly int availRingBytes;
    private readonly int usedRingBytes;
    private readonly int usedEventOffset;
    private readonly int availEventOffset;

    private IGuestMemory memory;
    private ushort nextAvail;
    private ushort lastSeenAvail;
    private ushort usedIdx;
    private ushort publishedUsed;
    private bool broken;

    private SplitQueue(IGuestMemory memory, SplitQueueLayout layout, NegotiatedFeatures features, ushort nextAvail, ushort usedIdx)
    {
        this.memory = memory;
        this.layout = layout;
        size = layout.Size;
        mask = size - 1;
        eventIdx = (features & NegotiatedFeatures.EventIdx) != 0;
        indirectDesc = (features & NegotiatedFeatures.IndirectDesc) != 0;
        (descriptorTableBytes, availRingBytes, usedRingBytes) = RingBytes(size, eventIdx);
        usedEventOffset = RingOffset + (2 * size);
        availEventOffset = RingOffset + (UsedElementSize * size);
        this.nextAvail = nextAvail;
        lastSeenAvail = nextAvail;
        this.usedIdx = usedIdx;
        publishedUsed = usedIdx;
    }

    /// <summary>Queue Size N.</summary>
    public int Size => size;

    /// <summary>The layout this queue was configured with.</summary>
    public SplitQueueLayout Layout => layout;

    /// <summary>The guest memory the queue currently works on.</summary>
    public IGuestMemory Memory => memory;

    /// <summary>Whether VIRTIO_F_EVENT_IDX was negotiated.</summary>
    public bool EventIdx => eventIdx;

    /// <summary>Whether VIRTIO_F_INDIRECT_DESC was negotiated.</summary>
    public bool IndirectDesc => indirectDesc;

    /// <summary>The next available ring index the device will pop: the value GET_VRING_BASE reports.</summary>
    public ushort NextAvail => nextAvail;

    /// <summary>The device's used index, including elements pushed but not yet published.</summary>
    public ushort UsedIdx => usedIdx;

    /// <summary>The used index the driver can currently see (the last one published).</summary>
    public ushort PublishedUsedIdx => publishedUsed;

    /// <summary>True after the guest corrupted the queue's state (see <see cref="QueueErrorDisposition.StopQueue"/>).
    /// A broken queue pops nothing more; PushUsed and PublishUsed still work so chains already popped can be
    /// returned.</summary>
    public bool IsBroken => broken;

    /// <summary>When set, every write to the used ring is recorded with <see cref="IGuestMemory.LogDirty"/>
    /// (vhost-user VHOST_VRING_F_LOG during live migration).</summary>
    public bool LogUsed { get; set; }

    /// <summary>Configures a queue after checking Queue Size, ring alignment, and that each ring (with its
    /// event field under EVENT_IDX) lies inside one region of <paramref name="memory"/>.</summary>
    /// <param name="memory">Guest memory; rings and buffers are reached only through it.</param>
    /// <param name="layout">Queue Size and ring guest-physical addresses.</param>
    /// <param name="features">Negotiated features; only INDIRECT_DESC and EVENT_IDX matter here.</param>
    /// <param name="nextAvail">The first available index to pop (SET_VRING_BASE).</param>
    /// <param name="usedIdx">The used index to continue from, or null to read the current used.idx from the
    /// used ring in guest memory (what a back-end does when it starts a ring the driver already used).</param>
    /// <param name="queue">The configured queue, when the result is true.</param>
    /// <param name="error">Why the layout was rejected, when the result is false.</param>
    public static bool TryCreate(
        IGuestMemory memory,
        SplitQueueLayout layout,
        NegotiatedFeatures features,
        ushort nextAvail,
        ushort? usedIdx,
        [NotNullWhen(true)] out SplitQueue? queue,
        out QueueConfigError error)
    {
        ArgumentNullException.ThrowIfNull(memory);
        queue = null;
        bool withEvents = (features & NegotiatedFeatures.EventIdx) != 0;
        error = Validate(memory, layout, withEvents);
        if (error != QueueConfigError.None)
        {
            return false;
        }

        ushort used;
        if (usedIdx is { } given)
        {
            used = given;
        }
        else
        {
            if (!memory.TryGetSpan(layout.UsedRing, RingOffset, out Span<byte> header))
            {
                error = QueueConfigError.UsedRingOutsideMemory;
                return false;
            }

            used = RingAccess.ReadLe16Acquire(header, IdxOffset);
        }

        queue = new SplitQueue(memory, layout, features, nextAvail, used);
        return true;
    }

    /// <summary>Points the queue at a new guest memory map (after SET_MEM_TABLE or ADD/REM_MEM_REG) and re-checks
    /// that the rings still lie inside it. On failure the queue is marked broken.</summary>
    public QueueConfigError Remap(IGuestMemory newMemory)
    {
        ArgumentNullException.ThrowIfNull(newMemory);
        memory = newMemory;
        QueueConfigError error = Validate(newMemory, layout, eventIdx);
        if (error != QueueConfigError.None)
        {
            broken = true;
        }

        return error;
    }

    /// <summary>True when the driver has made a chain available that has not been popped. Reads avail.idx
    /// (acquire). A broken queue reports false.</summary>
    public bool HasAvailable
    {
        get
        {
            if (broken)
            {
                return false;
            }

            if (lastSeenAvail != nextAvail)
            {
                return true;
            }

            if (!memory.TryGetSpan(layout.AvailRing, RingOffset, out Span<byte> avail))
            {
                broken = true;
                return false;
            }

            // Acquire: pairs with the driver's barrier before its avail.idx store (virtio 1.2 §2.7.13.3.1),
            // so a TryPop after this sees the ring entries and descriptors that idx covers.
            ushort idx = RingAccess.ReadLe16Acquire(avail, IdxOffset);
            return idx != nextAvail;
        }
    }

    /// <summary>Pops the next available chain into <paramref name="chain"/>, validating every descriptor
    /// once. Never allocates. On any result other than Ok the chain's segments are not to be used; on an error
    /// whose disposition is ReturnEmpty, <c>chain.HeadIndex</c> names the head to return with length 0.</summary>
    /// <param name="chain">A holder with capacity at least <see cref="Size"/>; overwritten.</param>
    public QueueError TryPop(DescriptorChain chain)
    {
        ArgumentNullException.ThrowIfNull(chain);
        if (chain.Capacity < size)
        {
            ThrowHelper.ThrowChainCapacity(chain.Capacity, size);
        }

        chain.Reset(0);
        if (broken)
        {
            return QueueError.QueueBroken;
        }

        if (!memory.TryGetSpan(layout.AvailRing, availRingBytes, out Span<byte> avail))
        {
            return Break(QueueError.RingOutsideMemory);
        }

        if (lastSeenAvail == nextAvail)
        {
            // Fence 1 (acquire): the driver writes ring entries and descriptors, then a barrier, then
            // avail.idx (virtio 1.2 §2.7.13.3.1). Reading idx with acquire semantics keeps every later
            // read of avail.ring[] and the descriptor table from being satisfied before it, so we never
            // see a new idx together with a stale head or descriptor.
            ushort idx = RingAccess.ReadLe16Acquire(avail, IdxOffset);
            if ((ushort)(idx - nextAvail) > size)
            {
                return Break(QueueError.AvailIndexJump);
            }

            lastSeenAvail = idx;
            if (idx == nextAvail)
            {
                return QueueError.NoneAvailable;
            }
        }

        ushort head = RingAccess.ReadLe16(avail, RingOffset + (2 * (nextAvail & mask)));
        if (head >= size)
        {
            return Break(QueueError.HeadOutOfRange);
        }

        if (!memory.TryGetSpan(layout.DescriptorTable, descriptorTableBytes, out Span<byte> table))
        {
            return Break(QueueError.RingOutsideMemory);
        }

        // The avail entry is consumed whatever the chain turns out to be: a bad chain is returned empty
        // under this head, so next_avail must move past it.
        nextAvail++;
        chain.Reset(head);
        return Walk(table, head, chain);
    }

    /// <summary>Un-pops every chain popped since <see cref="NextAvail"/> was <paramref name="mark"/>. Only for
    /// chains for which nothing was pushed to the used ring: the driver cannot tell they were ever popped.</summary>
    public void RewindTo(ushort mark)
    {
        if ((ushort)(nextAvail - mark) > size)
        {
            ThrowHelper.ThrowRewind(mark, nextAvail);
        }

        nextAvail = mark;
    }

    /// <summary>Writes used element {id = <paramref name="head"/>, len = <paramref name="length"/>} at
    /// used_idx % N and advances the device's used index. Not visible to the driver until
    /// <see cref="PublishUsed"/>. If the used ring is no longer inside memory the queue is marked broken.</summary>
    /// <param name="head">A head this queue popped (<see cref="DescriptorChain.HeadIndex"/>).</param>
    /// <param name="length">Bytes the device wrote into the chain's writable buffers (0 for TX and for
    /// returned-empty chains; virtio 1.2 §2.7.8.2).</param>
    public void PushUsed(ushort head, uint length)
    {
        if (head >= size)
        {
            ThrowHelper.ThrowHeadOutOfRange(head, size);
        }

        int offset = RingOffset + (UsedElementSize * (usedIdx & mask));
        ulong address = layout.UsedRing + (ulong)offset;
        if (!memory.TryGetSpan(address, UsedElementSize, out Span<byte> element))
        {
            broken = true;
            return;
        }

        // Plain stores: they are ordered before the driver can see them by the release store of
        // used.idx in PublishUsed (fence 2).
        BinaryPrimitives.WriteUInt32LittleEndian(element, head);
        BinaryPrimitives.WriteUInt32LittleEndian(element[4..], length);
        usedIdx++;
        if (LogUsed)
        {
            memory.LogDirty(address, UsedElementSize);
        }
    }

    /// <summary>Makes every element pushed since the last publish visible (stores used.idx) and says whether
    /// the driver asked to be notified about them: under EVENT_IDX when the published range crossed
    /// used_event (virtio 1.2 §2.7.7.2, vring_need_event), otherwise unless avail.flags has NO_INTERRUPT.
    /// Call once per batch; the caller signals the call eventfd when it returns true.</summary>
    public bool PublishUsed()
    {
        ushort old = publishedUsed;
        ushort now = usedIdx;
        if (old == now)
        {
            return false;
        }

        if (!memory.TryGetSpan(layout.UsedRing, RingOffset, out Span<byte> used)
            || !memory.TryGetSpan(layout.AvailRing, availRingBytes, out Span<byte> avail))
        {
            broken = true;
            return false;
        }

        // Fence 2 (release): the used elements written by PushUsed and the payload written into the
        // buffers must be visible before the new used.idx, or the driver could consume an element (or
        // packet bytes) that is not there yet (virtio 1.2 §2.7.8.2: "set len prior to updating the used idx").
        RingAccess.WriteLe16Release(used, IdxOffset, now);
        publishedUsed = now;
        if (LogUsed)
        {
            memory.LogDirty(layout.UsedRing + IdxOffset, sizeof(ushort));
        }

        // Fence 3 (full): store used.idx, then load used_event / avail.flags. Without a StoreLoad barrier
        // the load could be satisfied before our store is visible; the driver, meanwhile, re-enables
        // interrupts and re-checks used.idx, sees the old value, and sleeps, while we read the old
        // suppression state and skip the interrupt: a lost wakeup (virtio 1.2 §2.7.14).
        Interlocked.MemoryBarrier();
        if (eventIdx)
        {
            ushort usedEvent = RingAccess.ReadLe16Acquire(avail, usedEventOffset);
            return NeedEvent(usedEvent, now, old);
        }

        return (RingAccess.ReadLe16Acquire(avail, FlagsOffset) & AvailFlagNoInterrupt) == 0;
    }

    /// <summary>Under EVENT_IDX, writes avail_event = next_avail: "kick me when you make index next_avail
    /// available" (virtio 1.2 §2.7.10). No effect without EVENT_IDX.</summary>
    public void SetAvailEvent()
    {
        if (!eventIdx)
        {
            return;
        }

        if (!memory.TryGetSpan(layout.UsedRing, usedRingBytes, out Span<byte> used))
        {
            broken = true;
            return;
        }

        // A single aligned 16-bit store; its ordering against the following avail.idx check is the full
        // fence in EnableNotifications.
        RingAccess.WriteLe16Release(used, availEventOffset, nextAvail);
        if (LogUsed)
        {
            memory.LogDirty(layout.UsedRing + (ulong)availEventOffset, sizeof(ushort));
        }
    }

    /// <summary>Asks the driver not to kick while the device is polling: sets used.flags NO_NOTIFY. Under
    /// EVENT_IDX it does nothing (the device MUST keep flags 0, virtio 1.2 §2.7.10.2); avail_event simply
    /// stays where it was, so the driver stops kicking once it has passed it.</summary>
    public void DisableNotifications()
    {
        if (!eventIdx)
        {
            WriteUsedFlags(UsedFlagNoNotify);
        }
    }

    /// <summary>Asks the driver to kick again (avail_event = next_avail under EVENT_IDX, else clears
    /// NO_NOTIFY), then re-checks the avail ring. Returns true when chains became available meanwhile:
    /// the caller must keep processing instead of waiting for a kick that will not come.</summary>
    public bool EnableNotifications()
    {
        if (eventIdx)
        {
            SetAvailEvent();
        }
        else
        {
            WriteUsedFlags(0);
        }

        // Fence 3 again (full): store avail_event / used.flags, then load avail.idx. The driver stores
        // avail.idx, fences, then loads our suppression state (virtio 1.2 §2.7.13.4.1). Without a StoreLoad
        // barrier here both sides can read the other's old value: the driver sees "suppressed" and does not
        // kick, we see "nothing new" and go to sleep, and the new buffer waits forever.
        Interlocked.MemoryBarrier();
        return HasAvailable;
    }

    /// <summary>vring_need_event (virtio 1.2 §2.7.7.2, Linux virtio_ring.h): true when used_event lies in
    /// [old, new) modulo 2^16, i.e. the driver asked for an interrupt once the entry at index used_event
    /// was published.</summary>
    public static bool NeedEvent(ushort eventIndex, ushort newIndex, ushort oldIndex) =>
        (ushort)(newIndex - eventIndex - 1) < (ushort)(newIndex - oldIndex);

    private static (int Descriptors, int Avail, int Used) RingBytes(int size, bool withEvents)
    {
        int eventField = withEvents ? sizeof(ushort) : 0;
        return (DescriptorSize * size, RingOffset + (2 * size) + eventField, RingOffset + (UsedElementSize * size) + eventField);
    }

    private static QueueConfigError Validate(IGuestMemory memory, SplitQueueLayout layout, bool withEvents)
    {
        int size = layout.Size;
        if (size == 0)
        {
            return QueueConfigError.SizeZero;
        }

        if (size > MaxSize)
        {
            return QueueConfigError.SizeTooLarge;
        }

        if (size < 0 || !BitOperations.IsPow2(size))
        {
            return QueueConfigError.SizeNotPowerOfTwo;
        }

        if ((layout.DescriptorTable & 15) != 0)
        {
            return QueueConfigError.DescriptorTableMisaligned;
        }

        if ((layout.AvailRing & 1) != 0)
        {
            return QueueConfigError.AvailRingMisaligned;
        }

        if ((layout.UsedRing & 3) != 0)
        {
            return QueueConfigError.UsedRingMisaligned;
        }

        (int descriptors, int avail, int used) = RingBytes(size, withEvents);
        if (!memory.TryGetSpan(layout.DescriptorTable, descriptors, out _))
        {
            return QueueConfigError.DescriptorTableOutsideMemory;
        }

        if (!memory.TryGetSpan(layout.AvailRing, avail, out _))
        {
            return QueueConfigError.AvailRingOutsideMemory;
        }

        return memory.TryGetSpan(layout.UsedRing, used, out _) ? QueueConfigError.None : QueueConfigError.UsedRingOutsideMemory;
    }

    private QueueError Break(QueueError error)
    {
        broken = true;
        return error;
    }

    private void WriteUsedFlags(ushort flags)
    {
        if (!memory.TryGetSpan(layout.UsedRing, RingOffset, out Span<byte> used))
        {
            broken = true;
            return;
        }

        // Ordered against the following avail.idx check by the full fence in EnableNotifications.
        RingAccess.WriteLe16Release(used, FlagsOffset, flags);
        if (LogUsed)
        {
            memory.LogDirty(layout.UsedRing + FlagsOffset, sizeof(ushort));
        }
    }

    /// <summary>Walks the chain at <paramref name="head"/> and copies it into <paramref name="chain"/>.
    /// Each descriptor is read once into locals; nothing is read from the table after it was checked.</summary>
    private QueueError Walk(Span<byte> directTable, ushort head, DescriptorChain chain)
    {
        ReadOnlySpan<byte> table = directTable;
        int tableSize = size;

        // Descriptors this table may still supply. A table of T entries cannot yield a chain of more than
        // T descriptors without visiting one twice, so running out while NEXT is still set means a loop.
        int budget = size;
        int index = head;
        bool inIndirect = false;
        bool sawWritable = false;
        long totalBytes = 0;

        while (true)
        {
            budget--;
            ReadOnlySpan<byte> d = table.Slice(index * DescriptorSize, DescriptorSize);
            ulong address = BinaryPrimitives.ReadUInt64LittleEndian(d);
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(d[8..]);
            ushort flags = RingAccess.ReadLe16(d, 12);
            ushort next = RingAccess.ReadLe16(d, 14);

            if ((flags & DescFlagIndirect) != 0)
            {
                if (inIndirect)
                {
                    return QueueError.NestedIndirect;
                }

                if (!indirectDesc)
                {
                    return QueueError.IndirectNotNegotiated;
                }

                if ((flags & DescFlagNext) != 0)
                {
                    return QueueError.IndirectWithNext;
                }

                if (length == 0)
                {
                    return QueueError.IndirectTableEmpty;
                }

                if (length % DescriptorSize != 0)
                {
                    return QueueError.IndirectTableLengthNotMultipleOf16;
                }

                if (length / DescriptorSize > (uint)size)
                {
                    return QueueError.IndirectTableTooLarge;
                }

                // length <= 16 * 32768 here, so the int conversion is exact. VIRTQ_DESC_F_WRITE on this
                // descriptor is ignored (virtio 1.2 §2.7.5.3.2). The table need not be aligned.
                if (address > ulong.MaxValue - length || !memory.TryGetSpan(address, (int)length, out Span<byte> indirect))
                {
                    return QueueError.IndirectTableOutsideMemory;
                }

                table = indirect;
                tableSize = (int)(length / DescriptorSize);
                budget = tableSize;
                index = 0;
                inIndirect = true;
                chain.MarkIndirect();
                continue;
            }

            if (length == 0)
            {
                return QueueError.ZeroLengthBuffer;
            }

            if (address > ulong.MaxValue - length)
            {
                return QueueError.BufferAddressOverflow;
            }

            if (length > int.MaxValue || !memory.TryGetSpan(address, (int)length, out _))
            {
                return QueueError.BufferOutsideMemory;
            }

            bool writable = (flags & DescFlagWrite) != 0;
            if (writable)
            {
                sawWritable = true;
            }
            else if (sawWritable)
            {
                return QueueError.WritableBeforeReadable;
            }

            totalBytes += length;
            if (totalBytes > (1L << 32))
            {
                return QueueError.ChainTooManyBytes;
            }

            if (chain.Count == size)
            {
                return QueueError.ChainTooManyDescriptors;
            }

            chain.Add(address, length, writable);

            if ((flags & DescFlagNext) == 0)
            {
                return QueueError.Ok;
            }

            if (next >= tableSize)
            {
                return QueueError.NextOutOfRange;
            }

            if (budget == 0)
            {
                return QueueError.DescriptorLoop;
            }

            index = next;
        }
    }
}
