// Tests of notification decisions: vring_need_event under EVENT_IDX, the NO_INTERRUPT flag, and kick
// suppression with its re-check (virtio 1.2 §2.7.7, §2.7.10).
using Switchyard.Virtio.Tests.Support;

namespace Switchyard.Virtio.Tests;

/// <summary>Used-buffer notifications (PublishUsed) and available-buffer notification suppression
/// (Enable/DisableNotifications), virtio 1.2 §2.7.7 and §2.7.10.</summary>
public class NotificationTests
{
    private readonly HeapGuestMemory memory = new(0x10_0000, 1 << 20);

    private (GuestDriver Driver, SplitQueue Queue, DescriptorChain Chain) Setup(bool eventIdx)
    {
        var driver = new GuestDriver(memory, 8, eventIdx);
        return (driver, driver.CreateQueue(), new DescriptorChain(8));
    }

    private static void Complete(GuestDriver driver, SplitQueue queue, DescriptorChain chain, int count)
    {
        for (int i = 0; i < count; i++)
        {
            driver.PostBuffer(16, writable: true);
            Assert.Equal(QueueError.Ok, queue.TryPop(chain));
            queue.PushUsed(chain.HeadIndex, 0);
        }
    }

    [Fact]
    public void PublishUsed_NothingPushed_ReturnsFalse()
    {
        var (_, queue, _) = Setup(eventIdx: false);
        Assert.False(queue.PublishUsed());
    }

    [Fact]
    public void PublishUsed_NoEventIdxAndFlagsZero_Notifies()
    {
        var (driver, queue, chain) = Setup(eventIdx: false);
        Complete(driver, queue, chain, 1);
        Assert.True(queue.PublishUsed());
    }

    [Fact]
    public void PublishUsed_NoInterruptFlag_Suppressed()
    {
        var (driver, queue, chain) = Setup(eventIdx: false);
        driver.SetAvailFlags(1);
        Complete(driver, queue, chain, 1);
        Assert.False(queue.PublishUsed());
        Assert.Equal(1, driver.UsedIdx);
    }

    [Fact]
    public void PublishUsed_EventIdxUsedEventInPublishedRange_Notifies()
    {
        // used_event = 0: the driver wants an interrupt once entry 0 is used (virtio 1.2 §2.7.7 note).
        var (driver, queue, chain) = Setup(eventIdx: true);
        driver.SetUsedEvent(0);
        Complete(driver, queue, chain, 1);
        Assert.True(queue.PublishUsed());
    }

    [Fact]
    public void PublishUsed_EventIdxUsedEventAhead_SuppressedUntilCrossed()
    {
        var (driver, queue, chain) = Setup(eventIdx: true);
        driver.SetUsedEvent(4);
        Complete(driver, queue, chain, 2);
        Assert.False(queue.PublishUsed()); // published 0..1
        Complete(driver, queue, chain, 2);
        Assert.False(queue.PublishUsed()); // published 2..3
        Complete(driver, queue, chain, 3);
        Assert.True(queue.PublishUsed());  // published 4..6 covers used_event 4
        Complete(driver, queue, chain, 1);
        Assert.False(queue.PublishUsed()); // 7: already past
    }

    [Fact]
    public void PublishUsed_EventIdxIgnoresNoInterruptFlag()
    {
        // virtio 1.2 §2.7.7.2: with EVENT_IDX the device MUST ignore the lower bit of avail.flags.
        var (driver, queue, chain) = Setup(eventIdx: true);
        driver.SetAvailFlags(1);
        driver.SetUsedEvent(0);
        Complete(driver, queue, chain, 1);
        Assert.True(queue.PublishUsed());
    }

    [Theory]
    [InlineData(0, 1, 0, true)]
    [InlineData(5, 6, 5, true)]
    [InlineData(5, 5, 4, false)]
    [InlineData(65535, 2, 65534, true)]  // range 65534..1 wraps and contains 65535
    [InlineData(3, 2, 65534, false)]
    [InlineData(65533, 2, 65534, false)] // event behind the range
    public void NeedEvent_MatchesVringNeedEvent(int eventIndex, int newIndex, int oldIndex, bool expected) =>
        Assert.Equal(expected, SplitQueue.NeedEvent((ushort)eventIndex, (ushort)newIndex, (ushort)oldIndex));

    [Fact]
    public void DisableNotifications_NoEventIdx_SetsNoNotify()
    {
        var (driver, queue, _) = Setup(eventIdx: false);
        queue.DisableNotifications();
        Assert.Equal(1, driver.UsedFlags);
        Assert.False(queue.EnableNotifications());
        Assert.Equal(0, driver.UsedFlags);
    }

    [Fact]
    public void EnableNotifications_BufferPostedMeanwhile_ReturnsTrue()
    {
        var (driver, queue, _) = Setup(eventIdx: false);
        queue.DisableNotifications();
        driver.PostBuffer(16, writable: true);
        Assert.True(queue.EnableNotifications());
    }

    [Fact]
    public void DisableNotifications_EventIdx_LeavesFlagsZero()
    {
        // virtio 1.2 §2.7.10.2: with EVENT_IDX the device MUST set used.flags to 0.
        var (driver, queue, _) = Setup(eventIdx: true);
        queue.DisableNotifications();
        Assert.Equal(0, driver.UsedFlags);
    }

    [Fact]
    public void EnableNotifications_EventIdx_WritesAvailEventAndRechecks()
    {
        var (driver, queue, chain) = Setup(eventIdx: true);
        Complete(driver, queue, chain, 3);
        Assert.False(queue.EnableNotifications());
        Assert.Equal(3, driver.AvailEvent);

        driver.PostBuffer(16, writable: true);
        Assert.True(queue.EnableNotifications());
        Assert.Equal(3, driver.AvailEvent);
    }

    [Fact]
    public void SetAvailEvent_NoEventIdx_WritesNothing()
    {
        var (driver, queue, chain) = Setup(eventIdx: false);
        Complete(driver, queue, chain, 2);
        queue.SetAvailEvent();
        Assert.Equal(0, driver.AvailEvent);
    }
}
