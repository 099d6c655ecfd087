// The vhost-user wire vocabulary as the test kit's front-end speaks it (interop.md §2.2-§2.6).
//
// Theory of operation: the test front-end is a second, independent reading of the protocol, written
// from the spec and QEMU's hw/virtio/vhost-user.c rather than from Switchyard.VhostUser. It does not
// reuse the back-end's constants or parsers on purpose: a front-end that shared the back-end's
// definitions would agree with any mistake in them. Everything here is plain data: request ids, flag
// and feature bits, the payload layouts as byte builders (for well-formed and deliberately malformed
// messages alike), a reply as it came off the socket, and the one exception type the front-end throws.
// All integers are in the machine's byte order, which on the only target (x86_64) is little-endian.
using System.Buffers.Binary;
using Switchyard.Native;

namespace Switchyard.TestKit.VhostUser;

/// <summary>Front-end to back-end request ids (vhost-user.rst "Front-end message types"; QEMU VhostUserRequest).</summary>
public enum FrontEndRequest : uint
{
    None = 0,
    GetFeatures = 1,
    SetFeatures = 2,
    SetOwner = 3,
    ResetOwner = 4,
    SetMemTable = 5,
    SetLogBase = 6,
    SetLogFd = 7,
    SetVringNum = 8,
    SetVringAddr = 9,
    SetVringBase = 10,
    GetVringBase = 11,
    SetVringKick = 12,
    SetVringCall = 13,
    SetVringErr = 14,
    GetProtocolFeatures = 15,
    SetProtocolFeatures = 16,
    GetQueueNum = 17,
    SetVringEnable = 18,
    SendRarp = 19,
    NetSetMtu = 20,
    SetBackendReqFd = 21,
    IotlbMsg = 22,
    SetVringEndian = 23,
    GetConfig = 24,
    SetConfig = 25,
    GetInflightFd = 31,
    SetInflightFd = 32,
    ResetDevice = 34,
    GetMaxMemSlots = 36,
    AddMemReg = 37,
    RemMemReg = 38,
    SetStatus = 39,
    GetStatus = 40,
}

/// <summary>virtio and vhost feature bit positions a virtio-net front-end negotiates (virtio 1.2 §5.1.3, §6;
/// interop.md §2.6, §2.17).</summary>
public static class FrontEndFeatures
{
    public const int Csum = 0;
    public const int GuestCsum = 1;
    public const int Mtu = 3;
    public const int GuestTso4 = 7;
    public const int GuestTso6 = 8;
    public const int HostTso4 = 11;
    public const int HostTso6 = 12;
    public const int MrgRxbuf = 15;
    public const int Mq = 22;
    public const int LogAll = 26;
    public const int IndirectDesc = 28;
    public const int EventIdx = 29;

    /// <summary>VHOST_USER_F_PROTOCOL_FEATURES: the back-end speaks GET/SET_PROTOCOL_FEATURES; rings start disabled.</summary>
    public const int ProtocolFeatures = 30;

    public const int Version1 = 32;

    /// <summary>What a Linux guest on QEMU typically acks, when offered (interop.md §2.16 forwards these bits).</summary>
    public static readonly ulong LinuxGuestDefaults =
        Bit(Csum) | Bit(GuestCsum) | Bit(Mtu) | Bit(GuestTso4) | Bit(GuestTso6) | Bit(HostTso4) | Bit(HostTso6)
        | Bit(MrgRxbuf) | Bit(Mq) | Bit(IndirectDesc) | Bit(EventIdx) | Bit(Version1);

    public static ulong Bit(int bit) => 1UL << bit;

    public static bool Has(ulong features, int bit) => (features & Bit(bit)) != 0;
}

/// <summary>vhost-user protocol feature bit positions (vhost-user.rst "Protocol features"; interop.md §2.6).</summary>
public static class FrontEndProtocolFeatures
{
    public const int Mq = 0;
    public const int LogShmfd = 1;
    public const int Rarp = 2;
    public const int ReplyAck = 3;
    public const int NetMtu = 4;
    public const int BackendReq = 5;
    public const int ConfigureMemSlots = 15;
    public const int Status = 16;

    /// <summary>What this kit's front-end can use when offered (no BACKEND_REQ channel, no STATUS).</summary>
    public static readonly ulong Supported =
        FrontEndFeatures.Bit(Mq) | FrontEndFeatures.Bit(LogShmfd) | FrontEndFeatures.Bit(Rarp)
        | FrontEndFeatures.Bit(ReplyAck) | FrontEndFeatures.Bit(NetMtu) | FrontEndFeatures.Bit(ConfigureMemSlots);
}

/// <summary>One ring as the guest laid it out: Queue Size, guest-physical addresses of its three parts, and the
/// available index the device is to start from (SET_VRING_BASE).</summary>
public readonly record struct GuestRingLayout(int Size, ulong DescriptorTable, ulong AvailRing, ulong UsedRing, ushort Base = 0);

/// <summary>A message the back-end sent, exactly as read: header fields and payload.</summary>
public readonly record struct VhostUserReply(uint Request, uint Flags, byte[] Payload)
{
    /// <summary>The payload as a u64 (replies to GET_* and REPLY_ACK acks).</summary>
    public ulong U64 => Payload.Length >= 8
        ? BinaryPrimitives.ReadUInt64LittleEndian(Payload)
        : throw new VhostUserFrontEndException($"A {Payload.Length}-byte reply has no u64.");
}

/// <summary>The back-end broke the protocol, did not answer in time, refused a message (non-zero ack), or
/// closed the connection (<see cref="PeerClosed"/>).</summary>
public sealed class VhostUserFrontEndException : Exception
{
    public VhostUserFrontEndException()
    {
    }

    public VhostUserFrontEndException(string message)
        : base(message)
    {
    }

    public VhostUserFrontEndException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public VhostUserFrontEndException(string message, bool peerClosed)
        : base(message) => PeerClosed = peerClosed;

    /// <summary>True when the back-end closed the connection (EOF or reset) instead of answering.</summary>
    public bool PeerClosed { get; }
}

/// <summary>Builders for every payload layout the front-end sends (interop.md §2.3). Arguments are not checked,
/// so hostile tests can build any value a malicious front-end could.</summary>
public static class VhostUserPayloads
{
    /// <summary>Size of one VhostUserMemoryRegion.</summary>
    public const int RegionSize = 32;

    public static byte[] U64(ulong value)
    {
        byte[] payload = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, value);
        return payload;
    }

    /// <summary>struct vhost_vring_state: u32 index; u32 num.</summary>
    public static byte[] VringState(uint index, uint num)
    {
        byte[] payload = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, index);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), num);
        return payload;
    }

    /// <summary>struct vhost_vring_addr (40 bytes): index, flags, desc, used, avail, log (note: used before avail).</summary>
    public static byte[] VringAddr(uint index, ulong descUser, ulong usedUser, ulong availUser, ulong logGuestAddr = 0, uint flags = 0)
    {
        byte[] payload = new byte[40];
        Span<byte> p = payload;
        BinaryPrimitives.WriteUInt32LittleEndian(p, index);
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], flags);
        BinaryPrimitives.WriteUInt64LittleEndian(p[8..], descUser);
        BinaryPrimitives.WriteUInt64LittleEndian(p[16..], usedUser);
        BinaryPrimitives.WriteUInt64LittleEndian(p[24..], availUser);
        BinaryPrimitives.WriteUInt64LittleEndian(p[32..], logGuestAddr);
        return payload;
    }

    /// <summary>VhostUserMemory: u32 nregions; u32 padding; regions. <paramref name="claimedCount"/> overrides
    /// nregions (to send a count that disagrees with the regions actually present).</summary>
    public static byte[] MemTable(ReadOnlySpan<GuestMemoryRegion> regions, uint? claimedCount = null)
    {
        byte[] payload = new byte[8 + (RegionSize * regions.Length)];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, claimedCount ?? (uint)regions.Length);
        for (int i = 0; i < regions.Length; i++)
        {
            WriteRegion(payload.AsSpan(8 + (RegionSize * i)), regions[i]);
        }

        return payload;
    }

    /// <summary>VhostUserMemRegMsg (ADD_MEM_REG / REM_MEM_REG): u64 padding; one region.</summary>
    public static byte[] MemReg(GuestMemoryRegion region)
    {
        byte[] payload = new byte[8 + RegionSize];
        WriteRegion(payload.AsSpan(8), region);
        return payload;
    }

    /// <summary>VhostUserLog (SET_LOG_BASE with LOG_SHMFD): u64 mmap_size; u64 mmap_offset.</summary>
    public static byte[] Log(ulong mmapSize, ulong mmapOffset)
    {
        byte[] payload = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, mmapSize);
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(8), mmapOffset);
        return payload;
    }

    /// <summary>SEND_RARP: the guest MAC in the first 6 bytes of a u64 (QEMU memcpy's it there).</summary>
    public static byte[] Rarp(ReadOnlySpan<byte> mac)
    {
        byte[] payload = new byte[8];
        mac[..6].CopyTo(payload);
        return payload;
    }

    /// <summary>The 12-byte header: request, flags, size.</summary>
    public static void WriteHeader(Span<byte> destination, uint request, uint flags, uint size)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, request);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], size);
    }

    private static void WriteRegion(Span<byte> destination, GuestMemoryRegion region)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, region.GuestPhysAddr);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], region.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], region.UserAddr);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], region.MmapOffset);
    }
}
