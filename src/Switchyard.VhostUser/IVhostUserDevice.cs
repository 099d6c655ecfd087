// What the back-end state machine tells the data plane (the vhost-user port) as rings come and go.
using Switchyard.Native;
using Switchyard.Virtio;

namespace Switchyard.VhostUser;

/// <summary>Data-plane hooks, all called on the loop that owns the connection.</summary>
public interface IVhostUserDevice
{
    /// <summary>Ring <paramref name="index"/> is configured and started: process it, notify through
    /// <paramref name="call"/> (null: the driver polls), wake on <paramref name="kick"/>.</summary>
    void RingStarted(int index, SplitQueue queue, EventFd kick, EventFd? call);

    /// <summary>Ring <paramref name="index"/> stopped (GET_VRING_BASE, reset, or connection end). Stop touching it now.</summary>
    void RingStopped(int index);

    /// <summary>The call descriptor of a started ring changed (QEMU re-sends it when it (un)masks interrupts).</summary>
    void CallChanged(int index, EventFd? call);

    /// <summary>SET_VRING_ENABLE or SET_FEATURES changed whether ring <paramref name="index"/> may carry traffic.</summary>
    void RingEnabled(int index, bool enabled);

    /// <summary>The negotiated virtio features are known (SET_FEATURES).</summary>
    void FeaturesNegotiated(NegotiatedFeatures features);

    /// <summary>SEND_RARP: announce <paramref name="mac"/> on the network (after a migration).</summary>
    void AnnounceMac(ulong mac);
}
