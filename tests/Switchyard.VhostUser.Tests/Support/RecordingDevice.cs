// A fake IVhostUserDevice that records what the back-end told it and keeps the live rings.
//
// Theory of operation: the back-end calls these hooks on its connection's thread as rings start, stop,
// get enabled, and change call descriptors. The fake appends each call to an event list (under a lock,
// so a test on another thread can read it when the back-end runs on its own thread) and keeps, per
// started ring, the SplitQueue and the kick/call eventfds the back-end handed over, for TestDataPlane.
// It owns none of those objects: the back-end disposes them.
using Switchyard.Native;
using Switchyard.Virtio;

namespace Switchyard.VhostUser.Tests.Support;

internal enum DeviceEventKind
{
    RingStarted,
    RingStopped,
    CallChanged,
    RingEnabled,
    FeaturesNegotiated,
    AnnounceMac,
}

/// <summary>One hook call: which, for which ring, and a value (queue size, enabled 0/1, whether a call fd is set,
/// the features, the MAC).</summary>
internal readonly record struct DeviceEvent(DeviceEventKind Kind, int Ring, ulong Value);

/// <summary>A ring the back-end has started and not stopped.</summary>
internal sealed class LiveRing(int index, SplitQueue queue, EventFd kick, EventFd? call)
{
    public int Index { get; } = index;

    public SplitQueue Queue { get; } = queue;

    public EventFd Kick { get; } = kick;

    public EventFd? Call { get; set; } = call;

    public bool Enabled { get; set; }

    /// <summary>rxq k = ring 2k, txq k = ring 2k + 1 (virtio 1.2 §5.1.2).</summary>
    public bool IsTx => (Index & 1) == 1;
}

internal sealed class RecordingDevice : IVhostUserDevice
{
    private readonly object gate = new();
    private readonly List<DeviceEvent> events = [];
    private readonly Dictionary<int, LiveRing> rings = [];
    private readonly HashSet<int> enabled = [];

    public NegotiatedFeatures Features { get; private set; }

    /// <summary>A copy of the events so far.</summary>
    public DeviceEvent[] Events
    {
        get
        {
            lock (gate)
            {
                return [.. events];
            }
        }
    }

    /// <summary>The started rings, by index.</summary>
    public IReadOnlyDictionary<int, LiveRing> Rings => rings;

    public DeviceEvent[] EventsOf(DeviceEventKind kind) => Array.FindAll(Events, e => e.Kind == kind);

    public void RingStarted(int index, SplitQueue queue, EventFd kick, EventFd? call)
    {
        var ring = new LiveRing(index, queue, kick, call) { Enabled = enabled.Contains(index) };
        lock (gate)
        {
            rings[index] = ring;
        }

        Record(DeviceEventKind.RingStarted, index, (ulong)queue.Size);
    }

    public void RingStopped(int index)
    {
        lock (gate)
        {
            rings.Remove(index);
        }

        Record(DeviceEventKind.RingStopped, index, 0);
    }

    public void CallChanged(int index, EventFd? call)
    {
        if (rings.TryGetValue(index, out LiveRing? ring))
        {
            ring.Call = call;
        }

        Record(DeviceEventKind.CallChanged, index, call is null ? 0UL : 1UL);
    }

    public void RingEnabled(int index, bool isEnabled)
    {
        if (isEnabled)
        {
            enabled.Add(index);
        }
        else
        {
            enabled.Remove(index);
        }

        if (rings.TryGetValue(index, out LiveRing? ring))
        {
            ring.Enabled = isEnabled;
        }

        Record(DeviceEventKind.RingEnabled, index, isEnabled ? 1UL : 0UL);
    }

    public void FeaturesNegotiated(NegotiatedFeatures features)
    {
        Features = features;
        Record(DeviceEventKind.FeaturesNegotiated, -1, (ulong)features);
    }

    public void AnnounceMac(ulong mac) => Record(DeviceEventKind.AnnounceMac, -1, mac);

    private void Record(DeviceEventKind kind, int ring, ulong value)
    {
        lock (gate)
        {
            events.Add(new DeviceEvent(kind, ring, value));
        }
    }
}
