// Fuzz target: the split-virtqueue chain walker (SplitQueue, DescriptorChain) and the virtio-net TX and RX
// paths over a guest memory image the fuzzer writes.
//
// Input: a 9-byte preamble, then the memory image.
//   [0] queue size: 0xF0..0xFF gives 0..15 (odd and zero sizes), otherwise 1 << (b % 9)
//   [1] features: bit 0 INDIRECT_DESC, bit 1 EVENT_IDX, bit 2 MRG_RXBUF, bit 3 CSUM, bit 4 HOST_TSO4,
//       bit 5 HOST_TSO6, bit 6 VERSION_1, bit 7: run the RX path instead of TX
//   [2..3] next_avail, [4..5] used_idx (0xFFFF: read it from the used ring), [6..8] reserved
//   rest: guest memory from ArrayGuestMemory.Base (padded with zeros to hold the rings). The descriptor
//   table is at Base, the avail ring right after it, the used ring after that (4-aligned).
// Rule checked: the queue answers with QueueError/NetTxError/NetRxStatus values and never throws on
// guest-written bytes; every segment of a chain it accepted lies inside guest memory; the used index
// moves by exactly the chains returned.
using Switchyard.Core.Frames;
using Switchyard.Protocols;
using Switchyard.Virtio;

namespace Switchyard.Fuzz.Targets;

public sealed class VirtqueueTarget : IFuzzTarget
{
    private const int MaxImage = 1 << 16;
    private readonly byte[] scratch = new byte[NetTx.ScratchLength];
    private readonly byte[] segment = new byte[NetTx.MaxFrameLength + 128];

    public string Name => "virtqueue";

    public void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzReader(input);
        byte sizeByte = reader.ReadByte();
        byte featureByte = reader.ReadByte();
        ushort nextAvail = reader.ReadUInt16();
        ushort usedField = reader.ReadUInt16();
        reader.ReadBytes(3);
        ReadOnlySpan<byte> image = reader.ReadBytes(MaxImage);

        int size = sizeByte >= 0xF0 ? sizeByte - 0xF0 : 1 << (sizeByte % 9);
        NegotiatedFeatures features = NegotiatedFeatures.None;
        features |= (featureByte & 1) != 0 ? NegotiatedFeatures.IndirectDesc : 0;
        features |= (featureByte & 2) != 0 ? NegotiatedFeatures.EventIdx : 0;
        features |= (featureByte & 4) != 0 ? NegotiatedFeatures.MrgRxbuf : 0;
        features |= (featureByte & 8) != 0 ? NegotiatedFeatures.Csum : 0;
        features |= (featureByte & 16) != 0 ? NegotiatedFeatures.HostTso4 : 0;
        features |= (featureByte & 32) != 0 ? NegotiatedFeatures.HostTso6 : 0;
        features |= (featureByte & 64) != 0 ? NegotiatedFeatures.Version1 : 0;
        bool rx = (featureByte & 128) != 0;

        ulong descriptorTable = ArrayGuestMemory.Base;
        ulong availRing = descriptorTable + (ulong)(16 * size);
        ulong usedRing = (availRing + 6 + (ulong)(2 * size) + 3) & ~3UL;
        int ringsEnd = (int)(usedRing - ArrayGuestMemory.Base) + 6 + (8 * size);
        byte[] bytes = new byte[Math.Max(image.Length, ringsEnd)];
        image.CopyTo(bytes);
        var memory = new ArrayGuestMemory(bytes);

        var layout = new SplitQueueLayout(size, descriptorTable, availRing, usedRing);
        ushort? usedIdx = usedField == 0xFFFF ? null : usedField;
        if (!SplitQueue.TryCreate(memory, layout, features, nextAvail, usedIdx, out SplitQueue? queue, out QueueConfigError _))
        {
            return;
        }

        if (rx)
        {
            RunRx(queue, features, image);
        }
        else
        {
            RunTx(queue, memory, features);
        }
    }

    private void RunTx(SplitQueue queue, ArrayGuestMemory memory, NegotiatedFeatures features)
    {
        var chain = new DescriptorChain(queue.Size);
        ushort usedBefore = queue.UsedIdx;
        int returned = 0;
        for (int i = 0; i < 4 * queue.Size + 4; i++)
        {
            QueueError error = queue.TryPop(chain);
            if (error == QueueError.NoneAvailable)
            {
                break;
            }

            QueueErrorDisposition disposition = error.GetDisposition();
            if (disposition == QueueErrorDisposition.StopQueue)
            {
                if (!queue.IsBroken)
                {
                    throw new FuzzFindingException($"{error} stops the queue but the queue is not broken");
                }

                break;
            }

            if (error != QueueError.Ok)
            {
                queue.PushUsed(chain.HeadIndex, 0);
                returned++;
                continue;
            }

            foreach (ChainSegment s in chain.Segments)
            {
                if (!memory.TryGetSpan(s.GuestAddress, (int)s.Length, out _))
                {
                    throw new FuzzFindingException($"accepted chain has a segment outside memory: {s}");
                }
            }

            NetTxError txError = NetTx.TryGetFrame(memory, chain, features, scratch, out VirtioNetHeader header, out ReadOnlySpan<byte> frame, out _);
            if (txError == NetTxError.None)
            {
                ExerciseOffloads(frame, header.ToOffloadInfo());
            }

            queue.PushUsed(chain.HeadIndex, 0);
            returned++;
        }

        if (!queue.IsBroken && (ushort)(queue.UsedIdx - usedBefore) != (ushort)returned)
        {
            throw new FuzzFindingException($"used index moved by {(ushort)(queue.UsedIdx - usedBefore)} for {returned} chains");
        }

        queue.PublishUsed();
        queue.SetAvailEvent();
        queue.EnableNotifications();
        queue.DisableNotifications();
    }

    /// <summary>What the switch does with a TX frame's offload request: complete the checksum, or cut GSO
    /// frames into segments. Both are guest-controlled (virtio-net header) and must answer OffloadError.</summary>
    private void ExerciseOffloads(ReadOnlySpan<byte> frame, OffloadInfo offload)
    {
        if (offload.IsGso)
        {
            if (GsoSegmenter.TryCreate(frame, offload, out GsoSegmenter segmenter, out _))
            {
                if (segmenter.MaxSegmentLength > segment.Length)
                {
                    throw new FuzzFindingException($"segment of {segmenter.MaxSegmentLength} bytes from a {frame.Length}-byte frame");
                }

                int produced = 0;
                while (segmenter.TryNext(segment.AsSpan(0, segmenter.MaxSegmentLength), out int length))
                {
                    if (++produced > segmenter.SegmentCount || length > segmenter.MaxSegmentLength)
                    {
                        throw new FuzzFindingException("segmenter produced more or longer segments than it announced");
                    }
                }
            }
        }
        else if (offload.NeedsChecksum)
        {
            byte[] copy = frame.ToArray();
            OffloadCompletion.TryCompleteChecksum(copy, offload, out _);
        }
    }

    private static void RunRx(SplitQueue queue, NegotiatedFeatures features, ReadOnlySpan<byte> image)
    {
        var netRx = new NetRx(queue, features);

        // Frames to deliver: slices of the image itself (their content does not matter to RX, their length does).
        int offset = 0;
        for (int i = 0; i < 8 && !queue.IsBroken; i++)
        {
            int length = image.Length == 0 ? 60 : 14 + ((image[offset % image.Length] * 37) % 1600);
            length = Math.Min(length, Math.Max(image.Length, 14));
            byte[] frame = new byte[length];
            image[..Math.Min(image.Length, length)].CopyTo(frame);
            var egress = new EgressFrame(frame);
            NetRxStatus status = netRx.TryDeliver(egress);
            offset += 7;
            if (status != NetRxStatus.Delivered)
            {
                break;
            }
        }

        queue.PublishUsed();
    }
}
