// A guest-side virtio-net driver for tests, on top of VhostUserFrontEnd (virtio 1.2 §5.1).
//
// Theory of operation: it plays the guest kernel. It owns the guest's RAM (a TestGuestMemory memfd),
// lays out an RX and a TX split ring per queue pair in it (GuestSplitRing; rxq k = ring 2k, txq k =
// ring 2k+1), and has the front-end run QEMU's start-up sequence over them (Start). Then:
//   SendFrame       12-byte virtio_net_hdr (from an OffloadInfo) followed by the frame, as one chain of
//                   device-readable buffers laid out per TxLayout (one buffer; header apart; three
//                   buffers with the header itself split; or an indirect table), posted and kicked.
//                   Completed TX chains are reclaimed first, as Linux does before each transmit.
//   PostRxBuffers   device-writable buffers, one descriptor each, posted and kicked once.
//   TryReceiveFrame the next used RX element: header, then with MRG_RXBUF num_buffers elements whose
//                   bytes are concatenated (virtio 1.2 §5.1.6.4); without it, one buffer. Used elements
//                   shorter than the header are counted and skipped, like Linux ("rx error: len").
//   WaitForCall     until the ring's call eventfd fires (or the timeout), letting the front-end's Service
//                   (an in-process back-end and data plane) run meanwhile.
// Buffers are allocated once per descriptor slot and reused, so long tests do not exhaust memory.
//
// The header is parsed here, from the spec, into GuestNetHeader rather than with the device's own
// VirtioNetHeader: the two sides of a test must not share a parser. What it trusts: nothing the device
// wrote; a used element naming a head the driver never posted throws (a device bug, in a test).
// What it owns: the memory; the front-end stays the caller's. Not thread-safe.
using System.Buffers.Binary;
using Switchyard.Core.Frames;
using Switchyard.Native;
using Switchyard.TestKit.Memory;

namespace Switchyard.TestKit.VhostUser;

/// <summary>How SendFrame spreads "virtio_net_hdr || frame" over descriptors.</summary>
public enum TxLayout
{
    /// <summary>One buffer holding header and frame (Linux with a linear skb and room in front).</summary>
    Single,

    /// <summary>The 12-byte header in one buffer, the frame in a second.</summary>
    HeaderApart,

    /// <summary>Three buffers, the first holding only half the header, so the header straddles two buffers.</summary>
    ThreeWay,

    /// <summary>One descriptor pointing to an indirect table of two: header, frame (VIRTIO_F_INDIRECT_DESC).</summary>
    Indirect,
}

/// <summary>struct virtio_net_hdr_v1 as the guest reads and writes it (virtio 1.2 §5.1.6), little-endian.</summary>
public readonly record struct GuestNetHeader(
    byte Flags,
    byte GsoType,
    ushort HeaderLength,
    ushort GsoSize,
    ushort ChecksumStart,
    ushort ChecksumOffset,
    ushort NumBuffers)
{
    public const int Size = 12;

    public static GuestNetHeader FromOffload(OffloadInfo offload) =>
        new(offload.Flags, offload.GsoType, offload.HeaderLength, offload.GsoSize, offload.ChecksumStart, offload.ChecksumOffset, 0);

    public static GuestNetHeader Read(ReadOnlySpan<byte> source) => new(
        source[0],
        source[1],
        BinaryPrimitives.ReadUInt16LittleEndian(source[2..]),
        BinaryPrimitives.ReadUInt16LittleEndian(source[4..]),
        BinaryPrimitives.ReadUInt16LittleEndian(source[6..]),
        BinaryPrimitives.ReadUInt16LittleEndian(source[8..]),
        BinaryPrimitives.ReadUInt16LittleEndian(source[10..]));

    public OffloadInfo ToOffload() => new(Flags, GsoType, HeaderLength, GsoSize, ChecksumStart, ChecksumOffset);

    public void Write(Span<byte> destination)
    {
        destination[0] = Flags;
        destination[1] = GsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], GsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], ChecksumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], ChecksumOffset);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[10..], NumBuffers);
    }
}

public sealed record VirtioNetDriverOptions
{
    public int QueuePairs { get; init; } = 1;

    /// <summary>RX Queue Size (QEMU rx_queue_size, default 256).</summary>
    public int RxQueueSize { get; init; } = 256;

    /// <summary>TX Queue Size (QEMU tx_queue_size, default 256).</summary>
    public int TxQueueSize { get; init; } = 256;

    public ulong MemorySize { get; init; } = TestGuestMemory.DefaultSize;

    /// <summary>Guest RAM as two regions (at 1 GiB and 4 GiB) instead of one.</summary>
    public bool TwoRegions { get; init; }

    /// <summary>How the guest memory's memfd is sealed (one region only): hostile tests send memory that is sealable but
    /// unsealed, or not sealable at all.</summary>
    public MemFdSealing Sealing { get; init; } = MemFdSealing.Sealed;
}

public sealed class VirtioNetDriver : IDisposable
{
    private const int MinimumBufferCapacity = 2048;

    private readonly GuestSplitRing[] rings;
    private readonly Dictionary<ushort, ushort[]>[] txChains;
    private readonly Dictionary<ushort, (ulong Address, int Length)>[] rxPosted;
    private readonly Dictionary<(int Ring, int Slot), (ulong Address, int Capacity)> buffers = [];

    public VirtioNetDriver(VhostUserFrontEnd frontEnd, VirtioNetDriverOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(frontEnd);
        options ??= new VirtioNetDriverOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.QueuePairs, 1);
        FrontEnd = frontEnd;
        Memory = options.TwoRegions
            ? TestGuestMemory.TwoRegions(options.MemorySize / 2, options.MemorySize / 2)
            : TestGuestMemory.OneRegion(options.MemorySize, sealing: options.Sealing);
        try
        {
            QueuePairs = options.QueuePairs;
            rings = new GuestSplitRing[2 * QueuePairs];
            txChains = new Dictionary<ushort, ushort[]>[QueuePairs];
            rxPosted = new Dictionary<ushort, (ulong, int)>[QueuePairs];
            for (int pair = 0; pair < QueuePairs; pair++)
            {
                rings[2 * pair] = new GuestSplitRing(Memory, 2 * pair, options.RxQueueSize);
                rings[(2 * pair) + 1] = new GuestSplitRing(Memory, (2 * pair) + 1, options.TxQueueSize);
                txChains[pair] = [];
                rxPosted[pair] = [];
            }
        }
        catch
        {
            Memory.Dispose();
            throw;
        }
    }

    public VhostUserFrontEnd FrontEnd { get; }

    /// <summary>The guest's RAM (owned by the driver).</summary>
    public TestGuestMemory Memory { get; }

    public int QueuePairs { get; }

    /// <summary>Feature bits acked by <see cref="Start"/>.</summary>
    public ulong Features { get; private set; }

    /// <summary>Whether VIRTIO_NET_F_MRG_RXBUF was negotiated.</summary>
    public bool Mergeable => FrontEndFeatures.Has(Features, FrontEndFeatures.MrgRxbuf);

    /// <summary>RX used elements dropped for being shorter than the header (returned empty by the device).</summary>
    public int RxErrors { get; private set; }

    /// <summary>TX used elements whose head was not a chain SendFrame posted (chains a test wrote by hand).</summary>
    public int ForeignTxCompletions { get; private set; }

    /// <summary>Every ring's layout, in vring index order (what Negotiate needs).</summary>
    public IReadOnlyList<GuestRingLayout> RingLayouts => Array.ConvertAll(rings, r => r.Layout);

    public GuestSplitRing Ring(int index) => rings[index];

    public GuestSplitRing RxRing(int pair = 0) => rings[2 * pair];

    public GuestSplitRing TxRing(int pair = 0) => rings[(2 * pair) + 1];

    /// <summary>Runs the front-end's QEMU start-up sequence over this driver's memory and rings.</summary>
    public NegotiationResult Start(NegotiateOptions? options = null)
    {
        NegotiationResult result = FrontEnd.Negotiate(Memory, RingLayouts, options);
        Features = result.AckedFeatures;
        foreach (GuestSplitRing ring in rings)
        {
            ring.EventIdx = FrontEndFeatures.Has(Features, FrontEndFeatures.EventIdx);
        }

        return result;
    }

    /// <summary>Signals ring <paramref name="index"/>'s kick eventfd (if the front-end sent one).</summary>
    public void Kick(int index) => FrontEnd.GetKick(index)?.Signal();

    /// <summary>Transmits <paramref name="frame"/> on queue pair <paramref name="pair"/>: header + frame as a chain laid out per
    /// <paramref name="layout"/>, posted, kicked. Returns the chain's head.</summary>
    public ushort SendFrame(byte[] frame, OffloadInfo? offload = null, TxLayout layout = TxLayout.Single, int pair = 0)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ReclaimTx(pair);
        GuestSplitRing tx = TxRing(pair);
        byte[] stream = new byte[GuestNetHeader.Size + frame.Length];
        GuestNetHeader.FromOffload(offload ?? OffloadInfo.None).Write(stream);
        frame.CopyTo(stream, GuestNetHeader.Size);

        int half = GuestNetHeader.Size + (frame.Length / 2);
        List<(int Start, int Length)> pieces = layout switch
        {
            TxLayout.HeaderApart or TxLayout.Indirect => [(0, GuestNetHeader.Size), (GuestNetHeader.Size, frame.Length)],
            TxLayout.ThreeWay when frame.Length >= 2 => [(0, GuestNetHeader.Size / 2), (GuestNetHeader.Size / 2, half - (GuestNetHeader.Size / 2)), (half, stream.Length - half)],
            _ => [(0, stream.Length)],
        };
        pieces.RemoveAll(p => p.Length == 0);

        ushort head;
        ushort[] descriptors;
        if (layout == TxLayout.Indirect)
        {
            head = tx.AllocateDescriptor();
            descriptors = [head];
            (ulong table, _) = Buffer(tx.Index, tx.Size + head, GuestSplitRing.DescriptorSize * pieces.Count);
            for (int i = 0; i < pieces.Count; i++)
            {
                ulong address = Fill(tx.Index, (2 * tx.Size) + (tx.Size * i) + head, stream.AsSpan(pieces[i].Start, pieces[i].Length));
                bool last = i == pieces.Count - 1;
                GuestSplitRing.WriteTableEntry(
                    Memory, table, i, address, (uint)pieces[i].Length, last ? (ushort)0 : GuestSplitRing.DescFlagNext, last ? (ushort)0 : (ushort)(i + 1));
            }

            tx.WriteDescriptor(head, table, (uint)(GuestSplitRing.DescriptorSize * pieces.Count), GuestSplitRing.DescFlagIndirect);
        }
        else
        {
            if (tx.FreeCount < pieces.Count)
            {
                throw new InvalidOperationException($"TX ring {tx.Index} has {tx.FreeCount} free descriptors; {pieces.Count} needed.");
            }

            descriptors = new ushort[pieces.Count];
            for (int i = 0; i < descriptors.Length; i++)
            {
                descriptors[i] = tx.AllocateDescriptor();
            }

            for (int i = 0; i < descriptors.Length; i++)
            {
                ulong address = Fill(tx.Index, descriptors[i], stream.AsSpan(pieces[i].Start, pieces[i].Length));
                bool last = i == descriptors.Length - 1;
                tx.WriteDescriptor(
                    descriptors[i], address, (uint)pieces[i].Length, last ? (ushort)0 : GuestSplitRing.DescFlagNext, last ? (ushort)0 : descriptors[i + 1]);
            }

            head = descriptors[0];
        }

        txChains[pair][head] = descriptors;
        tx.Post(head);
        Kick(tx.Index);
        return head;
    }

    /// <summary>Consumes TX used elements and frees their descriptors; returns how many were consumed.</summary>
    public int ReclaimTx(int pair = 0)
    {
        GuestSplitRing tx = TxRing(pair);
        int count = 0;
        while (tx.TryPopUsed(out uint id, out _))
        {
            count++;
            if (id < (uint)tx.Size && txChains[pair].Remove((ushort)id, out ushort[]? descriptors))
            {
                foreach (ushort d in descriptors)
                {
                    tx.FreeDescriptor(d);
                }
            }
            else
            {
                ForeignTxCompletions++;
            }
        }

        return count;
    }

    /// <summary>Posts <paramref name="count"/> device-writable buffers of <paramref name="size"/> bytes on RX ring
    /// <paramref name="pair"/> and kicks once.</summary>
    public void PostRxBuffers(int count, int size, int pair = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        GuestSplitRing rx = RxRing(pair);
        if (rx.FreeCount < count)
        {
            throw new InvalidOperationException($"RX ring {rx.Index} has {rx.FreeCount} free descriptors; {count} asked for.");
        }

        for (int i = 0; i < count; i++)
        {
            ushort d = rx.AllocateDescriptor();
            (ulong address, _) = Buffer(rx.Index, d, size);
            rx.WriteDescriptor(d, address, (uint)size, GuestSplitRing.DescFlagWrite);
            rxPosted[pair][d] = (address, size);
            rx.Post(d);
        }

        Kick(rx.Index);
    }

    /// <summary>Takes the next received frame from RX ring <paramref name="pair"/>, if the device has published one.</summary>
    /// <exception cref="InvalidOperationException">The device returned a head that was not posted, wrote more than a
    /// buffer holds, or published fewer buffers than num_buffers says (device bugs).</exception>
    public bool TryReceiveFrame(out byte[] frame, out GuestNetHeader header, int pair = 0)
    {
        GuestSplitRing rx = RxRing(pair);
        while (rx.TryPopUsed(out uint id, out uint length))
        {
            (ulong address, _) = TakeRx(pair, id, length);
            if (length < GuestNetHeader.Size)
            {
                RxErrors++;
                continue;
            }

            header = GuestNetHeader.Read(Memory.GetSpan(address, GuestNetHeader.Size));
            int buffersUsed = Mergeable ? header.NumBuffers : 1;
            if (buffersUsed == 0)
            {
                throw new InvalidOperationException("The device wrote num_buffers = 0 with MRG_RXBUF negotiated.");
            }

            using var bytes = new MemoryStream();
            bytes.Write(Memory.GetSpan(address + GuestNetHeader.Size, (int)length - GuestNetHeader.Size));
            for (int i = 1; i < buffersUsed; i++)
            {
                if (!rx.TryPopUsed(out uint nextId, out uint nextLength))
                {
                    throw new InvalidOperationException($"num_buffers is {buffersUsed} but the device published only {i} used elements.");
                }

                (ulong nextAddress, _) = TakeRx(pair, nextId, nextLength);
                bytes.Write(Memory.GetSpan(nextAddress, (int)nextLength));
            }

            frame = bytes.ToArray();
            return true;
        }

        frame = [];
        header = default;
        return false;
    }

    /// <summary>Waits until ring <paramref name="ringIndex"/>'s call eventfd fires (and clears it), running the front-end's
    /// Service meanwhile. False after <paramref name="timeout"/>.</summary>
    public bool WaitForCall(TimeSpan timeout, int ringIndex = 0)
    {
        EventFd call = FrontEnd.GetCall(ringIndex)
            ?? throw new InvalidOperationException($"Ring {ringIndex} has no call eventfd.");
        long deadline = FdWait.Deadline(timeout);
        while (true)
        {
            FrontEnd.Service?.Invoke();
            if (call.Drain())
            {
                return true;
            }

            TimeSpan left = FdWait.Remaining(deadline);
            if (left == TimeSpan.Zero)
            {
                return false;
            }

            FdWait.Readable(call.Fd, FrontEnd.Service is null ? left : TimeSpan.FromMilliseconds(Math.Min(2, left.TotalMilliseconds)));
        }
    }

    public void Dispose() => Memory.Dispose();

    /// <summary>Removes a used RX element's buffer from the posted set and frees its descriptor.</summary>
    private (ulong Address, int Length) TakeRx(int pair, uint id, uint length)
    {
        GuestSplitRing rx = RxRing(pair);
        if (id >= (uint)rx.Size || !rxPosted[pair].Remove((ushort)id, out (ulong Address, int Length) buffer))
        {
            throw new InvalidOperationException($"The device returned RX head {id}, which the driver has not posted.");
        }

        rx.FreeDescriptor((ushort)id);
        if (length > (uint)buffer.Length)
        {
            throw new InvalidOperationException($"The device says it wrote {length} bytes into a {buffer.Length}-byte RX buffer.");
        }

        return buffer;
    }

    /// <summary>Copies <paramref name="content"/> into the slot's buffer and returns its guest address.</summary>
    private ulong Fill(int ring, int slot, ReadOnlySpan<byte> content)
    {
        (ulong address, _) = Buffer(ring, slot, content.Length);
        Memory.Write(address, content);
        return address;
    }

    /// <summary>The reusable buffer of a descriptor slot (or indirect-table slot), grown if too small.</summary>
    private (ulong Address, int Capacity) Buffer(int ring, int slot, int size)
    {
        if (!buffers.TryGetValue((ring, slot), out (ulong Address, int Capacity) buffer) || buffer.Capacity < size)
        {
            int capacity = Math.Max(size, MinimumBufferCapacity);
            buffer = (Memory.Allocate((ulong)capacity, 64), capacity);
            buffers[(ring, slot)] = buffer;
        }

        return buffer;
    }
}
