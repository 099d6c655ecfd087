// Outcomes of configuring a split virtqueue and of popping a descriptor chain from it.
//
// Theory of operation: every rule the device enforces on guest-controlled ring state has its own
// value here, named after the rule and documented with the virtio 1.2 section it comes from, so a
// counter per value tells an operator exactly which rule a guest broke (STYLE.md habits 2 and 12): a
// vhost-user port counts each in a CounterSet<QueueError> (the value in snake_case, e.g. descriptor_loop).
// Each QueueError maps to one disposition (STYLE.md habit 3): nothing to do, return the chain to the
// guest with used length 0, or stop the queue because its state can no longer be trusted.
using Switchyard.Core.Counters;

namespace Switchyard.Virtio;

/// <summary>Why a split virtqueue layout was rejected at configuration time.</summary>
public enum QueueConfigError
{
    /// <summary>The layout is usable.</summary>
    None,

    /// <summary>Queue Size 0: a queue must hold at least one buffer (virtio 1.2 §2.7: "Queue Size value is
    /// always a power of 2", and 0 is not one).</summary>
    SizeZero,

    /// <summary>Queue Size not a power of 2 (virtio 1.2 §2.7).</summary>
    SizeNotPowerOfTwo,

    /// <summary>Queue Size above 32768 (virtio 1.2 §2.7: "The maximum Queue Size value is 32768").</summary>
    SizeTooLarge,

    /// <summary>Descriptor table not 16-byte aligned (virtio 1.2 §2.7.1, alignment table in §2.7).</summary>
    DescriptorTableMisaligned,

    /// <summary>Available ring not 2-byte aligned (virtio 1.2 §2.7.1).</summary>
    AvailRingMisaligned,

    /// <summary>Used ring not 4-byte aligned (virtio 1.2 §2.7.1).</summary>
    UsedRingMisaligned,

    /// <summary>The 16·N-byte descriptor table is not wholly inside one guest memory region (virtio 1.2 §2.7:
    /// "each part is physically-contiguous in guest memory").</summary>
    DescriptorTableOutsideMemory,

    /// <summary>The available ring (6 + 2·N bytes, with used_event under EVENT_IDX) is not wholly inside
    /// one guest memory region (virtio 1.2 §2.7, §2.7.6).</summary>
    AvailRingOutsideMemory,

    /// <summary>The used ring (6 + 8·N bytes, with avail_event under EVENT_IDX) is not wholly inside one
    /// guest memory region (virtio 1.2 §2.7, §2.7.8).</summary>
    UsedRingOutsideMemory,
}

/// <summary>The outcome of <see cref="SplitQueue.TryPop"/>. Apart from <see cref="Ok"/> and
/// <see cref="NoneAvailable"/>, each value names the rule the driver broke; see
/// <see cref="QueueErrors.GetDisposition"/> for what the caller does about it.</summary>
public enum QueueError
{
    /// <summary>A valid chain was copied out.</summary>
    [NotCounted]
    Ok,

    /// <summary>The driver has made nothing new available.</summary>
    [NotCounted]
    NoneAvailable,

    // ---- The queue itself can no longer be trusted: it is marked broken. ----

    /// <summary>The queue was marked broken earlier and processes nothing more until it is reconfigured.</summary>
    QueueBroken,

    /// <summary>avail.idx moved more than Queue Size entries past the device's next_avail. A ring of N entries
    /// can never hold more than N outstanding heads (virtio 1.2 §2.7.13: "the ring buffer is the same size as
    /// the descriptor table"; §2.7.6.1: the driver never decrements idx).</summary>
    AvailIndexJump,

    /// <summary>An available ring entry names a head at or above Queue Size; the descriptor table has exactly
    /// Queue Size entries (virtio 1.2 §2.7.5). The head cannot be returned in the used ring, so the queue stops.</summary>
    HeadOutOfRange,

    /// <summary>A ring is no longer inside guest memory (the memory table changed under the queue without a
    /// successful <see cref="SplitQueue.Remap"/>).</summary>
    RingOutsideMemory,

    // ---- The chain is bad but its head is known: return it with used length 0. ----

    /// <summary>A descriptor's next index is at or above the size of the table it lives in (virtio 1.2 §2.7.5:
    /// the table holds Queue Size descriptors; §2.7.5.3: an indirect table holds len/16).</summary>
    NextOutOfRange,

    /// <summary>Following next visited more descriptors than the table holds, so the chain loops (virtio 1.2
    /// §2.7.5.2: "loops in the descriptor chain are forbidden"; §2.7.5.3.1: no chain longer than Queue Size).</summary>
    DescriptorLoop,

    /// <summary>VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC negotiated (virtio 1.2 §2.7.5.3.1:
    /// "The driver MUST NOT set the VIRTQ_DESC_F_INDIRECT flag unless the VIRTIO_F_INDIRECT_DESC feature was negotiated").</summary>
    IndirectNotNegotiated,

    /// <summary>VIRTQ_DESC_F_INDIRECT together with VIRTQ_DESC_F_NEXT (virtio 1.2 §2.7.5.3.1: "A driver MUST NOT
    /// set both"). Refused rather than served with NEXT ignored, which would silently drop the chain's tail.</summary>
    IndirectWithNext,

    /// <summary>VIRTQ_DESC_F_INDIRECT inside an indirect table (virtio 1.2 §2.7.5.3.1: "only one table per descriptor").</summary>
    NestedIndirect,

    /// <summary>An indirect table of length 0 (virtio 1.2 §2.7.5.3: the table holds len/16 descriptors and the
    /// first one is at index 0, so it needs at least one).</summary>
    IndirectTableEmpty,

    /// <summary>An indirect table whose length is not a multiple of 16 (virtio 1.2 §2.7.5.3: desc[len / 16]).</summary>
    [Counter(Name = "indirect_table_length_not_multiple_of_16")]
    IndirectTableLengthNotMultipleOf16,

    /// <summary>An indirect table of more than Queue Size descriptors (virtio 1.2 §2.7.5.3.1: "A driver MUST NOT
    /// create a descriptor chain longer than the Queue Size of the device").</summary>
    IndirectTableTooLarge,

    /// <summary>An indirect table not wholly inside one guest memory region, or whose address + length overflows.</summary>
    IndirectTableOutsideMemory,

    /// <summary>A buffer of length 0. The spec's framing has every element at least one byte (virtio 1.2 §2.7.13.1
    /// "each has at least one element"), and QEMU refuses them too ("zero sized buffers are not allowed").</summary>
    ZeroLengthBuffer,

    /// <summary>A buffer whose addr + len wraps past 2^64.</summary>
    BufferAddressOverflow,

    /// <summary>A buffer not wholly inside one guest memory region (or longer than one span can address, 2^31-1 bytes).</summary>
    BufferOutsideMemory,

    /// <summary>A device-readable descriptor after a device-writable one (virtio 1.2 §2.7.4.2: "The driver MUST place
    /// any device-writable descriptor elements after any device-readable descriptor elements").</summary>
    WritableBeforeReadable,

    /// <summary>More buffers in one chain (direct plus indirect) than Queue Size (virtio 1.2 §2.7.5.3.1).</summary>
    ChainTooManyDescriptors,

    /// <summary>Buffer lengths that add up to more than 2^32 bytes (virtio 1.2 §2.7.5.2: "Drivers MUST NOT add a
    /// descriptor chain longer than 2^32 bytes in total").</summary>
    ChainTooManyBytes,
}

/// <summary>What the caller of <see cref="SplitQueue.TryPop"/> does with a <see cref="QueueError"/>.</summary>
public enum QueueErrorDisposition
{
    /// <summary>Nothing: a chain was popped (Ok) or none was there.</summary>
    None,

    /// <summary>The chain is invalid but its head is known: complete it with
    /// <c>PushUsed(chain.HeadIndex, 0)</c>, count the error, and carry on with the next chain.</summary>
    ReturnEmpty,

    /// <summary>The queue is broken (<see cref="SplitQueue.IsBroken"/>): stop processing it, count the error,
    /// and leave recovery to a reset of the device by the front-end.</summary>
    StopQueue,
}

/// <summary>Helpers over <see cref="QueueError"/>.</summary>
public static class QueueErrors
{
    /// <summary>The disposition for <paramref name="error"/> (STYLE.md habit 3).</summary>
    public static QueueErrorDisposition GetDisposition(this QueueError error) => error switch
    {
        QueueError.Ok or QueueError.NoneAvailable => QueueErrorDisposition.None,
        QueueError.QueueBroken or QueueError.AvailIndexJump or QueueError.HeadOutOfRange or QueueError.RingOutsideMemory
            => QueueErrorDisposition.StopQueue,
        _ => QueueErrorDisposition.ReturnEmpty,
    };
}
