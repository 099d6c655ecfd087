// Offload metadata that travels with a frame.
//
// Theory of operation: a virtio-net guest may hand us a frame whose L4 checksum is only partial
// (NEEDS_CSUM) or a TCP/UDP "super frame" to be segmented (GSO). The fields below are the
// virtio_net_hdr fields (virtio spec 1.2 §5.1.6) carried unchanged from the ingress port to the
// egress port. A port that cannot take them on the wire gets the frame completed in software by the
// switch first. Ports that never see offloads (stream, dgram) simply pass OffloadInfo.None.
namespace Switchyard.Core.Frames;

/// <summary>The virtio_net_hdr offload fields of one frame (all zero: a complete, ordinary frame).</summary>
public readonly record struct OffloadInfo(
    byte Flags,
    byte GsoType,
    ushort HeaderLength,
    ushort GsoSize,
    ushort ChecksumStart,
    ushort ChecksumOffset)
{
    /// <summary>VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum at ChecksumStart+ChecksumOffset is partial.</summary>
    public const byte FlagNeedsChecksum = 1;

    /// <summary>VIRTIO_NET_HDR_F_DATA_VALID: the sender already validated the checksum.</summary>
    public const byte FlagDataValid = 2;

    public const byte GsoNone = 0;
    public const byte GsoTcpV4 = 1;
    public const byte GsoUdp = 3;
    public const byte GsoTcpV6 = 4;
    public const byte GsoUdpL4 = 5;
    public const byte GsoEcn = 0x80;

    public static OffloadInfo None => default;

    public bool NeedsChecksum => (Flags & FlagNeedsChecksum) != 0;

    public bool IsGso => (GsoType & ~GsoEcn) != GsoNone;

    /// <summary>True when the frame is complete as it stands: no partial checksum and no segmentation owed.</summary>
    public bool IsPlain => !NeedsChecksum && !IsGso;

    /// <summary>The same offload with every L2-relative offset moved by <paramref name="delta"/> bytes
    /// (a VLAN tag inserted or removed in front of the L3 header).</summary>
    public OffloadInfo ShiftedBy(int delta) => IsPlain && HeaderLength == 0
        ? this
        : this with
        {
            HeaderLength = HeaderLength == 0 ? (ushort)0 : (ushort)(HeaderLength + delta),
            ChecksumStart = NeedsChecksum ? (ushort)(ChecksumStart + delta) : ChecksumStart,
        };
}
