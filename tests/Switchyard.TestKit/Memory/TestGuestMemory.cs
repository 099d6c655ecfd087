// Guest RAM for tests: a memfd laid out as one or more regions, seen from both sides.
//
// Theory of operation: a real VM's RAM is a file (memfd, hugetlbfs) that QEMU maps and shares with the
// back-end as regions (guest_phys_addr, memory_size, userspace_addr, mmap_offset) plus a descriptor. This
// class builds the same thing in-process. It creates one memfd, lays regions out in it back to back
// (region i starts at file offset = sum of the sizes before it, which is its mmap_offset), and maps the
// whole file once for the test: that mapping is "the guest side", where a test or the guest-side
// virtqueue driver writes rings and buffers by guest-physical address. CreateBackEnd hands duplicates of
// the memfd to a real GuestMemory ("the back-end side"), which maps them itself through the same mmap
// path a vhost-user connection uses (mmap_offset + memory_size from offset 0), so a write on one side is
// visible on the other because both map the same pages, not because anything copies.
//
// Addresses: guest-physical addresses start at DefaultGuestBase (1 GiB), so a zero or small address a
// buggy driver or device computes is outside guest memory and fails loudly; user addresses (what a
// front-end puts in SET_VRING_ADDR) are fake QEMU-like virtual addresses that nothing dereferences.
//
// Allocation: a bump allocator hands out aligned, never-freed chunks for rings and buffers; a chunk never
// straddles two regions (they are not contiguous on the back-end side). Reads and writes are
// little-endian (virtio byte order); the *Volatile helpers give the driver the ordering it needs for the
// avail/used idx fields. Guest-side helpers throw on a bad address: in a test, that is a test bug.
//
// What it owns: the memfd and the guest-side mapping. A GuestMemory from CreateBackEnd owns its own
// duplicates and must be disposed by the caller.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Switchyard.Native;

namespace Switchyard.TestKit.Memory;

/// <summary>Where one region of test memory sits in guest-physical and front-end user address space.</summary>
public readonly record struct TestRegion(ulong GuestPhysAddr, ulong Size, ulong UserAddr);

public sealed class TestGuestMemory : IDisposable
{
    public const ulong DefaultSize = 16UL << 20;

    /// <summary>First guest-physical address of the default layouts (1 GiB): low addresses stay invalid.</summary>
    public const ulong DefaultGuestBase = 0x4000_0000;

    /// <summary>Guest-physical address of the second region in <see cref="TwoRegions"/> (4 GiB, above a "PCI hole").</summary>
    public const ulong DefaultSecondGuestBase = 0x1_0000_0000;

    /// <summary>A plausible QEMU virtual address for the first region's userspace_addr.</summary>
    public const ulong DefaultUserBase = 0x7f3a_0000_0000;

    private readonly GuestMemoryRegion[] regions;
    private readonly MappedRegion guestView;
    private int fd;
    private int allocRegion;
    private ulong allocNext;

    /// <summary>Creates a memfd holding <paramref name="layout"/>'s regions back to back, sealed against shrinking as
    /// QEMU's memory-backend-memfd is, and maps it for the test.</summary>
    public TestGuestMemory(params TestRegion[] layout)
        : this(MemFdSealing.Sealed, layout)
    {
    }

    /// <summary>As above, with the memfd sealed as <paramref name="sealing"/> says (hostile front-end tests send memory
    /// that is sealable but unsealed, or not sealable at all).</summary>
    public TestGuestMemory(MemFdSealing sealing, params TestRegion[] layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (layout.Length == 0)
        {
            throw new ArgumentException("At least one region is needed.", nameof(layout));
        }

        regions = new GuestMemoryRegion[layout.Length];
        ulong fileSize = 0;
        for (int i = 0; i < layout.Length; i++)
        {
            regions[i] = new GuestMemoryRegion(layout[i].GuestPhysAddr, layout[i].Size, layout[i].UserAddr, fileSize);
            fileSize = checked(fileSize + layout[i].Size);
        }

        fd = FileDescriptors.CreateMemFd("switchyard-test-guest", fileSize, sealing);
        try
        {
            // The test's own view of its own memfd: trusted, so that it does not seal what the test left sealable.
            guestView = MappedRegion.Map(FileDescriptors.Duplicate(fd), 0, fileSize, MemoryFilePolicy.Trusted);
        }
        catch
        {
            FileDescriptors.Close(fd);
            throw;
        }

        FileSize = fileSize;
        allocNext = regions[0].GuestPhysAddr;
    }

    /// <summary>The memfd (owned here). Send it as-is over SCM_RIGHTS; the kernel passes a copy.</summary>
    public int Fd => fd;

    /// <summary>Total bytes of the memfd (the sum of the region sizes).</summary>
    public ulong FileSize { get; }

    /// <summary>The regions as a front-end would describe them in SET_MEM_TABLE (mmap_offset = file offset).</summary>
    public IReadOnlyList<GuestMemoryRegion> Regions => regions;

    /// <summary>One region of <paramref name="size"/> bytes at <paramref name="guestPhysAddr"/>.</summary>
    public static TestGuestMemory OneRegion(
        ulong size = DefaultSize, ulong guestPhysAddr = DefaultGuestBase, ulong userAddr = DefaultUserBase, MemFdSealing sealing = MemFdSealing.Sealed) =>
        new(sealing, new TestRegion(guestPhysAddr, size, userAddr));

    /// <summary>Two regions (by default half the default size each, at 1 GiB and 4 GiB, far apart in user space),
    /// the second with a nonzero mmap_offset.</summary>
    public static TestGuestMemory TwoRegions(
        ulong firstSize = DefaultSize / 2,
        ulong secondSize = DefaultSize / 2,
        ulong firstGuestPhysAddr = DefaultGuestBase,
        ulong secondGuestPhysAddr = DefaultSecondGuestBase) =>
        new(
            new TestRegion(firstGuestPhysAddr, firstSize, DefaultUserBase),
            new TestRegion(secondGuestPhysAddr, secondSize, DefaultUserBase + 0x10_0000_0000));

    /// <summary>A back-end GuestMemory over this memory, built through the real mmap path from duplicated
    /// descriptors. The caller owns and disposes it.</summary>
    public GuestMemory CreateBackEnd()
    {
        int[] fds = new int[regions.Length];
        for (int i = 0; i < fds.Length; i++)
        {
            fds[i] = FileDescriptors.Duplicate(fd);
        }

        return new GuestMemory(regions, fds);
    }

    /// <summary>A close-on-exec duplicate of the memfd, owned by the caller.</summary>
    public int DuplicateFd() => FileDescriptors.Duplicate(fd);

    /// <summary>Bump-allocates <paramref name="size"/> bytes aligned to <paramref name="alignment"/> (a power of two)
    /// inside one region; returns its guest-physical address. Memory starts zeroed and is never freed.</summary>
    /// <exception cref="InvalidOperationException">No region has room left.</exception>
    public ulong Allocate(ulong size, ulong alignment = 16)
    {
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        {
            throw new ArgumentException($"Alignment {alignment} is not a power of two.", nameof(alignment));
        }

        while (allocRegion < regions.Length)
        {
            GuestMemoryRegion r = regions[allocRegion];
            ulong start = (allocNext + alignment - 1) & ~(alignment - 1);
            ulong end = r.GuestPhysAddr + r.Size;
            if (start >= allocNext && start <= end && size <= end - start)
            {
                allocNext = start + size;
                return start;
            }

            allocRegion++;
            if (allocRegion < regions.Length)
            {
                allocNext = regions[allocRegion].GuestPhysAddr;
            }
        }

        throw new InvalidOperationException($"Test guest memory has no room left for {size} bytes aligned to {alignment}.");
    }

    /// <summary>The guest-side span over <paramref name="guestPhysAddr"/> .. +<paramref name="length"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside one region.</exception>
    public Span<byte> GetSpan(ulong guestPhysAddr, int length) => guestView.GetSpan(FileOffset(guestPhysAddr, length), length);

    /// <summary>The front-end user address (for SET_VRING_ADDR) of <paramref name="guestPhysAddr"/>.</summary>
    public ulong ToUserAddress(ulong guestPhysAddr)
    {
        GuestMemoryRegion r = RegionOf(guestPhysAddr, 0);
        return r.UserAddr + (guestPhysAddr - r.GuestPhysAddr);
    }

    public void Write(ulong guestPhysAddr, ReadOnlySpan<byte> data) => data.CopyTo(GetSpan(guestPhysAddr, data.Length));

    public void Read(ulong guestPhysAddr, Span<byte> destination) => GetSpan(guestPhysAddr, destination.Length).CopyTo(destination);

    public byte[] Read(ulong guestPhysAddr, int length) => GetSpan(guestPhysAddr, length).ToArray();

    public void Fill(ulong guestPhysAddr, int length, byte value) => GetSpan(guestPhysAddr, length).Fill(value);

    public byte ReadU8(ulong guestPhysAddr) => GetSpan(guestPhysAddr, 1)[0];

    public void WriteU8(ulong guestPhysAddr, byte value) => GetSpan(guestPhysAddr, 1)[0] = value;

    public ushort ReadU16(ulong guestPhysAddr) => BinaryPrimitives.ReadUInt16LittleEndian(GetSpan(guestPhysAddr, 2));

    public void WriteU16(ulong guestPhysAddr, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(GetSpan(guestPhysAddr, 2), value);

    public uint ReadU32(ulong guestPhysAddr) => BinaryPrimitives.ReadUInt32LittleEndian(GetSpan(guestPhysAddr, 4));

    public void WriteU32(ulong guestPhysAddr, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(GetSpan(guestPhysAddr, 4), value);

    public ulong ReadU64(ulong guestPhysAddr) => BinaryPrimitives.ReadUInt64LittleEndian(GetSpan(guestPhysAddr, 8));

    public void WriteU64(ulong guestPhysAddr, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(GetSpan(guestPhysAddr, 8), value);

    /// <summary>An acquire read of a naturally aligned u16 (the driver reading used.idx).</summary>
    public ushort ReadU16Volatile(ulong guestPhysAddr) => Volatile.Read(ref AlignedU16(guestPhysAddr));

    /// <summary>A release write of a naturally aligned u16 (the driver publishing avail.idx after the ring entries).</summary>
    public void WriteU16Volatile(ulong guestPhysAddr, ushort value) => Volatile.Write(ref AlignedU16(guestPhysAddr), value);

    public void Dispose()
    {
        guestView.Dispose();
        FileDescriptors.Close(Interlocked.Exchange(ref fd, -1));
    }

    private ref ushort AlignedU16(ulong guestPhysAddr)
    {
        if ((guestPhysAddr & 1) != 0)
        {
            throw new ArgumentException($"0x{guestPhysAddr:x} is not 2-byte aligned.", nameof(guestPhysAddr));
        }

        // x86_64 is little-endian, like virtio, so the in-memory u16 is the ring's value.
        return ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetReference(GetSpan(guestPhysAddr, 2)));
    }

    private ulong FileOffset(ulong guestPhysAddr, int length)
    {
        GuestMemoryRegion r = RegionOf(guestPhysAddr, length);
        return r.MmapOffset + (guestPhysAddr - r.GuestPhysAddr);
    }

    private GuestMemoryRegion RegionOf(ulong guestPhysAddr, int length)
    {
        if (length >= 0)
        {
            foreach (GuestMemoryRegion r in regions)
            {
                ulong offset = guestPhysAddr - r.GuestPhysAddr;
                if (offset <= r.Size && (ulong)length <= r.Size - offset)
                {
                    return r;
                }
            }
        }

        throw new ArgumentOutOfRangeException(
            nameof(guestPhysAddr), $"Guest range 0x{guestPhysAddr:x} + {length} is not inside one test region.");
    }
}
