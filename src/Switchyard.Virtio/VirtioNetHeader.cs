// The 12-byte virtio-net header that precedes every frame on a virtio-net queue (virtio 1.2 §5.1.6).
//
// Theory of operation: with VIRTIO_F_VERSION_1 the header is struct virtio_net_hdr_v1, 12 bytes,
// all fields little-endian, num_buffers always present (the legacy 10-byte form is not supported;
// the vhost-user layer requires VERSION_1). On TX the guest's header is parsed once by TryParseTx,
// which checks every rule a device may rely on and returns a distinct NetTxError for each; the result
// becomes the frame's Core OffloadInfo. On RX the header is built from the egress frame's OffloadInfo
// by NetRx, which decides what the guest negotiated to receive.
//
// What it trusts: nothing in the bytes it parses. What it owns: nothing; it is a value.
using System.Buffers.Binary;
using Switchyard.Core.Frames;

namespace Switchyard.Virtio;

/// <summary>struct virtio_net_hdr_v1 (virtio 1.2 §5.1.6): flags, gso_type, hdr_len, gso_size, csum_start,
/// csum_offset, num_buffers.</summary>
public readonly record struct VirtioNetHeader(
    byte Flags,
    byte GsoType,
    ushort HeaderLength,
    ushort GsoSize,
    ushort ChecksumStart,
    ushort ChecksumOffset,
    ushort NumBuffers)
{
    /// <summary>Size of the header with VERSION_1 (or MRG_RXBUF).</summary>
    public const int Size = 12;

    /// <summary>VIRTIO_NET_HDR_F_NEEDS_CSUM.</summary>
    public const byte FlagNeedsChecksum = 1;

    /// <summary>VIRTIO_NET_HDR_F_DATA_VALID.</summary>
    public const byte FlagDataValid = 2;

    /// <summary>VIRTIO_NET_HDR_F_RSC_INFO.</summary>
    public const byte FlagRscInfo = 4;

    public const byte GsoNone = 0;
    public const byte GsoTcpV4 = 1;
    public const byte GsoUdp = 3;
    public const byte GsoTcpV6 = 4;
    public const byte GsoUdpL4 = 5;
    public const byte GsoEcn = 0x80;

    /// <summary>Byte offset of num_buffers in the header.</summary>
    public const int NumBuffersOffset = 10;

    /// <summary>Reads a header from the first <see cref="Size"/> bytes of <paramref name="source"/> without
    /// validating it.</summary>
    public static VirtioNetHeader Read(ReadOnlySpan<byte> source)
    {
        source = source[..Size];
        return new VirtioNetHeader(
            source[0],
            source[1],
            BinaryPrimitives.ReadUInt16LittleEndian(source[2..]),
            BinaryPrimitives.ReadUInt16LittleEndian(source[4..]),
            BinaryPrimitives.ReadUInt16LittleEndian(source[6..]),
            BinaryPrimitives.ReadUInt16LittleEndian(source[8..]),
            BinaryPrimitives.ReadUInt16LittleEndian(source[10..]));
    }

    /// <summary>Writes the header into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        destination = destination[..Size];
        destination[0] = Flags;
        destination[1] = GsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], GsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], ChecksumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], ChecksumOffset);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[10..], NumBuffers);
    }

    /// <summary>The offload fields as Core's <see cref="OffloadInfo"/> (num_buffers has no counterpart).</summary>
    public OffloadInfo ToOffloadInfo() => new(Flags, GsoType, HeaderLength, GsoSize, ChecksumStart, ChecksumOffset);

    /// <summary>A header carrying <paramref name="offload"/> unchanged, with <paramref name="numBuffers"/>.
    /// No negotiation check: NetRx decides what the guest may receive.</summary>
    public static VirtioNetHeader FromOffloadInfo(OffloadInfo offload, ushort numBuffers = 0) => new(
        offload.Flags,
        offload.GsoType,
        offload.HeaderLength,
        offload.GsoSize,
        offload.ChecksumStart,
        offload.ChecksumOffset,
        numBuffers);

    /// <summary>Parses and validates the header of a frame the guest transmitted.</summary>
    /// <param name="source">At least the 12 header bytes.</param>
    /// <param name="frameLength">Length of the frame that follows the header.</param>
    /// <param name="features">Negotiated features (CSUM, HOST_TSO4/6, HOST_UFO, HOST_USO, HOST_ECN matter).</param>
    /// <param name="header">The header as the device will use it: flags reduced to NEEDS_CSUM (the device ignores
    /// flag bits it does not act on, virtio 1.2 §5.1.6.2.2), csum_start/csum_offset zeroed when NEEDS_CSUM is
    /// clear (the device MUST NOT use them then), gso_size zeroed without GSO, num_buffers zeroed.</param>
    public static NetTxError TryParseTx(ReadOnlySpan<byte> source, int frameLength, NegotiatedFeatures features, out VirtioNetHeader header)
    {
        header = default;
        if (source.Length < Size)
        {
            return NetTxError.ShorterThanHeader;
        }

        VirtioNetHeader raw = Read(source);
        bool needsChecksum = (raw.Flags & FlagNeedsChecksum) != 0;
        if (needsChecksum)
        {
            if ((features & NegotiatedFeatures.Csum) == 0)
            {
                return NetTxError.ChecksumNotNegotiated;
            }

            // The 16-bit checksum is stored at csum_start + csum_offset and must lie inside the frame.
            if (raw.ChecksumStart + raw.ChecksumOffset + sizeof(ushort) > frameLength)
            {
                return NetTxError.ChecksumOutsideFrame;
            }
        }

        int gso = raw.GsoType & ~GsoEcn;
        bool ecn = (raw.GsoType & GsoEcn) != 0;
        if (gso != GsoNone || ecn)
        {
            NegotiatedFeatures required = gso switch
            {
                GsoTcpV4 => NegotiatedFeatures.HostTso4,
                GsoTcpV6 => NegotiatedFeatures.HostTso6,
                GsoUdp => NegotiatedFeatures.HostUfo,
                GsoUdpL4 => NegotiatedFeatures.HostUso,
                _ => NegotiatedFeatures.None,
            };

            // ECN qualifies TCP segmentation only; tunnel bits (0x20, 0x40) and unassigned values are unknown.
            if (required == NegotiatedFeatures.None || (ecn && gso is not (GsoTcpV4 or GsoTcpV6)))
            {
                return NetTxError.GsoTypeUnknown;
            }

            if ((features & required) == 0)
            {
                return NetTxError.GsoNotNegotiated;
            }

            if (ecn && (features & NegotiatedFeatures.HostEcn) == 0)
            {
                return NetTxError.EcnNotNegotiated;
            }

            if (!needsChecksum)
            {
                return NetTxError.GsoWithoutChecksum;
            }

            if (raw.GsoSize == 0)
            {
                return NetTxError.GsoSizeZero;
            }
        }

        if (raw.HeaderLength > frameLength)
        {
            return NetTxError.HeaderLengthBeyondFrame;
        }

        header = new VirtioNetHeader(
            needsChecksum ? FlagNeedsChecksum : (byte)0,
            raw.GsoType,
            raw.HeaderLength,
            gso == GsoNone ? (ushort)0 : raw.GsoSize,
            needsChecksum ? raw.ChecksumStart : (ushort)0,
            needsChecksum ? raw.ChecksumOffset : (ushort)0,
            0);
        return NetTxError.None;
    }
}
