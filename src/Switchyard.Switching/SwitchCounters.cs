// Counters of one learning switch.
//
// Theory of operation: only the switch's event loop writes these (plain array increments, no interlocked
// operations on the data path); any thread may read them through the Volatile reads of CounterSet and gets
// values at most a few frames stale. Drops that belong to a port (VLAN not allowed, offload
// unsupported, ...) are counted on that port's PortCounters, not here.
//
// Adding a counter: add a SwitchCounter member with its [Counter] help text and count it. `switchyard show`
// (network counters) and /metrics (switchyard_switch_<metric>_total) enumerate the enum; nothing else names it.
// The properties below are conveniences for the switch's own tests.
using Switchyard.Core.Counters;

namespace Switchyard.Switching;

/// <summary>What a <see cref="LearningSwitch"/> counts. The member's snake_case is its name in `show`;
/// [Counter(Metric = ...)] is the middle of its metric name where that differs.</summary>
public enum SwitchCounter
{
    [Counter("Frames sent to every other member of their VLAN (group destination, unknown unicast, hub mode).", Metric = "flooded_frames")]
    Flooded,

    [Counter("Frames to a known unicast address, sent to its one port.", Metric = "unicast_forwarded_frames")]
    UnicastForwarded,

    [Counter("Frames whose destination was learned on their own ingress port (not sent anywhere).", Metric = "filtered_local_frames")]
    FilteredLocal,

    [Counter("Addresses added to the forwarding database.")]
    Learned,

    [Counter("Addresses seen on a different port than the one they were learned on.")]
    Moved,

    [Counter("Forwarding database entries removed by ageing.")]
    AgedOut,

    [Counter("Forwarding database entries removed because their port left.")]
    Flushed,

    [Counter("New addresses not learned because the forwarding database was full.")]
    FdbFull,

    [Counter("New addresses not learned because their port held max-macs-per-port entries.")]
    FdbPortLimit,

    /// <summary>A gauge, not a counter: /metrics gives it as switchyard_fdb_entries (no help: not a _total family).</summary>
    FdbEntries,

    [Counter("Partial checksums completed in software for ports that cannot take them.")]
    SoftwareChecksums,

    [Counter("GSO frames segmented in software for ports that cannot take them.")]
    SoftwareSegmentedFrames,

    [Counter("Segments produced by software segmentation.")]
    SoftwareSegments,

    [Counter("GSO frames handed whole to ports that take them.")]
    GsoFramesPassed,

    [Counter("Frames a running packet capture could not keep (its queue was full).", Metric = "capture_dropped_frames")]
    CaptureDropped,
}

/// <summary>Forwarding and forwarding-database counters of a <see cref="LearningSwitch"/>.</summary>
public sealed class SwitchCounters
{
    /// <summary>Every counter, by <see cref="SwitchCounter"/>.</summary>
    public CounterSet<SwitchCounter> Values { get; } = new("switch");

    /// <summary>Frames sent to every other member of their VLAN (group destination, unknown unicast, hub mode).</summary>
    public long Flooded => Values[SwitchCounter.Flooded];

    /// <summary>Frames to a known unicast address, sent to its one port.</summary>
    public long UnicastForwarded => Values[SwitchCounter.UnicastForwarded];

    /// <summary>Frames whose destination was learned on their own ingress port: not sent anywhere.</summary>
    public long FilteredLocal => Values[SwitchCounter.FilteredLocal];

    /// <summary>Addresses added to the forwarding database.</summary>
    public long Learned => Values[SwitchCounter.Learned];

    /// <summary>Addresses seen on a different port than the one they were learned on.</summary>
    public long Moved => Values[SwitchCounter.Moved];

    /// <summary>Entries removed by <see cref="LearningSwitch.AgeOut"/>.</summary>
    public long AgedOut => Values[SwitchCounter.AgedOut];

    /// <summary>Entries removed because their port left the switch.</summary>
    public long Flushed => Values[SwitchCounter.Flushed];

    /// <summary>New addresses not learned because the forwarding database held MaxMacs entries.</summary>
    public long FdbFull => Values[SwitchCounter.FdbFull];

    /// <summary>New addresses not learned because their port already held MaxMacsPerPort entries (fdb_port_limit).</summary>
    public long FdbPortLimit => Values[SwitchCounter.FdbPortLimit];

    /// <summary>Entries in the forwarding database now (a gauge).</summary>
    public long FdbEntries => Values[SwitchCounter.FdbEntries];

    /// <summary>Partial checksums (NEEDS_CSUM) the switch completed for egress ports that cannot take
    /// them (software_checksums). Counted once per frame: every such port of a flood shares the result.</summary>
    public long SoftwareChecksums => Values[SwitchCounter.SoftwareChecksums];

    /// <summary>GSO super frames the switch segmented for egress ports that cannot take them
    /// (software_segmented_frames). Counted once per egress port: a flood segments again for each one.</summary>
    public long SoftwareSegmentedFrames => Values[SwitchCounter.SoftwareSegmentedFrames];

    /// <summary>GSO super frames handed whole, with their GSO metadata, to egress ports that take them
    /// (gso_frames_passed): the software_segmented_frames that were not needed. Counted once per egress port.</summary>
    public long GsoFramesPassed => Values[SwitchCounter.GsoFramesPassed];

    /// <summary>Segments produced by software segmentation and handed to ports (software_segments).</summary>
    public long SoftwareSegments => Values[SwitchCounter.SoftwareSegments];

    /// <summary>Frames a capture could not queue because its queue was full (capture_dropped), summed over
    /// every capture on this switch; each capture also counts its own.</summary>
    public long CaptureDropped => Values[SwitchCounter.CaptureDropped];

    /// <summary>Counts one; on the switch's loop.</summary>
    internal void Increment(SwitchCounter counter) => Values.Increment(counter);

    /// <summary>Counts <paramref name="n"/>; on the switch's loop.</summary>
    internal void Add(SwitchCounter counter, long n) => Values.Add(counter, n);
}
