// Read-only state of a vhost-user port's rings, for metrics and the web view.
//
// The port counts frames per port, not per ring; what each ring has of its own is its configuration
// (size, started, enabled) and its progress through the split virtqueue (next_avail and used.idx,
// both free-running 16-bit indices, virtio 1.1 §2.6.6 and §2.6.8), and whether it broke a rule.
// Everything here is read on the loop that owns the port.
using Switchyard.Virtio;

namespace Switchyard.Ports.VhostUser;

/// <summary>One ring of a vhost-user port: index (even RX, odd TX, virtio-net §5.1.2), whether the
/// front-end started and enabled it, its size, where the device is in the avail ring, the used index
/// it last wrote, and whether it is broken (no longer processed).</summary>
public readonly record struct VhostUserQueueState(
    int Index, bool Tx, bool Started, bool Enabled, int Size, ushort NextAvail, ushort UsedIdx, bool Broken);

public sealed partial class VhostUserPort
{
    /// <summary>The state of every ring the port offers (2 × queue pairs); on the loop.</summary>
    public VhostUserQueueState[] QueueStates()
    {
        var states = new VhostUserQueueState[rings.Length];
        for (int i = 0; i < rings.Length; i++)
        {
            Ring ring = rings[i];
            SplitQueue? q = ring.Queue;
            states[i] = new VhostUserQueueState(
                i, IsTx(i), q is not null, ring.Enabled, q?.Size ?? 0, q?.NextAvail ?? 0, q?.UsedIdx ?? 0, q?.IsBroken ?? false);
        }

        return states;
    }
}
