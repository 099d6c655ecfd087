// EventHub: delivery to every subscriber, the network filter, and a slow subscriber losing events
// (counted) without ever blocking the publisher.
using Switchyard.Engine.Events;

namespace Switchyard.Engine.Tests.Events;

public sealed class EventHubTests
{
    private static SwitchyardEvent Event(string network, string port = "p") => new(DateTimeOffset.UnixEpoch, EventTypes.PortAdded, network, port);

    [Fact]
    public void Publish_EverySubscriberGetsIt_FilteredByNetwork()
    {
        var hub = new EventHub();
        using EventHub.Subscription all = hub.Subscribe();
        using EventHub.Subscription lab = hub.Subscribe("lab");

        hub.Publish(Event("default"));
        hub.Publish(Event("lab"));

        Assert.Equal(2, all.Reader.Count);
        Assert.True(lab.Reader.TryRead(out SwitchyardEvent? e));
        Assert.Equal("lab", e!.Network);
        Assert.False(lab.Reader.TryRead(out _));
    }

    [Fact]
    public void SlowSubscriber_LosesEventsBeyondItsCapacity_Counted_PublisherNeverBlocks()
    {
        var hub = new EventHub();
        using EventHub.Subscription slow = hub.Subscribe();
        for (int i = 0; i < EventHub.SubscriberCapacity + 10; i++)
        {
            hub.Publish(Event("default", $"p{i}"));
        }

        Assert.Equal(EventHub.SubscriberCapacity, slow.Reader.Count);
        Assert.Equal(10, slow.Dropped);
        Assert.True(slow.Reader.TryRead(out SwitchyardEvent? first));
        Assert.Equal("p0", first!.Port); // the oldest are kept, the newest lost
    }

    [Fact]
    public void DisposedSubscription_GetsNothingMore_AndItsReaderCompletes()
    {
        var hub = new EventHub();
        EventHub.Subscription s = hub.Subscribe();
        Assert.True(hub.HasSubscribers);
        s.Dispose();
        hub.Publish(Event("default"));

        Assert.False(hub.HasSubscribers);
        Assert.True(s.Reader.Completion.IsCompleted);
        Assert.False(s.Reader.TryRead(out _));
    }
}
