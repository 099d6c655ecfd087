// Neighbor Discovery for IPv6 (RFC 4861) messages and options, with RDNSS and DNSSL (RFC 8106).
//
// Theory of operation: NdpMessage.TryParse takes an ICMPv6 message (checksum already verified by the
// caller, who has the pseudo-header) and checks once: a type NDP defines (133 router solicitation,
// 134 router advertisement, 135 neighbour solicitation, 136 neighbour advertisement), code 0 and the
// fixed part present (RFC 4861 §6.1.1, §6.1.2, §7.1.1, §7.1.2), then walks the options: each needs its
// two-byte header, a nonzero length (a zero length is invalid, "nodes MUST silently discard an ND
// packet that contains an option with length zero", §4.6) and must fit in the message. After that
// every option read is bounds-safe without further checks. Option views (prefix information, MTU,
// RDNSS, DNSSL) validate their own length the same way. The IP hop limit 255 rule (§6.1, §7.1) is the
// caller's, since it lives in the IP header. Parsing never throws and never mutates.
//
// NdpBuilder writes messages front to back in a caller's span: the fixed part, then options appended
// one after another; the caller computes the ICMPv6 checksum last (IcmpBuilder.WriteChecksum).
using System.Buffers.Binary;
using Switchyard.Core.Frames;

namespace Switchyard.Protocols;

/// <summary>An NDP message (RS, RA, NS, NA) whose options have all been checked to fit.</summary>
public readonly ref struct NdpMessage
{
    public const byte TypeRouterSolicitation = 133;
    public const byte TypeRouterAdvertisement = 134;
    public const byte TypeNeighbourSolicitation = 135;
    public const byte TypeNeighbourAdvertisement = 136;

    public const byte OptionSourceLinkLayer = 1;
    public const byte OptionTargetLinkLayer = 2;
    public const byte OptionPrefixInformation = 3;
    public const byte OptionMtu = 5;
    public const byte OptionRdnss = 25;
    public const byte OptionDnssl = 31;

    /// <summary>Router advertisement flags (RFC 4861 §4.2).</summary>
    public const byte FlagManaged = 0x80;
    public const byte FlagOther = 0x40;

    /// <summary>Neighbour advertisement flags, in the first byte after the checksum (RFC 4861 §4.4).</summary>
    public const byte FlagRouter = 0x80;
    public const byte FlagSolicited = 0x40;
    public const byte FlagOverride = 0x20;

    public const int RouterSolicitationLength = 8;
    public const int RouterAdvertisementLength = 16;
    public const int NeighbourMessageLength = 24;

    private readonly ReadOnlySpan<byte> message;
    private readonly int optionsOffset;

    private NdpMessage(ReadOnlySpan<byte> message, int optionsOffset)
    {
        this.message = message;
        this.optionsOffset = optionsOffset;
    }

    public byte Type => message[0];

    /// <summary>RA: cur hop limit. Others: 0.</summary>
    public byte CurHopLimit => Type == TypeRouterAdvertisement ? message[4] : (byte)0;

    /// <summary>RA: M/O flags byte. NA: R/S/O flags byte. Others: 0.</summary>
    public byte Flags => Type is TypeRouterAdvertisement or TypeNeighbourAdvertisement ? message[Type == TypeRouterAdvertisement ? 5 : 4] : (byte)0;

    /// <summary>RA: router lifetime in seconds.</summary>
    public ushort RouterLifetime => Type == TypeRouterAdvertisement ? BinaryPrimitives.ReadUInt16BigEndian(message[6..]) : (ushort)0;

    /// <summary>RA: reachable time in milliseconds.</summary>
    public uint ReachableTime => Type == TypeRouterAdvertisement ? BinaryPrimitives.ReadUInt32BigEndian(message[8..]) : 0;

    /// <summary>RA: retransmission timer in milliseconds.</summary>
    public uint RetransTimer => Type == TypeRouterAdvertisement ? BinaryPrimitives.ReadUInt32BigEndian(message[12..]) : 0;

    /// <summary>NS/NA: the target address (16 bytes); empty for RS/RA.</summary>
    public ReadOnlySpan<byte> Target => Type is TypeNeighbourSolicitation or TypeNeighbourAdvertisement ? message.Slice(8, 16) : [];

    /// <summary>The options, each already checked to fit.</summary>
    public NdpOptionEnumerator Options => new(message[optionsOffset..]);

    /// <summary>The MAC of the first source (type 1) or target (type 2) link-layer address option of
    /// Ethernet size (length 1), if any.</summary>
    public bool TryGetLinkLayerAddress(byte optionType, out ulong mac)
    {
        foreach (NdpOption option in Options)
        {
            if (option.Type == optionType && option.Data.Length == 6)
            {
                mac = Ethernet.ReadMac(option.Data);
                return true;
            }
        }

        mac = 0;
        return false;
    }

    /// <summary>True if any option of <paramref name="optionType"/> is present.</summary>
    public bool HasOption(byte optionType)
    {
        foreach (NdpOption option in Options)
        {
            if (option.Type == optionType)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Reads an NDP message (an ICMPv6 message); false unless the type is RS/RA/NS/NA, the code
    /// is 0, the fixed part is present and every option is well formed (RFC 4861 §4.6).</summary>
    public static bool TryParse(ReadOnlySpan<byte> icmp, out NdpMessage message)
    {
        message = default;
        if (icmp.Length < 4 || icmp[1] != 0)
        {
            return false;
        }

        int fixedLength = icmp[0] switch
        {
            TypeRouterSolicitation => RouterSolicitationLength,
            TypeRouterAdvertisement => RouterAdvertisementLength,
            TypeNeighbourSolicitation or TypeNeighbourAdvertisement => NeighbourMessageLength,
            _ => -1,
        };
        if (fixedLength < 0 || icmp.Length < fixedLength || !NdpOptionEnumerator.AllValid(icmp[fixedLength..]))
        {
            return false;
        }

        message = new NdpMessage(icmp, fixedLength);
        return true;
    }
}

/// <summary>One NDP option: its type and the bytes after the two-byte type/length header.</summary>
public readonly ref struct NdpOption
{
    public NdpOption(byte type, ReadOnlySpan<byte> data)
    {
        Type = type;
        Data = data;
    }

    public byte Type { get; }

    /// <summary>The option body (length * 8 - 2 bytes).</summary>
    public ReadOnlySpan<byte> Data { get; }
}

/// <summary>Walks NDP options. Over an unvalidated span it stops at the first malformed option.</summary>
public ref struct NdpOptionEnumerator
{
    private ReadOnlySpan<byte> rest;

    public NdpOptionEnumerator(ReadOnlySpan<byte> options)
    {
        rest = options;
        Current = default;
    }

    public NdpOption Current { get; private set; }

    public readonly NdpOptionEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (rest.Length < 2 || rest[1] == 0 || rest[1] * 8 > rest.Length)
        {
            rest = [];
            return false;
        }

        int length = rest[1] * 8;
        Current = new NdpOption(rest[0], rest[2..length]);
        rest = rest[length..];
        return true;
    }

    /// <summary>True when the span is a sequence of well-formed options (possibly none).</summary>
    public static bool AllValid(ReadOnlySpan<byte> options)
    {
        while (!options.IsEmpty)
        {
            if (options.Length < 2 || options[1] == 0 || options[1] * 8 > options.Length)
            {
                return false;
            }

            options = options[(options[1] * 8)..];
        }

        return true;
    }
}

/// <summary>The prefix information option (RFC 4861 §4.6.2): 30 bytes of body.</summary>
public readonly ref struct NdpPrefixInformation
{
    public const byte FlagOnLink = 0x80;
    public const byte FlagAutonomous = 0x40;

    private readonly ReadOnlySpan<byte> data;

    private NdpPrefixInformation(ReadOnlySpan<byte> data) => this.data = data;

    public byte PrefixLength => data[0];

    public byte Flags => data[1];

    public uint ValidLifetime => BinaryPrimitives.ReadUInt32BigEndian(data[2..]);

    public uint PreferredLifetime => BinaryPrimitives.ReadUInt32BigEndian(data[6..]);

    public IpAddr Prefix => IpAddr.Read(data.Slice(14, 16));

    public static bool TryParse(in NdpOption option, out NdpPrefixInformation info)
    {
        info = default;
        if (option.Type != NdpMessage.OptionPrefixInformation || option.Data.Length != 30 || option.Data[0] > 128)
        {
            return false;
        }

        info = new NdpPrefixInformation(option.Data);
        return true;
    }
}

/// <summary>Reads the small NDP options: MTU (§4.6.4), RDNSS and DNSSL (RFC 8106 §5).</summary>
public static class NdpOptions
{
    /// <summary>The MTU option's value; false unless it is an MTU option of length 1.</summary>
    public static bool TryReadMtu(in NdpOption option, out uint mtu)
    {
        mtu = 0;
        if (option.Type != NdpMessage.OptionMtu || option.Data.Length != 6)
        {
            return false;
        }

        mtu = BinaryPrimitives.ReadUInt32BigEndian(option.Data[2..]);
        return true;
    }

    /// <summary>An RDNSS option: lifetime and the addresses (16 bytes each). RFC 8106 §5.1: length at
    /// least 3 and odd.</summary>
    public static bool TryReadRdnss(in NdpOption option, out uint lifetime, out ReadOnlySpan<byte> addresses)
    {
        lifetime = 0;
        addresses = default;
        int units = (option.Data.Length + 2) / 8;
        if (option.Type != NdpMessage.OptionRdnss || units < 3 || units % 2 == 0)
        {
            return false;
        }

        lifetime = BinaryPrimitives.ReadUInt32BigEndian(option.Data[2..]);
        addresses = option.Data[6..];
        return true;
    }

    /// <summary>A DNSSL option: lifetime and the encoded domain names, zero-padded (RFC 8106 §5.2:
    /// length at least 2).</summary>
    public static bool TryReadDnssl(in NdpOption option, out uint lifetime, out ReadOnlySpan<byte> names)
    {
        lifetime = 0;
        names = default;
        if (option.Type != NdpMessage.OptionDnssl || option.Data.Length < 14)
        {
            return false;
        }

        lifetime = BinaryPrimitives.ReadUInt32BigEndian(option.Data[2..]);
        names = option.Data[6..];
        return true;
    }
}

/// <summary>Writes NDP messages: fixed parts, then appended options. Each method returns the new end offset.</summary>
public static class NdpBuilder
{
    /// <summary>Writes the 8-byte router solicitation fixed part.</summary>
    public static int WriteRouterSolicitation(Span<byte> at)
    {
        at[..NdpMessage.RouterSolicitationLength].Clear();
        at[0] = NdpMessage.TypeRouterSolicitation;
        return NdpMessage.RouterSolicitationLength;
    }

    /// <summary>Writes the 16-byte router advertisement fixed part (RFC 4861 §4.2).</summary>
    public static int WriteRouterAdvertisement(Span<byte> at, byte curHopLimit, byte flags, ushort routerLifetime, uint reachableTime, uint retransTimer)
    {
        Span<byte> m = at[..NdpMessage.RouterAdvertisementLength];
        m.Clear();
        m[0] = NdpMessage.TypeRouterAdvertisement;
        m[4] = curHopLimit;
        m[5] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(m[6..], routerLifetime);
        BinaryPrimitives.WriteUInt32BigEndian(m[8..], reachableTime);
        BinaryPrimitives.WriteUInt32BigEndian(m[12..], retransTimer);
        return NdpMessage.RouterAdvertisementLength;
    }

    /// <summary>Writes the 24-byte NS (type 135) or NA (type 136) fixed part; <paramref name="flags"/> is
    /// the NA's R/S/O byte (0 for NS).</summary>
    public static int WriteNeighbourMessage(Span<byte> at, byte type, byte flags, IpAddr target)
    {
        Span<byte> m = at[..NdpMessage.NeighbourMessageLength];
        m.Clear();
        m[0] = type;
        m[4] = flags;
        target.WriteTo(m[8..]);
        return NdpMessage.NeighbourMessageLength;
    }

    /// <summary>Appends a source (1) or target (2) link-layer address option for an Ethernet MAC.</summary>
    public static int AppendLinkLayerAddress(Span<byte> message, int offset, byte optionType, ulong mac)
    {
        Span<byte> o = message.Slice(offset, 8);
        o[0] = optionType;
        o[1] = 1;
        Ethernet.WriteMac(o[2..], mac);
        return offset + 8;
    }

    /// <summary>Appends a prefix information option (RFC 4861 §4.6.2).</summary>
    public static int AppendPrefixInformation(Span<byte> message, int offset, IpAddr prefix, byte prefixLength, byte flags, uint validLifetime, uint preferredLifetime)
    {
        Span<byte> o = message.Slice(offset, 32);
        o.Clear();
        o[0] = NdpMessage.OptionPrefixInformation;
        o[1] = 4;
        o[2] = prefixLength;
        o[3] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(o[4..], validLifetime);
        BinaryPrimitives.WriteUInt32BigEndian(o[8..], preferredLifetime);
        prefix.WriteTo(o[16..]);
        return offset + 32;
    }

    /// <summary>Appends an MTU option (RFC 4861 §4.6.4).</summary>
    public static int AppendMtu(Span<byte> message, int offset, uint mtu)
    {
        Span<byte> o = message.Slice(offset, 8);
        o[0] = NdpMessage.OptionMtu;
        o[1] = 1;
        o[2] = 0;
        o[3] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(o[4..], mtu);
        return offset + 8;
    }

    /// <summary>Appends an RDNSS option with one or more addresses (RFC 8106 §5.1).</summary>
    public static int AppendRdnss(Span<byte> message, int offset, uint lifetime, ReadOnlySpan<IpAddr> servers)
    {
        int length = 8 + (16 * servers.Length);
        Span<byte> o = message.Slice(offset, length);
        o[0] = NdpMessage.OptionRdnss;
        o[1] = (byte)(length / 8);
        o[2] = 0;
        o[3] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(o[4..], lifetime);
        for (int i = 0; i < servers.Length; i++)
        {
            servers[i].WriteTo(o[(8 + (16 * i))..]);
        }

        return offset + length;
    }

    /// <summary>Appends a DNSSL option (RFC 8106 §5.2) with names already in DNS wire format
    /// (DhcpDomainSearch.Encode), zero-padded to a multiple of 8. Names longer than an option can hold
    /// (2040 bytes) are not written and the offset is returned unchanged.</summary>
    public static int AppendDnssl(Span<byte> message, int offset, uint lifetime, ReadOnlySpan<byte> encodedNames)
    {
        int length = (8 + encodedNames.Length + 7) / 8 * 8;
        if (encodedNames.IsEmpty || length > 255 * 8)
        {
            return offset;
        }

        Span<byte> o = message.Slice(offset, length);
        o.Clear();
        o[0] = NdpMessage.OptionDnssl;
        o[1] = (byte)(length / 8);
        BinaryPrimitives.WriteUInt32BigEndian(o[4..], lifetime);
        encodedNames.CopyTo(o[8..]);
        return offset + length;
    }
}
