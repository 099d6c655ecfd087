// A small vhost-user front-end (the QEMU / DPDK virtio-user side) for tests.
//
// Theory of operation: it owns one connected unix stream socket, either one end of a socketpair (the
// back-end's connection code gets the other end, in-process) or a socket connected to a listening path
// (a back-end in another thread or process). It sends messages exactly as QEMU's vhost-user.c does:
// the 12-byte header and the payload in one sendmsg, descriptors as SCM_RIGHTS on its first byte; and
// reads replies the way QEMU does, strictly: flags must be exactly REPLY | version 1, the request must
// echo the one sent, the size must be the one the request defines (QEMU vhost_user_read_header,
// vhost_user_get_u64). A back-end that breaks any of that, answers late, or hangs up makes the call
// throw VhostUserFrontEndException, so a front-end test doubles as a check of the back-end's replies.
//
// There is a helper for every request the Switchyard back-end implements, each building its payload
// with VhostUserPayloads; SendRaw sends any header fields, payload and descriptors at all, for hostile
// tests. REPLY_ACK: once negotiated, messages without a reply of their own carry NEED_REPLY (per
// AckPolicy) and the u64 ack is read and must be 0. SET_VRING_KICK/CALL/ERR create an eventfd, send
// it, and keep the driver side (GetKick/GetCall), replacing and closing any earlier one for the ring.
// Negotiate runs QEMU's whole start-up sequence for N queue pairs (documented on the method).
//
// Timing: nothing waits without a deadline (Timeout, 5 s by default). For in-process tests, Service
// can be set to "let the back-end run" (its connection pump, a test data plane): the front-end calls it
// after every message it sends and whenever it would wait, so the front-end, the back-end and the data
// plane run on the test's own thread, one after the other, deterministically.
//
// What it owns: the socket and every eventfd it created. What it trusts: nothing the back-end sends.
// Not thread-safe; one test drives it.
using System.Buffers.Binary;
using System.Net.Sockets;
using Switchyard.Native;
using Switchyard.TestKit.Memory;

namespace Switchyard.TestKit.VhostUser;

public sealed class VhostUserFrontEnd : IDisposable
{
    public const int HeaderLength = 12;

    /// <summary>Largest payload either side sends (rust-vmm MAX_MSG_SIZE; QEMU's VhostUserPayload is smaller).</summary>
    public const int MaxPayload = 4096;

    public const uint VersionMask = 0x3;
    public const uint Version = 0x1;
    public const uint ReplyFlag = 0x4;
    public const uint NeedReplyFlag = 0x8;

    /// <summary>Bits 0-7 of SET_VRING_KICK/CALL/ERR: the ring; bit 8: no descriptor attached.</summary>
    public const ulong VringIndexMask = 0xFF;

    public const ulong VringNoFdFlag = 0x100;

    // errno values (x86_64 Linux) a send can fail with when the back-end hung up.
    private const int Epipe = 32;
    private const int Econnreset = 104;

    private static readonly TimeSpan ServiceSlice = TimeSpan.FromMilliseconds(2);

    private readonly IDisposable? socketOwner;
    private readonly Dictionary<int, EventFd> kicks = [];
    private readonly Dictionary<int, EventFd> calls = [];
    private readonly Dictionary<int, EventFd> errs = [];
    private readonly List<FrontEndRequest> sent = [];
    private int fd;
    private ulong ackedProtocolFeatures;

    /// <summary>A front-end over <paramref name="socketFd"/>, a connected unix stream socket it now owns.</summary>
    public VhostUserFrontEnd(int socketFd)
        : this(socketFd, null)
    {
    }

    private VhostUserFrontEnd(int socketFd, IDisposable? owner)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(socketFd);
        fd = socketFd;
        socketOwner = owner;
    }

    /// <summary>How long any single wait for the back-end may take.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Run after every message sent and while waiting: for in-process tests, the back-end's connection pump
    /// (and a data plane), so everything runs on one thread. Null for a back-end that runs by itself.</summary>
    public Action? Service { get; set; }

    public AckPolicy AckPolicy { get; set; } = AckPolicy.Always;

    /// <summary>The socket, for tests that want to poke at it.</summary>
    public int SocketFd => fd;

    /// <summary>Protocol features acked with SET_PROTOCOL_FEATURES (0 before).</summary>
    public ulong AckedProtocolFeatures => ackedProtocolFeatures;

    public bool ReplyAckNegotiated => FrontEndFeatures.Has(ackedProtocolFeatures, FrontEndProtocolFeatures.ReplyAck);

    /// <summary>True once the back-end closed the connection (seen by a read or a send).</summary>
    public bool IsClosedByPeer { get; private set; }

    /// <summary>Every request sent, in order (a transcript for tests of message order).</summary>
    public IReadOnlyList<FrontEndRequest> Sent => sent;

    /// <summary>Creates a connected socketpair: the front-end keeps one end, the caller owns <paramref name="backEndFd"/>.</summary>
    public static VhostUserFrontEnd CreatePair(out int backEndFd)
    {
        using SocketPair pair = SocketPair.Create();
        backEndFd = pair.DetachSecond();
        return new VhostUserFrontEnd(pair.DetachFirst());
    }

    /// <summary>Connects to a back-end listening on <paramref name="socketPath"/>, retrying while the path does not
    /// exist or refuses (the back-end may still be starting) until <paramref name="timeout"/>.</summary>
    public static VhostUserFrontEnd Connect(string socketPath, TimeSpan? timeout = null)
    {
        long deadline = FdWait.Deadline(timeout ?? TimeSpan.FromSeconds(5));
        while (true)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                socket.Connect(new UnixDomainSocketEndPoint(socketPath));
                return new VhostUserFrontEnd((int)socket.Handle, socket);
            }
            catch (SocketException) when (Environment.TickCount64 < deadline)
            {
                socket.Dispose();
                Thread.Sleep(10);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
    }

    /// <summary>The driver side of ring <paramref name="index"/>'s kick eventfd (signal it to kick), if one was sent.</summary>
    public EventFd? GetKick(int index) => kicks.GetValueOrDefault(index);

    /// <summary>The driver side of ring <paramref name="index"/>'s call eventfd (the back-end signals it), if one was sent.</summary>
    public EventFd? GetCall(int index) => calls.GetValueOrDefault(index);

    // ---- Raw messages ----

    /// <summary>Sends any header fields, payload and descriptors (they stay the caller's; the kernel passes copies).
    /// <paramref name="size"/> need not match the payload: a hostile front-end may claim anything. More than 8
    /// descriptors are sent too (up to the kernel's 253).</summary>
    public void SendRaw(uint request, uint flags, uint size, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default)
    {
        byte[] message = new byte[HeaderLength + payload.Length];
        VhostUserPayloads.WriteHeader(message, request, flags, size);
        payload.CopyTo(message.AsSpan(HeaderLength));
        SendBytes(message, fds);
        sent.Add((FrontEndRequest)request);
        Service?.Invoke();
    }

    /// <summary>Sends a well-formed message: version 1, the payload's size, NEED_REPLY if asked.</summary>
    public void Send(FrontEndRequest request, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default, bool needReply = false) =>
        SendRaw((uint)request, Version | (needReply ? NeedReplyFlag : 0), (uint)payload.Length, payload, fds);

    /// <summary>Reads the next message from the back-end within <see cref="Timeout"/>.</summary>
    /// <exception cref="VhostUserFrontEndException">None came, the connection closed, or it is malformed.</exception>
    public VhostUserReply ReadReply() =>
        TryReadReply(Timeout, out VhostUserReply reply)
            ? reply
            : throw new VhostUserFrontEndException($"No reply from the back-end within {Timeout.TotalMilliseconds} ms.");

    /// <summary>Reads the next message if one starts arriving within <paramref name="timeout"/>; false if none did.
    /// The header is read as QEMU reads it; a payload larger than <see cref="MaxPayload"/> is refused before reading it.</summary>
    public bool TryReadReply(TimeSpan timeout, out VhostUserReply reply)
    {
        reply = default;
        byte[] header = new byte[HeaderLength];
        if (!ReadExactly(header, timeout, nothingIsOk: true))
        {
            return false;
        }

        uint request = BinaryPrimitives.ReadUInt32LittleEndian(header);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4));
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8));
        if (size > MaxPayload)
        {
            throw new VhostUserFrontEndException($"Reply to {(FrontEndRequest)request} claims {size} payload bytes, more than {MaxPayload}.");
        }

        byte[] payload = new byte[size];
        if (size > 0 && !ReadExactly(payload, Timeout, nothingIsOk: false))
        {
            throw new VhostUserFrontEndException($"Reply to {(FrontEndRequest)request}: payload of {size} bytes did not arrive.");
        }

        reply = new VhostUserReply(request, flags, payload);
        return true;
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the back-end to close the connection.</summary>
    /// <exception cref="VhostUserFrontEndException">The back-end sent bytes instead.</exception>
    public bool WaitForClose(TimeSpan timeout)
    {
        long deadline = FdWait.Deadline(timeout);
        byte[] one = new byte[1];
        while (!IsClosedByPeer)
        {
            Service?.Invoke();
            IoResult r = SocketIo.Receive(fd, one);
            if ((r.Ok && r.Bytes == 0) || r.Errno == Econnreset)
            {
                IsClosedByPeer = true;
                break;
            }

            if (r.Ok)
            {
                throw new VhostUserFrontEndException("The back-end sent a message while it was expected to close the connection.");
            }

            if (!r.WouldBlock)
            {
                throw new VhostUserFrontEndException($"recv failed: {r.ErrorMessage}");
            }

            TimeSpan left = FdWait.Remaining(deadline);
            if (left == TimeSpan.Zero)
            {
                return false;
            }

            FdWait.Readable(fd, Service is null ? left : Min(left, ServiceSlice));
        }

        return true;
    }

    // ---- Requests ----

    public ulong GetFeatures() => GetU64(FrontEndRequest.GetFeatures);

    public void SetFeatures(ulong features) =>
        SendAcked(FrontEndRequest.SetFeatures, VhostUserPayloads.U64(features), qemuWaits: FrontEndFeatures.Has(features, FrontEndFeatures.LogAll));

    public void SetOwner() => SendAcked(FrontEndRequest.SetOwner, []);

    public void ResetOwner() => SendAcked(FrontEndRequest.ResetOwner, []);

    public ulong GetProtocolFeatures() => GetU64(FrontEndRequest.GetProtocolFeatures);

    /// <summary>SET_PROTOCOL_FEATURES. It never carries NEED_REPLY (REPLY_ACK is not in force until it is handled).</summary>
    public void SetProtocolFeatures(ulong features)
    {
        Send(FrontEndRequest.SetProtocolFeatures, VhostUserPayloads.U64(features));
        ackedProtocolFeatures = features;
    }

    public ulong GetQueueNum() => GetU64(FrontEndRequest.GetQueueNum);

    public ulong GetMaxMemSlots() => GetU64(FrontEndRequest.GetMaxMemSlots);

    /// <summary>SET_MEM_TABLE with every region of <paramref name="memory"/>, each backed by its memfd.</summary>
    public void SetMemTable(TestGuestMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        GuestMemoryRegion[] regions = [.. memory.Regions];
        int[] fds = new int[regions.Length];
        Array.Fill(fds, memory.Fd);
        SetMemTable(regions, fds);
    }

    /// <summary>SET_MEM_TABLE with <paramref name="regions"/> and one descriptor per region.</summary>
    public void SetMemTable(ReadOnlySpan<GuestMemoryRegion> regions, ReadOnlySpan<int> fds) =>
        SendAcked(FrontEndRequest.SetMemTable, VhostUserPayloads.MemTable(regions), fds, qemuWaits: true);

    /// <summary>ADD_MEM_REG for each region of <paramref name="memory"/> (QEMU's way with CONFIGURE_MEM_SLOTS).</summary>
    public void AddMemRegions(TestGuestMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        foreach (GuestMemoryRegion region in memory.Regions)
        {
            AddMemReg(region, memory.Fd);
        }
    }

    public void AddMemReg(GuestMemoryRegion region, int regionFd) =>
        SendAcked(FrontEndRequest.AddMemReg, VhostUserPayloads.MemReg(region), [regionFd], qemuWaits: true);

    public void RemMemReg(GuestMemoryRegion region) =>
        SendAcked(FrontEndRequest.RemMemReg, VhostUserPayloads.MemReg(region), [], qemuWaits: true);

    public void SetVringNum(int index, int size) =>
        SendAcked(FrontEndRequest.SetVringNum, VhostUserPayloads.VringState((uint)index, (uint)size));

    public void SetVringBase(int index, ushort nextAvail) =>
        SendAcked(FrontEndRequest.SetVringBase, VhostUserPayloads.VringState((uint)index, nextAvail));

    /// <summary>SET_VRING_ADDR with front-end user addresses (what QEMU sends: its own virtual addresses).</summary>
    public void SetVringAddr(int index, ulong descUser, ulong usedUser, ulong availUser, ulong logGuestAddr = 0, uint flags = 0) =>
        SendAcked(
            FrontEndRequest.SetVringAddr,
            VhostUserPayloads.VringAddr((uint)index, descUser, usedUser, availUser, logGuestAddr, flags),
            qemuWaits: (flags & 1) != 0);

    /// <summary>SET_VRING_ADDR for a ring laid out in <paramref name="memory"/> (guest-physical addresses translated
    /// to the memory's user addresses; log_guest_addr = the used ring's guest address, as QEMU sets it).</summary>
    public void SetVringAddr(int index, TestGuestMemory memory, GuestRingLayout layout, uint flags = 0)
    {
        ArgumentNullException.ThrowIfNull(memory);
        SetVringAddr(
            index,
            memory.ToUserAddress(layout.DescriptorTable),
            memory.ToUserAddress(layout.UsedRing),
            memory.ToUserAddress(layout.AvailRing),
            layout.UsedRing,
            flags);
    }

    /// <summary>GET_VRING_BASE: stops the ring and returns the next available index the back-end would process.</summary>
    public ushort GetVringBase(int index)
    {
        Send(FrontEndRequest.GetVringBase, VhostUserPayloads.VringState((uint)index, 0));
        VhostUserReply reply = ExpectReply(FrontEndRequest.GetVringBase, 8);
        uint replyIndex = BinaryPrimitives.ReadUInt32LittleEndian(reply.Payload);
        uint value = BinaryPrimitives.ReadUInt32LittleEndian(reply.Payload.AsSpan(4));
        if (replyIndex != (uint)index)
        {
            throw new VhostUserFrontEndException($"GET_VRING_BASE for ring {index} answered for ring {replyIndex}.");
        }

        if (value > ushort.MaxValue)
        {
            throw new VhostUserFrontEndException($"GET_VRING_BASE answered 0x{value:x}; bits 16-31 are reserved for a split ring.");
        }

        return (ushort)value;
    }

    /// <summary>SET_VRING_KICK with a new eventfd; returns (and keeps) the driver side, closing any earlier one.</summary>
    public EventFd SetVringKick(int index) => SendVringFd(FrontEndRequest.SetVringKick, index, kicks);

    /// <summary>SET_VRING_KICK with bit 8 (no descriptor: the back-end should poll).</summary>
    public void SetVringKickNoFd(int index) => SendAcked(FrontEndRequest.SetVringKick, VringFdPayload(index, noFd: true));

    /// <summary>SET_VRING_CALL with a new eventfd; returns (and keeps) the driver side, closing any earlier one.</summary>
    public EventFd SetVringCall(int index) => SendVringFd(FrontEndRequest.SetVringCall, index, calls);

    /// <summary>SET_VRING_CALL with bit 8 (no descriptor: the driver polls the used ring).</summary>
    public void SetVringCallNoFd(int index)
    {
        SendAcked(FrontEndRequest.SetVringCall, VringFdPayload(index, noFd: true));
        if (calls.Remove(index, out EventFd? old))
        {
            old.Dispose();
        }
    }

    public EventFd SetVringErr(int index) => SendVringFd(FrontEndRequest.SetVringErr, index, errs);

    /// <summary>SET_VRING_ENABLE. QEMU waits for it (NEED_REPLY, or a GET_FEATURES round trip without REPLY_ACK).</summary>
    public void SetVringEnable(int index, bool enable) =>
        SendAcked(FrontEndRequest.SetVringEnable, VhostUserPayloads.VringState((uint)index, enable ? 1u : 0u), qemuWaits: true);

    /// <summary>SEND_RARP with a 6-byte MAC.</summary>
    public void SendRarp(ReadOnlySpan<byte> mac) => SendAcked(FrontEndRequest.SendRarp, VhostUserPayloads.Rarp(mac));

    public void NetSetMtu(ushort mtu) => SendAcked(FrontEndRequest.NetSetMtu, VhostUserPayloads.U64(mtu), qemuWaits: true);

    /// <summary>SET_LOG_BASE with a log memfd (LOG_SHMFD); with LOG_SHMFD negotiated the back-end replies, as QEMU expects.</summary>
    public void SetLogBase(int logFd, ulong mmapSize, ulong mmapOffset = 0)
    {
        byte[] payload = VhostUserPayloads.Log(mmapSize, mmapOffset);
        if (FrontEndFeatures.Has(ackedProtocolFeatures, FrontEndProtocolFeatures.LogShmfd))
        {
            Send(FrontEndRequest.SetLogBase, payload, [logFd]);
            _ = ExpectReply(FrontEndRequest.SetLogBase, 8);
        }
        else
        {
            SendAcked(FrontEndRequest.SetLogBase, payload, [logFd]);
        }
    }

    /// <summary>A GET_FEATURES round trip: once it returns, the back-end has handled everything sent before.</summary>
    public void Sync() => _ = GetFeatures();

    // ---- The QEMU start-up sequence ----

    /// <summary>
    /// Runs the message sequence QEMU (7.2 and later) sends to a vhost-user-net back-end for
    /// <c>rings.Count / 2</c> queue pairs (rxq k = ring 2k, txq k = ring 2k+1), over <paramref name="memory"/>.
    /// QEMU makes one vhost_dev per queue pair (vq_index = 2p); "per-device" requests go only from pair 0
    /// (vhost-user.c vhost_user_per_device_request: SET_OWNER, SET_MEM_TABLE, GET_QUEUE_NUM, NET_SET_MTU,
    /// ADD/REM_MEM_REG, SET_LOG_BASE...).
    /// <para>Init, per pair (vhost_dev_init → vhost_user_backend_init, then vhost_dev_init itself):
    /// GET_FEATURES; if bit 30 is offered: GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM (if MQ; pair 0),
    /// GET_MAX_MEM_SLOTS (if CONFIGURE_MEM_SLOTS), [SET_BACKEND_REQ_FD: not sent by this kit]; then SET_OWNER (pair 0),
    /// GET_FEATURES again, and per ring SET_VRING_CALL (QEMU's masked notifier) and SET_VRING_ERR
    /// (vhost_virtqueue_init). So SET_OWNER comes after the feature exchange, not first.</para>
    /// <para>Start (virtio_net_vhost_status): NET_SET_MTU if asked and F_NET_MTU (pair 0); then per pair
    /// (vhost_net_start): SET_VRING_ENABLE(1) for its two rings if the pair is enabled (before the rest since QEMU
    /// 7.2, see <see cref="VringEnableOrder"/>), SET_FEATURES (acked | bit 30), the memory table (pair 0:
    /// SET_MEM_TABLE, or one ADD_MEM_REG per region with CONFIGURE_MEM_SLOTS; every pair with
    /// <see cref="NegotiateOptions.MemRegPerQueuePair"/>, as QEMU up to 8.0), and per ring SET_VRING_NUM,
    /// SET_VRING_BASE, SET_VRING_ADDR, SET_VRING_KICK, SET_VRING_CALL (vhost_dev_start, vhost_virtqueue_start).</para>
    /// Not reproduced: QEMU's extra SET_VRING_ENABLE when the guest acks features (peer_attach), SET_STATUS (F_STATUS).
    /// </summary>
    /// <exception cref="VhostUserFrontEndException">The back-end refused something, or offers fewer queue pairs.</exception>
    public NegotiationResult Negotiate(TestGuestMemory memory, IReadOnlyList<GuestRingLayout> rings, NegotiateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(rings);
        if (rings.Count == 0 || rings.Count % 2 != 0)
        {
            throw new ArgumentException("A virtio-net device has an RX and a TX ring per queue pair.", nameof(rings));
        }

        options ??= NegotiateOptions.Default;
        int pairs = rings.Count / 2;
        ulong offered = 0;
        ulong offeredProtocol = 0;
        ulong queueNum = 1;
        ulong maxMemSlots = 0;

        for (int pair = 0; pair < pairs; pair++)
        {
            offered = GetFeatures();
            if (FrontEndFeatures.Has(offered, FrontEndFeatures.ProtocolFeatures))
            {
                offeredProtocol = GetProtocolFeatures();
                SetProtocolFeatures(offeredProtocol & options.WantedProtocolFeatures);
                if (pair == 0 && HasProtocol(FrontEndProtocolFeatures.Mq))
                {
                    queueNum = GetQueueNum();
                }

                if (HasProtocol(FrontEndProtocolFeatures.ConfigureMemSlots))
                {
                    maxMemSlots = GetMaxMemSlots();
                }
            }

            if (queueNum < (ulong)pairs)
            {
                // QEMU's words (net/vhost-user.c): "you are asking more queues than supported".
                throw new VhostUserFrontEndException($"Asking for {pairs} queue pairs; the back-end supports {queueNum}.");
            }

            if (pair == 0)
            {
                SetOwner();
            }

            _ = GetFeatures();
            if (options.InitCallAndErr)
            {
                for (int ring = 2 * pair; ring < (2 * pair) + 2; ring++)
                {
                    _ = SetVringCall(ring);
                    _ = SetVringErr(ring);
                }
            }
        }

        bool protocol = FrontEndFeatures.Has(offered, FrontEndFeatures.ProtocolFeatures);
        ulong acked = (offered & options.WantedFeatures) | (protocol ? FrontEndFeatures.Bit(FrontEndFeatures.ProtocolFeatures) : 0);
        if (options.Mtu is { } mtu && HasProtocol(FrontEndProtocolFeatures.NetMtu))
        {
            NetSetMtu(mtu);
        }

        int enabledPairs = options.EnabledQueuePairs ?? pairs;
        for (int pair = 0; pair < pairs; pair++)
        {
            // SET_VRING_ENABLE needs bit 30; without it SET_FEATURES enables every ring (vhost-user.rst "Ring states").
            bool enable = protocol && pair < enabledPairs;
            if (enable && options.EnableOrder == VringEnableOrder.BeforeStart)
            {
                SetVringEnable(2 * pair, true);
                SetVringEnable((2 * pair) + 1, true);
            }

            SetFeatures(acked);
            bool addMemReg = options.MemoryTable == MemoryTableMode.AddMemReg
                || (options.MemoryTable == MemoryTableMode.Auto && HasProtocol(FrontEndProtocolFeatures.ConfigureMemSlots));
            if (addMemReg && (pair == 0 || options.MemRegPerQueuePair))
            {
                AddMemRegions(memory);
            }
            else if (!addMemReg && pair == 0)
            {
                SetMemTable(memory);
            }

            for (int ring = 2 * pair; ring < (2 * pair) + 2; ring++)
            {
                GuestRingLayout layout = rings[ring];
                SetVringNum(ring, layout.Size);
                SetVringBase(ring, layout.Base);
                SetVringAddr(ring, memory, layout);
                _ = SetVringKick(ring);
                _ = SetVringCall(ring);
            }

            if (enable && options.EnableOrder == VringEnableOrder.AfterStart)
            {
                SetVringEnable(2 * pair, true);
                SetVringEnable((2 * pair) + 1, true);
            }
        }

        return new NegotiationResult(offered, acked, offeredProtocol, ackedProtocolFeatures, queueNum, maxMemSlots);
    }

    public void Dispose()
    {
        foreach (EventFd e in kicks.Values.Concat(calls.Values).Concat(errs.Values))
        {
            e.Dispose();
        }

        kicks.Clear();
        calls.Clear();
        errs.Clear();
        int old = Interlocked.Exchange(ref fd, -1);
        if (socketOwner is not null)
        {
            socketOwner.Dispose();
        }
        else
        {
            FileDescriptors.Close(old);
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static byte[] VringFdPayload(int index, bool noFd) =>
        VhostUserPayloads.U64(((ulong)index & VringIndexMask) | (noFd ? VringNoFdFlag : 0));

    private bool HasProtocol(int bit) => FrontEndFeatures.Has(ackedProtocolFeatures, bit);

    private ulong GetU64(FrontEndRequest request)
    {
        Send(request, []);
        return ExpectReply(request, 8).U64;
    }

    private EventFd SendVringFd(FrontEndRequest request, int index, Dictionary<int, EventFd> table)
    {
        var eventFd = new EventFd();
        try
        {
            SendAcked(request, VringFdPayload(index, noFd: false), [eventFd.Fd]);
        }
        catch
        {
            eventFd.Dispose();
            throw;
        }

        if (table.Remove(index, out EventFd? old))
        {
            old.Dispose();
        }

        table[index] = eventFd;
        return eventFd;
    }

    /// <summary>Sends a message that has no reply of its own, asking for and checking a REPLY_ACK per the policy.</summary>
    private void SendAcked(FrontEndRequest request, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default, bool qemuWaits = false)
    {
        bool wait = AckPolicy == AckPolicy.Always || (AckPolicy == AckPolicy.Qemu && qemuWaits);
        bool needReply = wait && ReplyAckNegotiated;
        Send(request, payload, fds, needReply);
        if (needReply)
        {
            ulong ack = ExpectReply(request, 8).U64;
            if (ack != 0)
            {
                throw new VhostUserFrontEndException($"The back-end acked {request} with {ack} (failure).");
            }
        }
        else if (wait && AckPolicy == AckPolicy.Qemu)
        {
            // vhost_user_write_sync: "the backend does not support replies ... send GET_FEATURES".
            Sync();
        }
    }

    /// <summary>Reads the reply to <paramref name="request"/> and checks it as QEMU does.</summary>
    private VhostUserReply ExpectReply(FrontEndRequest request, int size)
    {
        VhostUserReply reply;
        try
        {
            reply = ReadReply();
        }
        catch (VhostUserFrontEndException ex) when (ex.PeerClosed)
        {
            throw new VhostUserFrontEndException($"The back-end closed the connection instead of answering {request}.", peerClosed: true);
        }

        if (reply.Flags != (ReplyFlag | Version))
        {
            throw new VhostUserFrontEndException($"Reply to {request} has flags 0x{reply.Flags:x}, not 0x{ReplyFlag | Version:x}.");
        }

        if (reply.Request != (uint)request)
        {
            throw new VhostUserFrontEndException($"Expected a reply to {request}, got one to {(FrontEndRequest)reply.Request}.");
        }

        if (reply.Payload.Length != size)
        {
            throw new VhostUserFrontEndException($"Reply to {request} has {reply.Payload.Length} payload bytes, not {size}.");
        }

        return reply;
    }

    private void SendBytes(ReadOnlySpan<byte> message, ReadOnlySpan<int> fds)
    {
        long deadline = FdWait.Deadline(Timeout);
        int offset = 0;
        bool fdsPending = !fds.IsEmpty;
        while (offset < message.Length)
        {
            IoResult r = !fdsPending
                ? SocketIo.Send(fd, message[offset..])
                : fds.Length > FdPassing.MaxFds
                    ? FdPassing.SendWithFdsUncapped(fd, message, fds)
                    : FdPassing.SendWithFds(fd, message, fds);
            if (r.Ok)
            {
                offset += r.Bytes;
                fdsPending &= r.Bytes == 0;
                continue;
            }

            if (r.Errno is Epipe or Econnreset)
            {
                IsClosedByPeer = true;
                throw new VhostUserFrontEndException("The back-end closed the connection.", peerClosed: true);
            }

            if (!r.WouldBlock)
            {
                throw new VhostUserFrontEndException($"sendmsg failed: {r.ErrorMessage}");
            }

            Service?.Invoke();
            TimeSpan left = FdWait.Remaining(deadline);
            if (left == TimeSpan.Zero)
            {
                throw new VhostUserFrontEndException($"The back-end did not read a message within {Timeout.TotalMilliseconds} ms.");
            }

            FdWait.Writable(fd, Service is null ? left : Min(left, ServiceSlice));
        }
    }

    /// <summary>Fills <paramref name="buffer"/> from the socket. False only when <paramref name="nothingIsOk"/> and no
    /// byte arrived within <paramref name="timeout"/>; descriptors riding on a reply are closed and refused.</summary>
    private bool ReadExactly(byte[] buffer, TimeSpan timeout, bool nothingIsOk)
    {
        long deadline = FdWait.Deadline(timeout);
        Span<int> fds = stackalloc int[FdPassing.MaxFds];
        int have = 0;
        while (have < buffer.Length)
        {
            IoResult r = FdPassing.ReceiveWithFds(fd, buffer.AsSpan(have), fds, out int fdCount, out bool truncated);
            if (fdCount > 0 || truncated)
            {
                FileDescriptors.CloseAll(fds[..fdCount]);
                throw new VhostUserFrontEndException("The back-end attached descriptors to a reply that carries none.");
            }

            if ((r.Ok && r.Bytes == 0) || r.Errno == Econnreset)
            {
                IsClosedByPeer = true;
                throw new VhostUserFrontEndException("The back-end closed the connection.", peerClosed: true);
            }

            if (r.Ok)
            {
                have += r.Bytes;
                continue;
            }

            if (!r.WouldBlock)
            {
                throw new VhostUserFrontEndException($"recvmsg failed: {r.ErrorMessage}");
            }

            // Let an in-process back-end run before deciding that nothing is coming.
            Service?.Invoke();
            TimeSpan left = FdWait.Remaining(deadline);
            if (left == TimeSpan.Zero)
            {
                return have == 0 && nothingIsOk
                    ? false
                    : throw new VhostUserFrontEndException($"Reply truncated: {have} of {buffer.Length} bytes after {timeout.TotalMilliseconds} ms.");
            }

            FdWait.Readable(fd, Service is null ? left : Min(left, ServiceSlice));
        }

        return true;
    }
}
