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
// What it trusts: nothing about the sizes (they come from the peer). Before calling mmap it checks that
// the size is nonzero, offset + size does not wrap, the mapping is at most MaxMappingSize, and, for a
// regular file, that the file is at least as long as the mapping (pages past EOF raise SIGBUS when
// touched, which would take down the whole process on one peer's bad table). Rule violations throw
// GuestMemoryException; a refusal by the kernel throws IOException with the errno text.
// Not defended: a front-end that shrinks the file after we mapped it (ftruncate) can still cause SIGBUS;
// closing that needs sealed memfds (F_SEAL_SHRINK), which QEMU does not promise.
//
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
    /// <exception cref="GuestMemoryException">The sizes break a rule (see <see cref="GuestMemoryRule"/>).</exception>
    /// <exception cref="IOException">fstat or mmap failed.</exception>
    public static MappedRegion Map(int fd, ulong mmapOffset, ulong size)
    {
        try
        {
            CheckSizes(mmapOffset, size);
            ulong length = mmapOffset + size;
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
    public static MappedRegion MapAtFileOffset(int fd, ulong fileOffset, ulong size)
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
