// The virtio feature bits this layer looks at, as one 64-bit mask.
//
// Theory of operation: the vhost-user layer negotiates features with the front-end (SET_FEATURES) and
// hands the acknowledged 64-bit word to the queue and the net helpers cast to this enum. Bit positions
// are exactly the wire positions (virtio 1.2 §6 reserved bits, §5.1.3 net bits), so no translation
// table can drift. Bits this layer does not use are simply carried along and ignored.
namespace Switchyard.Virtio;

/// <summary>Negotiated virtio feature bits, at their wire positions (virtio 1.2 §5.1.3, §6).</summary>
[Flags]
public enum NegotiatedFeatures : ulong
{
    None = 0,

    /// <summary>VIRTIO_NET_F_CSUM (0): the driver may send partially checksummed frames (NEEDS_CSUM on TX).</summary>
    Csum = 1UL << 0,

    /// <summary>VIRTIO_NET_F_GUEST_CSUM (1): the driver accepts partially checksummed frames and DATA_VALID on RX.</summary>
    GuestCsum = 1UL << 1,

    /// <summary>VIRTIO_NET_F_GUEST_TSO4 (7): the driver accepts TCPv4 GSO frames on RX.</summary>
    GuestTso4 = 1UL << 7,

    /// <summary>VIRTIO_NET_F_GUEST_TSO6 (8): the driver accepts TCPv6 GSO frames on RX.</summary>
    GuestTso6 = 1UL << 8,

    /// <summary>VIRTIO_NET_F_GUEST_ECN (9): the driver accepts the GSO ECN bit on RX.</summary>
    GuestEcn = 1UL << 9,

    /// <summary>VIRTIO_NET_F_GUEST_UFO (10): the driver accepts UFO frames on RX.</summary>
    GuestUfo = 1UL << 10,

    /// <summary>VIRTIO_NET_F_HOST_TSO4 (11): the driver may send TCPv4 GSO frames.</summary>
    HostTso4 = 1UL << 11,

    /// <summary>VIRTIO_NET_F_HOST_TSO6 (12): the driver may send TCPv6 GSO frames.</summary>
    HostTso6 = 1UL << 12,

    /// <summary>VIRTIO_NET_F_HOST_ECN (13): the driver may set the GSO ECN bit.</summary>
    HostEcn = 1UL << 13,

    /// <summary>VIRTIO_NET_F_HOST_UFO (14): the driver may send UFO frames.</summary>
    HostUfo = 1UL << 14,

    /// <summary>VIRTIO_NET_F_MRG_RXBUF (15): one received frame may span several RX buffers (num_buffers).</summary>
    MrgRxbuf = 1UL << 15,

    /// <summary>VIRTIO_F_INDIRECT_DESC (28): descriptors may point to indirect descriptor tables.</summary>
    IndirectDesc = 1UL << 28,

    /// <summary>VIRTIO_F_EVENT_IDX (29): used_event / avail_event replace the ring flags for notification suppression.</summary>
    EventIdx = 1UL << 29,

    /// <summary>VIRTIO_F_VERSION_1 (32): little-endian rings and the 12-byte virtio_net_hdr. This layer assumes it.</summary>
    Version1 = 1UL << 32,

    /// <summary>VIRTIO_NET_F_GUEST_USO4 (54): the driver accepts UDPv4 segmentation offload frames on RX.</summary>
    GuestUso4 = 1UL << 54,

    /// <summary>VIRTIO_NET_F_GUEST_USO6 (55): the driver accepts UDPv6 segmentation offload frames on RX.</summary>
    GuestUso6 = 1UL << 55,

    /// <summary>VIRTIO_NET_F_HOST_USO (56): the driver may send UDP segmentation offload frames.</summary>
    HostUso = 1UL << 56,
}
