// One shared mapping of a file the front-end passed us: a guest memory region or the dirty log.
//
// Theory of operation (interop.md §2.7): a vhost-user memory region is (fd, mmap_offset, memory_size):
// the guest RAM it describes starts mmap_offset bytes into the file. Like passt we map
// mmap_offset + memory_size bytes from file offset 0 and skip mmap_offset bytes in our pointer, instead
// of passing mmap_offset to mmap(), "since the mapped address has to be page aligned" and mmap_offset
// need not be (passt vu_set_mem_table_exec). The dirty log is different: SET_LOG_BASE's mmap_offset is
// given to mmap() as the file offset (passt vu_set_log_base_exec), so it must be page aligned and
// MapAtFileOffset checks that. Both use PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE: shared so
// we and the guest see the same pages, no-reserve so a large sparse guest costs address space only.
//
// What it trusts: nothing about the file or the sizes (they come from the peer). Before calling mmap it
// checks, in this order: the sizes (nonzero, offset + size does not wrap, at most MaxMappingSize); that the
// descriptor is a regular file (a memfd, a hugetlbfs, tmpfs or disk file; not an eventfd, socket or device);
// that the file cannot shrink under us (below); and that the file is at least as long as the mapping. Rule
// violations throw GuestMemoryException; a refusal by the kernel throws IOException with the errno text.
//
// Shrinking (issue 10, hole 1): pages of a shared mapping that lie past the end of its file raise SIGBUS when
// touched, and the owner of the file can ftruncate it at any time after we mapped it. The daemon touches guest
// memory on every frame, so one front-end shrinking its file would kill every guest with it. The policy
// (MemoryFilePolicy.Sealed, the default) is that a region or dirty log must not be shrinkable by the
// front-end:
//   - a memfd (F_GET_SEALS succeeds) with F_SEAL_SHRINK is accepted (QEMU's memory-backend-memfd seals by
//     default, and so does its dirty log);
//   - a memfd without it but still sealable (created with MFD_ALLOW_SEALING, no F_SEAL_SEAL) is sealed by us
//     with F_ADD_SEALS(F_SEAL_SHRINK), then accepted; from then on the front-end's own ftruncate to a smaller
//     size fails with EPERM (growing stays allowed; it is harmless);
//   - any other file (a memfd that cannot be sealed, hugetlbfs files such as DPDK's or QEMU's
//     memory-backend-file on /dev/hugepages, tmpfs and disk files) can always be truncated by its owner, so it is
//     refused with GuestMemoryRule.ShrinkableFile.
// MemoryFilePolicy.Trusted (a port's memory=trusted) skips the seal check and maps any regular file as it is:
// with it, a front-end that truncates its file can crash the daemon, which is why it is an explicit opt-in.
// Sealing happens before the length check, so the size checked is the size the mapping keeps.

// What it owns: the mapping, released by Dispose (or by the SafeHandle's finalizer if leaked). It takes
// ownership of the descriptor it is given in every case, success or failure, and closes it as soon as the
// mapping exists: a shared mapping keeps the file alive by itself, and holding hundreds of region
// descriptors would only spend the descriptor table.
using System.Runtime.InteropServices;

namespace Switchyard.Native;

public sealed unsafe class MappedRegion : IDisposable
{
    /// <summary>The largest mapping accepted: 1 TiB. A peer-supplied size beyond it is refused before mmap.</summary>
    public const ulong MaxMappingSize = 1UL << 40;

    private readonly MappingHandle handle;
    private readonly byte* data;

    private MappedRegion(MappingHandle handle, byte* data, ulong length)
    {
        this.handle = handle;
        this.data = data;
        Length = length;
    }

    /// <summary>Usable bytes (memory_size, or the log's mmap_size).</summary>
    public ulong Length { get; }

    /// <summary>Bytes actually mapped (for a memory region: mmap_offset + memory_size).</summary>
    public ulong MappedLength => handle.Length;

    /// <summary>Start of the usable bytes. Valid until Dispose; only this project dereferences it.</summary>
    internal byte* Data => handle.IsClosed ? throw new ObjectDisposedException(nameof(MappedRegion)) : data;

    /// <summary>
    /// Maps a vhost-user memory region: <paramref name="mmapOffset"/> + <paramref name="size"/> bytes of
    /// <paramref name="fd"/> from file offset 0; <see cref="Length"/> bytes are usable starting
    /// <paramref name="mmapOffset"/> bytes in. Takes ownership of <paramref name="fd"/> and always closes it.
    /// </summary>
    /// <exception cref="GuestMemoryException">The sizes or the file break a rule (see <see cref="GuestMemoryRule"/>).</exception>
    /// <exception cref="IOException">fstat or mmap failed.</exception>
    public static MappedRegion Map(int fd, ulong mmapOffset, ulong size, MemoryFilePolicy policy = MemoryFilePolicy.Sealed)
    {
        try
        {
            CheckSizes(mmapOffset, size);
            ulong length = mmapOffset + size;
            CheckFile(fd, policy);
            CheckFileLength(fd, length);
            void* address = MapShared(fd, length, 0);

            // SAFETY: address .. address + length is the mapping just created, and mmapOffset < length.
            return new MappedRegion(new MappingHandle(address, length), (byte*)address + mmapOffset, size);
        }
        finally
        {
            _ = LibC.close(fd);
        }
    }

    /// <summary>
    /// Maps <paramref name="size"/> bytes of <paramref name="fd"/> starting at file offset
    /// <paramref name="fileOffset"/>, which must be page aligned (the dirty log, SET_LOG_BASE).
    /// Takes ownership of <paramref name="fd"/> and always closes it.
    /// </summary>
    /// <exception cref="GuestMemoryException">The sizes break a rule (see <see cref="GuestMemoryRule"/>).</exception>
    /// <exception cref="IOException">fstat or mmap failed.</exception>
    public static MappedRegion MapAtFileOffset(int fd, ulong fileOffset, ulong size, MemoryFilePolicy policy = MemoryFilePolicy.Sealed)
    {
        try
        {
            CheckSizes(fileOffset, size);
            if (fileOffset % (ulong)Environment.SystemPageSize != 0)
            {
                throw new GuestMemoryException(
                    GuestMemoryRule.UnalignedOffset,
                    $"mmap offset 0x{fileOffset:x} is not a multiple of the page size ({Environment.SystemPageSize}).");
            }

            CheckFile(fd, policy);
            CheckFileLength(fd, fileOffset + size);
            void* address = MapShared(fd, size, (long)fileOffset);
            return new MappedRegion(new MappingHandle(address, size), (byte*)address, size);
        }
        finally
        {
            _ = LibC.close(fd);
        }
    }

    /// <summary>A span over usable bytes <paramref name="offset"/> .. +<paramref name="length"/> (control path and
    /// tests; the data path goes through GuestMemory.TryGetSpan).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the region.</exception>
    public Span<byte> GetSpan(ulong offset, int length)
    {
        if (length < 0 || offset > Length || (ulong)length > Length - offset)
        {
            throw new ArgumentOutOfRangeException(
                nameof(length), $"0x{offset:x} + {length} is outside a region of {Length} bytes.");
        }

        // SAFETY: offset + length <= Length, and Data .. Data + Length lies inside the live mapping
        // (Data throws once disposed).
        return new Span<byte>(Data + offset, length);
    }

    public void Dispose() => handle.Dispose();

    private static void CheckSizes(ulong offset, ulong size)
    {
        if (size == 0)
        {
            throw new GuestMemoryException(GuestMemoryRule.ZeroSize, "Mapping size is zero.");
        }

        if (size > ulong.MaxValue - offset)
        {
            throw new GuestMemoryException(
                GuestMemoryRule.MappingRangeOverflow, $"Offset 0x{offset:x} + size 0x{size:x} overflows.");
        }

        if (offset + size > MaxMappingSize)
        {
            throw new GuestMemoryException(
                GuestMemoryRule.MappingTooLarge,
                $"Offset 0x{offset:x} + size 0x{size:x} exceeds the {MaxMappingSize >> 30} GiB mapping limit.");
        }
    }

    /// <summary>The file must be a regular file and, unless <paramref name="policy"/> trusts the front-end, unable to
    /// shrink (sealed by its owner, or sealed here). See the theory of operation.</summary>
    private static void CheckFile(int fd, MemoryFilePolicy policy)
    {
        DescriptorKind kind = FileKinds.ClassifyDescriptor(fd);
        if (kind != DescriptorKind.RegularFile)
        {
            throw new GuestMemoryException(
                GuestMemoryRule.NotARegularFile,
                $"The memory descriptor is {DescribeKind(kind)}, not a memfd or a file that can be mapped.");
        }

        if (policy == MemoryFilePolicy.Trusted)
        {
            return;
        }

        int seals = LibC.fcntl(fd, LibC.F_GET_SEALS, 0);
        if (seals < 0)
        {
            throw new GuestMemoryException(
                GuestMemoryRule.ShrinkableFile,
                "The memory is a file that is not a memfd (hugetlbfs, tmpfs or a disk file): its owner can truncate it at "
                + "any time, which would crash the daemon. Share a sealed memfd (QEMU: -object memory-backend-memfd), or, "
                + "for a front-end you trust, add memory=trusted to the vhost-user port's netdev spec.");
        }

        if ((seals & LibC.F_SEAL_SHRINK) != 0)
        {
            return;
        }

        if ((seals & LibC.F_SEAL_SEAL) == 0 && LibC.fcntl(fd, LibC.F_ADD_SEALS, LibC.F_SEAL_SHRINK) >= 0)
        {
            return;
        }

        throw new GuestMemoryException(
            GuestMemoryRule.ShrinkableFile,
            "The memory memfd is not sealed against shrinking (F_SEAL_SHRINK) and cannot be sealed (it was created without "
            + "MFD_ALLOW_SEALING, or F_SEAL_SEAL is set): its owner could truncate it under us, which would crash the daemon. "
            + "Seal it (QEMU's memory-backend-memfd does by default), or, for a front-end you trust, add memory=trusted to "
            + "the vhost-user port's netdev spec.");
    }

    private static string DescribeKind(DescriptorKind kind) => kind switch
    {
        DescriptorKind.Invalid => "not an open descriptor",
        DescriptorKind.EventFd => "an eventfd",
        DescriptorKind.Socket => "a socket",
        DescriptorKind.RegularFile => "a regular file",
        DescriptorKind.Other => "neither a file nor a socket (a pipe, device or anonymous inode)",
        _ => kind.ToString(),
    };

    private static void CheckFileLength(int fd, ulong end)
    {
        byte* stat = stackalloc byte[LibC.STAT_SIZE];

        // SAFETY: fstat writes one struct stat (STAT_SIZE bytes on x86_64) into the stack buffer.
        if (LibC.fstat(fd, stat) < 0)
        {
            throw new IOException($"fstat({fd}) failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        // SAFETY: both fields lie inside the STAT_SIZE bytes fstat filled.
        uint mode = *(uint*)(stat + LibC.STAT_ST_MODE_OFFSET);
        long fileSize = *(long*)(stat + LibC.STAT_ST_SIZE_OFFSET);

        // Only regular files (memfd, /dev/shm, hugetlbfs) have a meaningful size; devices report 0.
        if ((mode & LibC.S_IFMT) == LibC.S_IFREG && (fileSize < 0 || (ulong)fileSize < end))
        {
            throw new GuestMemoryException(
                GuestMemoryRule.FileTooSmall, $"The file is {fileSize} bytes but the mapping needs {end}.");
        }
    }

    private static void* MapShared(int fd, ulong length, long fileOffset)
    {
        void* address = LibC.mmap(
            null, (nuint)length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED | LibC.MAP_NORESERVE, fd, fileOffset);
        return address != LibC.MAP_FAILED
            ? address
            : throw new IOException(
                $"mmap of {length} bytes at file offset 0x{fileOffset:x} failed: {Marshal.GetLastPInvokeErrorMessage()}");
    }

    /// <summary>Owns one mmap'd range; ReleaseHandle unmaps it exactly once, even from the finalizer.</summary>
    private sealed class MappingHandle : SafeHandle
    {
        public MappingHandle(void* address, ulong length)
            : base(IntPtr.Zero, ownsHandle: true)
        {
            SetHandle((IntPtr)address);
            Length = length;
        }

        public ulong Length { get; }

        public override bool IsInvalid => handle == IntPtr.Zero;

        protected override bool ReleaseHandle() => LibC.munmap((void*)handle, (nuint)Length) == 0;
    }
}
