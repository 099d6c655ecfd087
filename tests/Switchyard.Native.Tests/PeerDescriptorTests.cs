// What a peer hands over is input (issue 10): descriptor types are told apart, notifiers become
// non-blocking, a saturated eventfd fails fast, and memory the front-end could shrink is refused unless sealed
// (by its owner or by us) or the port trusts its front-end.
namespace Switchyard.Native.Tests;

public class PeerDescriptorTests
{
    private const ulong Page = 4096;

    [Fact]
    public void ClassifyDescriptor_EachKind_IsToldApart()
    {
        using var eventFd = new EventFd();
        using SocketPair pair = SocketPair.Create();
        int memFd = FileDescriptors.CreateMemFd("t", Page);
        try
        {
            Assert.Equal(DescriptorKind.EventFd, FileKinds.ClassifyDescriptor(eventFd.Fd));
            Assert.Equal(DescriptorKind.Socket, FileKinds.ClassifyDescriptor(pair.First));
            Assert.Equal(DescriptorKind.RegularFile, FileKinds.ClassifyDescriptor(memFd));
            Assert.Equal(DescriptorKind.Invalid, FileKinds.ClassifyDescriptor(-1));
        }
        finally
        {
            FileDescriptors.Close(memFd);
        }
    }

    [Fact]
    public void TryAdoptFromPeer_BlockingEventFd_BecomesNonBlocking()
    {
        using var original = new EventFd();
        Assert.True(FileKinds.TrySetBlocking(original.Fd));
        Assert.False(FileKinds.IsNonBlocking(original.Fd));

        Assert.True(EventFd.TryAdoptFromPeer(FileDescriptors.Duplicate(original.Fd), out EventFd? adopted, out DescriptorKind kind));
        using (adopted)
        {
            Assert.Equal(DescriptorKind.EventFd, kind);
            Assert.True(FileKinds.IsNonBlocking(adopted!.Fd));

            // O_NONBLOCK lives on the open file description, which the sender shares.
            Assert.True(FileKinds.IsNonBlocking(original.Fd));
        }
    }

    [Fact]
    public void TryAdoptFromPeer_NotAnEventFd_RefusedAndLeftToTheCaller()
    {
        int memFd = FileDescriptors.CreateMemFd("t", Page);
        try
        {
            Assert.False(EventFd.TryAdoptFromPeer(memFd, out EventFd? adopted, out DescriptorKind kind));
            Assert.Null(adopted);
            Assert.Equal(DescriptorKind.RegularFile, kind);
            Assert.True(FileDescriptors.IsOpen(memFd));
        }
        finally
        {
            FileDescriptors.Close(memFd);
        }
    }

    [Fact]
    public void TrySignal_SaturatedAdoptedEventFd_ReturnsFalseWithoutBlocking()
    {
        using var original = new EventFd();
        Assert.True(original.TryAdd(0xffff_ffff_ffff_fffeUL));
        Assert.True(FileKinds.TrySetBlocking(original.Fd));
        Assert.True(EventFd.TryAdoptFromPeer(FileDescriptors.Duplicate(original.Fd), out EventFd? call, out _));
        using (call)
        {
            Assert.False(call!.TrySignal());
        }
    }

    [Fact]
    public void Map_SealedMemFd_Maps()
    {
        int fd = FileDescriptors.CreateMemFd("t", Page, MemFdSealing.Sealed);
        using MappedRegion region = MappedRegion.Map(fd, 0, Page);
        Assert.Equal(Page, region.Length);
    }

    [Fact]
    public void Map_SealableMemFd_SealsItSoTruncateFailsWithEperm()
    {
        int fd = FileDescriptors.CreateMemFd("t", Page, MemFdSealing.Sealable);
        int frontEndCopy = FileDescriptors.Duplicate(fd);
        try
        {
            using MappedRegion region = MappedRegion.Map(fd, 0, Page);
            Assert.NotEqual(0, FileDescriptors.GetSeals(frontEndCopy) & 0x2); // F_SEAL_SHRINK
            Assert.Equal(1, FileDescriptors.Truncate(frontEndCopy, 0)); // EPERM
            region.GetSpan(Page - 1, 1)[0] = 1; // Still mapped, no SIGBUS.
        }
        finally
        {
            FileDescriptors.Close(frontEndCopy);
        }
    }

    [Fact]
    public void Map_NotSealableMemFd_ThrowsShrinkableFile()
    {
        string name = UniqueName();
        int fd = FileDescriptors.CreateMemFd(name, Page, MemFdSealing.NotSealable);
        var e = Assert.Throws<GuestMemoryException>(() => MappedRegion.Map(fd, 0, Page));
        Assert.Equal(GuestMemoryRule.ShrinkableFile, e.Rule);
        Assert.Contains("memory=trusted", e.Message, StringComparison.Ordinal);
        Assert.False(StillOpen(fd, name));
    }

    [Fact]
    public void Map_NotSealableMemFdTrusted_Maps()
    {
        int fd = FileDescriptors.CreateMemFd("t", Page, MemFdSealing.NotSealable);
        using MappedRegion region = MappedRegion.Map(fd, 0, Page, MemoryFilePolicy.Trusted);
        Assert.Equal(Page, region.Length);
    }

    [Fact]
    public void Map_PlainFile_ThrowsShrinkableFileUnlessTrusted()
    {
        string path = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), $"switchyard-test-{Guid.NewGuid():N}");
        try
        {
            using (FileStream f = File.Create(path))
            {
                f.SetLength((long)Page);
            }

            using (SafeHandleCopy file = SafeHandleCopy.Open(path))
            {
                var e = Assert.Throws<GuestMemoryException>(() => MappedRegion.Map(file.Duplicate(), 0, Page));
                Assert.Equal(GuestMemoryRule.ShrinkableFile, e.Rule);
                using MappedRegion trusted = MappedRegion.Map(file.Duplicate(), 0, Page, MemoryFilePolicy.Trusted);
                Assert.Equal(Page, trusted.Length);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void MapAtFileOffset_NotSealableLog_ThrowsShrinkableFile()
    {
        int fd = FileDescriptors.CreateMemFd("t", Page, MemFdSealing.NotSealable);
        var e = Assert.Throws<GuestMemoryException>(() => MappedRegion.MapAtFileOffset(fd, 0, Page));
        Assert.Equal(GuestMemoryRule.ShrinkableFile, e.Rule);
    }

    [Fact]
    public void Map_EventFd_ThrowsNotARegularFile()
    {
        using var eventFd = new EventFd();
        var e = Assert.Throws<GuestMemoryException>(() => MappedRegion.Map(FileDescriptors.Duplicate(eventFd.Fd), 0, Page, MemoryFilePolicy.Trusted));
        Assert.Equal(GuestMemoryRule.NotARegularFile, e.Rule);
    }

    [Fact]
    public void AddRegion_PastTheMappingBudget_ThrowsAndGivesTheUnitBack()
    {
        var budget = new MappingBudget(2);
        using var memory = new GuestMemory(MemoryFilePolicy.Sealed, budget);
        for (ulong i = 0; i < 2; i++)
        {
            memory.AddRegion(new GuestMemoryRegion(i * Page, Page, 0x1000_0000 + (i * Page), 0), FileDescriptors.CreateMemFd("t", Page));
        }

        string name = UniqueName();
        int fd = FileDescriptors.CreateMemFd(name, Page);
        var e = Assert.Throws<GuestMemoryException>(() => memory.AddRegion(new GuestMemoryRegion(8 * Page, Page, 0x2000_0000, 0), fd));
        Assert.Equal(GuestMemoryRule.MappingBudgetExhausted, e.Rule);
        Assert.False(StillOpen(fd, name));
        Assert.Equal(1, budget.Refused);

        memory.RemoveRegion(0, Page, 0x1000_0000);
        Assert.Equal(1, budget.Used);
        memory.Dispose();
        Assert.Equal(0, budget.Used);
    }

    [Fact]
    public void AddRegion_RefusedFile_GivesTheBudgetUnitBack()
    {
        var budget = new MappingBudget(4);
        using var memory = new GuestMemory(MemoryFilePolicy.Sealed, budget);
        int fd = FileDescriptors.CreateMemFd("t", Page, MemFdSealing.NotSealable);
        Assert.Throws<GuestMemoryException>(() => memory.AddRegion(new GuestMemoryRegion(0, Page, 0x1000_0000, 0), fd));
        Assert.Equal(0, budget.Used);
    }

    /// <summary>An open file the test duplicates into raw descriptors for Map.</summary>
    private sealed class SafeHandleCopy(FileStream stream) : IDisposable
    {
        public static SafeHandleCopy Open(string path) => new(new FileStream(path, FileMode.Open, FileAccess.ReadWrite));

        public int Duplicate() => FileDescriptors.Duplicate((int)stream.SafeFileHandle.DangerousGetHandle());

        public void Dispose() => stream.Dispose();
    }

    private static string UniqueName() => "sy-test-" + Guid.NewGuid().ToString("N");

    // Whether our memfd is still open under that number. Other tests run in parallel and the kernel hands a
    // closed number to the next descriptor opened, so "the number is open" alone is a race: ask what it is.
    private static bool StillOpen(int fd, string name) =>
        FileDescriptors.IsOpen(fd)
        && (new FileInfo($"/proc/self/fd/{fd}").LinkTarget ?? string.Empty).Contains(name, StringComparison.Ordinal);
}
