// Throw sites for our own bugs, kept out of hot methods so those stay small and inlinable.
//
// Theory of operation: guest input never reaches these; it gets a status value. These fire only when
// Switchyard code breaks a contract (a holder too small for the queue, a head that was never popped).
using System.Diagnostics.CodeAnalysis;

namespace Switchyard.Virtio;

internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowChainCapacity(int capacity, int queueSize) =>
        throw new ArgumentException(
            $"The DescriptorChain holds {capacity} segments but the queue size is {queueSize}; allocate one with capacity >= the queue size.",
            "chain");

    [DoesNotReturn]
    public static void ThrowHeadOutOfRange(ushort head, int queueSize) =>
        throw new ArgumentOutOfRangeException(
            "head", head, $"Used element id {head} is not a descriptor index of this queue (size {queueSize}).");

    [DoesNotReturn]
    public static void ThrowRewind(ushort target, ushort nextAvail) =>
        throw new ArgumentOutOfRangeException(
            "nextAvail", target, $"Cannot rewind next_avail from {nextAvail} to {target}: only chains popped since then can be un-popped.");

    [DoesNotReturn]
    public static void ThrowScratchTooSmall(int length, int required) =>
        throw new ArgumentException($"The scratch buffer holds {length} bytes; {required} are required.", "scratch");
}
