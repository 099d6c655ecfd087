// Writing frames into a guest's receive queue (virtio 1.2 §5.1.6.3, §5.1.6.4).
//
// Theory of operation: each frame becomes a 12-byte virtio_net_hdr followed by the frame bytes,
// copied once, straight from the egress frame (EgressFrame.CopySlice applies any VLAN rewrite on the
// way) into the guest's device-writable buffers.
//   - With VIRTIO_NET_F_MRG_RXBUF the stream "header || frame" is spread over as many chains as it
//     needs, each filled completely before the next (all but the last are full, §5.1.6.4.1), and the
//     first header's num_buffers says how many were used.
//   - Without it, one chain must hold the whole stream (§5.1.6.3.2: "MUST use only a single
//     descriptor"), num_buffers = 1.
// Used elements are pushed only once the whole frame is in place; the caller publishes the used index
// once per batch (SplitQueue.PublishUsed) and signals the guest if that says so.
//
// Rollback: bytes are written into each chain as it is popped, but no used element is pushed until
// the frame is complete. If the queue runs out of chains part-way (NoBuffers), next_avail is rewound to
// where the frame started: the chains stay available, the bytes we wrote into them are unpublished
// scratch the driver never looks at (it reads only the used length, §2.7.8.3), and the frame is dropped.
// Without MRG_RXBUF a chain too small for the frame is likewise un-popped and kept for the next
// (smaller) frame; the frame is dropped (BufferTooSmall). A chain that breaks a rule is returned to the
// guest empty together with every chain already popped for the frame, and the frame is dropped.
//
// The header (§5.1.6.4.1): without GUEST_CSUM flags are 0 (the device "MUST set flags to zero"), so a
// frame that still needs its checksum, or still needs segmenting for lack of GUEST_TSO4/6, UFO or
// USO, is refused (OffloadNotNegotiated): the switch must complete it in software first. With GUEST_CSUM
// NEEDS_CSUM passes through with csum_start/csum_offset, and DATA_VALID passes through when the frame's
// offload says its checksum was validated. RSC_INFO is never set.
//
// What it trusts: the SplitQueue (validated chains) and the EgressFrame (our switch). What it owns: two
// DescriptorChain holders and the per-frame lists of heads and lengths, all sized to the queue once;
// delivering a frame allocates nothing. Runs on the loop that owns the queue.
using Switchyard.Core.Counters;
using Switchyard.Core.Frames;
using Switchyard.Core.Memory;

namespace Switchyard.Virtio;

/// <summary>What happened to one frame offered to <see cref="NetRx.TryDeliver"/>. Every value but Delivered
/// means the frame was dropped and should be counted.</summary>
public enum NetRxStatus
{
    /// <summary>The frame is in the guest's buffers and its used elements are pushed (publish pending).</summary>
    [NotCounted]
    Delivered,

    /// <summary>Not enough chains available for the whole frame; nothing was consumed (next_avail rewound).</summary>
    [NotCounted] // Counted as its own port drop (tx_queue_full, tx_too_big, tx_offload_unsupported), not a guest rule.
    NoBuffers,

    /// <summary>Without MRG_RXBUF, the next chain cannot hold header + frame (the driver SHOULD post at least 1526
    /// or 65562 bytes, virtio 1.2 §5.1.6.3.1). The chain was kept for the next frame.</summary>
    BufferTooSmall,

    /// <summary>The frame is longer than 65550 bytes (virtio 1.2 §5.1.6.3).</summary>
    [NotCounted] // Counted as its own port drop (tx_queue_full, tx_too_big, tx_offload_unsupported), not a guest rule.
    FrameTooLong,

    /// <summary>The frame carries a partial checksum or GSO the guest did not negotiate to receive
    /// (virtio 1.2 §5.1.6.4.1); the switch should have completed it in software.</summary>
    [NotCounted] // Counted as its own port drop (tx_queue_full, tx_too_big, tx_offload_unsupported), not a guest rule.
    OffloadNotNegotiated,

    /// <summary>A chain broke a queue rule (<see cref="NetRx.LastQueueError"/> says which); it and every chain
    /// popped for this frame were returned with used length 0.</summary>
    InvalidChain,

    /// <summary>An RX chain with a device-readable descriptor: receive buffers are device-writable (virtio 1.2
    /// §5.1.6.3). Returned empty with the frame's other chains.</summary>
    ReadableDescriptor,

    /// <summary>With MRG_RXBUF, a buffer smaller than the 12-byte header (virtio 1.2 §5.1.6.3.1: "each buffer
    /// MUST be at least the size of the struct virtio_net_hdr"). Returned empty with the frame's other chains.</summary>
    BufferShorterThanHeader,

    /// <summary>The queue is broken (<see cref="SplitQueue.IsBroken"/>); it takes no frames.</summary>
    QueueBroken,
}

/// <summary>The receive side of one virtio-net queue: scatters frames into the guest's RX buffers.</summary>
public sealed class NetRx
{
    /// <summary>The longest frame (without the virtio-net header) delivered to a guest.</summary>
    public const int MaxFrameLength = NetTx.MaxFrameLength;

    private readonly SplitQueue queue;
    private readonly NegotiatedFeatures features;
    private readonly bool mergeable;
    private readonly DescriptorChain first;
    private readonly DescriptorChain next;
    private readonly ushort[] heads;
    private readonly uint[] lengths;

    /// <param name="queue">The receive queue; a new NetRx is needed when the queue is reconfigured.</param>
    /// <param name="features">Negotiated features: MRG_RXBUF, GUEST_CSUM, GUEST_TSO4/6, GUEST_ECN, GUEST_UFO,
    /// GUEST_USO4/6 matter.</param>
    public NetRx(SplitQueue queue, NegotiatedFeatures features)
    {
        ArgumentNullException.ThrowIfNull(queue);
        this.queue = queue;
        this.features = features;
        mergeable = (features & NegotiatedFeatures.MrgRxbuf) != 0;
        first = new DescriptorChain(queue.Size);
        next = new DescriptorChain(queue.Size);
        heads = new ushort[queue.Size];
        lengths = new uint[queue.Size];
    }

    /// <summary>The queue this writes into.</summary>
    public SplitQueue Queue => queue;

    /// <summary>The queue rule broken by the chain behind the last InvalidChain or QueueBroken status.</summary>
    public QueueError LastQueueError { get; private set; }

    /// <summary>num_buffers of the last delivered frame.</summary>
    public int LastNumBuffers { get; private set; }

    /// <summary>Copies one frame, with its virtio-net header, into the guest's receive buffers and pushes the used
    /// elements. The caller calls <see cref="SplitQueue.PublishUsed"/> once per batch.</summary>
    public NetRxStatus TryDeliver(scoped in EgressFrame frame)
    {
        if (queue.IsBroken)
        {
            LastQueueError = QueueError.QueueBroken;
            return NetRxStatus.QueueBroken;
        }

        int frameLength = frame.Length;
        if (frameLength > MaxFrameLength)
        {
            return NetRxStatus.FrameTooLong;
        }

        if (!TryBuildHeader(in frame, out VirtioNetHeader header))
        {
            return NetRxStatus.OffloadNotNegotiated;
        }

        IGuestMemory memory = queue.Memory;
        int total = VirtioNetHeader.Size + frameLength;
        ushort mark = queue.NextAvail;
        int count = 0;
        int placed = 0;
        while (placed < total)
        {
            if (count == heads.Length)
            {
                // Only a driver that re-posts heads it never got back can make one frame span more chains than
                // the queue holds; refuse without consuming anything.
                queue.RewindTo(mark);
                return NetRxStatus.NoBuffers;
            }

            DescriptorChain chain = count == 0 ? first : next;
            QueueError error = queue.TryPop(chain);
            if (error == QueueError.NoneAvailable)
            {
                queue.RewindTo(mark);
                return NetRxStatus.NoBuffers;
            }

            if (error != QueueError.Ok)
            {
                LastQueueError = error;
                if (error.GetDisposition() == QueueErrorDisposition.StopQueue)
                {
                    // Keep next_avail where this frame started so GET_VRING_BASE reports chains we never used.
                    queue.RewindTo(mark);
                    return NetRxStatus.QueueBroken;
                }

                return ReturnAll(count, chain.HeadIndex, NetRxStatus.InvalidChain);
            }

            if (chain.ReadableCount != 0)
            {
                return ReturnAll(count, chain.HeadIndex, NetRxStatus.ReadableDescriptor);
            }

            if (mergeable)
            {
                if (chain.WritableBytes < VirtioNetHeader.Size)
                {
                    return ReturnAll(count, chain.HeadIndex, NetRxStatus.BufferShorterThanHeader);
                }
            }
            else if (chain.WritableBytes < total)
            {
                queue.RewindTo(mark);
                return NetRxStatus.BufferTooSmall;
            }

            int room = (int)Math.Min(chain.WritableBytes, total - placed);
            if (!ScatterFrame(memory, chain, in frame, placed, room))
            {
                LastQueueError = QueueError.BufferOutsideMemory;
                return ReturnAll(count, chain.HeadIndex, NetRxStatus.InvalidChain);
            }

            heads[count] = chain.HeadIndex;
            lengths[count] = (uint)room;
            count++;
            placed += room;
        }

        // The header goes in last, when num_buffers is known. The first chain holds at least 12 bytes.
        Span<byte> bytes = stackalloc byte[VirtioNetHeader.Size];
        (header with { NumBuffers = (ushort)count }).Write(bytes);
        if (!ScatterBytes(memory, first, bytes))
        {
            LastQueueError = QueueError.BufferOutsideMemory;
            return ReturnAll(count, null, NetRxStatus.InvalidChain);
        }

        for (int i = 0; i < count; i++)
        {
            queue.PushUsed(heads[i], lengths[i]);
        }

        LastNumBuffers = count;
        return NetRxStatus.Delivered;
    }

    /// <summary>Returns the chains popped for a dropped frame (and the offending one) with used length 0.</summary>
    private NetRxStatus ReturnAll(int count, ushort? offending, NetRxStatus status)
    {
        for (int i = 0; i < count; i++)
        {
            queue.PushUsed(heads[i], 0);
        }

        if (offending is { } head)
        {
            queue.PushUsed(head, 0);
        }

        return status;
    }

    /// <summary>The RX header for <paramref name="frame"/>, or false when its offloads need a feature the guest
    /// did not negotiate.</summary>
    private bool TryBuildHeader(scoped in EgressFrame frame, out VirtioNetHeader header)
    {
        header = default;
        OffloadInfo offload = frame.Offload;
        bool guestCsum = (features & NegotiatedFeatures.GuestCsum) != 0;
        byte flags = 0;
        if (offload.NeedsChecksum)
        {
            if (!guestCsum)
            {
                return false;
            }

            flags = VirtioNetHeader.FlagNeedsChecksum;
        }
        else if (guestCsum && (offload.Flags & OffloadInfo.FlagDataValid) != 0)
        {
            flags = VirtioNetHeader.FlagDataValid;
        }

        byte gsoType = VirtioNetHeader.GsoNone;
        ushort gsoSize = 0;
        if (offload.IsGso)
        {
            int gso = offload.GsoType & ~VirtioNetHeader.GsoEcn;
            NegotiatedFeatures required = gso switch
            {
                VirtioNetHeader.GsoTcpV4 => NegotiatedFeatures.GuestTso4,
                VirtioNetHeader.GsoTcpV6 => NegotiatedFeatures.GuestTso6,
                VirtioNetHeader.GsoUdp => NegotiatedFeatures.GuestUfo,
                VirtioNetHeader.GsoUdpL4 => UsoFeatureFor(in frame),
                _ => NegotiatedFeatures.None,
            };

            bool ecn = (offload.GsoType & VirtioNetHeader.GsoEcn) != 0;

            // §5.1.6.4.1: a GSO frame MUST also carry NEEDS_CSUM and a gso_size.
            if (required == NegotiatedFeatures.None
                || (features & required) != required
                || (ecn && (features & NegotiatedFeatures.GuestEcn) == 0)
                || !offload.NeedsChecksum
                || offload.GsoSize == 0)
            {
                return false;
            }

            gsoType = offload.GsoType;
            gsoSize = offload.GsoSize;
        }

        header = new VirtioNetHeader(
            flags,
            gsoType,
            offload.HeaderLength,
            gsoSize,
            offload.NeedsChecksum ? offload.ChecksumStart : (ushort)0,
            offload.NeedsChecksum ? offload.ChecksumOffset : (ushort)0,
            1);
        return true;
    }

    /// <summary>GUEST_USO4 or GUEST_USO6 by the frame's EtherType (after one 802.1Q tag); both when unknown.</summary>
    private static NegotiatedFeatures UsoFeatureFor(scoped in EgressFrame frame)
    {
        Span<byte> type = stackalloc byte[2];
        int at = Ethernet.EtherTypeOffset;
        if (frame.Length < at + 2)
        {
            return NegotiatedFeatures.GuestUso4 | NegotiatedFeatures.GuestUso6;
        }

        frame.CopySlice(at, type);
        if (type[0] == 0x81 && type[1] == 0x00 && frame.Length >= at + Ethernet.VlanTagLength + 2)
        {
            frame.CopySlice(at + Ethernet.VlanTagLength, type);
        }

        ushort etherType = (ushort)((type[0] << 8) | type[1]);
        return etherType switch
        {
            Ethernet.EtherTypeIPv4 => NegotiatedFeatures.GuestUso4,
            Ethernet.EtherTypeIPv6 => NegotiatedFeatures.GuestUso6,
            _ => NegotiatedFeatures.GuestUso4 | NegotiatedFeatures.GuestUso6,
        };
    }

    /// <summary>Writes bytes [streamStart, streamStart + count) of "header || frame" into the chain's writable
    /// buffers from their start, skipping the header range (written last). Logs every range written.</summary>
    private static bool ScatterFrame(IGuestMemory memory, DescriptorChain chain, scoped in EgressFrame frame, int streamStart, int count)
    {
        int done = 0;
        foreach (ChainSegment segment in chain.WritableSegments)
        {
            if (done == count)
            {
                break;
            }

            int piece = (int)Math.Min(segment.Length, (uint)(count - done));
            int start = streamStart + done;
            int end = start + piece;
            int frameStart = Math.Max(start, VirtioNetHeader.Size);
            if (frameStart < end)
            {
                ulong address = segment.GuestAddress + (ulong)(frameStart - start);
                int length = end - frameStart;
                if (!memory.TryGetSpan(address, length, out Span<byte> destination))
                {
                    return false;
                }

                frame.CopySlice(frameStart - VirtioNetHeader.Size, destination);
                memory.LogDirty(address, length);
            }

            done += piece;
        }

        return done == count;
    }

    /// <summary>Writes <paramref name="source"/> at the start of the chain's writable buffers.</summary>
    private static bool ScatterBytes(IGuestMemory memory, DescriptorChain chain, ReadOnlySpan<byte> source)
    {
        int done = 0;
        foreach (ChainSegment segment in chain.WritableSegments)
        {
            if (done == source.Length)
            {
                break;
            }

            int piece = (int)Math.Min(segment.Length, (uint)(source.Length - done));
            if (!memory.TryGetSpan(segment.GuestAddress, piece, out Span<byte> destination))
            {
                return false;
            }

            source.Slice(done, piece).CopyTo(destination);
            memory.LogDirty(segment.GuestAddress, piece);
            done += piece;
        }

        return done == source.Length;
    }
}
