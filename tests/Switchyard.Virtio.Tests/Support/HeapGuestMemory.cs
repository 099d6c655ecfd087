// A guest memory for unit tests: one pinned byte array standing in for one guest RAM region.
//
// Theory of operation: TryGetSpan does the same overflow-proof range check a real mapping does
// (the whole range inside the region, no wrap-around), so the queue code under test sees exactly the
// refusals it would see on real memory. Pinned, so Volatile accesses through refs behave as they do on
// mmap'd memory. LogDirty records ranges only while Logging is on, so allocation tests stay clean.
// The memfd-backed test memory in Switchyard.TestKit replaces this once it lands.
using Switchyard.Core.Memory;
using Switchyard.Native;

namespace Switchyard.Virtio.Tests.Support;

internal sealed class HeapGuestMemory : IGuestMemory
{
    private readonly byte[] bytes;

    public HeapGuestMemory(ulong baseAddress, int length)
    {
        BaseAddress = baseAddress;
        bytes = GC.AllocateArray<byte>(length, pinned: true);
    }

    public ulong BaseAddress { get; }

    public int Length => bytes.Length;

    public ulong EndAddress => BaseAddress + (ulong)bytes.Length;

    public bool Logging { get; set; }

    public List<(ulong Address, int Length)> Dirty { get; } = [];

    public bool TryGetSpan(ulong guestAddress, int length, out Span<byte> span)
    {
        span = default;
        if (length < 0 || guestAddress < BaseAddress)
        {
            return false;
        }

        ulong offset = guestAddress - BaseAddress;
        if (offset > (ulong)bytes.Length || (ulong)length > (ulong)bytes.Length - offset)
        {
            return false;
        }

        span = bytes.AsSpan((int)offset, length);
        return true;
    }

    public bool TryTranslateUserAddress(ulong userAddress, out ulong guestAddress)
    {
        guestAddress = userAddress;
        return userAddress >= BaseAddress && userAddress < EndAddress;
    }

    public void LogDirty(ulong guestAddress, int length)
    {
        if (Logging)
        {
            Dirty.Add((guestAddress, length));
        }
    }

    public bool Contains(ulong guestAddress, ulong length) =>
        guestAddress >= BaseAddress && length <= (ulong)bytes.Length && guestAddress - BaseAddress <= (ulong)bytes.Length - length;

    public Span<byte> At(ulong guestAddress, int length)
    {
        if (!TryGetSpan(guestAddress, length, out Span<byte> span))
        {
            throw new ArgumentOutOfRangeException(nameof(guestAddress), $"0x{guestAddress:x}+{length} is outside test memory");
        }

        return span;
    }
}
