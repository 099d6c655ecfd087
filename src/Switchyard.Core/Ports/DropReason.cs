using Switchyard.Core.Counters;

namespace Switchyard.Core.Ports;

/// <summary>Why a frame was dropped or a connection closed. Every drop path names one of these,
/// and each has its own counter (STYLE.md habit 12). Names are stable: they appear in
/// <c>switchyard show</c>, the control API and metrics.</summary>
public enum DropReason
{
    /// <summary>A frame shorter than an Ethernet header.</summary>
    RxRunt,

    /// <summary>A stream length prefix of zero; the connection is closed.</summary>
    RxZeroLength,

    /// <summary>A stream length prefix or datagram above the maximum frame size; the connection is closed.</summary>
    RxOversized,

    /// <summary>The peer closed the stream in the middle of a frame.</summary>
    RxTruncated,

    /// <summary>A frame whose source MAC is a group address.</summary>
    RxSourceMulticast,

    /// <summary>A tagged frame on an access port whose VLAN is not the port's.</summary>
    RxVlanNotAllowed,

    /// <summary>An untagged frame on a trunk port with no native VLAN.</summary>
    RxUntaggedOnTrunk,

    /// <summary>A guest's TX descriptor chain or virtio-net header broke a virtio rule; the chain was returned empty.</summary>
    RxBadDescriptor,

    /// <summary>A frame that arrived on a port not attached to any switch.</summary>
    RxNoSwitch,

    /// <summary>The egress staging buffer or queue was full.</summary>
    TxQueueFull,

    /// <summary>The egress medium reported an error.</summary>
    TxError,

    /// <summary>The port has no peer connected right now (a client port waiting to reconnect).</summary>
    TxLinkDown,

    /// <summary>A frame larger than the egress medium can carry.</summary>
    TxTooBig,

    /// <summary>The egress port cannot take this frame's offloads, and the switch does not complete that kind
    /// in software (legacy UFO, UDP-tunnel GSO, IPv6 extension headers under GSO).</summary>
    TxOffloadUnsupported,

    /// <summary>The egress port cannot take this frame's offloads and the offload request was malformed
    /// (virtio_net_hdr fields or packet headers inconsistent with the frame), so it could not be completed
    /// in software either. Switchyard.Protocols.OffloadError names the rule.</summary>
    TxOffloadMalformed,

    /// <summary>A tap's virtio-net header (IFF_VNET_HDR) broke a virtio rule: offloads the tap was not offered,
    /// a checksum or header length outside the frame, GSO without a partial checksum or a gso_size of 0.</summary>
    RxBadVnetHeader,

    /// <summary>A frame from a port whose link was set down (<c>switchyard port set ... --link down</c>).</summary>
    RxAdminDown,

    /// <summary>A vhost-user front-end passed a descriptor of the wrong type (a kick, call or error notifier that is not
    /// an eventfd; memory that is not a regular file); the connection is closed.</summary>
    VhostFdWrongType,

    /// <summary>A vhost-user front-end shared memory it could shrink under us (not a memfd sealed, or sealable, against
    /// shrinking) on a port without memory=trusted; the connection is closed.</summary>
    VhostMemoryShrinkable,

    /// <summary>A vhost-user memory region or dirty log refused because the daemon-wide mapping budget
    /// (<c>--max-guest-mappings</c>) or the connection's slot count (GET_MAX_MEM_SLOTS) was spent; the connection is closed.</summary>
    VhostMappingBudget,

    /// <summary>Notifying the guest (a write to its call eventfd) failed: the counter was saturated, so the write
    /// would have blocked. The used ring was still published; only the interrupt was lost.</summary>
    CallSignalFailed,
}

/// <summary>Stable snake_case names of <see cref="DropReason"/> values (the member name in snake_case,
/// derived once by <see cref="CounterNames{T}"/>).</summary>
public static class DropReasons
{
    public static int Count => CounterNames<DropReason>.Count;

    public static string Name(DropReason reason) => CounterNames<DropReason>.Name(reason);
}
