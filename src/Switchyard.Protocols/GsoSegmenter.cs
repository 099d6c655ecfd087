// Software segmentation of a GSO "super frame" (TSO for TCPv4/TCPv6, USO for UDP).
//
// Theory of operation. A guest that negotiated HOST_TSO4/TSO6/USO may send one frame carrying up to
// 64 KiB of payload behind a single set of headers, with gso_type naming the transport and gso_size
// the MSS (virtio 1.2 §5.1.6.2). When the egress cannot take it, the switch cuts it here into frames
// of at most MSS payload bytes, each a complete, independently valid packet, as a NIC's TSO engine (or
// Linux's tcp_gso_segment / __udp_gso_segment) would:
//   - every segment repeats the Ethernet header (and tag) and the IP and TCP/UDP headers;
//   - IPv4: total length per segment, identification = the super frame's + segment index, header
//     checksum recomputed; IPv6: payload length per segment;
//   - TCP: sequence number advanced by the payload already sent; FIN and PSH only on the last
//     segment, CWR only on the first; a full checksum over pseudo-header, header and payload;
//   - UDP (USO): length per datagram and a full checksum (0 is sent as 0xFFFF, RFC 768 / RFC 8200 §8.1).
// Legacy UFO (GSO_UDP) means IP fragmentation and is not implemented (OffloadError explains why).
//
// What it trusts: nothing. TryCreate validates the whole request once (flags, gso_size, hdr_len, the
// Ethernet, IP and transport headers, csum_start/csum_offset against the transport header it found),
// naming the rule in the OffloadError it returns; after that TryNext only copies and patches at
// offsets proven to lie inside the frame. hdr_len is only checked to lie within the frame: the device
// "MUST NOT rely on hdr_len to be correct" (virtio 1.2 §5.1.6.2.2), so the header length that is
// replicated is the one the headers themselves state. Bytes after the IP packet (Ethernet padding)
// are not payload. IPv6 extension headers are not walked (such frames are rejected as unsupported).
//
// What it owns: nothing. It is a ref struct over the caller's frame; each TryNext writes one segment
// into a caller-provided scratch span, so segmenting allocates nothing and the caller decides where
// segments live and how long (the switch transmits each one before asking for the next).
using System.Buffers.Binary;
using Switchyard.Core.Frames;

namespace Switchyard.Protocols;

/// <summary>Cuts one validated GSO super frame into wire-sized frames, one per <see cref="TryNext"/>.</summary>
public ref struct GsoSegmenter
{
    /// <summary>Smallest MSS we segment to (Linux's tcp_min_snd_mss default). Below it a guest could make
    /// the switch turn one 64 KiB frame into tens of thousands of segments on the shared loop.</summary>
    public const int MinGsoSize = 48;

    private const int TcpChecksumOffset = TcpHeader.ChecksumOffset;
    private const int UdpChecksumOffset = UdpHeader.ChecksumOffset;

    /// <summary>The super frame up to the end of its IP packet.</summary>
    private readonly ReadOnlySpan<byte> frame;
    private readonly int networkOffset;
    private readonly int transportOffset;
    private readonly int headersLength;
    private readonly int segmentSize;
    private readonly bool isIPv4;
    private readonly bool isTcp;
    private readonly ushort firstIdentification;
    private readonly uint firstSequence;
    private int nextPayload;
    private int produced;

    private GsoSegmenter(
        ReadOnlySpan<byte> frame, int networkOffset, int transportOffset, int headersLength, int segmentSize, bool isIPv4, bool isTcp)
    {
        this.frame = frame;
        this.networkOffset = networkOffset;
        this.transportOffset = transportOffset;
        this.headersLength = headersLength;
        this.segmentSize = segmentSize;
        this.isIPv4 = isIPv4;
        this.isTcp = isTcp;
        firstIdentification = isIPv4 ? BinaryPrimitives.ReadUInt16BigEndian(frame[(networkOffset + IPv4Header.IdentificationOffset)..]) : (ushort)0;
        firstSequence = isTcp ? BinaryPrimitives.ReadUInt32BigEndian(frame[(transportOffset + TcpHeader.SequenceNumberOffset)..]) : 0;
        nextPayload = headersLength;
        int payload = frame.Length - headersLength;
        SegmentCount = payload == 0 ? 1 : (payload + segmentSize - 1) / segmentSize;
    }

    /// <summary>How many segments the super frame yields (at least 1: a frame with no payload still
    /// goes out, as one segment).</summary>
    public readonly int SegmentCount { get; }

    /// <summary>Segments written so far.</summary>
    public readonly int Produced => produced;

    /// <summary>Bytes of headers repeated in every segment: Ethernet (and tag), IP, TCP or UDP.</summary>
    public readonly int HeadersLength => headersLength;

    /// <summary>Payload bytes of the super frame (the bytes after the headers, to the end of the IP packet).</summary>
    public readonly int PayloadLength => frame.Length - headersLength;

    /// <summary>The longest segment TryNext will write: a scratch span this long always suffices.</summary>
    public readonly int MaxSegmentLength => headersLength + Math.Min(segmentSize, PayloadLength);

    /// <summary>Validates <paramref name="frame"/> and <paramref name="offload"/> as a GSO request for
    /// TCPv4, TCPv6 or UDP_L4. False, with the rule that failed in <paramref name="error"/>, when the
    /// request cannot be segmented. Reads the frame; never writes it; never throws.</summary>
    public static bool TryCreate(ReadOnlySpan<byte> frame, in OffloadInfo offload, out GsoSegmenter segmenter, out OffloadError error)
    {
        segmenter = default;
        error = Validate(frame, offload, out int network, out int transport, out int headers, out int end, out bool ipv4, out bool tcp);
        if (error != OffloadError.None)
        {
            return false;
        }

        segmenter = new GsoSegmenter(frame[..end], network, transport, headers, offload.GsoSize, ipv4, tcp);
        return true;
    }

    /// <summary>Writes the next segment at the start of <paramref name="scratch"/> and returns its length.
    /// False when every segment has been produced, or when <paramref name="scratch"/> is shorter than the
    /// segment (nothing is written then; size it with <see cref="MaxSegmentLength"/>).</summary>
    public bool TryNext(Span<byte> scratch, out int length)
    {
        length = 0;
        if (produced >= SegmentCount)
        {
            return false;
        }

        int chunk = Math.Min(segmentSize, frame.Length - nextPayload);
        int total = headersLength + chunk;
        if (total > scratch.Length)
        {
            return false;
        }

        Span<byte> segment = scratch[..total];
        frame[..headersLength].CopyTo(segment);
        frame.Slice(nextPayload, chunk).CopyTo(segment[headersLength..]);

        Span<byte> network = segment[networkOffset..transportOffset];
        Span<byte> transport = segment[transportOffset..];
        uint pseudoHeader;
        if (isIPv4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(network[IPv4Header.TotalLengthOffset..], (ushort)(network.Length + transport.Length));
            BinaryPrimitives.WriteUInt16BigEndian(network[IPv4Header.IdentificationOffset..], (ushort)(firstIdentification + produced));
            BinaryPrimitives.WriteUInt16BigEndian(network[IPv4Header.ChecksumOffset..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(network[IPv4Header.ChecksumOffset..], InternetChecksum.Compute(network));
            pseudoHeader = InternetChecksum.PseudoHeaderIPv4(
                network.Slice(IPv4Header.SourceOffset, IPv4Header.AddressLength),
                network.Slice(IPv4Header.DestinationOffset, IPv4Header.AddressLength),
                isTcp ? InternetChecksum.ProtocolTcp : InternetChecksum.ProtocolUdp,
                transport.Length);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(network[IPv6Header.PayloadLengthOffset..], (ushort)transport.Length);
            pseudoHeader = InternetChecksum.PseudoHeaderIPv6(
                network.Slice(IPv6Header.SourceOffset, IPv6Header.AddressLength),
                network.Slice(IPv6Header.DestinationOffset, IPv6Header.AddressLength),
                isTcp ? InternetChecksum.ProtocolTcp : InternetChecksum.ProtocolUdp,
                (uint)transport.Length);
        }

        if (isTcp)
        {
            uint sequence = firstSequence + (uint)(nextPayload - headersLength);
            BinaryPrimitives.WriteUInt32BigEndian(transport[TcpHeader.SequenceNumberOffset..], sequence);
            byte flags = transport[TcpHeader.FlagsOffset];
            if (produced != SegmentCount - 1)
            {
                flags &= unchecked((byte)~(TcpHeader.FlagFin | TcpHeader.FlagPsh));
            }

            if (produced != 0)
            {
                // RFC 3168 §6.1.2: CWR goes on the first new data after a window reduction, not on
                // every segment of it.
                flags &= unchecked((byte)~TcpHeader.FlagCwr);
            }

            transport[TcpHeader.FlagsOffset] = flags;
            BinaryPrimitives.WriteUInt16BigEndian(transport[TcpChecksumOffset..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(transport[TcpChecksumOffset..], InternetChecksum.Compute(transport, pseudoHeader));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(transport[UdpHeader.LengthOffset..], (ushort)transport.Length);
            BinaryPrimitives.WriteUInt16BigEndian(transport[UdpChecksumOffset..], 0);
            ushort checksum = InternetChecksum.Compute(transport, pseudoHeader);
            BinaryPrimitives.WriteUInt16BigEndian(transport[UdpChecksumOffset..], checksum == 0 ? (ushort)0xFFFF : checksum);
        }

        nextPayload += chunk;
        produced++;
        length = total;
        return true;
    }

    /// <summary>Every check of a GSO request, in order: the virtio_net_hdr fields, then the frame's
    /// headers from the outside in. On success the offsets locate the L3 and L4 headers, the end of the
    /// replicated headers and the end of the IP packet.</summary>
    private static OffloadError Validate(
        ReadOnlySpan<byte> frame, in OffloadInfo offload, out int network, out int transport, out int headers, out int end, out bool ipv4, out bool tcp)
    {
        network = transport = headers = end = 0;
        ipv4 = tcp = false;
        int gso = offload.GsoType & ~OffloadInfo.GsoEcn;
        switch (gso)
        {
            case OffloadInfo.GsoTcpV4:
            case OffloadInfo.GsoTcpV6:
                tcp = true;
                break;
            case OffloadInfo.GsoUdpL4:
                break;
            case OffloadInfo.GsoUdp:
                return OffloadError.UdpFragmentationUnsupported;
            default:
                return OffloadError.GsoTypeUnsupported;
        }

        if (!offload.NeedsChecksum)
        {
            return OffloadError.GsoWithoutNeedsChecksum;
        }

        if (offload.GsoSize == 0)
        {
            return OffloadError.GsoSizeZero;
        }

        if (offload.GsoSize < MinGsoSize)
        {
            return OffloadError.GsoSizeTooSmall;
        }

        if (offload.HeaderLength > frame.Length)
        {
            return OffloadError.HeaderLengthBeyondFrame;
        }

        if (!EthernetHeader.TryParse(frame, out EthernetHeader ethernet))
        {
            return OffloadError.FrameTooShort;
        }

        ipv4 = ethernet.EtherType == Ethernet.EtherTypeIPv4;
        bool ipv6 = ethernet.EtherType == Ethernet.EtherTypeIPv6;
        if (gso == OffloadInfo.GsoTcpV4 ? !ipv4 : gso == OffloadInfo.GsoTcpV6 ? !ipv6 : !(ipv4 || ipv6))
        {
            return OffloadError.EtherTypeMismatch;
        }

        byte protocol = tcp ? InternetChecksum.ProtocolTcp : InternetChecksum.ProtocolUdp;
        network = ethernet.Length;
        if (ipv4)
        {
            if (!IPv4Header.TryParse(frame[network..], out IPv4Header ip))
            {
                return OffloadError.IPv4HeaderInvalid;
            }

            if (ip.IsFragment)
            {
                return OffloadError.IPv4Fragment;
            }

            if (ip.Protocol != protocol)
            {
                return OffloadError.TransportProtocolMismatch;
            }

            transport = network + ip.HeaderLength;
            end = network + ip.TotalLength;
        }
        else
        {
            if (!IPv6Header.TryParse(frame[network..], out IPv6Header ip))
            {
                return OffloadError.IPv6HeaderInvalid;
            }

            if (ip.NextHeader != protocol)
            {
                return IsIPv6ExtensionHeader(ip.NextHeader)
                    ? OffloadError.IPv6ExtensionHeadersUnsupported
                    : OffloadError.TransportProtocolMismatch;
            }

            transport = network + IPv6Header.Length;
            end = transport + ip.PayloadLength;
        }

        if (offload.ChecksumStart != transport)
        {
            return OffloadError.ChecksumStartNotTransportHeader;
        }

        if (offload.ChecksumOffset != (tcp ? TcpChecksumOffset : UdpChecksumOffset))
        {
            return OffloadError.ChecksumOffsetMismatch;
        }

        if (tcp)
        {
            if (!TcpHeader.TryParse(frame[transport..end], out TcpHeader tcpHeader))
            {
                return OffloadError.TcpHeaderInvalid;
            }

            headers = transport + tcpHeader.HeaderLength;
        }
        else
        {
            if (!UdpHeader.TryParse(frame[transport..end], out _))
            {
                return OffloadError.UdpHeaderInvalid;
            }

            headers = transport + UdpHeader.Length;
        }

        return OffloadError.None;
    }

    /// <summary>IANA "IPv6 Extension Header Types" (RFC 7045 §2 and later registrations).</summary>
    private static bool IsIPv6ExtensionHeader(byte nextHeader) =>
        nextHeader is 0 or 43 or 44 or 50 or 51 or 60 or 135 or 139 or 140 or 253 or 254;
}
