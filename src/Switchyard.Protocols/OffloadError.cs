// Why an offloaded frame could not be completed in software.
//
// Theory of operation: every check that OffloadCompletion and GsoSegmenter make on guest-supplied
// offload metadata or headers has its own value here, documented with the rule it enforces, so a test
// can assert exactly which rule rejected a frame (STYLE.md habit 2). The switch folds them into two
// drop counters: the few "unsupported" values (a well-formed request we do not implement) count as
// tx_offload_unsupported, everything else as tx_offload_malformed.
namespace Switchyard.Protocols;

/// <summary>The rule a frame's offload request broke, or the shape we do not implement.</summary>
public enum OffloadError
{
    /// <summary>No error.</summary>
    None,

    /// <summary>Legacy UFO (gso_type VIRTIO_NET_HDR_GSO_UDP) asks for IP fragmentation, which is not
    /// implemented: QEMU no longer negotiates HOST_UFO, and USO (GSO_UDP_L4) replaced it.</summary>
    UdpFragmentationUnsupported,

    /// <summary>A gso_type other than TCPV4, TCPV6 or UDP_L4 (optionally with the ECN bit): the UDP
    /// tunnel bits (HOST_UDP_TUNNEL_GSO, spec HEAD), an undefined value, or NONE (nothing to segment).</summary>
    GsoTypeUnsupported,

    /// <summary>An IPv6 GSO frame with extension headers between the fixed header and TCP/UDP.</summary>
    IPv6ExtensionHeadersUnsupported,

    /// <summary>csum_start + csum_offset + 2 runs past the frame: the device stores the checksum
    /// "at offset csum_offset from csum_start" within the packet (virtio 1.2 §5.1.6.2.1, 3).</summary>
    ChecksumOutOfRange,

    /// <summary>csum_start lies inside the Ethernet header (and tag). Completing it would rewrite the
    /// addresses or VLAN tag the switch has already forwarded the frame on.</summary>
    ChecksumInLinkHeader,

    /// <summary>A checksum-only completion was asked for a GSO frame; it must be segmented instead.</summary>
    GsoRequiresSegmentation,

    /// <summary>gso_type is set without VIRTIO_NET_HDR_F_NEEDS_CSUM: "If gso_type differs from
    /// VIRTIO_NET_HDR_GSO_NONE, then the driver MUST also set the VIRTIO_NET_HDR_F_NEEDS_CSUM bit"
    /// (virtio 1.2 §5.1.6.2.1).</summary>
    GsoWithoutNeedsChecksum,

    /// <summary>gso_size is 0: the driver "MUST set gso_size to indicate the desired MSS"
    /// (virtio 1.2 §5.1.6.2.1).</summary>
    GsoSizeZero,

    /// <summary>gso_size is below <see cref="GsoSegmenter.MinGsoSize"/>: a work amplification we refuse
    /// (one frame would become more than a thousand segments).</summary>
    GsoSizeTooSmall,

    /// <summary>hdr_len is larger than the whole frame. hdr_len is only a hint (the device "MUST NOT
    /// rely on hdr_len to be correct", virtio 1.2 §5.1.6.2.2), but one past the frame shows the
    /// metadata does not describe this frame.</summary>
    HeaderLengthBeyondFrame,

    /// <summary>The frame is shorter than its Ethernet header (and tag).</summary>
    FrameTooShort,

    /// <summary>The EtherType does not match gso_type: TCPV4 needs IPv4, TCPV6 needs IPv6, UDP_L4
    /// either (a second, QinQ tag is not looked through).</summary>
    EtherTypeMismatch,

    /// <summary>The IPv4 header is not version 4, its IHL is below 5 or past the frame, or its total
    /// length is below the header or past the frame (RFC 791 §3.1).</summary>
    IPv4HeaderInvalid,

    /// <summary>The IPv4 datagram is a fragment (MF or a fragment offset): it cannot be segmented.</summary>
    IPv4Fragment,

    /// <summary>The IPv6 header is not version 6, or its payload length runs past the frame (RFC 8200 §3).</summary>
    IPv6HeaderInvalid,

    /// <summary>The IP protocol / next header is not the transport gso_type names (TCP or UDP).</summary>
    TransportProtocolMismatch,

    /// <summary>csum_start is not the offset of the transport header: for a GSO frame csum_start and
    /// csum_offset point to "the only transport header present in the packet" (virtio 1.2 §5.1.6.2.1, note).</summary>
    ChecksumStartNotTransportHeader,

    /// <summary>csum_offset is not the checksum field of the transport header (16 for TCP, 6 for UDP).</summary>
    ChecksumOffsetMismatch,

    /// <summary>The TCP header is shorter than 20 bytes or its data offset is below 5 or runs past the
    /// IP payload (RFC 9293 §3.1).</summary>
    TcpHeaderInvalid,

    /// <summary>The IP payload is too short for a UDP header (RFC 768).</summary>
    UdpHeaderInvalid,
}

/// <summary>Classification of <see cref="OffloadError"/> values.</summary>
public static class OffloadErrors
{
    /// <summary>True when the request is well formed but asks for something not implemented (counted
    /// as tx_offload_unsupported rather than tx_offload_malformed).</summary>
    public static bool IsUnsupported(OffloadError error) => error
        is OffloadError.UdpFragmentationUnsupported
        or OffloadError.GsoTypeUnsupported
        or OffloadError.IPv6ExtensionHeadersUnsupported;
}
