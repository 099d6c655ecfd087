// Builders for the headers a host-side stack sends: Ethernet, IPv4, IPv6, UDP, and the L4 checksum.
//
// Theory of operation: the gateway builds every frame it sends in one scratch buffer, payload first
// when the payload is produced in place (a DHCP reply, a TCP segment read straight from a host socket)
// and headers in front of it afterwards. So the writers take the frame buffer and lengths and fill
// fixed offsets: Ethernet at 0, IP at 14, L4 at 14 + 20 (IPv4) or 14 + 40 (IPv6). IPv4 headers carry
// no options and DF is set (we never fragment; MTU is enforced where frames are made). Checksums are
// computed over the finished bytes, or left as the pseudo-header sum for a NEEDS_CSUM offload.
using System.Buffers.Binary;
using Switchyard.Core.Frames;

namespace Switchyard.Protocols;

public static class PacketWriter
{
    public const byte ProtocolIcmp = 1;
    public const byte ProtocolIcmpV6 = 58;
    public const byte DefaultTtl = 64;

    /// <summary>Offset of the IP header in a frame built here (untagged Ethernet).</summary>
    public const int IpOffset = Ethernet.HeaderLength;

    /// <summary>IP header length: 20 for IPv4 (no options), 40 for IPv6 (no extension headers).</summary>
    public static int IpHeaderLength(bool v6) => v6 ? IPv6Header.Length : IPv4Header.MinLength;

    /// <summary>Offset of the L4 header in a frame built here.</summary>
    public static int L4Offset(bool v6) => IpOffset + IpHeaderLength(v6);

    /// <summary>Offset of the UDP payload in a frame built here.</summary>
    public static int UdpPayloadOffset(bool v6) => L4Offset(v6) + UdpHeader.Length;

    public static void WriteEthernet(Span<byte> frame, ulong destination, ulong source, ushort etherType)
    {
        Ethernet.WriteMac(frame, destination);
        Ethernet.WriteMac(frame[Ethernet.AddressLength..], source);
        BinaryPrimitives.WriteUInt16BigEndian(frame[Ethernet.EtherTypeOffset..], etherType);
    }

    /// <summary>Writes a 20-byte IPv4 header (DF set) with its header checksum at the start of
    /// <paramref name="at"/>; the datagram is 20 + <paramref name="payloadLength"/> bytes.</summary>
    public static void WriteIPv4(Span<byte> at, IpAddr source, IpAddr destination, byte protocol, int payloadLength, ushort identification, byte ttl = DefaultTtl)
    {
        Span<byte> h = at[..IPv4Header.MinLength];
        h[0] = 0x45;
        h[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(h[IPv4Header.TotalLengthOffset..], (ushort)(IPv4Header.MinLength + payloadLength));
        BinaryPrimitives.WriteUInt16BigEndian(h[IPv4Header.IdentificationOffset..], identification);
        BinaryPrimitives.WriteUInt16BigEndian(h[IPv4Header.FragmentOffset..], 0x4000);
        h[8] = ttl;
        h[IPv4Header.ProtocolOffset] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(h[IPv4Header.ChecksumOffset..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(h[IPv4Header.SourceOffset..], source.V4);
        BinaryPrimitives.WriteUInt32BigEndian(h[IPv4Header.DestinationOffset..], destination.V4);
        BinaryPrimitives.WriteUInt16BigEndian(h[IPv4Header.ChecksumOffset..], InternetChecksum.Compute(h));
    }

    /// <summary>Writes a 40-byte IPv6 header at the start of <paramref name="at"/>.</summary>
    public static void WriteIPv6(Span<byte> at, IpAddr source, IpAddr destination, byte nextHeader, int payloadLength, byte hopLimit = DefaultTtl)
    {
        Span<byte> h = at[..IPv6Header.Length];
        BinaryPrimitives.WriteUInt32BigEndian(h, 0x6000_0000);
        BinaryPrimitives.WriteUInt16BigEndian(h[IPv6Header.PayloadLengthOffset..], (ushort)payloadLength);
        h[IPv6Header.NextHeaderOffset] = nextHeader;
        h[7] = hopLimit;
        source.WriteTo(h[IPv6Header.SourceOffset..]);
        destination.WriteTo(h[IPv6Header.DestinationOffset..]);
    }

    /// <summary>Writes the Ethernet and IP headers in front of an L4 packet of <paramref name="l4Length"/>
    /// bytes already at <see cref="L4Offset"/>; returns the frame length. Both addresses must be of one family.</summary>
    public static int WriteEthernetAndIp(
        Span<byte> frame, ulong destinationMac, ulong sourceMac, IpAddr source, IpAddr destination, byte protocol, int l4Length, ushort identification = 0, byte ttl = DefaultTtl)
    {
        bool v6 = !source.IsV4;
        WriteEthernet(frame, destinationMac, sourceMac, v6 ? Ethernet.EtherTypeIPv6 : Ethernet.EtherTypeIPv4);
        if (v6)
        {
            WriteIPv6(frame[IpOffset..], source, destination, protocol, l4Length, ttl);
        }
        else
        {
            WriteIPv4(frame[IpOffset..], source, destination, protocol, l4Length, identification, ttl);
        }

        return L4Offset(v6) + l4Length;
    }

    /// <summary>The pseudo-header partial sum for an L4 packet between two addresses.</summary>
    public static uint PseudoHeaderSum(IpAddr source, IpAddr destination, byte protocol, int l4Length)
    {
        Span<byte> s = stackalloc byte[16];
        Span<byte> d = stackalloc byte[16];
        int n = source.WriteTo(s);
        destination.WriteTo(d);
        return source.IsV4
            ? InternetChecksum.PseudoHeaderIPv4(s[..n], d[..n], protocol, l4Length)
            : InternetChecksum.PseudoHeaderIPv6(s[..n], d[..n], protocol, (uint)l4Length);
    }

    /// <summary>Computes the full L4 checksum over <paramref name="l4"/> (header and payload) and stores
    /// it at <paramref name="checksumOffset"/>. UDP's zero result is sent as 0xFFFF (RFC 768).</summary>
    public static void WriteL4Checksum(Span<byte> l4, IpAddr source, IpAddr destination, byte protocol, int checksumOffset)
    {
        BinaryPrimitives.WriteUInt16BigEndian(l4[checksumOffset..], 0);
        uint pseudo = protocol == ProtocolIcmp ? 0 : PseudoHeaderSum(source, destination, protocol, l4.Length);
        ushort checksum = InternetChecksum.Compute(l4, pseudo);
        if (checksum == 0 && protocol == InternetChecksum.ProtocolUdp)
        {
            checksum = 0xFFFF;
        }

        BinaryPrimitives.WriteUInt16BigEndian(l4[checksumOffset..], checksum);
    }

    /// <summary>Stores the folded pseudo-header sum (not complemented) at <paramref name="checksumOffset"/>,
    /// as a NEEDS_CSUM frame carries it (virtio spec §5.1.6.2): the receiver or the switch completes it.</summary>
    public static void WritePartialL4Checksum(Span<byte> l4, IpAddr source, IpAddr destination, byte protocol, int checksumOffset)
    {
        ushort pseudo = InternetChecksum.Fold(PseudoHeaderSum(source, destination, protocol, l4.Length));
        BinaryPrimitives.WriteUInt16BigEndian(l4[checksumOffset..], pseudo);
    }

    /// <summary>Writes a UDP header, checksum included, in front of a payload already at
    /// <see cref="UdpPayloadOffset"/>, plus the IP and Ethernet headers; returns the frame length.</summary>
    public static int WriteUdpFrame(
        Span<byte> frame, ulong destinationMac, ulong sourceMac, IpAddr source, ushort sourcePort, IpAddr destination, ushort destinationPort, int payloadLength)
    {
        bool v6 = !source.IsV4;
        int l4Length = UdpHeader.Length + payloadLength;
        Span<byte> udp = frame.Slice(L4Offset(v6), l4Length);
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[UdpHeader.LengthOffset..], (ushort)l4Length);
        WriteL4Checksum(udp, source, destination, InternetChecksum.ProtocolUdp, UdpHeader.ChecksumOffset);
        return WriteEthernetAndIp(frame, destinationMac, sourceMac, source, destination, InternetChecksum.ProtocolUdp, l4Length);
    }
}
