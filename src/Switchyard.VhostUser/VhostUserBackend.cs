// The vhost-user back-end state machine for one front-end connection (vhost-user.rst).
//
// Theory of operation: the connection layer hands each complete message here (header, payload, the
// descriptors that came with it). Handle validates it in the fixed order of STYLE.md habit 5 —
// header (version, known request), allowed descriptors, exact payload size, field values, state —
// then runs its handler and writes the reply, if any. Every descriptor received is either adopted
// (kick/call eventfds, memory region fds) or closed before Handle returns, so a hostile front-end
// cannot make us leak.
//
// It owns the guest memory mapping and the per-ring configuration. A ring becomes live for the data
// plane when it is started (SET_VRING_KICK with an fd, the ring's size, addresses and memory known):
// the state machine then builds a SplitQueue and calls IVhostUserDevice.RingStarted. GET_VRING_BASE
// stops it and answers the next available index (vhost-user.rst "Ring states").
//
// Dispositions: any message that breaks a rule ends the connection (Result.Close with the rule), as
// the front-end cannot go on after a rejected configuration anyway; a ring whose addresses are
// unusable is marked broken and not started (the data plane never sees it), and the connection stays.
//
// Descriptors are input too (issue 10): kick, call and error notifiers must be eventfds, and are made
// non-blocking before they are kept (EventFd.TryAdoptFromPeer), so a saturated blocking call eventfd cannot
// stall the loop and a socket or memfd never reaches epoll as a kick; memory and the dirty log must be
// regular files that the front-end cannot shrink (MappedRegion, under options.Memory) and fit the mapping
// budget (options.Mappings). Every refusal is a typed VhostUserRejection in the result, which the port counts
// under its own name; those above are also counted as the port drops vhost_fd_wrong_type,
// vhost_memory_shrinkable and vhost_mapping_budget (VhostUserRejections.PortDrop).
// SET_LOG_FD's descriptor is not checked: it is closed unused.
using System.Buffers.Binary;
using Switchyard.Core.Ports;
using Switchyard.Core.Memory;
using Switchyard.Native;
using Switchyard.Virtio;

namespace Switchyard.VhostUser;

/// <summary>What the connection does after a message: reply, or close it for the rule <see cref="Rejection"/>
/// (and, for a refused memory description, <see cref="MemoryRule"/>); <see cref="Reason"/> is the detail for the log.</summary>
public readonly record struct HandleResult(bool Close, string? Reason, int ReplyLength, VhostUserRejection Rejection = VhostUserRejection.None, GuestMemoryRule? MemoryRule = null)
{
    /// <summary>The port drop reason the refusal is also counted under, when it has one of its own.</summary>
    public DropReason? Drop => VhostUserRejections.PortDrop(Rejection, MemoryRule);

    public static HandleResult Reply(int length) => new(false, null, length);

    /// <summary>Close the connection for <paramref name="rejection"/>.</summary>
    public static HandleResult CloseWith(VhostUserRejection rejection, string reason, GuestMemoryRule? memoryRule = null) => new(true, reason, 0, rejection, memoryRule);
}

/// <summary>A handler's refusal: the rule and the detail for the log.</summary>
internal readonly record struct Refusal(VhostUserRejection Rule, string Detail);

/// <summary>Settings of one back-end: what it offers.</summary>
public sealed record VhostUserBackendOptions(int MaxQueuePairs = 1, ushort Mtu = 1500)
{
    /// <summary>virtio feature bits offered by default (interop.md §2.17).</summary>
    public static readonly ulong DefaultFeatures =
        VirtioFeatures.Bit(VirtioFeatures.Csum) | VirtioFeatures.Bit(VirtioFeatures.GuestCsum)
        | VirtioFeatures.Bit(VirtioFeatures.GuestTso4) | VirtioFeatures.Bit(VirtioFeatures.GuestTso6)
        | VirtioFeatures.Bit(VirtioFeatures.HostTso4) | VirtioFeatures.Bit(VirtioFeatures.HostTso6)
        | VirtioFeatures.Bit(VirtioFeatures.MrgRxbuf) | VirtioFeatures.Bit(VirtioFeatures.Mtu)
        | VirtioFeatures.Bit(VirtioFeatures.Mq) | VirtioFeatures.Bit(VirtioFeatures.IndirectDesc)
        | VirtioFeatures.Bit(VirtioFeatures.EventIdx) | VirtioFeatures.Bit(VirtioFeatures.Version1)
        | VirtioFeatures.Bit(VirtioFeatures.LogAll) | VirtioFeatures.Bit(VirtioFeatures.ProtocolFeatures);

    /// <summary>Protocol features offered.</summary>
    public static readonly ulong DefaultProtocolFeatures =
        VirtioFeatures.Bit(ProtocolFeatures.Mq) | VirtioFeatures.Bit(ProtocolFeatures.LogShmfd)
        | VirtioFeatures.Bit(ProtocolFeatures.Rarp) | VirtioFeatures.Bit(ProtocolFeatures.ReplyAck)
        | VirtioFeatures.Bit(ProtocolFeatures.NetMtu) | VirtioFeatures.Bit(ProtocolFeatures.ConfigureMemSlots);

    public ulong Features { get; init; } = DefaultFeatures;

    public ulong ProtocolFeatureBits { get; init; } = DefaultProtocolFeatures;

    /// <summary>Which memory files are mapped (netdev option memory=sealed|trusted); see MappedRegion.</summary>
    public MemoryFilePolicy Memory { get; init; } = MemoryFilePolicy.Sealed;

    /// <summary>The mapping budget shared with every other connection; null: <see cref="MappingBudget.Global"/>.</summary>
    public MappingBudget? Mappings { get; init; }

    public int MaxRings => 2 * MaxQueuePairs;
}

public sealed class VhostUserBackend : IDisposable
{
    /// <summary>VHOST_VRING_F_LOG in SET_VRING_ADDR flags: log used-ring writes.</summary>
    private const uint VringFlagLog = 1;

    private readonly VhostUserBackendOptions options;
    private readonly IVhostUserDevice device;
    private readonly Vring[] rings;
    private GuestMemory? memory;

    // QEMU has one vhost_dev per queue pair on the same connection, each with its own view of the memory table, and
    // up to 7.2 (Debian 12's) sends ADD_MEM_REG/REM_MEM_REG from every one of them (upstream made them per-device
    // requests, sent once like SET_MEM_TABLE, in 2023): with N queue pairs each region arrives N times. An identical
    // region (guest address, size, user address) is counted here instead of mapped again, and REM_MEM_REG unmaps it
    // when its last reference goes.
    private readonly Dictionary<(ulong GuestPhysAddr, ulong Size, ulong UserAddr), int> extraRegionRefs = [];
    private ulong features;
    private ulong protocolFeatures;
    private bool featuresSet;

    public VhostUserBackend(VhostUserBackendOptions options, IVhostUserDevice device)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.options = options;
        this.device = device;
        rings = new Vring[options.MaxRings];
        for (int i = 0; i < rings.Length; i++)
        {
            rings[i] = new Vring();
        }
    }

    public ulong Features => features;

    public ulong ProtocolFeatureBits => protocolFeatures;

    public ushort Mtu { get; private set; }

    public IGuestMemory? Memory => memory;

    /// <summary>Rings that were configured with unusable addresses (counted, not started).</summary>
    public int BrokenRings { get; private set; }

    /// <summary>Handles one message; <paramref name="reply"/> receives the reply message (header
    /// included) when there is one. Every fd in <paramref name="fds"/> is adopted or closed.</summary>
    public HandleResult Handle(in VhostUserHeader header, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds, Span<byte> reply)
    {
        int adopted = 0;
        try
        {
            HandleResult result = Dispatch(header, payload, fds, reply, ref adopted);
            return result;
        }
        catch (GuestMemoryException ex)
        {
            // Overlapping/overflowing regions, a file too small, shrinkable or not a file, the budget spent.
            return HandleResult.CloseWith(VhostUserRejection.GuestMemoryRefused, $"{header.Request}: {ex.Message}", ex.Rule);
        }
        catch (IOException ex)
        {
            // mmap refused.
            return HandleResult.CloseWith(VhostUserRejection.MapFailed, $"{header.Request}: {ex.Message}");
        }
        finally
        {
            // Close every descriptor the handler did not take ownership of.
            FileDescriptors.CloseAll(fds[adopted..]);
        }
    }

    /// <summary>Stops every ring (connection closed or reset).</summary>
    public void StopAll()
    {
        for (int i = 0; i < rings.Length; i++)
        {
            StopRing(i);
            rings[i].Reset();
        }
    }

    public void Dispose()
    {
        StopAll();
        memory?.Dispose();
        memory = null;
    }

    private static HandleResult Fail(VhostUserRequest request, VhostUserRejection rule, string why) =>
        HandleResult.CloseWith(rule, $"{RequestName(request)}: {why}");

    private static HandleResult Fail(VhostUserRequest request, Refusal refusal) => Fail(request, refusal.Rule, refusal.Detail);

    /// <summary>Why a notifier descriptor was refused, for the close reason.</summary>
    private static string NotAnEventFd(string what, DescriptorKind kind) =>
        $"the {what} descriptor is {(kind == DescriptorKind.Invalid ? "not open" : $"a {kind}")}, not an eventfd";

    private static string RequestName(VhostUserRequest request) => request.ToString();

    private HandleResult Dispatch(in VhostUserHeader header, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds, Span<byte> reply, ref int adopted)
    {
        // 1. Header.
        if ((header.Flags & VhostUserHeader.VersionMask) != VhostUserHeader.Version)
        {
            return HandleResult.CloseWith(VhostUserRejection.VersionUnsupported, $"message version {header.Flags & VhostUserHeader.VersionMask}, expected 1");
        }

        if (!MessageRules.IsKnown(header.Request))
        {
            return HandleResult.CloseWith(VhostUserRejection.RequestUnknown, $"unsupported request {(uint)header.Request}");
        }

        // 2. Descriptors.
        if (MessageRules.CheckFds(header.Request, payload, fds.Length) is { } fdRule)
        {
            return Fail(header.Request, VhostUserRejection.FdCountWrong, fdRule);
        }

        // 3. Exact payload size.
        int expected = MessageRules.PayloadSize(header.Request);
        if (expected >= 0 && payload.Length != expected)
        {
            return Fail(header.Request, VhostUserRejection.PayloadSizeWrong, $"payload is {payload.Length} bytes, the message has {expected}");
        }

        // 4-6. Fields, state, handler.
        VhostUserRequest request = header.Request;
        ulong u64 = payload.Length >= 8 ? BinaryPrimitives.ReadUInt64LittleEndian(payload) : 0;
        Refusal? error = null;
        switch (request)
        {
            case VhostUserRequest.GetFeatures:
                return ReplyU64(request, options.Features, reply);
            case VhostUserRequest.GetProtocolFeatures:
                return ReplyU64(request, options.ProtocolFeatureBits, reply);
            case VhostUserRequest.GetQueueNum:
                return ReplyU64(request, (ulong)options.MaxQueuePairs, reply);
            case VhostUserRequest.GetMaxMemSlots:
                return ReplyU64(request, GuestMemory.MaxRegions, reply);
            case VhostUserRequest.GetVringBase:
                return GetVringBase(payload, reply);
            case VhostUserRequest.SetFeatures:
                error = SetFeatures(u64);
                break;
            case VhostUserRequest.SetProtocolFeatures:
                error = (u64 & ~options.ProtocolFeatureBits) != 0
                    ? new Refusal(VhostUserRejection.ProtocolFeaturesNotOffered, $"protocol features 0x{u64 & ~options.ProtocolFeatureBits:x} were not offered")
                    : null;
                protocolFeatures = error is null ? u64 : protocolFeatures;
                break;
            case VhostUserRequest.SetOwner:
                break;
            case VhostUserRequest.ResetOwner:
                StopAll();
                featuresSet = false;
                features = 0;
                break;
            case VhostUserRequest.SetMemTable:
                // Adopted before the call: SetMemTable and GuestMemory close them on every path, throwing ones included,
                // so the finally below must not close them a second time (a number another thread may have reused).
                adopted = fds.Length;
                error = SetMemTable(payload, fds);
                break;
            case VhostUserRequest.AddMemReg:
                adopted = 1; // GuestMemory.AddRegion takes ownership, success or failure.
                error = AddMemReg(payload, fds[0]);
                break;
            case VhostUserRequest.RemMemReg:
                error = RemMemReg(payload);
                break;
            case VhostUserRequest.SetLogBase:
                if (memory is null)
                {
                    return Fail(request, VhostUserRejection.NoMemoryTable, "no memory table yet");
                }

                adopted = 1; // GuestMemory.SetLog takes ownership, success or failure.
                memory.SetLog(fds[0], u64, BinaryPrimitives.ReadUInt64LittleEndian(payload[8..]));
                if (HasProtocol(ProtocolFeatures.LogShmfd))
                {
                    return ReplyU64(request, 0, reply);
                }

                break;
            case VhostUserRequest.SetLogFd:
                break; // We never need the "log changed" notifier; the fd is closed below.
            case VhostUserRequest.SetVringNum:
                error = SetVringNum(payload);
                break;
            case VhostUserRequest.SetVringAddr:
                error = SetVringAddr(payload);
                break;
            case VhostUserRequest.SetVringBase:
                error = WithRing(payload, (ring, value) => ring.Base = (ushort)value);
                break;
            case VhostUserRequest.SetVringKick:
                error = SetVringKick(u64, fds, ref adopted);
                break;
            case VhostUserRequest.SetVringCall:
                error = SetVringCall(u64, fds, ref adopted);
                break;
            case VhostUserRequest.SetVringErr:
                error = SetVringErr(u64, fds);
                break;
            case VhostUserRequest.SetVringEnable:
                error = SetVringEnable(payload);
                break;
            case VhostUserRequest.SendRarp:
                device.AnnounceMac(MacFromRarp(payload));
                break;
            case VhostUserRequest.NetSetMtu:
                error = u64 is < 68 or > 65535 ? new Refusal(VhostUserRejection.MtuOutOfRange, $"MTU {u64} outside 68..65535") : null;
                Mtu = error is null ? (ushort)u64 : Mtu;
                break;
        }

        if (error is { } refusal)
        {
            return Fail(request, refusal);
        }

        // REPLY_ACK: an explicit success for messages that have no reply of their own (vhost-user.rst).
        return header.NeedsReply && HasProtocol(ProtocolFeatures.ReplyAck)
            ? ReplyU64(request, 0, reply)
            : HandleResult.Reply(0);
    }

    private static ulong MacFromRarp(ReadOnlySpan<byte> payload) => Core.Frames.Ethernet.ReadMac(payload);

    private bool HasProtocol(int bit) => VirtioFeatures.Has(protocolFeatures, bit);

    private HandleResult ReplyU64(VhostUserRequest request, ulong value, Span<byte> reply)
    {
        new VhostUserHeader(request, VhostUserHeader.Version | VhostUserHeader.ReplyFlag, 8).Write(reply);
        BinaryPrimitives.WriteUInt64LittleEndian(reply[VhostUserHeader.Length..], value);
        return HandleResult.Reply(VhostUserHeader.Length + 8);
    }

    private Refusal? SetFeatures(ulong requested)
    {
        if ((requested & ~options.Features) != 0)
        {
            return new(VhostUserRejection.FeaturesNotOffered, $"features 0x{requested & ~options.Features:x} were not offered");
        }

        if (!VirtioFeatures.Has(requested, VirtioFeatures.Version1))
        {
            return new(VhostUserRejection.Version1NotNegotiated, "the front-end did not negotiate VIRTIO_F_VERSION_1; legacy virtio-net is not supported");
        }

        features = requested;
        featuresSet = true;
        device.FeaturesNegotiated((NegotiatedFeatures)requested);

        // Without VHOST_USER_F_PROTOCOL_FEATURES every ring is enabled at once (vhost-user.rst "Ring states").
        if (!VirtioFeatures.Has(requested, VirtioFeatures.ProtocolFeatures))
        {
            for (int i = 0; i < rings.Length; i++)
            {
                rings[i].Enabled = true;
                device.RingEnabled(i, true);
            }
        }

        // LOG_ALL toggles dirty logging of used-ring writes for rings that asked for it.
        foreach (Vring ring in rings)
        {
            if (ring.Queue is not null)
            {
                ring.Queue.LogUsed = LogUsed(ring);
            }
        }

        return null;
    }

    private bool LogUsed(Vring ring) => VirtioFeatures.Has(features, VirtioFeatures.LogAll) && (ring.AddrFlags & VringFlagLog) != 0;

    private Refusal? SetMemTable(ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds)
    {
        if (payload.Length < 8)
        {
            FileDescriptors.CloseAll(fds);
            return new(VhostUserRejection.MemTableMalformed, "payload shorter than the region count");
        }

        uint count = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        if (count == 0 || count > MessageRules.MaxMemTableRegions || count != fds.Length || payload.Length != 8 + (32 * (int)count))
        {
            FileDescriptors.CloseAll(fds);
            return new(VhostUserRejection.MemTableMalformed, $"{count} regions with {fds.Length} fds in a {payload.Length}-byte payload");
        }

        Span<GuestMemoryRegion> regions = stackalloc GuestMemoryRegion[(int)count];
        for (int i = 0; i < count; i++)
        {
            regions[i] = ReadRegion(payload.Slice(8 + (32 * i), 32));
        }

        // GuestMemory validates (overlap, overflow, sizes) and owns or closes the fds.
        var next = new GuestMemory(regions, fds, options.Memory, options.Mappings);
        ReplaceMemory(next);
        return null;
    }

    private Refusal? AddMemReg(ReadOnlySpan<byte> payload, int fd)
    {
        if (memory is null)
        {
            var empty = new GuestMemory(options.Memory, options.Mappings);
            memory = empty;
        }

        GuestMemoryRegion region = ReadRegion(payload[8..]);
        if (HasIdenticalRegion(memory, region))
        {
            // Another queue pair's copy of a region we already map (see extraRegionRefs).
            FileDescriptors.Close(fd);
            var key = (region.GuestPhysAddr, region.Size, region.UserAddr);
            extraRegionRefs[key] = extraRegionRefs.GetValueOrDefault(key) + 1;
            return null;
        }

        memory.AddRegion(region, fd);
        RemapRings();
        return null;
    }

    private static bool HasIdenticalRegion(GuestMemory memory, in GuestMemoryRegion region)
    {
        for (int i = 0; i < memory.RegionCount; i++)
        {
            GuestMemoryRegion r = memory.GetRegion(i);
            if (r.GuestPhysAddr == region.GuestPhysAddr && r.Size == region.Size && r.UserAddr == region.UserAddr)
            {
                return true;
            }
        }

        return false;
    }

    private Refusal? RemMemReg(ReadOnlySpan<byte> payload)
    {
        if (memory is null)
        {
            return new(VhostUserRejection.NoMemoryTable, "no memory regions");
        }

        GuestMemoryRegion r = ReadRegion(payload[8..]);
        var key = (r.GuestPhysAddr, r.Size, r.UserAddr);
        if (extraRegionRefs.TryGetValue(key, out int extra))
        {
            // Another queue pair still has it (see extraRegionRefs): keep the mapping.
            if (extra == 1)
            {
                extraRegionRefs.Remove(key);
            }
            else
            {
                extraRegionRefs[key] = extra - 1;
            }

            return null;
        }

        memory.RemoveRegion(r.GuestPhysAddr, r.Size, r.UserAddr);
        RemapRings();
        return null;
    }

    private static GuestMemoryRegion ReadRegion(ReadOnlySpan<byte> r) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(r),
        BinaryPrimitives.ReadUInt64LittleEndian(r[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(r[16..]),
        BinaryPrimitives.ReadUInt64LittleEndian(r[24..]));

    private void ReplaceMemory(GuestMemory next)
    {
        GuestMemory? old = memory;
        memory = next;
        extraRegionRefs.Clear();
        RemapRings();
        old?.Dispose();
    }

    /// <summary>Points started rings at the current memory; rings whose layout is no longer inside it break.</summary>
    private void RemapRings()
    {
        for (int i = 0; i < rings.Length; i++)
        {
            Vring ring = rings[i];
            if (ring.Queue is { } q && memory is not null && q.Remap(memory) != QueueConfigError.None)
            {
                BrokenRings++;

                // If the memory comes back (QEMU removes and re-adds a region that changed), restart where the
                // ring stopped, as after GET_VRING_BASE, not at the stale SET_VRING_BASE value: that would pop
                // chains the guest already got back (duplicate TX, used ring overrun).
                ring.Base = q.NextAvail;
                StopRing(i);
            }
            else if (ring.Queue is null)
            {
                TryStart(i);
            }
        }
    }

    private Refusal? SetVringNum(ReadOnlySpan<byte> payload)
    {
        (int index, uint num) = (BinaryPrimitives.ReadInt32LittleEndian(payload), BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]));
        if ((uint)index >= (uint)rings.Length)
        {
            return new(VhostUserRejection.VringIndexOutOfRange, $"vring index {index} out of range (0..{rings.Length - 1})");
        }

        if (num == 0 || num > SplitQueue.MaxSize || (num & (num - 1)) != 0)
        {
            return new(VhostUserRejection.QueueSizeInvalid, $"queue size {num} is not a power of two in 1..{SplitQueue.MaxSize} (virtio 1.2 §2.7)");
        }

        rings[index].Size = (int)num;
        return null;
    }

    private Refusal? SetVringAddr(ReadOnlySpan<byte> payload)
    {
        int index = BinaryPrimitives.ReadInt32LittleEndian(payload);
        if ((uint)index >= (uint)rings.Length)
        {
            return new(VhostUserRejection.VringIndexOutOfRange, $"vring index {index} out of range");
        }

        Vring ring = rings[index];
        ring.AddrFlags = BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]);
        ring.DescUser = BinaryPrimitives.ReadUInt64LittleEndian(payload[8..]);
        ring.UsedUser = BinaryPrimitives.ReadUInt64LittleEndian(payload[16..]);
        ring.AvailUser = BinaryPrimitives.ReadUInt64LittleEndian(payload[24..]);
        ring.LogGuestAddr = BinaryPrimitives.ReadUInt64LittleEndian(payload[32..]);
        ring.HasAddr = true;
        if (ring.Queue is not null)
        {
            // A running ring re-addressed (logging switched on for migration): rebuild it in place.
            ushort next = ring.Queue.NextAvail;
            ushort used = ring.Queue.UsedIdx;
            StopRing(index);
            ring.Base = next;
            TryStart(index, used);
        }

        return null;
    }

    private Refusal? WithRing(ReadOnlySpan<byte> payload, Action<Vring, uint> apply)
    {
        int index = BinaryPrimitives.ReadInt32LittleEndian(payload);
        if ((uint)index >= (uint)rings.Length)
        {
            return new(VhostUserRejection.VringIndexOutOfRange, $"vring index {index} out of range");
        }

        apply(rings[index], BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]));
        return null;
    }

    private HandleResult GetVringBase(ReadOnlySpan<byte> payload, Span<byte> reply)
    {
        int index = BinaryPrimitives.ReadInt32LittleEndian(payload);
        if ((uint)index >= (uint)rings.Length)
        {
            return Fail(VhostUserRequest.GetVringBase, VhostUserRejection.VringIndexOutOfRange, $"vring index {index} out of range");
        }

        Vring ring = rings[index];
        ushort next = ring.Queue?.NextAvail ?? ring.Base;
        StopRing(index);
        ring.Base = next;
        ring.Kick?.Dispose();
        ring.Kick = null;

        new VhostUserHeader(VhostUserRequest.GetVringBase, VhostUserHeader.Version | VhostUserHeader.ReplyFlag, 8).Write(reply);
        BinaryPrimitives.WriteUInt32LittleEndian(reply[12..], (uint)index);
        BinaryPrimitives.WriteUInt32LittleEndian(reply[16..], next);
        return HandleResult.Reply(VhostUserHeader.Length + 8);
    }

    private Refusal? SetVringKick(ulong value, ReadOnlySpan<int> fds, ref int adopted)
    {
        int index = (int)(value & MessageRules.VringIndexMask);
        if (index >= rings.Length)
        {
            return new(VhostUserRejection.VringIndexOutOfRange, $"vring index {index} out of range");
        }

        if (fds.Length == 0)
        {
            return new(VhostUserRejection.KickWithoutEventFd, "a kick without an eventfd (polling mode) is not supported");
        }

        // Checked before anything changes: a socket or memfd as a kick would reach epoll (a memfd cannot be watched, a
        // socket whose peer closed reports EPOLLHUP forever), and a blocking eventfd could stall the loop.
        if (!EventFd.TryAdoptFromPeer(fds[0], out EventFd? kick, out DescriptorKind kind))
        {
            return new(VhostUserRejection.NotifierNotEventFd, NotAnEventFd("kick", kind));
        }

        adopted = 1;
        Vring ring = rings[index];
        ushort? usedIdx = null;
        if (ring.Queue is { } running)
        {
            // A new kick for a running ring: it goes on where it is (as in SetVringAddr), not from the stale
            // SET_VRING_BASE value, which would pop chains the guest already got back.
            ring.Base = running.NextAvail;
            usedIdx = running.UsedIdx;
            StopRing(index);
        }

        ring.Kick?.Dispose();
        ring.Kick = kick;
        TryStart(index, usedIdx);
        return null;
    }

    private Refusal? SetVringCall(ulong value, ReadOnlySpan<int> fds, ref int adopted)
    {
        int index = (int)(value & MessageRules.VringIndexMask);
        if (index >= rings.Length)
        {
            return new(VhostUserRejection.VringIndexOutOfRange, $"vring index {index} out of range");
        }

        EventFd? call = null;
        if (fds.Length == 1 && !EventFd.TryAdoptFromPeer(fds[0], out call, out DescriptorKind kind))
        {
            // A saturated blocking call eventfd would block write(2) on the loop; a non-eventfd would take writes.
            return new(VhostUserRejection.NotifierNotEventFd, NotAnEventFd("call", kind));
        }

        Vring ring = rings[index];
        ring.Call?.Dispose();
        ring.Call = call;
        adopted = fds.Length;
        if (ring.Queue is not null)
        {
            device.CallChanged(index, ring.Call);
        }

        return null;
    }

    /// <summary>SET_VRING_ERR: we never report ring errors, so the descriptor is checked (it must be an eventfd, like
    /// kick and call) and then closed by Handle.</summary>
    private Refusal? SetVringErr(ulong value, ReadOnlySpan<int> fds)
    {
        int index = (int)(value & MessageRules.VringIndexMask);
        if (index >= rings.Length)
        {
            return new(VhostUserRejection.VringIndexOutOfRange, $"vring index {index} out of range");
        }

        DescriptorKind kind = fds.Length == 1 ? FileKinds.ClassifyDescriptor(fds[0]) : DescriptorKind.EventFd;
        if (kind != DescriptorKind.EventFd)
        {
            return new(VhostUserRejection.NotifierNotEventFd, NotAnEventFd("error", kind));
        }

        return null;
    }

    private Refusal? SetVringEnable(ReadOnlySpan<byte> payload)
    {
        int index = BinaryPrimitives.ReadInt32LittleEndian(payload);
        uint num = BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]);
        if ((uint)index >= (uint)rings.Length)
        {
            return new(VhostUserRejection.VringIndexOutOfRange, $"vring index {index} out of range");
        }

        if (num > 1)
        {
            return new(VhostUserRejection.VringEnableValueInvalid, $"SET_VRING_ENABLE value {num} is neither 0 nor 1");
        }

        rings[index].Enabled = num == 1;
        device.RingEnabled(index, num == 1);
        return null;
    }

    /// <summary>Starts ring <paramref name="index"/> if everything it needs has arrived.</summary>
    private void TryStart(int index, ushort? usedIdx = null)
    {
        Vring ring = rings[index];
        if (ring.Queue is not null || ring.Kick is null || !ring.HasAddr || ring.Size == 0 || memory is null || !featuresSet)
        {
            return;
        }

        if (!memory.TryTranslateUserAddress(ring.DescUser, out ulong desc)
            || !memory.TryTranslateUserAddress(ring.AvailUser, out ulong avail)
            || !memory.TryTranslateUserAddress(ring.UsedUser, out ulong used))
        {
            BrokenRings++;
            return;
        }

        var layout = new SplitQueueLayout(ring.Size, desc, avail, used);
        if (!SplitQueue.TryCreate(memory, layout, (NegotiatedFeatures)features, ring.Base, usedIdx, out SplitQueue? queue, out _))
        {
            BrokenRings++;
            return;
        }

        queue.LogUsed = LogUsed(ring);
        ring.Queue = queue;
        device.RingStarted(index, queue, ring.Kick, ring.Call);
        if (ring.Enabled)
        {
            device.RingEnabled(index, true);
        }
    }

    private void StopRing(int index)
    {
        Vring ring = rings[index];
        if (ring.Queue is not null)
        {
            ring.Queue = null;
            device.RingStopped(index);
        }
    }

    /// <summary>One ring's configuration as the front-end has sent it so far.</summary>
    private sealed class Vring
    {
        public int Size;
        public ushort Base;
        public bool HasAddr;
        public uint AddrFlags;
        public ulong DescUser;
        public ulong UsedUser;
        public ulong AvailUser;
        public ulong LogGuestAddr;
        public bool Enabled;
        public EventFd? Kick;
        public EventFd? Call;
        public SplitQueue? Queue;

        public void Reset()
        {
            Kick?.Dispose();
            Call?.Dispose();
            Kick = null;
            Call = null;
            Queue = null;
            Size = 0;
            Base = 0;
            HasAddr = false;
            Enabled = false;
        }
    }
}
