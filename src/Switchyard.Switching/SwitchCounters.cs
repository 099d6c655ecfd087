// Counters of one learning switch.
//
// Theory of operation: only the switch's event loop writes these (plain increments, no interlocked
// operations on the data path); any thread may read them through the Volatile reads below and gets
// values at most a few frames stale. Drops that belong to a port (VLAN not allowed, offload
// unsupported, ...) are counted on that port's PortCounters, not here.
namespace Switchyard.Switching;

/// <summary>Forwarding and forwarding-database counters of a <see cref="LearningSwitch"/>.</summary>
public sealed class SwitchCounters
{
    internal long flooded;
    internal long unicastForwarded;
    internal long filteredLocal;
    internal long learned;
    internal long moved;
    internal long agedOut;
    internal long flushed;
    internal long fdbFull;
    internal long fdbPortLimit;
    internal long fdbEntries;
    internal long softwareChecksums;
    internal long softwareSegmentedFrames;
    internal long gsoFramesPassed;
    internal long softwareSegments;
    internal long captureDropped;

    /// <summary>Frames sent to every other member of their VLAN (group destination, unknown unicast, hub mode).</summary>
    public long Flooded => Volatile.Read(ref flooded);

    /// <summary>Frames to a known unicast address, sent to its one port.</summary>
    public long UnicastForwarded => Volatile.Read(ref unicastForwarded);

    /// <summary>Frames whose destination was learned on their own ingress port: not sent anywhere.</summary>
    public long FilteredLocal => Volatile.Read(ref filteredLocal);

    /// <summary>Addresses added to the forwarding database.</summary>
    public long Learned => Volatile.Read(ref learned);

    /// <summary>Addresses seen on a different port than the one they were learned on.</summary>
    public long Moved => Volatile.Read(ref moved);

    /// <summary>Entries removed by <see cref="LearningSwitch.AgeOut"/>.</summary>
    public long AgedOut => Volatile.Read(ref agedOut);

    /// <summary>Entries removed because their port left the switch.</summary>
    public long Flushed => Volatile.Read(ref flushed);

    /// <summary>New addresses not learned because the forwarding database held MaxMacs entries.</summary>
    public long FdbFull => Volatile.Read(ref fdbFull);

    /// <summary>New addresses not learned because their port already held MaxMacsPerPort entries (fdb_port_limit).</summary>
    public long FdbPortLimit => Volatile.Read(ref fdbPortLimit);

    /// <summary>Entries in the forwarding database now (a gauge).</summary>
    public long FdbEntries => Volatile.Read(ref fdbEntries);

    /// <summary>Partial checksums (NEEDS_CSUM) the switch completed for egress ports that cannot take
    /// them (software_checksums). Counted once per frame: every such port of a flood shares the result.</summary>
    public long SoftwareChecksums => Volatile.Read(ref softwareChecksums);

    /// <summary>GSO super frames the switch segmented for egress ports that cannot take them
    /// (software_segmented_frames). Counted once per egress port: a flood segments again for each one.</summary>
    public long SoftwareSegmentedFrames => Volatile.Read(ref softwareSegmentedFrames);

    /// <summary>GSO super frames handed whole, with their GSO metadata, to egress ports that take them
    /// (gso_frames_passed): the software_segmented_frames that were not needed. Counted once per egress port.</summary>
    public long GsoFramesPassed => Volatile.Read(ref gsoFramesPassed);

    /// <summary>Segments produced by software segmentation and handed to ports (software_segments).</summary>
    public long SoftwareSegments => Volatile.Read(ref softwareSegments);

    /// <summary>Frames a capture could not queue because its queue was full (capture_dropped), summed over
    /// every capture on this switch; each capture also counts its own.</summary>
    public long CaptureDropped => Volatile.Read(ref captureDropped);
}
