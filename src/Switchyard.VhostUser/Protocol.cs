// vhost-user wire protocol: message ids, flags, feature bits and the rules every message must pass
// before a handler sees it (QEMU docs/interop/vhost-user.rst; numbers in shared/reference/interop.md §2).
//
// Theory of operation: a front-end (QEMU, DPDK virtio-user, the test kit's driver) sends a 12-byte
// header, a payload and, for some messages, file descriptors. MessageRules says, per request, how
// many descriptors it may carry and the exact payload size it must have; VhostUserBackend checks
// them in the fixed order of STYLE.md habit 5 (header, fds, size, fields, state, handler). All
// integers are in the machine's native byte order (vhost-user.rst, "Message Specification").
using System.Buffers.Binary;

namespace Switchyard.VhostUser;

/// <summary>Front-end to back-end request ids (vhost-user.rst "Front-end message types").</summary>
public enum VhostUserRequest : uint
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

/// <summary>The 12-byte message header: request, flags, payload size.</summary>
public readonly record struct VhostUserHeader(VhostUserRequest Request, uint Flags, uint Size)
{
    public const int Length = 12;

    /// <summary>Bits 0-1: protocol version, always 1.</summary>
    public const uint VersionMask = 0x3;
    public const uint Version = 0x1;

    /// <summary>Set on every reply from the back-end.</summary>
    public const uint ReplyFlag = 0x4;

    /// <summary>The front-end asks for a REPLY_ACK (needs the REPLY_ACK protocol feature).</summary>
    public const uint NeedReplyFlag = 0x8;

    public bool NeedsReply => (Flags & NeedReplyFlag) != 0;

    public static VhostUserHeader Read(ReadOnlySpan<byte> source) => new(
        (VhostUserRequest)BinaryPrimitives.ReadUInt32LittleEndian(source),
        BinaryPrimitives.ReadUInt32LittleEndian(source[4..]),
        BinaryPrimitives.ReadUInt32LittleEndian(source[8..]));

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)Request);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Size);
    }
}

/// <summary>virtio and vhost feature bits the back-end offers or understands (virtio 1.2 §5.1.3, §6).</summary>
public static class VirtioFeatures
{
    public const int Csum = 0;
    public const int GuestCsum = 1;
    public const int Mtu = 3;
    public const int GuestTso4 = 7;
    public const int GuestTso6 = 8;
    public const int GuestEcn = 9;
    public const int GuestUfo = 10;
    public const int HostTso4 = 11;
    public const int HostTso6 = 12;
    public const int HostEcn = 13;
    public const int HostUfo = 14;
    public const int MrgRxbuf = 15;
    public const int Status = 16;
    public const int CtrlVq = 17;
    public const int GuestAnnounce = 21;
    public const int Mq = 22;
    public const int LogAll = 26;
    public const int IndirectDesc = 28;
    public const int EventIdx = 29;
    public const int ProtocolFeatures = 30;
    public const int Version1 = 32;

    public static ulong Bit(int bit) => 1UL << bit;

    public static bool Has(ulong features, int bit) => (features & Bit(bit)) != 0;
}

/// <summary>vhost-user protocol feature bits (vhost-user.rst "Protocol features").</summary>
public static class ProtocolFeatures
{
    public const int Mq = 0;
    public const int LogShmfd = 1;
    public const int Rarp = 2;
    public const int ReplyAck = 3;
    public const int NetMtu = 4;
    public const int BackendReq = 5;
    public const int ConfigureMemSlots = 15;
}

/// <summary>Per-request shape rules: how many fds, and what payload size.</summary>
public static class MessageRules
{
    /// <summary>Largest payload we accept (rust-vmm's MAX_MSG_SIZE); checked before anything is read.</summary>
    public const int MaxPayload = 4096;

    /// <summary>Most descriptors one message may carry (SET_MEM_TABLE: one per region, at most 8).</summary>
    public const int MaxFds = 8;

    /// <summary>Regions in one SET_MEM_TABLE (VHOST_MEMORY_BASELINE_NREGIONS).</summary>
    public const int MaxMemTableRegions = 8;

    /// <summary>Bits 0-7 of a SET_VRING_KICK/CALL/ERR payload: the vring index.</summary>
    public const ulong VringIndexMask = 0xFF;

    /// <summary>Bit 8: no descriptor is attached (poll instead).</summary>
    public const ulong VringNoFdMask = 0x100;

    /// <summary>Whether <paramref name="request"/> is one this back-end implements.</summary>
    public static bool IsKnown(VhostUserRequest request) => request switch
    {
        VhostUserRequest.GetFeatures or VhostUserRequest.SetFeatures or VhostUserRequest.SetOwner
            or VhostUserRequest.ResetOwner or VhostUserRequest.SetMemTable or VhostUserRequest.SetLogBase
            or VhostUserRequest.SetLogFd or VhostUserRequest.SetVringNum or VhostUserRequest.SetVringAddr
            or VhostUserRequest.SetVringBase or VhostUserRequest.GetVringBase or VhostUserRequest.SetVringKick
            or VhostUserRequest.SetVringCall or VhostUserRequest.SetVringErr or VhostUserRequest.GetProtocolFeatures
            or VhostUserRequest.SetProtocolFeatures or VhostUserRequest.GetQueueNum or VhostUserRequest.SetVringEnable
            or VhostUserRequest.SendRarp or VhostUserRequest.NetSetMtu or VhostUserRequest.GetMaxMemSlots
            or VhostUserRequest.AddMemReg or VhostUserRequest.RemMemReg => true,
        _ => false,
    };

    /// <summary>The exact payload size a request must have, or -1 when it depends on the payload
    /// (SET_MEM_TABLE) and is checked by its handler.</summary>
    public static int PayloadSize(VhostUserRequest request) => request switch
    {
        VhostUserRequest.GetFeatures or VhostUserRequest.SetOwner or VhostUserRequest.ResetOwner
            or VhostUserRequest.GetProtocolFeatures or VhostUserRequest.GetQueueNum
            or VhostUserRequest.GetMaxMemSlots or VhostUserRequest.SetLogFd => 0,
        VhostUserRequest.SetFeatures or VhostUserRequest.SetProtocolFeatures or VhostUserRequest.SetVringNum
            or VhostUserRequest.SetVringBase or VhostUserRequest.GetVringBase or VhostUserRequest.SetVringKick
            or VhostUserRequest.SetVringCall or VhostUserRequest.SetVringErr or VhostUserRequest.SetVringEnable
            or VhostUserRequest.SendRarp or VhostUserRequest.NetSetMtu => 8,
        VhostUserRequest.SetLogBase => 16,
        VhostUserRequest.SetVringAddr => 40,
        VhostUserRequest.AddMemReg or VhostUserRequest.RemMemReg => 40,
        VhostUserRequest.SetMemTable => -1,
        _ => -1,
    };

    /// <summary>Checks the number of attached descriptors; <paramref name="payload"/> is needed for the
    /// vring fd messages (bit 8 says whether one is attached). Returns null or the broken rule.</summary>
    public static string? CheckFds(VhostUserRequest request, ReadOnlySpan<byte> payload, int fdCount) => request switch
    {
        VhostUserRequest.SetMemTable => fdCount >= 1 && fdCount <= MaxMemTableRegions
            ? null : $"SET_MEM_TABLE needs one fd per region (1..{MaxMemTableRegions}), got {fdCount}",
        VhostUserRequest.SetLogBase or VhostUserRequest.SetLogFd or VhostUserRequest.AddMemReg => fdCount == 1
            ? null : $"{request} needs exactly one fd, got {fdCount}",
        VhostUserRequest.RemMemReg => fdCount <= 1 ? null : $"REM_MEM_REG takes at most one fd, got {fdCount}",
        VhostUserRequest.SetVringKick or VhostUserRequest.SetVringCall or VhostUserRequest.SetVringErr =>
            payload.Length != 8 ? null // The size check reports it.
            : (BinaryPrimitives.ReadUInt64LittleEndian(payload) & VringNoFdMask) != 0
                ? (fdCount == 0 ? null : $"{request} says no fd (bit 8) but carries {fdCount}")
                : (fdCount == 1 ? null : $"{request} needs exactly one fd, got {fdCount}"),
        _ => fdCount == 0 ? null : $"{request} takes no fds, got {fdCount}",
    };
}
