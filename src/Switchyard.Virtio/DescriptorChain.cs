// A validated copy of one descriptor chain.
//
// Theory of operation: SplitQueue.TryPop walks a chain in guest memory once, checks every rule, and
// copies each buffer's (guest address, length, direction) into a DescriptorChain that the caller
// allocated up front. From then on nobody reads the descriptor table for that chain again: the guest
// may rewrite descriptors at any moment, and a second read could see different values from the
// ones that were validated (STYLE.md habit 1). The buffers themselves are still guest memory; readers
// fetch spans over them through IGuestMemory and must treat their contents as hostile.
//
// What it trusts: SplitQueue, which fills it. What it owns: a segment array sized once (at least the
// queue size), so popping a chain never allocates. One DescriptorChain is reused for chain after chain.
using Switchyard.Core.Memory;

namespace Switchyard.Virtio;

/// <summary>One buffer of a descriptor chain: guest-physical address, length, and whether the device may
/// write it (VIRTQ_DESC_F_WRITE). Validated to lie inside one guest memory region when it was popped.</summary>
public readonly record struct ChainSegment(ulong GuestAddress, uint Length, bool IsWritable);

/// <summary>A caller-owned, reusable holder for one popped descriptor chain. Readable segments come first,
/// then writable ones (the walker enforces virtio 1.2 §2.7.4.2).</summary>
public sealed class DescriptorChain
{
    private readonly ChainSegment[] segments;

    /// <param name="capacity">The most segments one chain may hold: at least the Queue Size of every queue
    /// this holder is used with (a chain is never longer than the queue, virtio 1.2 §2.7.5.3.1).</param>
    public DescriptorChain(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, SplitQueue.MaxSize);
        segments = new ChainSegment[capacity];
    }

    /// <summary>How many segments this holder can take.</summary>
    public int Capacity => segments.Length;

    /// <summary>The head descriptor index: the id to hand back in <see cref="SplitQueue.PushUsed"/>. Valid after
    /// TryPop returned Ok or an error whose disposition is ReturnEmpty.</summary>
    public ushort HeadIndex { get; private set; }

    /// <summary>Number of segments.</summary>
    public int Count { get; private set; }

    /// <summary>Number of device-readable segments; they are <c>Segments[..ReadableCount]</c>.</summary>
    public int ReadableCount { get; private set; }

    /// <summary>Total bytes of the device-readable segments.</summary>
    public long ReadableBytes { get; private set; }

    /// <summary>Total bytes of the device-writable segments.</summary>
    public long WritableBytes { get; private set; }

    /// <summary>Whether the chain went through an indirect table.</summary>
    public bool IsIndirect { get; private set; }

    /// <summary>All segments, readable first.</summary>
    public ReadOnlySpan<ChainSegment> Segments => segments.AsSpan(0, Count);

    /// <summary>The device-readable segments.</summary>
    public ReadOnlySpan<ChainSegment> ReadableSegments => segments.AsSpan(0, ReadableCount);

    /// <summary>The device-writable segments.</summary>
    public ReadOnlySpan<ChainSegment> WritableSegments => segments.AsSpan(ReadableCount, Count - ReadableCount);

    internal void Reset(ushort head)
    {
        HeadIndex = head;
        Count = 0;
        ReadableCount = 0;
        ReadableBytes = 0;
        WritableBytes = 0;
        IsIndirect = false;
    }

    internal void MarkIndirect() => IsIndirect = true;

    /// <summary>Appends a segment; the walker has already checked capacity and ordering.</summary>
    internal void Add(ulong guestAddress, uint length, bool writable)
    {
        segments[Count++] = new ChainSegment(guestAddress, length, writable);
        if (writable)
        {
            WritableBytes += length;
        }
        else
        {
            ReadableCount++;
            ReadableBytes += length;
        }
    }
}
