// Guest memory made of one managed array, for the virtqueue target: the whole fuzz input lives in
// guest-physical space starting at Base, so rings, descriptors and buffers are all bytes the fuzzer
// chooses, with no syscall per input. Addresses below Base are outside memory, as are addresses past the end.
using Switchyard.Core.Memory;
using Switchyard.Native;

namespace Switchyard.Fuzz.Targets;

public sealed class ArrayGuestMemory(byte[] bytes) : IGuestMemory
{
    /// <summary>Guest-physical address of bytes[0]: address 0 and small addresses stay invalid.</summary>
    public const ulong Base = 0x1000;

    public bool TryGetSpan(ulong guestAddress, int length, out Span<byte> span)
    {
        span = default;
        if (length < 0 || guestAddress < Base)
        {
            return false;
        }

        ulong offset = guestAddress - Base;
        if (offset > (ulong)bytes.Length || (ulong)length > (ulong)bytes.Length - offset)
        {
            return false;
        }

        span = bytes.AsSpan((int)offset, length);
        return true;
    }

    public bool TryTranslateUserAddress(ulong userAddress, out ulong guestAddress)
    {
        guestAddress = 0;
        return false;
    }

    public void LogDirty(ulong guestAddress, int length)
    {
    }
}
