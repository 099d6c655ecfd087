using Switchyard.Core.Counters;

namespace Switchyard.Core.Ports;

/// <summary>Per-port counters. Written only by the event loop that owns the port; read from any thread
/// (64-bit reads are atomic on the platforms we run on, and a snapshot may be a few frames stale).
/// The drops are a <see cref="CounterSet{T}"/> of <see cref="DropReason"/>: a new reason is one enum member.</summary>
public sealed class PortCounters
{
    private long rxFrames;
    private long rxBytes;
    private long txFrames;
    private long txBytes;

    /// <summary>Frames the port received from its peer (into the switch).</summary>
    public long RxFrames => Volatile.Read(ref rxFrames);

    public long RxBytes => Volatile.Read(ref rxBytes);

    /// <summary>Frames the port sent to its peer (out of the switch).</summary>
    public long TxFrames => Volatile.Read(ref txFrames);

    public long TxBytes => Volatile.Read(ref txBytes);

    /// <summary>Every drop, by reason.</summary>
    public CounterSet<DropReason> DropCounts { get; } = new("drops");

    public long TotalDrops => DropCounts.Total;

    public void CountRx(int bytes)
    {
        rxFrames++;
        rxBytes += bytes;
    }

    public void CountTx(int bytes)
    {
        txFrames++;
        txBytes += bytes;
    }

    public void Drop(DropReason reason) => DropCounts.Increment(reason);

    public long Drops(DropReason reason) => DropCounts[reason];

    /// <summary>Adds another port's drop counters into this one (to keep the drops of a port that closed).</summary>
    public void AddDrops(PortCounters other)
    {
        ArgumentNullException.ThrowIfNull(other);
        DropCounts.AddFrom(other.DropCounts);
    }
}
