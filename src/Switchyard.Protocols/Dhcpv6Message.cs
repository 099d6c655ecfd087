// DHCPv6 (RFC 8415) messages: a read-only view of the client/server message format and a builder.
//
// Theory of operation: a client/server message is msg-type (1 byte), transaction-id (3 bytes) and
// options, each option-code (2), option-len (2) and the value (RFC 8415 §8, §21.1). TryParse checks
// once that the 4-byte header is present and that the options exactly tile the rest of the message;
// after that every option read is in bounds. Relay messages (types 12 and 13) have another layout and
// are rejected: the gateway is the only server on its link and no relay sits between. A code that
// appears more than once: the first wins. Parsing never throws and never mutates.
using System.Buffers.Binary;

namespace Switchyard.Protocols;

/// <summary>A DHCPv6 client/server message with its options checked to fit.</summary>
public readonly ref struct Dhcpv6Message
{
    public const int HeaderLength = 4;
    public const ushort ClientPort = 546;
    public const ushort ServerPort = 547;

    public const byte Solicit = 1;
    public const byte Advertise = 2;
    public const byte Request = 3;
    public const byte Confirm = 4;
    public const byte Renew = 5;
    public const byte Rebind = 6;
    public const byte Reply = 7;
    public const byte Release = 8;
    public const byte Decline = 9;
    public const byte Reconfigure = 10;
    public const byte InformationRequest = 11;
    public const byte RelayForward = 12;
    public const byte RelayReply = 13;

    public const ushort OptionClientId = 1;
    public const ushort OptionServerId = 2;
    public const ushort OptionIaNa = 3;
    public const ushort OptionIaTa = 4;
    public const ushort OptionOptionRequest = 6;
    public const ushort OptionElapsedTime = 8;
    public const ushort OptionStatusCode = 13;
    public const ushort OptionRapidCommit = 14;
    public const ushort OptionDnsServers = 23;
    public const ushort OptionDomainList = 24;
    public const ushort OptionIaPd = 25;
    public const ushort OptionInformationRefreshTime = 32;

    public const ushort StatusNoAddrsAvail = 2;
    public const ushort StatusNoPrefixAvail = 6;

    private readonly ReadOnlySpan<byte> message;

    private Dhcpv6Message(ReadOnlySpan<byte> message) => this.message = message;

    public byte MessageType => message[0];

    /// <summary>The 24-bit transaction id.</summary>
    public uint TransactionId => ((uint)message[1] << 16) | ((uint)message[2] << 8) | message[3];

    public Dhcpv6OptionEnumerator Options => new(message[HeaderLength..]);

    public bool TryGetOption(ushort code, out ReadOnlySpan<byte> value)
    {
        foreach (Dhcpv6Option option in Options)
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

    /// <summary>Reads a client/server DHCPv6 message; false when shorter than 4 bytes, a relay message,
    /// or when the options do not exactly fill the message.</summary>
    public static bool TryParse(ReadOnlySpan<byte> data, out Dhcpv6Message message)
    {
        message = default;
        if (data.Length < HeaderLength || data[0] is 0 or RelayForward or RelayReply)
        {
            return false;
        }

        ReadOnlySpan<byte> rest = data[HeaderLength..];
        while (!rest.IsEmpty)
        {
            if (rest.Length < 4)
            {
                return false;
            }

            int length = BinaryPrimitives.ReadUInt16BigEndian(rest[2..]);
            if (4 + length > rest.Length)
            {
                return false;
            }

            rest = rest[(4 + length)..];
        }

        message = new Dhcpv6Message(data);
        return true;
    }
}

/// <summary>One DHCPv6 option.</summary>
public readonly ref struct Dhcpv6Option
{
    public Dhcpv6Option(ushort code, ReadOnlySpan<byte> value)
    {
        Code = code;
        Value = value;
    }

    public ushort Code { get; }

    public ReadOnlySpan<byte> Value { get; }
}

/// <summary>Walks DHCPv6 options; stops at anything that does not fit.</summary>
public ref struct Dhcpv6OptionEnumerator
{
    private ReadOnlySpan<byte> rest;

    public Dhcpv6OptionEnumerator(ReadOnlySpan<byte> options)
    {
        rest = options;
        Current = default;
    }

    public Dhcpv6Option Current { get; private set; }

    public readonly Dhcpv6OptionEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (rest.Length < 4)
        {
            rest = [];
            return false;
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(rest[2..]);
        if (4 + length > rest.Length)
        {
            rest = [];
            return false;
        }

        Current = new Dhcpv6Option(BinaryPrimitives.ReadUInt16BigEndian(rest), rest.Slice(4, length));
        rest = rest[(4 + length)..];
        return true;
    }
}

/// <summary>Builds a DHCPv6 message in a caller's span. Options that do not fit are left out (Overflowed).</summary>
public ref struct Dhcpv6Builder
{
    private readonly Span<byte> buffer;
    private int position;

    public Dhcpv6Builder(Span<byte> buffer, byte messageType, uint transactionId)
    {
        this.buffer = buffer;
        buffer[0] = messageType;
        buffer[1] = (byte)(transactionId >> 16);
        buffer[2] = (byte)(transactionId >> 8);
        buffer[3] = (byte)transactionId;
        position = Dhcpv6Message.HeaderLength;
        Overflowed = false;
    }

    public bool Overflowed { get; private set; }

    public readonly int Length => position;

    public void Add(ushort code, scoped ReadOnlySpan<byte> value)
    {
        if (value.Length > ushort.MaxValue || position + 4 + value.Length > buffer.Length)
        {
            Overflowed = true;
            return;
        }

        BinaryPrimitives.WriteUInt16BigEndian(buffer[position..], code);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[(position + 2)..], (ushort)value.Length);
        value.CopyTo(buffer[(position + 4)..]);
        position += 4 + value.Length;
    }

    /// <summary>Appends an option whose value is a list of IPv6 addresses (DNS servers, option 23).</summary>
    public void AddAddresses(ushort code, scoped ReadOnlySpan<IpAddr> addresses)
    {
        Span<byte> v = stackalloc byte[16 * Math.Min(addresses.Length, 16)];
        for (int i = 0; i < v.Length / 16; i++)
        {
            addresses[i].WriteTo(v[(16 * i)..]);
        }

        Add(code, v);
    }

    /// <summary>Appends a status code option (RFC 8415 §21.13) with an ASCII message.</summary>
    public void AddStatus(ushort status, string text)
    {
        Span<byte> v = stackalloc byte[2 + Math.Min(text.Length, 128)];
        BinaryPrimitives.WriteUInt16BigEndian(v, status);
        for (int i = 2; i < v.Length; i++)
        {
            char c = text[i - 2];
            v[i] = c < 0x80 ? (byte)c : (byte)'?';
        }

        Add(Dhcpv6Message.OptionStatusCode, v);
    }
}
