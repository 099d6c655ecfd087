// A dirty-log bitmap for tests: what a front-end would pass in SET_LOG_BASE during live migration.
//
// Theory of operation: the front-end owns a memfd holding one bit per 4 KiB guest page
// (interop.md §2.14) and passes it to the back-end, which maps it and sets bits as it writes guest
// memory. This class creates such a memfd, maps it for the test (the "front-end" view), attaches a
// duplicate to a GuestMemory through the real SetLog path, and reads the bits back the way QEMU would
// (byte page / 8, bit page % 8). It owns the memfd and its own mapping; the GuestMemory owns the duplicate.
using Switchyard.Native;

namespace Switchyard.TestKit.Memory;

public sealed class TestDirtyLog : IDisposable
{
    private readonly MappedRegion view;
    private int fd;

    /// <summary>A zeroed log of <paramref name="sizeBytes"/> bytes, covering sizeBytes * 8 pages.</summary>
    public TestDirtyLog(ulong sizeBytes)
    {
        fd = FileDescriptors.CreateMemFd("switchyard-test-log", sizeBytes);
        try
        {
            view = MappedRegion.Map(FileDescriptors.Duplicate(fd), 0, sizeBytes);
        }
        catch
        {
            FileDescriptors.Close(fd);
            throw;
        }

        SizeBytes = sizeBytes;
    }

    public ulong SizeBytes { get; }

    /// <summary>Pages the log covers: guest-physical 0 .. PageCount * 4096.</summary>
    public ulong PageCount => SizeBytes * 8;

    /// <summary>Starts logging on <paramref name="memory"/> into this bitmap (SET_LOG_BASE with mmap_offset 0).</summary>
    public void AttachTo(GuestMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        memory.SetLog(FileDescriptors.Duplicate(fd), SizeBytes, 0);
    }

    /// <summary>True when the bit for <paramref name="page"/> (guest address / 4096) is set.</summary>
    public bool IsPageDirty(ulong page)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(page, PageCount);
        return (view.GetSpan(page / 8, 1)[0] & (1 << (int)(page % 8))) != 0;
    }

    /// <summary>Every dirty page number, ascending.</summary>
    public List<ulong> DirtyPages()
    {
        var pages = new List<ulong>();
        Span<byte> bits = view.GetSpan(0, checked((int)SizeBytes));
        for (int i = 0; i < bits.Length; i++)
        {
            for (int b = 0; b < 8 && bits[i] != 0; b++)
            {
                if ((bits[i] & (1 << b)) != 0)
                {
                    pages.Add(((ulong)i * 8) + (ulong)b);
                }
            }
        }

        return pages;
    }

    /// <summary>Clears every bit, as the front-end does after syncing the bitmap.</summary>
    public void Clear() => view.GetSpan(0, checked((int)SizeBytes)).Clear();

    public void Dispose()
    {
        view.Dispose();
        FileDescriptors.Close(Interlocked.Exchange(ref fd, -1));
    }
}
