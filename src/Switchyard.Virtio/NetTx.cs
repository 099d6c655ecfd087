// Turning a popped transmit-queue chain into a frame (virtio 1.2 §5.1.6.2).
//
// Theory of operation: a TX chain is the 12-byte virtio_net_hdr followed by the frame, spread over
// any number of device-readable buffers (virtio 1.2 §2.7.4: the device makes no assumption about the
// arrangement). TryGetFrame gathers the header (it may straddle buffers), validates it against the
// negotiated features, and then hands out the frame:
//   - zero-copy, as a span straight into guest memory, when every frame byte lies in one buffer
//     (the common case: Linux puts header and linear data in one buffer, or the header alone first);
//   - otherwise gathered into the caller's scratch buffer (one copy).
// The caller returns the chain with PushUsed(head, 0) whatever the outcome (TX writes nothing).
//
// What it trusts: the DescriptorChain (validated by SplitQueue: every segment was inside guest
// memory). What it does not trust: the bytes. A zero-copy frame stays guest-writable while we look at
// it, so consumers must bounds-check every read they make of it (the Protocols readers do) and must not
// assume that two reads of the same byte agree; lengths and header offsets come from validated copies.
// What it owns: nothing; the scratch buffer is the caller's and is reused frame after frame.
using Switchyard.Core.Counters;
using Switchyard.Core.Frames;
using Switchyard.Core.Memory;

namespace Switchyard.Virtio;

/// <summary>Why a TX chain or its virtio-net header was refused. Every value but None is a guest error:
/// drop the frame, count it, and return the chain with used length 0.</summary>
public enum NetTxError
{
    /// <summary>The frame is good.</summary>
    [NotCounted]
    None,

    /// <summary>A device-writable descriptor in a TX chain: transmit buffers are device-readable only
    /// (virtio 1.2 §5.1.6.2: the header and packet are added as output descriptors).</summary>
    WritableDescriptor,

    /// <summary>The chain holds fewer bytes than the 12-byte virtio_net_hdr (virtio 1.2 §5.1.6).</summary>
    ShorterThanHeader,

    /// <summary>The frame after the header is shorter than an Ethernet header.</summary>
    FrameTooShort,

    /// <summary>The frame after the header is longer than 65550 bytes, the largest frame a virtio-net
    /// device handles (virtio 1.2 §5.1.6.3: 65535-byte IP packet plus 14-byte Ethernet header).</summary>
    FrameTooLong,

    /// <summary>A segment validated at pop time is no longer inside guest memory (the memory map changed).</summary>
    MemoryFault,

    /// <summary>NEEDS_CSUM set without VIRTIO_NET_F_CSUM (virtio 1.2 §5.1.6.2.1: "If VIRTIO_NET_F_CSUM is not
    /// negotiated, the driver MUST set flags to zero").</summary>
    ChecksumNotNegotiated,

    /// <summary>csum_start + csum_offset + 2 lies beyond the frame: the device would store the checksum outside it
    /// (virtio 1.2 §5.1.6.2.1 item 3).</summary>
    ChecksumOutsideFrame,

    /// <summary>A gso_type that is not NONE, TCPV4, UDP, TCPV6 or UDP_L4 (optionally with ECN on TCP), e.g. the
    /// UDP tunnel bits, which this device never offers (virtio 1.2 §5.1.6).</summary>
    GsoTypeUnknown,

    /// <summary>A GSO type whose HOST_TSO4 / HOST_TSO6 / HOST_UFO / HOST_USO feature was not negotiated
    /// (virtio 1.2 §5.1.6.2.1: "otherwise the driver MUST NOT set gso_type to ...").</summary>
    GsoNotNegotiated,

    /// <summary>The GSO ECN bit without VIRTIO_NET_F_HOST_ECN (virtio 1.2 §5.1.6.2.1).</summary>
    EcnNotNegotiated,

    /// <summary>A GSO frame without NEEDS_CSUM (virtio 1.2 §5.1.6.2.1: "If gso_type differs from
    /// VIRTIO_NET_HDR_GSO_NONE, then the driver MUST also set the VIRTIO_NET_HDR_F_NEEDS_CSUM bit").</summary>
    GsoWithoutChecksum,

    /// <summary>A GSO frame with gso_size 0 (virtio 1.2 §5.1.6.2.1: the driver "MUST set gso_size to indicate the
    /// desired MSS"; segmenting by 0 would never end).</summary>
    GsoSizeZero,

    /// <summary>hdr_len larger than the frame (virtio 1.2 §5.1.6.2.2: the device "MUST NOT rely on hdr_len to be
    /// correct", so a value it could act on is bounded by the frame).</summary>
    HeaderLengthBeyondFrame,
}

/// <summary>Reading frames out of transmit-queue chains.</summary>
public static class NetTx
{
    /// <summary>The longest frame (after the virtio-net header) accepted from a guest.</summary>
    public const int MaxFrameLength = 65550;

    /// <summary>The scratch buffer size <see cref="TryGetFrame"/> requires.</summary>
    public const int ScratchLength = MaxFrameLength;

    /// <summary>Validates a popped TX chain and returns its header and frame.</summary>
    /// <param name="memory">The guest memory the chain was popped from.</param>
    /// <param name="chain">A chain TryPop returned Ok for.</param>
    /// <param name="features">Negotiated features, for the header rules.</param>
    /// <param name="scratch">At least <see cref="ScratchLength"/> bytes, used only when the frame is scattered.</param>
    /// <param name="header">The validated header (see <see cref="VirtioNetHeader.TryParseTx"/>).</param>
    /// <param name="frame">The frame: a span into guest memory (zero-copy) or into <paramref name="scratch"/>.</param>
    /// <param name="zeroCopy">True when <paramref name="frame"/> points into guest memory.</param>
    public static NetTxError TryGetFrame(
        IGuestMemory memory,
        DescriptorChain chain,
        NegotiatedFeatures features,
        Span<byte> scratch,
        out VirtioNetHeader header,
        out ReadOnlySpan<byte> frame,
        out bool zeroCopy)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(chain);
        if (scratch.Length < ScratchLength)
        {
            ThrowHelper.ThrowScratchTooSmall(scratch.Length, ScratchLength);
        }

        header = default;
        frame = default;
        zeroCopy = false;
        if (chain.ReadableCount != chain.Count)
        {
            return NetTxError.WritableDescriptor;
        }

        if (chain.ReadableBytes < VirtioNetHeader.Size)
        {
            return NetTxError.ShorterThanHeader;
        }

        long frameLength = chain.ReadableBytes - VirtioNetHeader.Size;
        if (frameLength > MaxFrameLength)
        {
            return NetTxError.FrameTooLong;
        }

        if (frameLength < Ethernet.HeaderLength)
        {
            return NetTxError.FrameTooShort;
        }

        ReadOnlySpan<ChainSegment> segments = chain.ReadableSegments;
        Span<byte> raw = stackalloc byte[VirtioNetHeader.Size];
        if (!Gather(memory, segments, 0, raw))
        {
            return NetTxError.MemoryFault;
        }

        NetTxError error = VirtioNetHeader.TryParseTx(raw, (int)frameLength, features, out header);
        if (error != NetTxError.None)
        {
            return error;
        }

        // Find the buffer where the frame starts; if the whole frame is inside it, lend that span.
        int skip = VirtioNetHeader.Size;
        foreach (ChainSegment segment in segments)
        {
            if (skip < segment.Length)
            {
                if (segment.Length - (uint)skip >= frameLength)
                {
                    if (!memory.TryGetSpan(segment.GuestAddress + (uint)skip, (int)frameLength, out Span<byte> direct))
                    {
                        return NetTxError.MemoryFault;
                    }

                    frame = direct;
                    zeroCopy = true;
                    return NetTxError.None;
                }

                break;
            }

            skip -= (int)segment.Length;
        }

        Span<byte> gathered = scratch[..(int)frameLength];
        if (!Gather(memory, segments, VirtioNetHeader.Size, gathered))
        {
            return NetTxError.MemoryFault;
        }

        frame = gathered;
        return NetTxError.None;
    }

    /// <summary>Copies destination.Length bytes starting at byte <paramref name="offset"/> of the concatenated
    /// segments; false when a segment is no longer in memory. The caller guarantees the range exists.</summary>
    private static bool Gather(IGuestMemory memory, ReadOnlySpan<ChainSegment> segments, long offset, Span<byte> destination)
    {
        int copied = 0;
        foreach (ChainSegment segment in segments)
        {
            if (copied == destination.Length)
            {
                break;
            }

            if (offset >= segment.Length)
            {
                offset -= segment.Length;
                continue;
            }

            int take = (int)Math.Min(segment.Length - offset, destination.Length - copied);
            if (!memory.TryGetSpan(segment.GuestAddress + (ulong)offset, take, out Span<byte> source))
            {
                return false;
            }

            source.CopyTo(destination[copied..]);
            copied += take;
            offset = 0;
        }

        return copied == destination.Length;
    }
}
