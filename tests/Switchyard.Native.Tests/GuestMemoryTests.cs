// GuestMemory: one test per rule of the region table, the range checks of the one door to guest memory,
// user-address translation, incremental add/remove, and the dirty log.
using Switchyard.TestKit.Memory;

namespace Switchyard.Native.Tests;

public class GuestMemoryTests
{
    private const ulong MiB = 1UL << 20;
    private const ulong Gpa = 0x1000_0000;
    private const ulong Uva = 0x7f00_0000_0000;

    private static readonly GuestMemoryRegion First = new(Gpa, MiB, Uva, 0);

    [Fact]
    public void AddRegion_OverlappingGuestRange_ThrowsGuestRangesOverlap()
    {
        using GuestMemory memory = WithFirst();
        var e = Assert.Throws<GuestMemoryException>(
            () => memory.AddRegion(new GuestMemoryRegion(Gpa + MiB - 1, MiB, Uva + (16 * MiB), 0), Memfd()));
        Assert.Equal(GuestMemoryRule.GuestRangesOverlap, e.Rule);
        Assert.Equal("regions overlap in guest-physical space", e.RuleName);
        Assert.Equal(1, memory.RegionCount);
    }

    [Fact]
    public void AddRegion_OverlappingUserRange_ThrowsUserRangesOverlap()
    {
        using GuestMemory memory = WithFirst();
        var e = Assert.Throws<GuestMemoryException>(
            () => memory.AddRegion(new GuestMemoryRegion(Gpa + (16 * MiB), MiB, Uva - 1, 0), Memfd()));
        Assert.Equal(GuestMemoryRule.UserRangesOverlap, e.Rule);
    }

    [Fact]
    public void AddRegion_AdjacentRegion_IsAccepted()
    {
        using GuestMemory memory = WithFirst();
        memory.AddRegion(new GuestMemoryRegion(Gpa + MiB, MiB, Uva + MiB, 0), Memfd());
        Assert.Equal(2, memory.RegionCount);
    }

    [Fact]
    public void AddRegion_ZeroSize_ThrowsZeroSize()
    {
        using var memory = new GuestMemory();
        var e = Assert.Throws<GuestMemoryException>(() => memory.AddRegion(First with { Size = 0 }, Memfd()));
        Assert.Equal(GuestMemoryRule.ZeroSize, e.Rule);
    }

    [Fact]
    public void AddRegion_GuestAddressPlusSizeOverflows_ThrowsGuestRangeOverflow()
    {
        using var memory = new GuestMemory();
        var e = Assert.Throws<GuestMemoryException>(
            () => memory.AddRegion(First with { GuestPhysAddr = ulong.MaxValue - 4095 }, Memfd()));
        Assert.Equal(GuestMemoryRule.GuestRangeOverflow, e.Rule);
    }

    [Fact]
    public void AddRegion_UserAddressPlusSizeOverflows_ThrowsUserRangeOverflow()
    {
        using var memory = new GuestMemory();
        var e = Assert.Throws<GuestMemoryException>(
            () => memory.AddRegion(First with { UserAddr = ulong.MaxValue - 4095 }, Memfd()));
        Assert.Equal(GuestMemoryRule.UserRangeOverflow, e.Rule);
    }

    [Fact]
    public void AddRegion_MmapOffsetPlusSizeOverflows_ThrowsMappingRangeOverflow()
    {
        using var memory = new GuestMemory();
        var e = Assert.Throws<GuestMemoryException>(
            () => memory.AddRegion(First with { MmapOffset = ulong.MaxValue - 4095 }, Memfd()));
        Assert.Equal(GuestMemoryRule.MappingRangeOverflow, e.Rule);
    }

    [Fact]
    public void AddRegion_BackingFileTooSmall_ThrowsFileTooSmall()
    {
        using var memory = new GuestMemory();
        var e = Assert.Throws<GuestMemoryException>(() => memory.AddRegion(First with { MmapOffset = 4096 }, Memfd()));
        Assert.Equal(GuestMemoryRule.FileTooSmall, e.Rule);
        Assert.Equal(0, memory.RegionCount);
    }

    [Fact]
    public void AddRegion_BeyondMaxRegions_ThrowsTooManyRegions()
    {
        using var memory = new GuestMemory();
        int fd = FileDescriptors.CreateMemFd("t", 4096);
        try
        {
            for (ulong i = 0; i < GuestMemory.MaxRegions; i++)
            {
                memory.AddRegion(new GuestMemoryRegion(i * 4096, 4096, Uva + (i * 4096), 0), FileDescriptors.Duplicate(fd));
            }

            ulong next = GuestMemory.MaxRegions * 4096UL;
            var e = Assert.Throws<GuestMemoryException>(
                () => memory.AddRegion(new GuestMemoryRegion(next, 4096, Uva + next, 0), FileDescriptors.Duplicate(fd)));
            Assert.Equal(GuestMemoryRule.TooManyRegions, e.Rule);
            Assert.Equal(GuestMemory.MaxRegions, memory.RegionCount);
            Assert.True(memory.TryGetSpan((GuestMemory.MaxRegions - 1) * 4096UL, 4096, out _));
        }
        finally
        {
            FileDescriptors.Close(fd);
        }
    }

    [Fact]
    public void SetRegions_OverlapWithinTable_ThrowsAndKeepsTheOldTable()
    {
        using GuestMemory memory = WithFirst();
        GuestMemoryRegion[] table = [new(0, MiB, Uva + (8 * MiB), 0), new(MiB / 2, MiB, Uva + (16 * MiB), 0)];
        var e = Assert.Throws<GuestMemoryException>(() => memory.SetRegions(table, [Memfd(), Memfd()]));
        Assert.Equal(GuestMemoryRule.GuestRangesOverlap, e.Rule);
        Assert.Equal(First, memory.GetRegion(0));
        Assert.True(memory.TryGetSpan(Gpa, 1, out _));
    }

    [Fact]
    public void SetRegions_MoreRegionsThanDescriptors_ThrowsDescriptorCountMismatch()
    {
        using var memory = new GuestMemory();
        GuestMemoryRegion[] table = [First, First with { GuestPhysAddr = 0, UserAddr = 0 }];
        var e = Assert.Throws<GuestMemoryException>(() => memory.SetRegions(table, [Memfd()]));
        Assert.Equal(GuestMemoryRule.DescriptorCountMismatch, e.Rule);
    }

    [Fact]
    public void SetRegions_SecondRegionFailsToMap_KeepsTheOldTable()
    {
        using GuestMemory memory = WithFirst();
        GuestMemoryRegion[] table = [new(0, MiB, 0x10_0000, 0), new(Gpa, MiB, Uva, 2 * MiB)];
        Assert.Throws<GuestMemoryException>(() => memory.SetRegions(table, [Memfd(), Memfd()]));
        Assert.Equal(1, memory.RegionCount);
        Assert.False(memory.TryGetSpan(0, 1, out _));
    }

    [Fact]
    public void SetRegions_NewTable_ReplacesTheOldOne()
    {
        using GuestMemory memory = WithFirst();
        memory.SetRegions([new GuestMemoryRegion(0, MiB, 0x10_0000, 0)], [Memfd()]);
        Assert.Equal(1, memory.RegionCount);
        Assert.True(memory.TryGetSpan(0, 1, out _));
        Assert.False(memory.TryGetSpan(Gpa, 1, out _));
    }

    [Fact]
    public void TryGetSpan_InsideRegion_ReturnsSpanOfThatLength()
    {
        using GuestMemory memory = WithFirst();
        Assert.True(memory.TryGetSpan(Gpa + 100, 200, out Span<byte> span));
        Assert.Equal(200, span.Length);
    }

    [Theory]
    [InlineData(Gpa - 1, 1)]
    [InlineData(Gpa - 1, 2)]
    [InlineData(Gpa + MiB, 1)]
    [InlineData(Gpa + MiB - 1, 2)]
    [InlineData(Gpa, (int)MiB + 1)]
    [InlineData(Gpa + 10, -1)]
    [InlineData(ulong.MaxValue, 2)]
    [InlineData(0UL, 1)]
    public void TryGetSpan_OutOfRange_ReturnsFalse(ulong guestAddress, int length)
    {
        using GuestMemory memory = WithFirst();
        Assert.False(memory.TryGetSpan(guestAddress, length, out Span<byte> span));
        Assert.True(span.IsEmpty);
    }

    [Fact]
    public void TryGetSpan_RangeCrossingTwoAdjacentRegions_ReturnsFalse()
    {
        using GuestMemory memory = WithFirst();
        memory.AddRegion(new GuestMemoryRegion(Gpa + MiB, MiB, Uva + (64 * MiB), 0), Memfd());
        Assert.True(memory.TryGetSpan(Gpa + MiB - 8, 8, out _));
        Assert.True(memory.TryGetSpan(Gpa + MiB, 8, out _));
        Assert.False(memory.TryGetSpan(Gpa + MiB - 8, 16, out _));
    }

    [Fact]
    public void TryGetSpan_AtExactEnd_AllowsLastByteAndEmptySpan()
    {
        using GuestMemory memory = WithFirst();
        Assert.True(memory.TryGetSpan(Gpa + MiB - 1, 1, out Span<byte> last));
        Assert.Equal(1, last.Length);
        Assert.True(memory.TryGetSpan(Gpa + MiB, 0, out Span<byte> empty));
        Assert.True(empty.IsEmpty);
        Assert.True(memory.TryGetSpan(Gpa, (int)MiB, out Span<byte> whole));
        Assert.Equal((int)MiB, whole.Length);
    }

    [Fact]
    public void TryTranslateUserAddress_InsideARegion_ReturnsItsGuestAddress()
    {
        using GuestMemory memory = WithFirst();
        memory.AddRegion(new GuestMemoryRegion(0x1_0000_0000, MiB, Uva + (64 * MiB), 0), Memfd());

        Assert.True(memory.TryTranslateUserAddress(Uva + 0x123, out ulong a));
        Assert.Equal(Gpa + 0x123, a);
        Assert.True(memory.TryTranslateUserAddress(Uva + (64 * MiB) + MiB - 1, out ulong b));
        Assert.Equal(0x1_0000_0000 + MiB - 1, b);
        Assert.False(memory.TryTranslateUserAddress(Uva + MiB, out _));
        Assert.False(memory.TryTranslateUserAddress(Uva - 1, out _));
    }

    [Fact]
    public void RemoveRegion_MatchingAddressesAndSize_UnmapsOnlyThatRegion()
    {
        using GuestMemory memory = WithFirst();
        var second = new GuestMemoryRegion(0x1_0000_0000, MiB, Uva + (64 * MiB), 0);
        memory.AddRegion(second, Memfd());
        Assert.True(memory.TryGetSpan(second.GuestPhysAddr, 1, out _)); // now the cached hit

        memory.RemoveRegion(second.GuestPhysAddr, second.Size, second.UserAddr);

        Assert.Equal(1, memory.RegionCount);
        Assert.False(memory.TryGetSpan(second.GuestPhysAddr, 1, out _));
        Assert.False(memory.TryTranslateUserAddress(second.UserAddr, out _));
        Assert.True(memory.TryGetSpan(Gpa, 1, out _));
    }

    [Fact]
    public void RemoveRegion_SizeDiffers_ThrowsRegionNotFound()
    {
        using GuestMemory memory = WithFirst();
        var e = Assert.Throws<GuestMemoryException>(() => memory.RemoveRegion(Gpa, MiB / 2, Uva));
        Assert.Equal(GuestMemoryRule.RegionNotFound, e.Rule);
        Assert.Equal(1, memory.RegionCount);
    }

    [Fact]
    public void Dispose_Always_MakesEveryAddressUnreachable()
    {
        GuestMemory memory = WithFirst();
        memory.Dispose();
        Assert.False(memory.TryGetSpan(Gpa, 1, out _));
        Assert.Equal(0, memory.RegionCount);
    }

    [Fact]
    public void LogDirty_WriteCrossingPageBoundary_SetsBothPagesBits()
    {
        using GuestMemory memory = WithFirst();
        using var log = new TestDirtyLog(64 * 1024);
        log.AttachTo(memory);
        Assert.True(memory.IsLogging);

        memory.LogDirty(Gpa + 0x1ffc, 8);

        ulong page = Gpa / 4096;
        Assert.Equal([page + 1, page + 2], log.DirtyPages());
    }

    [Fact]
    public void LogDirty_LongWrite_SetsEveryPageAcrossWords()
    {
        using GuestMemory memory = WithFirst();
        using var log = new TestDirtyLog(4096);
        log.AttachTo(memory);

        memory.LogDirty(60 * 4096, (70 * 4096) + 1); // pages 60 .. 130: three 64-bit words

        List<ulong> pages = log.DirtyPages();
        Assert.Equal(71, pages.Count);
        Assert.Equal(60UL, pages[0]);
        Assert.Equal(130UL, pages[^1]);
    }

    [Fact]
    public void LogDirty_BeyondLogSize_IgnoredAndCounted()
    {
        using GuestMemory memory = WithFirst();
        using var log = new TestDirtyLog(8); // 64 pages: 0 .. 256 KiB
        log.AttachTo(memory);

        memory.LogDirty(62 * 4096, 4 * 4096); // pages 62, 63 inside; 64, 65 beyond
        memory.LogDirty(Gpa, 1); // wholly beyond
        memory.LogDirty(ulong.MaxValue - 10, 100); // wraps: clamped, beyond

        Assert.Equal([62UL, 63UL], log.DirtyPages());
        Assert.Equal(2 + 1 + 1, memory.DirtyPagesBeyondLog);
    }

    [Fact]
    public void LogDirty_NotLoggingOrStopped_SetsNothing()
    {
        using GuestMemory memory = WithFirst();
        using var log = new TestDirtyLog(8);
        memory.LogDirty(0, 4096);
        log.AttachTo(memory);
        memory.StopLog();
        memory.LogDirty(4096, 4096);

        Assert.False(memory.IsLogging);
        Assert.Empty(log.DirtyPages());
        Assert.Equal(0, memory.DirtyPagesBeyondLog);
    }

    [Fact]
    public void SetLog_UnalignedOffset_ThrowsUnalignedOffsetAndKeepsLogging()
    {
        using GuestMemory memory = WithFirst();
        using var log = new TestDirtyLog(8);
        log.AttachTo(memory);
        var e = Assert.Throws<GuestMemoryException>(() => memory.SetLog(Memfd(), 8, 8));
        Assert.Equal(GuestMemoryRule.UnalignedOffset, e.Rule);
        Assert.True(memory.IsLogging);
    }

    [Fact]
    public void SharedMemfd_WriteThroughTestKitMapping_IsVisibleToGuestMemoryAndBack()
    {
        using TestGuestMemory guest = TestGuestMemory.TwoRegions();
        using GuestMemory backEnd = guest.CreateBackEnd();
        GuestMemoryRegion second = guest.Regions[1];
        Assert.NotEqual(0UL, second.MmapOffset);

        guest.WriteU64(second.GuestPhysAddr + 8, 0x1122_3344_5566_7788);
        Assert.True(backEnd.TryGetSpan(second.GuestPhysAddr + 8, 8, out Span<byte> seen));
        Assert.Equal(0x88, seen[0]);
        Assert.Equal(0x11, seen[7]);

        seen[0] = 0xEE;
        Assert.Equal(0x1122_3344_5566_77EEUL, guest.ReadU64(second.GuestPhysAddr + 8));

        // The first region is distinct memory at file offset 0.
        Assert.True(backEnd.TryGetSpan(guest.Regions[0].GuestPhysAddr + 8, 8, out Span<byte> other));
        Assert.Equal(0, other[0]);
    }

    private static int Memfd(ulong size = MiB) => FileDescriptors.CreateMemFd("switchyard-test", size);

    private static GuestMemory WithFirst() => new([First], [Memfd()]);
}

[Collection(FdCountCollection.Name)]
public class GuestMemoryDescriptorTableTests
{
    [Fact]
    public void SetRegionsAndAddRegion_AnyOutcome_KeepNoDescriptorOpen()
    {
        const ulong MiB = 1UL << 20;
        int before = FdCountCollection.OpenDescriptorCount();
        using (var memory = new GuestMemory())
        {
            // Second region's file is too small: the first mapping is undone, the third descriptor closed unused.
            GuestMemoryRegion[] table = [new(0, MiB, 0x10_0000, 0), new(MiB, MiB, 0x20_0000, MiB), new(2 * MiB, MiB, 0x30_0000, 0)];
            int[] fds = [Memfd(MiB), Memfd(MiB), Memfd(MiB)];
            Assert.Throws<GuestMemoryException>(() => memory.SetRegions(table, fds));

            // Rule broken before mapping.
            Assert.Throws<GuestMemoryException>(() => memory.AddRegion(new GuestMemoryRegion(0, 0, 0, 0), Memfd(MiB)));

            // Success: mapped, descriptor closed, mapping kept.
            memory.AddRegion(new GuestMemoryRegion(0, MiB, 0x10_0000, 0), Memfd(MiB));
            Assert.Equal(before, FdCountCollection.OpenDescriptorCount());
        }

        Assert.Equal(before, FdCountCollection.OpenDescriptorCount());
    }

    private static int Memfd(ulong size) => FileDescriptors.CreateMemFd("switchyard-test", size);
}
