// Hostile ring contents through the whole path: guest driver, shared memfd memory, back-end, data plane.
//
// Theory of operation: a malicious guest cannot send vhost-user messages, but it writes the rings.
// Each test starts two independent back-ends (two connections, two guests' memories): guest A writes
// one kind of bad state into its TX ring (avail index jump, descriptor loop, buffer outside memory,
// writable before readable, nested indirect, indirect table length not a multiple of 16, head out of
// range) and kicks; the test data plane pops it through the SplitQueue the back-end built. The
// disposition must be the one STYLE.md habit 3 gives the rule: the chain is returned with used length 0
// and the ring carries on (A's next good frame arrives), or the queue is marked broken and pops nothing
// more; either way A's control connection stays open. Guest B, meanwhile, still sends and receives:
// one guest's bad ring touches nobody else. No descriptor may outlive either connection.
//
// Also here: memory-table changes under running rings (SET_MEM_TABLE replacement, REM_MEM_REG of the
// rings' region and ADD_MEM_REG of it again, as QEMU does when a region changes).
using Switchyard.Native;
using Switchyard.TestKit.VhostUser;
using Switchyard.VhostUser.Tests.Support;
using Switchyard.Virtio;

namespace Switchyard.VhostUser.Tests;

[Collection(DescriptorTableCollection.Name)]
public class RingContentTests
{
    private const int QueueSize = 64;

    [Fact]
    public void AvailIndexJump_MoreThanQueueSize_BreaksQueueOnly() => WithTwoGuests((a, driver) =>
    {
        GuestSplitRing tx = driver.TxRing();
        tx.PublishAvailIdx((ushort)(tx.AvailIdx + QueueSize + 1));
        driver.Kick(tx.Index);
        a.Poll();

        Assert.Equal((1, QueueError.AvailIndexJump), Assert.Single(a.DataPlane.QueueErrors));
        Assert.True(a.Device.Rings[1].Queue.IsBroken);
        Assert.Equal(0, tx.UsedIdx);

        // Broken means broken: a later good frame is not popped, but the connection still answers.
        driver.SendFrame(Frames.Make(60, 1));
        a.Poll();
        Assert.Empty(a.DataPlane.TxFrames);
        Assert.Equal(0, a.FrontEnd.GetVringBase(1));
        a.AssertOpen();
    });

    [Fact]
    public void HeadOutOfRange_InAvailRing_BreaksQueueOnly() => WithTwoGuests((a, driver) =>
    {
        GuestSplitRing tx = driver.TxRing();
        tx.Post((ushort)(QueueSize + 5));
        driver.Kick(tx.Index);
        a.Poll();

        Assert.Equal((1, QueueError.HeadOutOfRange), Assert.Single(a.DataPlane.QueueErrors));
        Assert.True(a.Device.Rings[1].Queue.IsBroken);
        a.AssertOpen();
    });

    [Fact]
    public void DescriptorLoop_OnTx_ChainReturnedEmpty() => WithTwoGuests((a, driver) =>
    {
        GuestSplitRing tx = driver.TxRing();
        ulong buffer = GoodTxBuffer(driver, out uint length);
        ushort first = tx.AllocateDescriptor();
        ushort second = tx.AllocateDescriptor();
        tx.WriteDescriptor(first, buffer, length, GuestSplitRing.DescFlagNext, second);
        tx.WriteDescriptor(second, buffer, length, GuestSplitRing.DescFlagNext, first);

        PostAndAssertReturnedEmpty(a, driver, first, QueueError.DescriptorLoop);
    });

    [Fact]
    public void BufferOutsideGuestMemory_OnTx_ChainReturnedEmpty() => WithTwoGuests((a, driver) =>
    {
        GuestSplitRing tx = driver.TxRing();
        ushort head = tx.AllocateDescriptor();
        tx.WriteDescriptor(head, 0x1000, 74, 0); // Guest RAM starts at 1 GiB.

        PostAndAssertReturnedEmpty(a, driver, head, QueueError.BufferOutsideMemory);
    });

    [Fact]
    public void BufferStraddlingTheRegionEnd_OnTx_ChainReturnedEmpty() => WithTwoGuests((a, driver) =>
    {
        GuestSplitRing tx = driver.TxRing();
        GuestMemoryRegion region = driver.Memory.Regions[0];
        ushort head = tx.AllocateDescriptor();
        tx.WriteDescriptor(head, region.GuestPhysAddr + region.Size - 32, 74, 0);

        PostAndAssertReturnedEmpty(a, driver, head, QueueError.BufferOutsideMemory);
    });

    [Fact]
    public void WritableBeforeReadable_OnTx_ChainReturnedEmpty() => WithTwoGuests((a, driver) =>
    {
        GuestSplitRing tx = driver.TxRing();
        ulong buffer = GoodTxBuffer(driver, out uint length);
        ushort first = tx.AllocateDescriptor();
        ushort second = tx.AllocateDescriptor();
        tx.WriteDescriptor(first, buffer, 64, GuestSplitRing.DescFlagWrite | GuestSplitRing.DescFlagNext, second);
        tx.WriteDescriptor(second, buffer, length, 0);

        PostAndAssertReturnedEmpty(a, driver, first, QueueError.WritableBeforeReadable);
    });

    [Fact]
    public void NestedIndirectTable_OnTx_ChainReturnedEmpty() => WithTwoGuests((a, driver) =>
    {
        GuestSplitRing tx = driver.TxRing();
        ulong buffer = GoodTxBuffer(driver, out uint length);
        ulong inner = driver.Memory.Allocate(16, 16);
        ulong outer = driver.Memory.Allocate(16, 16);
        GuestSplitRing.WriteTableEntry(driver.Memory, inner, 0, buffer, length, 0);
        GuestSplitRing.WriteTableEntry(driver.Memory, outer, 0, inner, 16, GuestSplitRing.DescFlagIndirect);
        ushort head = tx.AllocateDescriptor();
        tx.WriteDescriptor(head, outer, 16, GuestSplitRing.DescFlagIndirect);

        PostAndAssertReturnedEmpty(a, driver, head, QueueError.NestedIndirect);
    });

    [Fact]
    public void IndirectTableLengthNotMultipleOf16_OnTx_ChainReturnedEmpty() => WithTwoGuests((a, driver) =>
    {
        GuestSplitRing tx = driver.TxRing();
        ulong buffer = GoodTxBuffer(driver, out uint length);
        ulong table = driver.Memory.Allocate(32, 16);
        GuestSplitRing.WriteTableEntry(driver.Memory, table, 0, buffer, length, 0);
        ushort head = tx.AllocateDescriptor();
        tx.WriteDescriptor(head, table, 20, GuestSplitRing.DescFlagIndirect);

        PostAndAssertReturnedEmpty(a, driver, head, QueueError.IndirectTableLengthNotMultipleOf16);
    });

    [Fact]
    public void SetMemTable_ReplacedWhileRingsRun_RingsKeepGoing() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = StartGuest(h, new NegotiateOptions { MemoryTable = MemoryTableMode.SetMemTable });
        SendAndAssertArrives(h, driver, Frames.Make(60, 1));

        h.FrontEnd.SetMemTable(driver.Memory);

        SendAndAssertArrives(h, driver, Frames.Make(61, 2));
        Assert.Equal(0, h.Backend.BrokenRings);
        Assert.Single(h.Device.EventsOf(DeviceEventKind.RingStarted), e => e.Ring == 1);
    });

    [Fact]
    public void RemMemReg_RegionUnderRunningRings_StopsAndCountsThemConnectionKept() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = StartGuest(h, new NegotiateOptions { MemoryTable = MemoryTableMode.AddMemReg });

        h.FrontEnd.RemMemReg(driver.Memory.Regions[0]);

        Assert.Equal(2, h.Backend.BrokenRings);
        Assert.Empty(h.Device.Rings);
        h.AssertOpen();
    });

    [Fact]
    public void RemMemRegThenAddMemReg_UnderRunningRings_RingsResumeWhereTheyStopped() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = StartGuest(h, new NegotiateOptions { MemoryTable = MemoryTableMode.AddMemReg });
        for (int i = 0; i < 3; i++)
        {
            SendAndAssertArrives(h, driver, Frames.Make(60, (byte)i));
        }

        // QEMU's vhost_user_add_remove_regions when a region changes: remove it, then add it (here unchanged).
        h.FrontEnd.RemMemReg(driver.Memory.Regions[0]);
        h.FrontEnd.AddMemRegions(driver.Memory);

        Assert.Equal(2, h.Device.Rings.Count);
        SendAndAssertArrives(h, driver, Frames.Make(99, 9));
        Assert.Equal(4, h.DataPlane.TxFrames.Count); // Nothing popped twice.
        Assert.Equal(0, driver.ForeignTxCompletions);
        Assert.Equal(4, h.FrontEnd.GetVringBase(1));
    });

    /// <summary>Runs <paramref name="attack"/> on guest A, then checks that guest B, on its own back-end, still
    /// sends and receives, and that no descriptor of either outlives them.</summary>
    private static void WithTwoGuests(Action<BackendHarness, VirtioNetDriver> attack)
    {
        FdSnapshot before = FdSnapshot.Take();
        using (var a = new BackendHarness())
        using (var b = new BackendHarness())
        using (VirtioNetDriver guestA = StartGuest(a))
        using (VirtioNetDriver guestB = StartGuest(b))
        {
            attack(a, guestA);
            a.AssertOpen();

            SendAndAssertArrives(b, guestB, Frames.Make(128, 0xB));
            guestB.PostRxBuffers(4, 2048);
            Assert.Equal(NetRxStatus.Delivered, b.DataPlane.Deliver(0, Frames.Make(200, 0xC)));
            Assert.True(guestB.WaitForCall(BackendHarness.LongWait, ringIndex: 0));
            Assert.True(guestB.TryReceiveFrame(out byte[] received, out _));
            Assert.Equal(Frames.Make(200, 0xC), received);
            Assert.Empty(b.DataPlane.QueueErrors);
            b.AssertOpen();
        }

        before.AssertNoneLeaked();
    }

    private static VirtioNetDriver StartGuest(BackendHarness h, NegotiateOptions? options = null)
    {
        VirtioNetDriver driver = h.CreateDriver(new VirtioNetDriverOptions { RxQueueSize = QueueSize, TxQueueSize = QueueSize });
        try
        {
            driver.Start(options);
            return driver;
        }
        catch
        {
            driver.Dispose();
            throw;
        }
    }

    /// <summary>Sends <paramref name="frame"/> and asserts it is the next frame the data plane popped.</summary>
    private static void SendAndAssertArrives(BackendHarness h, VirtioNetDriver driver, byte[] frame)
    {
        int before = h.DataPlane.TxFrames.Count;
        driver.SendFrame(frame);
        Assert.True(driver.WaitForCall(BackendHarness.LongWait, ringIndex: 1), "no TX completion");
        Assert.Equal(before + 1, h.DataPlane.TxFrames.Count);
        Assert.Equal(frame, h.DataPlane.TxFrames[^1].Frame);
    }

    /// <summary>A readable buffer holding a valid virtio_net_hdr and a 62-byte frame, so only the chain is wrong.</summary>
    private static ulong GoodTxBuffer(VirtioNetDriver driver, out uint length)
    {
        byte[] frame = Frames.Make(62, 0xA);
        length = (uint)(GuestNetHeader.Size + frame.Length);
        ulong buffer = driver.Memory.Allocate(length, 16);
        driver.Memory.Fill(buffer, GuestNetHeader.Size, 0);
        driver.Memory.Write(buffer + GuestNetHeader.Size, frame);
        return buffer;
    }

    /// <summary>Posts <paramref name="head"/>, kicks, and checks the disposition "returned with used length 0": exactly
    /// that head comes back empty, the queue is not broken, and the ring still carries a good frame afterwards.</summary>
    private static void PostAndAssertReturnedEmpty(BackendHarness a, VirtioNetDriver driver, ushort head, QueueError expected)
    {
        GuestSplitRing tx = driver.TxRing();
        tx.Post(head);
        driver.Kick(tx.Index);

        Assert.True(driver.WaitForCall(BackendHarness.LongWait, ringIndex: 1), "the bad chain was not returned");
        Assert.Equal((1, expected), Assert.Single(a.DataPlane.QueueErrors));
        Assert.Equal(1, a.DataPlane.ReturnedEmpty);
        Assert.Empty(a.DataPlane.TxFrames);
        Assert.True(tx.TryPopUsed(out uint id, out uint length));
        Assert.Equal(head, id);
        Assert.Equal(0u, length);
        Assert.False(a.Device.Rings[1].Queue.IsBroken);

        SendAndAssertArrives(a, driver, Frames.Make(70, 0xD));
        Assert.Equal(2, a.FrontEnd.GetVringBase(1)); // Two chains consumed: the bad one and the good one.
    }
}
