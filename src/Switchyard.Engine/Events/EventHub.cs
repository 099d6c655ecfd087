// The daemon's event stream: what happened to networks, ports and leases, for `switchyard events`
// and anything else that wants to follow along (the web view, scripts).
//
// Theory of operation: events are published on the event loop (ports come and go there, DHCP runs
// there) and must never block it, so each subscriber has its own bounded channel and Publish only
// does TryWrite: a subscriber that does not keep up loses events, counted in its Dropped, and the
// stream it reads says so. Subscribing and unsubscribing happen on control-plane threads; the
// subscriber array is copied on write, so Publish reads it without a lock. Nothing is allocated per
// publish when nobody subscribes, and events are rare (control-plane rate), never per packet.
using System.Text.Json.Serialization;
using System.Threading.Channels;

namespace Switchyard.Engine.Events;

/// <summary>One event. <c>Type</c> is one of <see cref="EventTypes"/>; the other fields depend on it.</summary>
public sealed record SwitchyardEvent(
    DateTimeOffset Time,
    string Type,
    string Network,
    string? Port = null,
    string? Kind = null,
    string? Peer = null,
    string? Mac = null,
    string? Address = null,
    string? Hostname = null,
    string? Vlan = null,
    string? Reason = null);

/// <summary>The event types, as they appear in <see cref="SwitchyardEvent.Type"/>.</summary>
public static class EventTypes
{
    /// <summary>A port joined a network: a guest connected to a listener, or a port was added.</summary>
    public const string PortAdded = "port-added";

    /// <summary>A port left: its guest disconnected (Reason says why) or it was removed.</summary>
    public const string PortRemoved = "port-removed";

    public const string LinkUp = "link-up";

    public const string LinkDown = "link-down";

    /// <summary>A port was moved to other VLANs (Vlan is the new membership).</summary>
    public const string VlanChanged = "vlan-changed";

    /// <summary>The gateway acknowledged a DHCP lease (new or renewed).</summary>
    public const string LeaseGranted = "lease-granted";

    public const string LeaseReleased = "lease-released";

    public static IReadOnlyList<string> All { get; } = [PortAdded, PortRemoved, LinkUp, LinkDown, VlanChanged, LeaseGranted, LeaseReleased];
}

public sealed class EventHub
{
    /// <summary>Events a subscriber may fall behind by before it loses some.</summary>
    public const int SubscriberCapacity = 4096;

    private readonly Lock gate = new();
    private Subscription[] subscribers = [];

    /// <summary>Hands <paramref name="e"/> to every subscriber; never blocks. Any thread (normally the loop).</summary>
    public void Publish(SwitchyardEvent e)
    {
        foreach (Subscription s in Volatile.Read(ref subscribers))
        {
            s.Offer(e);
        }
    }

    /// <summary>True when someone listens (so callers can skip building an event nobody reads).</summary>
    public bool HasSubscribers => Volatile.Read(ref subscribers).Length > 0;

    /// <summary>Starts receiving events; dispose the subscription to stop.</summary>
    public Subscription Subscribe(string? network = null)
    {
        var s = new Subscription(this, network);
        lock (gate)
        {
            subscribers = [.. subscribers, s];
        }

        return s;
    }

    private void Unsubscribe(Subscription s)
    {
        lock (gate)
        {
            subscribers = Array.FindAll(subscribers, x => !ReferenceEquals(x, s));
        }
    }

    public sealed class Subscription : IDisposable
    {
        private readonly EventHub hub;
        private readonly string? network;
        private readonly Channel<SwitchyardEvent> channel = Channel.CreateBounded<SwitchyardEvent>(
            new BoundedChannelOptions(SubscriberCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });

        private long dropped;

        internal Subscription(EventHub hub, string? network)
        {
            this.hub = hub;
            this.network = network;
        }

        public ChannelReader<SwitchyardEvent> Reader => channel.Reader;

        /// <summary>Events lost because this subscriber fell behind.</summary>
        public long Dropped => Interlocked.Read(ref dropped);

        public void Dispose()
        {
            hub.Unsubscribe(this);
            channel.Writer.TryComplete();
        }

        internal void Offer(SwitchyardEvent e)
        {
            if (network is not null && !string.Equals(network, e.Network, StringComparison.Ordinal))
            {
                return;
            }

            // DropWrite makes TryWrite report success even when it discards; count against the capacity instead.
            if (channel.Reader.Count >= SubscriberCapacity || !channel.Writer.TryWrite(e))
            {
                Interlocked.Increment(ref dropped);
            }
        }
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = false)]
[JsonSerializable(typeof(SwitchyardEvent))]
public sealed partial class EventJson : JsonSerializerContext;
