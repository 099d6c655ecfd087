// Tests of SplitQueue configuration: one test per layout rule (Queue Size, alignment, rings inside
// guest memory, event fields under EVENT_IDX), plus reading used.idx from the ring and Remap.
using Switchyard.Virtio.Tests.Support;

namespace Switchyard.Virtio.Tests;

/// <summary>One test per layout rule SplitQueue.TryCreate enforces (virtio 1.2 §2.7, §2.7.1).</summary>
public class SplitQueueConfigurationTests
{
    private const ulong Base = 0x10_0000;
    private const int MemoryLength = 1 << 20;

    private static QueueConfigError Configure(SplitQueueLayout layout, NegotiatedFeatures features = NegotiatedFeatures.None)
    {
        var memory = new HeapGuestMemory(Base, MemoryLength);
        bool ok = SplitQueue.TryCreate(memory, layout, features, 0, 0, out SplitQueue? queue, out QueueConfigError error);
        Assert.Equal(ok, queue is not null);
        Assert.Equal(ok, error == QueueConfigError.None);
        return error;
    }

    private static SplitQueueLayout Valid(int size) => new(size, Base, Base + 0x4_0000, Base + 0x8_0000);

    [Fact]
    public void TryCreate_ValidLayout_Succeeds() => Assert.Equal(QueueConfigError.None, Configure(Valid(256)));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(1024)]
    [InlineData(32768)]
    public void TryCreate_PowerOfTwoUpTo32768_Succeeds(int size)
    {
        // A 32768-entry queue needs 512 KiB of descriptors; give the rings room.
        var memory = new HeapGuestMemory(Base, 2 * MemoryLength);
        var layout = new SplitQueueLayout(size, Base, Base + 0x8_0000, Base + 0x10_0000);
        Assert.True(SplitQueue.TryCreate(memory, layout, NegotiatedFeatures.EventIdx, 0, 0, out _, out QueueConfigError error), error.ToString());
    }

    [Fact]
    public void TryCreate_SizeZero_RejectedSizeZero() => Assert.Equal(QueueConfigError.SizeZero, Configure(Valid(0)));

    [Theory]
    [InlineData(3)]
    [InlineData(100)]
    [InlineData(255)]
    [InlineData(-256)]
    public void TryCreate_SizeNotPowerOfTwo_RejectedSizeNotPowerOfTwo(int size) =>
        Assert.Equal(QueueConfigError.SizeNotPowerOfTwo, Configure(Valid(size)));

    [Theory]
    [InlineData(65536)]
    [InlineData(32769)]
    public void TryCreate_SizeAbove32768_RejectedSizeTooLarge(int size) =>
        Assert.Equal(QueueConfigError.SizeTooLarge, Configure(Valid(size)));

    [Theory]
    [InlineData(8)]
    [InlineData(1)]
    public void TryCreate_DescriptorTableNot16Aligned_RejectedDescriptorTableMisaligned(ulong offset) =>
        Assert.Equal(QueueConfigError.DescriptorTableMisaligned, Configure(Valid(16) with { DescriptorTable = Base + offset }));

    [Fact]
    public void TryCreate_AvailRingNot2Aligned_RejectedAvailRingMisaligned() =>
        Assert.Equal(QueueConfigError.AvailRingMisaligned, Configure(Valid(16) with { AvailRing = Base + 0x4_0001 }));

    [Fact]
    public void TryCreate_UsedRingNot4Aligned_RejectedUsedRingMisaligned() =>
        Assert.Equal(QueueConfigError.UsedRingMisaligned, Configure(Valid(16) with { UsedRing = Base + 0x8_0002 }));

    [Fact]
    public void TryCreate_DescriptorTableOutsideMemory_RejectedDescriptorTableOutsideMemory()
    {
        // The table starts inside memory but its last descriptor crosses the end.
        ulong start = Base + MemoryLength - (16 * 255);
        Assert.Equal(QueueConfigError.DescriptorTableOutsideMemory, Configure(Valid(256) with { DescriptorTable = start }));
    }

    [Fact]
    public void TryCreate_DescriptorTableBelowMemory_RejectedDescriptorTableOutsideMemory() =>
        Assert.Equal(QueueConfigError.DescriptorTableOutsideMemory, Configure(Valid(16) with { DescriptorTable = 0 }));

    [Fact]
    public void TryCreate_DescriptorTableNearTopOfAddressSpace_RejectedDescriptorTableOutsideMemory() =>
        Assert.Equal(QueueConfigError.DescriptorTableOutsideMemory, Configure(Valid(16) with { DescriptorTable = 0xFFFF_FFFF_FFFF_FFF0 }));

    [Fact]
    public void TryCreate_AvailRingOutsideMemory_RejectedAvailRingOutsideMemory() =>
        Assert.Equal(QueueConfigError.AvailRingOutsideMemory, Configure(Valid(16) with { AvailRing = Base + MemoryLength }));

    [Fact]
    public void TryCreate_UsedRingOutsideMemory_RejectedUsedRingOutsideMemory() =>
        Assert.Equal(QueueConfigError.UsedRingOutsideMemory, Configure(Valid(16) with { UsedRing = Base + MemoryLength - 64 }));

    [Fact]
    public void TryCreate_UsedEventPastEndWithEventIdx_RejectedAvailRingOutsideMemory()
    {
        // flags, idx and ring[N] (4 + 2N bytes) fit exactly; used_event (2 more bytes) does not.
        ulong avail = Base + MemoryLength - (4 + (2 * 16));
        SplitQueueLayout layout = Valid(16) with { AvailRing = avail };
        Assert.Equal(QueueConfigError.None, Configure(layout));
        Assert.Equal(QueueConfigError.AvailRingOutsideMemory, Configure(layout, NegotiatedFeatures.EventIdx));
    }

    [Fact]
    public void TryCreate_AvailEventPastEndWithEventIdx_RejectedUsedRingOutsideMemory()
    {
        // Exactly 4 + 8N = 132 bytes of memory after the used ring: enough without avail_event, not with it.
        var memory = new HeapGuestMemory(Base, 0x1000 + 132);
        var layout = new SplitQueueLayout(16, Base, Base + 0x200, Base + 0x1000);
        Assert.True(SplitQueue.TryCreate(memory, layout, NegotiatedFeatures.None, 0, 0, out _, out _));
        Assert.False(SplitQueue.TryCreate(memory, layout, NegotiatedFeatures.EventIdx, 0, 0, out _, out QueueConfigError error));
        Assert.Equal(QueueConfigError.UsedRingOutsideMemory, error);
    }

    [Fact]
    public void TryCreate_UsedIdxNull_ReadsUsedIdxFromRing()
    {
        var memory = new HeapGuestMemory(Base, MemoryLength);
        var driver = new GuestDriver(memory, 8);
        driver.SetUsedIdxInRing(4242);
        Assert.True(SplitQueue.TryCreate(memory, driver.Layout, NegotiatedFeatures.None, 4242, null, out SplitQueue? queue, out _));
        Assert.Equal(4242, queue.UsedIdx);
        Assert.Equal(4242, queue.NextAvail);
    }

    [Fact]
    public void Remap_RingsNoLongerInMemory_ReturnsErrorAndBreaksQueue()
    {
        var memory = new HeapGuestMemory(Base, MemoryLength);
        var driver = new GuestDriver(memory, 8);
        SplitQueue queue = driver.CreateQueue();

        Assert.Equal(QueueConfigError.None, queue.Remap(new HeapGuestMemory(Base, MemoryLength)));
        Assert.False(queue.IsBroken);

        Assert.Equal(QueueConfigError.DescriptorTableOutsideMemory, queue.Remap(new HeapGuestMemory(Base + MemoryLength, MemoryLength)));
        Assert.True(queue.IsBroken);
        Assert.Equal(QueueError.QueueBroken, queue.TryPop(new DescriptorChain(8)));
    }
}
