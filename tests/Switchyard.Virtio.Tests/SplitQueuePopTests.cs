// Tests of the chain walker against a hostile guest-side driver: one test per validation rule, each
// checking the error value and its disposition, then the chain shapes a correct driver posts
// (single, chained, indirect, mixed, wrapping 16-bit indices) and the used-ring writes.
using Switchyard.Virtio.Tests.Support;
using static Switchyard.Virtio.Tests.Support.GuestDriver;

namespace Switchyard.Virtio.Tests;

/// <summary>The chain walker against a hostile driver: one test per rule (STYLE.md habit 2), then the
/// shapes of chain a well-behaved driver posts.</summary>
public class SplitQueuePopTests
{
    private const ulong Base = 0x10_0000;
    private readonly HeapGuestMemory memory = new(Base, 1 << 20);

    private (GuestDriver Driver, SplitQueue Queue, DescriptorChain Chain) Setup(int size = 8, bool indirect = false, bool eventIdx = false)
    {
        var driver = new GuestDriver(memory, size, eventIdx);
        return (driver, driver.CreateQueue(indirect), new DescriptorChain(size));
    }

    /// <summary>Pops, expects a ReturnEmpty error naming <paramref name="head"/>, and checks the chain can be returned.</summary>
    private static void AssertReturnEmpty(SplitQueue queue, DescriptorChain chain, QueueError expected, ushort head = 0)
    {
        ushort before = queue.NextAvail;
        QueueError error = queue.TryPop(chain);
        Assert.Equal(expected, error);
        Assert.Equal(QueueErrorDisposition.ReturnEmpty, error.GetDisposition());
        Assert.Equal(head, chain.HeadIndex);
        Assert.Equal((ushort)(before + 1), queue.NextAvail);
        Assert.False(queue.IsBroken);
        queue.PushUsed(chain.HeadIndex, 0);
        queue.PublishUsed();
    }

    // ---- Rules that break the queue ----

    [Fact]
    public void TryPop_AvailIndexJumpBeyondQueueSize_BreaksQueue()
    {
        var (driver, queue, chain) = Setup(size: 8);
        driver.SetAvailIdx(9);
        QueueError error = queue.TryPop(chain);
        Assert.Equal(QueueError.AvailIndexJump, error);
        Assert.Equal(QueueErrorDisposition.StopQueue, error.GetDisposition());
        Assert.True(queue.IsBroken);
        Assert.Equal(QueueError.QueueBroken, queue.TryPop(chain));
        Assert.False(queue.HasAvailable);
    }

    [Fact]
    public void TryPop_AvailIndexMovedBackwards_BreaksQueue()
    {
        // A decrement looks like a jump of almost 2^16 (virtio 1.2 §2.7.6.1: idx never decrements).
        var (driver, queue, chain) = Setup(size: 8);
        driver.SetAvailIdx(65535);
        Assert.Equal(QueueError.AvailIndexJump, queue.TryPop(chain));
        Assert.True(queue.IsBroken);
    }

    [Fact]
    public void TryPop_AvailIndexExactlyQueueSizeAhead_Accepted()
    {
        var (driver, queue, chain) = Setup(size: 8);
        for (int i = 0; i < 8; i++)
        {
            driver.PostBuffer(64, writable: false);
        }

        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        }

        Assert.Equal(QueueError.NoneAvailable, queue.TryPop(chain));
    }

    [Fact]
    public void TryPop_HeadAtOrAboveQueueSize_BreaksQueue()
    {
        var (driver, queue, chain) = Setup(size: 8);
        driver.Post(8);
        QueueError error = queue.TryPop(chain);
        Assert.Equal(QueueError.HeadOutOfRange, error);
        Assert.Equal(QueueErrorDisposition.StopQueue, error.GetDisposition());
        Assert.True(queue.IsBroken);
    }

    // ---- Rules that return the chain empty ----

    [Fact]
    public void TryPop_NextAtOrAboveQueueSize_ReturnsNextOutOfRange()
    {
        var (driver, queue, chain) = Setup(size: 8);
        driver.WriteDescriptor(0, driver.Alloc(64), 64, Next, next: 8);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.NextOutOfRange);
    }

    [Fact]
    public void TryPop_TwoDescriptorLoop_ReturnsDescriptorLoop()
    {
        var (driver, queue, chain) = Setup(size: 8);
        ulong buffer = driver.Alloc(64);
        driver.WriteDescriptor(0, buffer, 64, Next, next: 1);
        driver.WriteDescriptor(1, buffer, 64, Next, next: 0);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.DescriptorLoop);
    }

    [Fact]
    public void TryPop_SelfLoop_ReturnsDescriptorLoop()
    {
        var (driver, queue, chain) = Setup(size: 8);
        driver.WriteDescriptor(3, driver.Alloc(64), 64, Next, next: 3);
        driver.Post(3);
        AssertReturnEmpty(queue, chain, QueueError.DescriptorLoop, head: 3);
    }

    [Fact]
    public void TryPop_SelfLoopInQueueOfOne_ReturnsDescriptorLoop()
    {
        var (driver, queue, chain) = Setup(size: 1);
        driver.WriteDescriptor(0, driver.Alloc(64), 64, Next, next: 0);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.DescriptorLoop);
    }

    [Fact]
    public void TryPop_IndirectNotNegotiated_ReturnsIndirectNotNegotiated()
    {
        var (driver, queue, chain) = Setup(indirect: false);
        ulong table = driver.Alloc(16);
        WriteDescriptor(memory.At(table, 16), 0, driver.Alloc(64), 64, 0, 0);
        driver.WriteDescriptor(0, table, 16, Indirect);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.IndirectNotNegotiated);
    }

    [Fact]
    public void TryPop_IndirectWithNext_ReturnsIndirectWithNext()
    {
        var (driver, queue, chain) = Setup(indirect: true);
        ulong table = driver.Alloc(16);
        WriteDescriptor(memory.At(table, 16), 0, driver.Alloc(64), 64, 0, 0);
        driver.WriteDescriptor(0, table, 16, Indirect | Next, next: 1);
        driver.WriteDescriptor(1, driver.Alloc(64), 64, 0);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.IndirectWithNext);
    }

    [Fact]
    public void TryPop_IndirectInsideIndirectTable_ReturnsNestedIndirect()
    {
        var (driver, queue, chain) = Setup(indirect: true);
        ulong inner = driver.Alloc(16);
        WriteDescriptor(memory.At(inner, 16), 0, driver.Alloc(64), 64, 0, 0);
        ulong outer = driver.Alloc(32);
        WriteDescriptor(memory.At(outer, 32), 0, driver.Alloc(64), 64, Next, 1);
        WriteDescriptor(memory.At(outer, 32), 1, inner, 16, Indirect, 0);
        driver.WriteDescriptor(0, outer, 32, Indirect);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.NestedIndirect);
    }

    [Theory]
    [InlineData(8u)]
    [InlineData(17u)]
    [InlineData(31u)]
    public void TryPop_IndirectTableLengthNotMultipleOf16_ReturnsIndirectTableLengthNotMultipleOf16(uint length)
    {
        var (driver, queue, chain) = Setup(indirect: true);
        ulong table = driver.Alloc(32);
        WriteDescriptor(memory.At(table, 32), 0, driver.Alloc(64), 64, 0, 0);
        driver.WriteDescriptor(0, table, length, Indirect);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.IndirectTableLengthNotMultipleOf16);
    }

    [Fact]
    public void TryPop_IndirectTableLengthZero_ReturnsIndirectTableEmpty()
    {
        var (driver, queue, chain) = Setup(indirect: true);
        driver.WriteDescriptor(0, driver.Alloc(16), 0, Indirect);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.IndirectTableEmpty);
    }

    [Fact]
    public void TryPop_IndirectTableOutsideMemory_ReturnsIndirectTableOutsideMemory()
    {
        var (driver, queue, chain) = Setup(indirect: true);
        driver.WriteDescriptor(0, memory.EndAddress - 16, 32, Indirect);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.IndirectTableOutsideMemory);
    }

    [Fact]
    public void TryPop_IndirectTableAddressOverflows_ReturnsIndirectTableOutsideMemory()
    {
        var (driver, queue, chain) = Setup(indirect: true);
        driver.WriteDescriptor(0, 0xFFFF_FFFF_FFFF_FFF0, 32, Indirect);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.IndirectTableOutsideMemory);
    }

    [Fact]
    public void TryPop_IndirectTableLongerThanQueueSize_ReturnsIndirectTableTooLarge()
    {
        var (driver, queue, chain) = Setup(size: 8, indirect: true);
        ulong table = driver.Alloc(16 * 9);
        for (int i = 0; i < 9; i++)
        {
            WriteDescriptor(memory.At(table, 16 * 9), i, driver.Alloc(64), 64, (ushort)(i < 8 ? Next : 0), (ushort)(i + 1));
        }

        driver.WriteDescriptor(0, table, 16 * 9, Indirect);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.IndirectTableTooLarge);
    }

    [Fact]
    public void TryPop_IndirectNextBeyondTable_ReturnsNextOutOfRange()
    {
        // The table has 2 entries; next = 2 is inside the queue size but outside the table.
        var (driver, queue, chain) = Setup(size: 8, indirect: true);
        ulong table = driver.Alloc(32);
        WriteDescriptor(memory.At(table, 32), 0, driver.Alloc(64), 64, Next, 2);
        WriteDescriptor(memory.At(table, 32), 1, driver.Alloc(64), 64, 0, 0);
        driver.WriteDescriptor(0, table, 32, Indirect);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.NextOutOfRange);
    }

    [Fact]
    public void TryPop_LoopInsideIndirectTable_ReturnsDescriptorLoop()
    {
        var (driver, queue, chain) = Setup(size: 8, indirect: true);
        ulong table = driver.Alloc(32);
        ulong buffer = driver.Alloc(64);
        WriteDescriptor(memory.At(table, 32), 0, buffer, 64, Next, 1);
        WriteDescriptor(memory.At(table, 32), 1, buffer, 64, Next, 0);
        driver.WriteDescriptor(0, table, 32, Indirect);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.DescriptorLoop);
    }

    [Fact]
    public void TryPop_BufferOutsideMemory_ReturnsBufferOutsideMemory()
    {
        var (driver, queue, chain) = Setup();
        driver.WriteDescriptor(0, memory.EndAddress - 100, 200, 0);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.BufferOutsideMemory);
    }

    [Fact]
    public void TryPop_BufferBelowMemory_ReturnsBufferOutsideMemory()
    {
        var (driver, queue, chain) = Setup();
        driver.WriteDescriptor(0, 0x1000, 64, 0);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.BufferOutsideMemory);
    }

    [Fact]
    public void TryPop_BufferAddressPlusLengthOverflows_ReturnsBufferAddressOverflow()
    {
        var (driver, queue, chain) = Setup();
        driver.WriteDescriptor(0, 0xFFFF_FFFF_FFFF_F000, 0x2000, 0);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.BufferAddressOverflow);
    }

    [Fact]
    public void TryPop_BufferLongerThanASpan_ReturnsBufferOutsideMemory()
    {
        var (driver, queue, chain) = Setup();
        driver.WriteDescriptor(0, Base, 0x8000_0000, 0);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.BufferOutsideMemory);
    }

    [Fact]
    public void TryPop_ZeroLengthBuffer_ReturnsZeroLengthBuffer()
    {
        var (driver, queue, chain) = Setup();
        driver.WriteDescriptor(0, driver.Alloc(64), 0, 0);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.ZeroLengthBuffer);
    }

    [Fact]
    public void TryPop_ReadableAfterWritable_ReturnsWritableBeforeReadable()
    {
        var (driver, queue, chain) = Setup();
        driver.PostChain(driver.WritableBuffer(64), driver.Readable(new byte[64]));
        AssertReturnEmpty(queue, chain, QueueError.WritableBeforeReadable);
    }

    [Fact]
    public void TryPop_ReadableInIndirectTableAfterDirectWritable_ReturnsWritableBeforeReadable()
    {
        var (driver, queue, chain) = Setup(indirect: true);
        ulong table = driver.Alloc(16);
        WriteDescriptor(memory.At(table, 16), 0, driver.Alloc(64), 64, 0, 0);
        driver.WriteDescriptor(0, driver.Alloc(64), 64, Write | Next, next: 1);
        driver.WriteDescriptor(1, table, 16, Indirect);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.WritableBeforeReadable);
    }

    [Fact]
    public void TryPop_DirectPlusIndirectLongerThanQueueSize_ReturnsChainTooManyDescriptors()
    {
        var (driver, queue, chain) = Setup(size: 8, indirect: true);
        ulong table = driver.Alloc(16 * 8);
        ulong buffer = driver.Alloc(64);
        for (int i = 0; i < 8; i++)
        {
            WriteDescriptor(memory.At(table, 16 * 8), i, buffer, 64, (ushort)(i < 7 ? Next : 0), (ushort)(i + 1));
        }

        driver.WriteDescriptor(0, buffer, 64, Next, next: 1);
        driver.WriteDescriptor(1, table, 16 * 8, Indirect);
        driver.Post(0);
        AssertReturnEmpty(queue, chain, QueueError.ChainTooManyDescriptors);
    }

    [Fact]
    public void TryPop_ChainLongerThan4GiB_ReturnsChainTooManyBytes()
    {
        // 4097 descriptors of 1 MiB each, all naming the same memory: 2^32 + 2^20 bytes in total.
        const int size = 8192;
        var big = new HeapGuestMemory(Base, 4 << 20);
        var driver = new GuestDriver(big, size);
        SplitQueue queue = driver.CreateQueue();
        ulong buffer = driver.Alloc(1 << 20);
        for (int i = 0; i < 4097; i++)
        {
            driver.WriteDescriptor(i, buffer, 1 << 20, (ushort)(i < 4096 ? Next : 0), (ushort)(i + 1));
        }

        driver.Post(0);
        var chain = new DescriptorChain(size);
        AssertReturnEmpty(queue, chain, QueueError.ChainTooManyBytes);
    }

    [Fact]
    public void TryPop_ChainOfExactly4GiB_Accepted()
    {
        const int size = 8192;
        var big = new HeapGuestMemory(Base, 4 << 20);
        var driver = new GuestDriver(big, size);
        SplitQueue queue = driver.CreateQueue();
        ulong buffer = driver.Alloc(1 << 20);
        for (int i = 0; i < 4096; i++)
        {
            driver.WriteDescriptor(i, buffer, 1 << 20, (ushort)(i < 4095 ? Next : 0), (ushort)(i + 1));
        }

        driver.Post(0);
        var chain = new DescriptorChain(size);
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        Assert.Equal(1L << 32, chain.ReadableBytes);
    }

    [Fact]
    public void TryPop_HolderSmallerThanQueue_Throws()
    {
        var (_, queue, _) = Setup(size: 8);
        Assert.Throws<ArgumentException>(() => queue.TryPop(new DescriptorChain(4)));
    }

    // ---- Well-formed chains ----

    [Fact]
    public void TryPop_Empty_ReturnsNoneAvailable()
    {
        var (_, queue, chain) = Setup();
        Assert.False(queue.HasAvailable);
        Assert.Equal(QueueError.NoneAvailable, queue.TryPop(chain));
        Assert.Equal(QueueErrorDisposition.None, QueueError.NoneAvailable.GetDisposition());
        Assert.Equal(0, queue.NextAvail);
    }

    [Fact]
    public void TryPop_SingleReadableBuffer_CopiesSegment()
    {
        var (driver, queue, chain) = Setup();
        var (head, address) = driver.PostBuffer(100, writable: false);
        Assert.True(queue.HasAvailable);
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        Assert.Equal(head, chain.HeadIndex);
        Assert.Equal(1, chain.Count);
        Assert.Equal(new ChainSegment(address, 100, false), chain.Segments[0]);
        Assert.Equal(1, chain.ReadableCount);
        Assert.Equal(100, chain.ReadableBytes);
        Assert.Equal(0, chain.WritableBytes);
        Assert.False(chain.IsIndirect);
        Assert.Equal(1, queue.NextAvail);
        Assert.False(queue.HasAvailable);
    }

    [Fact]
    public void TryPop_ChainOfThree_CopiesInOrderWithDirections()
    {
        var (driver, queue, chain) = Setup();
        GuestBuffer a = driver.Readable(new byte[10]), b = driver.Readable(new byte[20]), c = driver.WritableBuffer(30);
        ushort head = driver.PostChain(a, b, c);
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        Assert.Equal(head, chain.HeadIndex);
        Assert.Equal(3, chain.Count);
        Assert.Equal(2, chain.ReadableCount);
        Assert.Equal(30, chain.ReadableBytes);
        Assert.Equal(30, chain.WritableBytes);
        Assert.Equal(new ChainSegment(a.Address, 10, false), chain.Segments[0]);
        Assert.Equal(new ChainSegment(b.Address, 20, false), chain.Segments[1]);
        Assert.Equal(new ChainSegment(c.Address, 30, true), chain.WritableSegments[0]);
    }

    [Fact]
    public void TryPop_ChainAsLongAsQueue_Accepted()
    {
        var (driver, queue, chain) = Setup(size: 8);
        ulong buffer = driver.Alloc(64);
        for (int i = 0; i < 8; i++)
        {
            driver.WriteDescriptor((i + 5) % 8, buffer, 64, (ushort)(i < 7 ? Next : 0), (ushort)((i + 6) % 8));
        }

        driver.Post(5);
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        Assert.Equal(8, chain.Count);
    }

    [Fact]
    public void TryPop_IndirectChain_CopiesTableEntries()
    {
        var (driver, queue, chain) = Setup(indirect: true);
        ulong table = driver.Alloc(48);
        GuestBuffer a = driver.Readable(new byte[12]), b = driver.Readable(new byte[1500]), c = driver.WritableBuffer(40);
        Span<byte> t = memory.At(table, 48);
        WriteDescriptor(t, 0, a.Address, a.Length, Next, 2);
        WriteDescriptor(t, 2, b.Address, b.Length, Next, 1);
        WriteDescriptor(t, 1, c.Address, c.Length, Write, 0);

        // WRITE on the descriptor that points at the table is ignored (virtio 1.2 §2.7.5.3.2).
        driver.WriteDescriptor(4, table, 48, Indirect | Write);
        driver.Post(4);
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        Assert.True(chain.IsIndirect);
        Assert.Equal(4, chain.HeadIndex);
        Assert.Equal(3, chain.Count);
        Assert.Equal(2, chain.ReadableCount);
        Assert.Equal(a.Address, chain.Segments[0].GuestAddress);
        Assert.Equal(b.Address, chain.Segments[1].GuestAddress);
        Assert.Equal(c.Address, chain.Segments[2].GuestAddress);
        Assert.Equal(1512, chain.ReadableBytes);
        Assert.Equal(40, chain.WritableBytes);
    }

    [Fact]
    public void TryPop_UnalignedIndirectTable_Accepted()
    {
        var (driver, queue, chain) = Setup(indirect: true);
        ulong table = driver.Alloc(40) + 3;
        WriteDescriptor(memory.At(table, 16), 0, driver.Alloc(64), 64, 0, 0);
        driver.WriteDescriptor(0, table, 16, Indirect);
        driver.Post(0);
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        Assert.Equal(64, chain.ReadableBytes);
    }

    [Fact]
    public void TryPop_DirectDescriptorsThenIndirect_Accepted()
    {
        // virtio 1.2 §2.7.5.3.2: "zero or more normal chained descriptors followed by a single descriptor with INDIRECT".
        var (driver, queue, chain) = Setup(indirect: true);
        ulong table = driver.Alloc(16);
        GuestBuffer inner = driver.WritableBuffer(64);
        WriteDescriptor(memory.At(table, 16), 0, inner.Address, inner.Length, Write, 0);
        GuestBuffer first = driver.Readable(new byte[12]);
        driver.WriteDescriptor(0, first.Address, first.Length, Next, next: 1);
        driver.WriteDescriptor(1, table, 16, Indirect);
        driver.Post(0);
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        Assert.Equal(2, chain.Count);
        Assert.Equal(first.Address, chain.Segments[0].GuestAddress);
        Assert.Equal(inner.Address, chain.Segments[1].GuestAddress);
        Assert.True(chain.Segments[1].IsWritable);
    }

    [Fact]
    public void TryPop_IndicesWrapAt65536_PopsAndPublishesAcrossTheWrap()
    {
        var driver = new GuestDriver(memory, 8);
        driver.SetAvailIdx(65530);
        driver.SetUsedIdxInRing(65530);
        SplitQueue queue = driver.CreateQueue(nextAvail: 65530, usedIdx: 65530);
        var chain = new DescriptorChain(8);
        ushort used = 65530;
        for (int round = 0; round < 3; round++)
        {
            var heads = new ushort[4];
            for (int i = 0; i < 4; i++)
            {
                heads[i] = driver.PostBuffer(32, writable: true).Head;
            }

            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(QueueError.Ok, queue.TryPop(chain));
                Assert.Equal(heads[i], chain.HeadIndex);
                queue.PushUsed(chain.HeadIndex, (uint)(100 + i));
            }

            queue.PublishUsed();
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(((uint)heads[i], (uint)(100 + i)), driver.UsedElement(used++));
            }

            Assert.Equal(used, driver.UsedIdx);
        }

        Assert.Equal(6, queue.NextAvail);
        Assert.Equal(6, queue.UsedIdx);
        Assert.Equal(6, driver.UsedIdx);
    }

    [Fact]
    public void PushUsed_BeforePublish_ElementWrittenButIndexUnchanged()
    {
        var (driver, queue, chain) = Setup();
        var (head, _) = driver.PostBuffer(64, writable: true);
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        queue.PushUsed(chain.HeadIndex, 42);
        Assert.Equal(((uint)head, 42u), driver.UsedElement(0));
        Assert.Equal(0, driver.UsedIdx);
        Assert.Equal(1, queue.UsedIdx);
        Assert.Equal(0, queue.PublishedUsedIdx);

        queue.PublishUsed();
        Assert.Equal(1, driver.UsedIdx);
        Assert.Equal(1, queue.PublishedUsedIdx);
    }

    [Fact]
    public void PushUsed_HeadNotOfThisQueue_Throws()
    {
        var (_, queue, _) = Setup(size: 8);
        Assert.Throws<ArgumentOutOfRangeException>(() => queue.PushUsed(8, 0));
    }

    [Fact]
    public void PushUsed_LogUsed_LogsElementAndIndex()
    {
        var (driver, queue, chain) = Setup();
        memory.Logging = true;
        queue.LogUsed = true;
        driver.PostBuffer(64, writable: true);
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        queue.PushUsed(chain.HeadIndex, 1);
        queue.PublishUsed();
        Assert.Contains((driver.Layout.UsedRing + 4, 8), memory.Dirty);
        Assert.Contains((driver.Layout.UsedRing + 2, 2), memory.Dirty);
    }

    [Fact]
    public void PushUsed_LogUsedOff_LogsNothing()
    {
        var (driver, queue, chain) = Setup();
        memory.Logging = true;
        driver.PostBuffer(64, writable: true);
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        queue.PushUsed(chain.HeadIndex, 1);
        queue.PublishUsed();
        Assert.Empty(memory.Dirty);
    }

    [Fact]
    public void RewindTo_AfterPops_SameChainsPopAgain()
    {
        var (driver, queue, chain) = Setup();
        ushort a = driver.PostBuffer(64, writable: true).Head;
        ushort b = driver.PostBuffer(64, writable: true).Head;
        ushort mark = queue.NextAvail;
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        Assert.Equal(QueueError.NoneAvailable, queue.TryPop(chain));
        queue.RewindTo(mark);
        Assert.True(queue.HasAvailable);
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        Assert.Equal(a, chain.HeadIndex);
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        Assert.Equal(b, chain.HeadIndex);
    }

    [Fact]
    public void RewindTo_FurtherThanQueueSize_Throws()
    {
        var (_, queue, _) = Setup(size: 8);
        Assert.Throws<ArgumentOutOfRangeException>(() => queue.RewindTo(unchecked((ushort)-9)));
    }

    [Fact]
    public void TryPop_DescriptorRewrittenAfterPop_ChainKeepsValidatedCopy()
    {
        var (driver, queue, chain) = Setup();
        var (head, address) = driver.PostBuffer(64, writable: false);
        Assert.Equal(QueueError.Ok, queue.TryPop(chain));
        driver.WriteDescriptor(head, 0xDEAD_0000, 0xFFFF, Write);
        Assert.Equal(new ChainSegment(address, 64, false), chain.Segments[0]);
    }
}
