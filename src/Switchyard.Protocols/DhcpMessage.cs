// DHCPv4 (RFC 2131) messages and their options (RFC 2132): a read-only view and a builder.
//
// Theory of operation: a DHCP message is the 236-byte BOOTP fixed part (op, htype, hlen, hops, xid,
// secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, sname, file), the magic cookie 99.130.83.99
// (RFC 2131 §3) and options. TryParse checks once: the fixed part and cookie are present, op is
// BOOTREQUEST or BOOTREPLY, and the options are well formed: pad (0) and end (255) are single bytes,
// every other option has a length byte and fits (RFC 2132 §2). Bytes after end are ignored; options
// that reach the end of the datagram without an end option are accepted (some clients omit it; the
// walk stays in bounds either way). Option overloading (option 52) is not followed: sname and file
// stay names. A code that appears more than once: the first occurrence wins (RFC 3396 concatenation
// is only for options that say so, and none we read needs it). Parsing never throws and never mutates.
//
// DhcpBuilder writes a message front to back into the caller's span: the fixed part, options (longer
// ones split into 255-byte pieces as RFC 3396 allows), end, and padding to the 300-byte BOOTP minimum
// that some clients and relays still expect (RFC 1542 §2.1).
using System.Buffers.Binary;
using Switchyard.Core.Frames;

namespace Switchyard.Protocols;

/// <summary>A DHCP message with its fixed part, cookie and options checked.</summary>
public readonly ref struct DhcpMessage
{
    public const int FixedLength = 236;
    public const int OptionsOffset = 240;
    public const uint MagicCookie = 0x6382_5363;
    public const int MinimumLength = 300;
    public const ushort ServerPort = 67;
    public const ushort ClientPort = 68;

    public const byte OpRequest = 1;
    public const byte OpReply = 2;
    public const ushort FlagBroadcast = 0x8000;

    public const byte Discover = 1;
    public const byte Offer = 2;
    public const byte Request = 3;
    public const byte Decline = 4;
    public const byte Ack = 5;
    public const byte Nak = 6;
    public const byte Release = 7;
    public const byte Inform = 8;

    public const byte OptionPad = 0;
    public const byte OptionSubnetMask = 1;
    public const byte OptionRouter = 3;
    public const byte OptionDnsServers = 6;
    public const byte OptionHostname = 12;
    public const byte OptionDomainName = 15;
    public const byte OptionInterfaceMtu = 26;
    public const byte OptionBroadcastAddress = 28;
    public const byte OptionRequestedAddress = 50;
    public const byte OptionLeaseTime = 51;
    public const byte OptionMessageType = 53;
    public const byte OptionServerIdentifier = 54;
    public const byte OptionParameterRequestList = 55;
    public const byte OptionMessage = 56;
    public const byte OptionRenewalTime = 58;
    public const byte OptionRebindingTime = 59;
    public const byte OptionClientIdentifier = 61;
    public const byte OptionDomainSearch = 119;
    public const byte OptionEnd = 255;

    private readonly ReadOnlySpan<byte> message;
    private readonly int optionsEnd;

    private DhcpMessage(ReadOnlySpan<byte> message, int optionsEnd)
    {
        this.message = message;
        this.optionsEnd = optionsEnd;
    }

    public byte Op => message[0];

    public byte HardwareType => message[1];

    public byte HardwareLength => message[2];

    public byte Hops => message[3];

    public uint TransactionId => BinaryPrimitives.ReadUInt32BigEndian(message[4..]);

    public ushort Seconds => BinaryPrimitives.ReadUInt16BigEndian(message[8..]);

    public ushort Flags => BinaryPrimitives.ReadUInt16BigEndian(message[10..]);

    public bool Broadcast => (Flags & FlagBroadcast) != 0;

    public uint ClientAddress => BinaryPrimitives.ReadUInt32BigEndian(message[12..]);

    public uint YourAddress => BinaryPrimitives.ReadUInt32BigEndian(message[16..]);

    public uint ServerAddress => BinaryPrimitives.ReadUInt32BigEndian(message[20..]);

    public uint RelayAddress => BinaryPrimitives.ReadUInt32BigEndian(message[24..]);

    /// <summary>The 16-byte chaddr field.</summary>
    public ReadOnlySpan<byte> ClientHardwareAddress => message.Slice(28, 16);

    /// <summary>chaddr as an Ethernet MAC (meaningful when htype is 1 and hlen 6).</summary>
    public ulong ClientMac => Ethernet.ReadMac(message[28..]);

    /// <summary>The options area (after the cookie, up to the end option or the datagram's end).</summary>
    public ReadOnlySpan<byte> OptionBytes => message[OptionsOffset..optionsEnd];

    public DhcpOptionEnumerator Options => new(OptionBytes);

    /// <summary>The DHCP message type (option 53), or 0 when absent or not one byte long.</summary>
    public byte MessageType => TryGetOption(OptionMessageType, out ReadOnlySpan<byte> v) && v.Length == 1 ? v[0] : (byte)0;

    /// <summary>The first occurrence of option <paramref name="code"/>.</summary>
    public bool TryGetOption(byte code, out ReadOnlySpan<byte> value)
    {
        foreach (DhcpOption option in Options)
        {
            if (option.Code == code)
            {
                value = option.Value;
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>A 4-byte address option (requested address, server identifier); false when absent or not 4 bytes.</summary>
    public bool TryGetAddressOption(byte code, out uint address)
    {
        if (TryGetOption(code, out ReadOnlySpan<byte> v) && v.Length == 4)
        {
            address = BinaryPrimitives.ReadUInt32BigEndian(v);
            return true;
        }

        address = 0;
        return false;
    }

    /// <summary>Reads a DHCP message (the UDP payload); false unless the fixed part, the magic cookie and
    /// well-formed options are present and op is 1 or 2.</summary>
    public static bool TryParse(ReadOnlySpan<byte> data, out DhcpMessage message)
    {
        message = default;
        if (data.Length < OptionsOffset
            || data[0] is not (OpRequest or OpReply)
            || BinaryPrimitives.ReadUInt32BigEndian(data[FixedLength..]) != MagicCookie)
        {
            return false;
        }

        int i = OptionsOffset;
        while (i < data.Length)
        {
            byte code = data[i];
            if (code == OptionEnd)
            {
                break;
            }

            if (code == OptionPad)
            {
                i++;
                continue;
            }

            if (i + 1 >= data.Length || i + 2 + data[i + 1] > data.Length)
            {
                return false;
            }

            i += 2 + data[i + 1];
        }

        message = new DhcpMessage(data, i);
        return true;
    }
}

/// <summary>One DHCP option: code and value.</summary>
public readonly ref struct DhcpOption
{
    public DhcpOption(byte code, ReadOnlySpan<byte> value)
    {
        Code = code;
        Value = value;
    }

    public byte Code { get; }

    public ReadOnlySpan<byte> Value { get; }
}

/// <summary>Walks DHCP options, skipping pad, stopping at end or at anything that does not fit.</summary>
public ref struct DhcpOptionEnumerator
{
    private ReadOnlySpan<byte> rest;

    public DhcpOptionEnumerator(ReadOnlySpan<byte> options)
    {
        rest = options;
        Current = default;
    }

    public DhcpOption Current { get; private set; }

    public readonly DhcpOptionEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        while (!rest.IsEmpty && rest[0] == DhcpMessage.OptionPad)
        {
            rest = rest[1..];
        }

        if (rest.Length < 2 || rest[0] == DhcpMessage.OptionEnd || 2 + rest[1] > rest.Length)
        {
            rest = [];
            return false;
        }

        int length = rest[1];
        Current = new DhcpOption(rest[0], rest.Slice(2, length));
        rest = rest[(2 + length)..];
        return true;
    }
}

/// <summary>Builds a DHCP message in a caller's span. Writes past the span are refused (Overflowed).</summary>
public ref struct DhcpBuilder
{
    private readonly Span<byte> buffer;
    private int position;

    /// <summary>Starts a message: writes the fixed part and the cookie. <paramref name="buffer"/> must hold
    /// at least <see cref="DhcpMessage.MinimumLength"/> bytes.</summary>
    public DhcpBuilder(Span<byte> buffer, byte op, uint transactionId, ushort flags, uint clientAddress, uint yourAddress, uint serverAddress, uint relayAddress, ulong clientMac)
    {
        this.buffer = buffer;
        Span<byte> f = buffer[..DhcpMessage.OptionsOffset];
        f.Clear();
        f[0] = op;
        f[1] = 1;
        f[2] = Ethernet.AddressLength;
        BinaryPrimitives.WriteUInt32BigEndian(f[4..], transactionId);
        BinaryPrimitives.WriteUInt16BigEndian(f[10..], flags);
        BinaryPrimitives.WriteUInt32BigEndian(f[12..], clientAddress);
        BinaryPrimitives.WriteUInt32BigEndian(f[16..], yourAddress);
        BinaryPrimitives.WriteUInt32BigEndian(f[20..], serverAddress);
        BinaryPrimitives.WriteUInt32BigEndian(f[24..], relayAddress);
        Ethernet.WriteMac(f[28..], clientMac);
        BinaryPrimitives.WriteUInt32BigEndian(f[DhcpMessage.FixedLength..], DhcpMessage.MagicCookie);
        position = DhcpMessage.OptionsOffset;
        Overflowed = false;
    }

    /// <summary>True when an option did not fit and was left out.</summary>
    public bool Overflowed { get; private set; }

    /// <summary>Appends an option; a value over 255 bytes is split into several options of the same code (RFC 3396).</summary>
    public void Add(byte code, scoped ReadOnlySpan<byte> value)
    {
        int pieces = Math.Max(1, (value.Length + 254) / 255);
        if (position + value.Length + (2 * pieces) + 1 > buffer.Length)
        {
            Overflowed = true;
            return;
        }

        do
        {
            int n = Math.Min(255, value.Length);
            buffer[position] = code;
            buffer[position + 1] = (byte)n;
            value[..n].CopyTo(buffer[(position + 2)..]);
            position += 2 + n;
            value = value[n..];
        }
        while (!value.IsEmpty);
    }

    public void AddByte(byte code, byte value) => Add(code, [value]);

    public void AddUInt16(byte code, ushort value)
    {
        Span<byte> v = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(v, value);
        Add(code, v);
    }

    public void AddUInt32(byte code, uint value)
    {
        Span<byte> v = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(v, value);
        Add(code, v);
    }

    /// <summary>Appends an ASCII string option (non-ASCII characters become '?'); strings over 255 are split.</summary>
    public void AddAscii(byte code, string value)
    {
        Span<byte> v = stackalloc byte[Math.Min(value.Length, 1024)];
        for (int i = 0; i < v.Length; i++)
        {
            char c = value[i];
            v[i] = c < 0x80 ? (byte)c : (byte)'?';
        }

        Add(code, v);
    }

    /// <summary>Writes the end option and pads to the BOOTP minimum; returns the message length.</summary>
    public int Finish()
    {
        if (position < buffer.Length)
        {
            buffer[position++] = DhcpMessage.OptionEnd;
        }

        if (position < DhcpMessage.MinimumLength && buffer.Length >= DhcpMessage.MinimumLength)
        {
            buffer[position..DhcpMessage.MinimumLength].Clear();
            position = DhcpMessage.MinimumLength;
        }

        return position;
    }
}

/// <summary>Domain lists in DNS wire format, as DHCP option 119 (RFC 3397), DHCPv6 option 24 and the
/// RA DNSSL option carry them. Without compression (RFC 3397 allows it; we need not use it).</summary>
public static class DhcpDomainSearch
{
    /// <summary>Encodes each name as length-prefixed labels ending in a zero byte. Empty labels (from
    /// "a..b") and a trailing dot are skipped; labels over 63 bytes are cut to 63; non-ASCII characters
    /// become '?'. Control plane only (allocates).</summary>
    public static byte[] Encode(IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var output = new List<byte>();
        foreach (string name in names)
        {
            int before = output.Count;
            foreach (string label in name.Split('.', StringSplitOptions.RemoveEmptyEntries))
            {
                int n = Math.Min(label.Length, 63);
                output.Add((byte)n);
                for (int i = 0; i < n; i++)
                {
                    output.Add(label[i] < 0x80 ? (byte)label[i] : (byte)'?');
                }
            }

            if (output.Count > before)
            {
                output.Add(0);
            }
        }

        return [.. output];
    }
}
