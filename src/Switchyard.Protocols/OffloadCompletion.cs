// Completing a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM) in software.
//
// Theory of operation: a guest that negotiated VIRTIO_NET_F_CSUM may send a frame whose TCP/UDP
// checksum field holds only the pseudo-header sum; the device is to compute "a ones' complement
// checksum from csum_start up until the end of the packet and [store] the result at offset csum_offset
// from csum_start" (virtio 1.2 §5.1.6.2.1, 3). When the egress port cannot take the frame that way,
// the switch does exactly that here, in place, on its own copy of the frame. Nothing else about the
// frame is parsed: the rule is protocol-agnostic, and what it covers is the guest's own data.
//
// What it trusts: nothing. csum_start and csum_offset are checked against the frame before any byte is
// read or written, and the checksum may not land in the Ethernet header or tag, which the switch has
// already used to forward the frame. A result of 0 is stored as 0xFFFF, as Linux does
// (skb_checksum_help, CSUM_MANGLED_0): for UDP a zero means "no checksum" (RFC 768), and for TCP the two
// are the same ones'-complement number. Never throws.
using System.Buffers.Binary;
using Switchyard.Core.Frames;

namespace Switchyard.Protocols;

/// <summary>Software completion of partial checksums. Segmentation is <see cref="GsoSegmenter"/>.</summary>
public static class OffloadCompletion
{
    /// <summary>Completes the partial checksum of <paramref name="frame"/> in place as the virtio device
    /// would. True when done (or when the frame has no partial checksum); false, with the frame
    /// untouched, when the request is malformed or the frame is a GSO frame (segment it instead).</summary>
    public static bool TryCompleteChecksum(Span<byte> frame, in OffloadInfo offload, out OffloadError error)
    {
        if (!offload.NeedsChecksum)
        {
            // virtio 1.2 §5.1.6.2.2: without NEEDS_CSUM the device MUST NOT use csum_start/csum_offset.
            error = offload.IsGso ? OffloadError.GsoRequiresSegmentation : OffloadError.None;
            return error == OffloadError.None;
        }

        if (offload.IsGso)
        {
            error = OffloadError.GsoRequiresSegmentation;
            return false;
        }

        if (!EthernetHeader.TryParse(frame, out EthernetHeader ethernet))
        {
            error = OffloadError.FrameTooShort;
            return false;
        }

        int start = offload.ChecksumStart;
        int at = start + offload.ChecksumOffset;
        if (at + sizeof(ushort) > frame.Length)
        {
            error = OffloadError.ChecksumOutOfRange;
            return false;
        }

        if (start < ethernet.Length)
        {
            error = OffloadError.ChecksumInLinkHeader;
            return false;
        }

        ushort checksum = InternetChecksum.Compute(frame[start..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[at..], checksum == 0 ? (ushort)0xFFFF : checksum);
        error = OffloadError.None;
        return true;
    }

    /// <summary><see cref="TryCompleteChecksum(Span{byte}, in OffloadInfo, out OffloadError)"/> without the reason.</summary>
    public static bool TryCompleteChecksum(Span<byte> frame, in OffloadInfo offload) =>
        TryCompleteChecksum(frame, offload, out _);
}
