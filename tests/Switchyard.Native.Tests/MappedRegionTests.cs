// MappedRegion: peer-supplied sizes are checked before mmap, the kernel's refusals become IOException,
// and the descriptor is consumed in every case.
namespace Switchyard.Native.Tests;

public class MappedRegionTests
{
    private const ulong Page = 4096;

    [Fact]
    public void Map_WithMmapOffset_SkipsOffsetBytesOfTheFile()
    {
        int fd = FileDescriptors.CreateMemFd("t", 3 * Page);
        using (MappedRegion whole = MappedRegion.Map(FileDescriptors.Duplicate(fd), 0, 3 * Page))
        {
            whole.GetSpan(Page + 5, 1)[0] = 0xAB;
        }

        // An unaligned mmap_offset is fine: mmap always starts at file offset 0 (passt's approach).
        using MappedRegion region = MappedRegion.Map(fd, Page + 5, Page);
        Assert.Equal(Page, region.Length);
        Assert.Equal((2 * Page) + 5, region.MappedLength);
        Assert.Equal(0xAB, region.GetSpan(0, 1)[0]);
    }

    [Fact]
    public void Map_ZeroSize_ThrowsZeroSize()
    {
        int fd = FileDescriptors.CreateMemFd("t", Page);
        var e = Assert.Throws<GuestMemoryException>(() => MappedRegion.Map(fd, 0, 0));
        Assert.Equal(GuestMemoryRule.ZeroSize, e.Rule);
    }

    [Fact]
    public void Map_OffsetPlusSizeOverflows_ThrowsMappingRangeOverflow()
    {
        int fd = FileDescriptors.CreateMemFd("t", Page);
        var e = Assert.Throws<GuestMemoryException>(() => MappedRegion.Map(fd, ulong.MaxValue - 10, Page));
        Assert.Equal(GuestMemoryRule.MappingRangeOverflow, e.Rule);
    }

    [Fact]
    public void Map_BeyondOneTebibyte_ThrowsMappingTooLarge()
    {
        int fd = FileDescriptors.CreateMemFd("t", Page);
        var e = Assert.Throws<GuestMemoryException>(() => MappedRegion.Map(fd, Page, MappedRegion.MaxMappingSize));
        Assert.Equal(GuestMemoryRule.MappingTooLarge, e.Rule);
    }

    [Fact]
    public void Map_FileShorterThanMapping_ThrowsFileTooSmall()
    {
        int fd = FileDescriptors.CreateMemFd("t", Page);
        var e = Assert.Throws<GuestMemoryException>(() => MappedRegion.Map(fd, 16, Page));
        Assert.Equal(GuestMemoryRule.FileTooSmall, e.Rule);
    }

    [Fact]
    public void Map_SocketDescriptor_ThrowsNotARegularFile()
    {
        using SocketPair pair = SocketPair.Create();
        var e = Assert.Throws<GuestMemoryException>(() => MappedRegion.Map(pair.DetachFirst(), 0, Page));
        Assert.Equal(GuestMemoryRule.NotARegularFile, e.Rule);
    }

    [Fact]
    public void MapAtFileOffset_UnalignedOffset_ThrowsUnalignedOffset()
    {
        int fd = FileDescriptors.CreateMemFd("t", 2 * Page);
        var e = Assert.Throws<GuestMemoryException>(() => MappedRegion.MapAtFileOffset(fd, 8, Page));
        Assert.Equal(GuestMemoryRule.UnalignedOffset, e.Rule);
    }

    [Fact]
    public void MapAtFileOffset_AlignedOffset_MapsFromThatOffset()
    {
        int fd = FileDescriptors.CreateMemFd("t", 2 * Page);
        using (MappedRegion whole = MappedRegion.Map(FileDescriptors.Duplicate(fd), 0, 2 * Page))
        {
            whole.GetSpan(Page, 1)[0] = 0x5A;
        }

        using MappedRegion region = MappedRegion.MapAtFileOffset(fd, Page, Page);
        Assert.Equal(Page, region.MappedLength);
        Assert.Equal(0x5A, region.GetSpan(0, 1)[0]);
    }

    [Fact]
    public void GetSpan_OutsideRegion_Throws()
    {
        using MappedRegion region = MappedRegion.Map(FileDescriptors.CreateMemFd("t", Page), 0, Page);
        Assert.Equal(0, region.GetSpan(Page, 0).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => region.GetSpan(Page, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => region.GetSpan(ulong.MaxValue, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => region.GetSpan(0, -1));
    }

    [Fact]
    public void GetSpan_AfterDispose_ThrowsObjectDisposed()
    {
        MappedRegion region = MappedRegion.Map(FileDescriptors.CreateMemFd("t", Page), 0, Page);
        region.Dispose();
        Assert.Throws<ObjectDisposedException>(() => region.GetSpan(0, 1));
    }
}

[Collection(FdCountCollection.Name)]
public class MappedRegionDescriptorTableTests
{
    [Fact]
    public void Map_SuccessOrFailure_ClosesTheDescriptor()
    {
        int before = FdCountCollection.OpenDescriptorCount();

        int ok = FileDescriptors.CreateMemFd("t", 4096);
        using (MappedRegion.Map(ok, 0, 4096))
        {
            Assert.False(FileDescriptors.IsOpen(ok));
        }

        int bad = FileDescriptors.CreateMemFd("t", 4096);
        Assert.Throws<GuestMemoryException>(() => MappedRegion.Map(bad, 0, 8192));
        Assert.False(FileDescriptors.IsOpen(bad));

        Assert.Equal(before, FdCountCollection.OpenDescriptorCount());
    }
}
