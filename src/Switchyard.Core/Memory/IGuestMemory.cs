// The one door to guest memory (STYLE.md habit 1).
//
// Theory of operation: a vhost-user front-end shares the guest's RAM as a few file-backed regions.
// Everything the back-end reads or writes in a guest (rings, descriptor tables, packet buffers) goes
// through TryGetSpan, which checks that the whole range lies inside one mapped region, without
// integer overflow, before it hands out a span. Callers copy what they need out of shared memory
// once and never re-read it after validating it: the guest can change it at any moment.
namespace Switchyard.Core.Memory;

public interface IGuestMemory
{
    /// <summary>A span over guest-physical <paramref name="guestAddress"/> .. +<paramref name="length"/>,
    /// or false when that range is not wholly inside one region (or wraps around).</summary>
    bool TryGetSpan(ulong guestAddress, int length, out Span<byte> span);

    /// <summary>Translates a front-end (QEMU process) virtual address, as SET_VRING_ADDR carries, to a
    /// guest-physical address; false when no region contains it.</summary>
    bool TryTranslateUserAddress(ulong userAddress, out ulong guestAddress);

    /// <summary>Records that the device wrote guest-physical <paramref name="guestAddress"/> .. +<paramref name="length"/>
    /// (live-migration dirty log). A no-op while logging is off.</summary>
    void LogDirty(ulong guestAddress, int length);
}
