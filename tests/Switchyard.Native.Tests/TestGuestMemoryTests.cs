// The test kit's guest memory: layout, allocator and address helpers that the guest-side driver relies on.
using Switchyard.TestKit.Memory;

namespace Switchyard.Native.Tests;

public class TestGuestMemoryTests
{
    [Fact]
    public void TwoRegions_Layout_PutsSecondRegionAtNonzeroMmapOffset()
    {
        using TestGuestMemory guest = TestGuestMemory.TwoRegions();
        Assert.Equal(2, guest.Regions.Count);
        Assert.Equal(0UL, guest.Regions[0].MmapOffset);
        Assert.Equal(guest.Regions[0].Size, guest.Regions[1].MmapOffset);
        Assert.Equal(TestGuestMemory.DefaultSize, guest.FileSize);
    }

    [Fact]
    public void Allocate_Alignment_ReturnsAlignedNonOverlappingChunks()
    {
        using TestGuestMemory guest = TestGuestMemory.OneRegion();
        ulong a = guest.Allocate(3, 1);
        ulong b = guest.Allocate(16, 4096);
        ulong c = guest.Allocate(1);
        Assert.Equal(TestGuestMemory.DefaultGuestBase, a);
        Assert.Equal(0UL, b % 4096);
        Assert.True(b >= a + 3);
        Assert.True(c >= b + 16);
        Assert.Equal(0UL, c % 16);
    }

    [Fact]
    public void Allocate_FirstRegionFull_MovesToSecondRegionWithoutStraddling()
    {
        using TestGuestMemory guest = TestGuestMemory.TwoRegions(firstSize: 8192, secondSize: 8192);
        Assert.Equal(TestGuestMemory.DefaultGuestBase, guest.Allocate(6000));
        Assert.Equal(TestGuestMemory.DefaultSecondGuestBase, guest.Allocate(6000));
        Assert.Throws<InvalidOperationException>(() => guest.Allocate(6000));
    }

    [Fact]
    public void ToUserAddress_BackEndTranslation_RoundTrips()
    {
        using TestGuestMemory guest = TestGuestMemory.TwoRegions();
        using GuestMemory backEnd = guest.CreateBackEnd();
        ulong gpa = guest.Regions[1].GuestPhysAddr + 0x40;
        Assert.True(backEnd.TryTranslateUserAddress(guest.ToUserAddress(gpa), out ulong back));
        Assert.Equal(gpa, back);
    }

    [Fact]
    public void ReadWrite_LittleEndianAndVolatile_Agree()
    {
        using TestGuestMemory guest = TestGuestMemory.OneRegion();
        ulong at = guest.Allocate(16);
        guest.WriteU16Volatile(at, 0xBEEF);
        Assert.Equal(0xBEEF, guest.ReadU16(at));
        Assert.Equal(0xEF, guest.ReadU8(at));
        guest.WriteU32(at + 4, 0x0102_0304);
        Assert.Equal(0x0102_0304U, guest.ReadU32(at + 4));
        Assert.Equal([0x04, 0x03, 0x02, 0x01], guest.Read(at + 4, 4));
        Assert.Equal((ushort)0x0304, guest.ReadU16Volatile(at + 4));
    }

    [Fact]
    public void GetSpan_OutsideOrAcrossRegions_Throws()
    {
        using TestGuestMemory guest = TestGuestMemory.TwoRegions();
        GuestMemoryRegion first = guest.Regions[0];
        Assert.Throws<ArgumentOutOfRangeException>(() => guest.GetSpan(first.GuestPhysAddr - 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => guest.GetSpan(first.GuestPhysAddr + first.Size - 1, 2));
    }
}
