// An IPv4 or IPv6 address as a value, for flow keys and lease tables.
//
// Theory of operation: System.Net.IPAddress is a class, so keying a flow table on it would allocate
// per packet. IpAddr holds the 16 bytes of an IPv6 address in two ulongs (IPv4 as the v4-mapped
// ::ffff:a.b.c.d), compares and hashes as a value, and converts to and from IPAddress only on the
// control plane (configuration, sockets, tables shown to users).
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Switchyard.Protocols;

/// <summary>An IPv4 (v4-mapped) or IPv6 address held by value.</summary>
public readonly record struct IpAddr(ulong High, ulong Low)
{
    private const ulong V4MappedHigh = 0;
    private const ulong V4MappedLowPrefix = 0x0000_FFFF_0000_0000UL;

    public static IpAddr None => default;

    /// <summary>True for an IPv4 address (stored v4-mapped).</summary>
    public bool IsV4 => High == V4MappedHigh && (Low & 0xFFFF_FFFF_0000_0000UL) == V4MappedLowPrefix;

    /// <summary>The IPv4 address as a big-endian-read 32-bit number (10.0.2.2 = 0x0A000202).</summary>
    public uint V4 => (uint)Low;

    public static IpAddr FromV4(uint address) => new(V4MappedHigh, V4MappedLowPrefix | address);

    /// <summary>Reads 4 (IPv4) or 16 (IPv6) bytes in network order.</summary>
    public static IpAddr Read(ReadOnlySpan<byte> bytes) => bytes.Length switch
    {
        4 => FromV4(BinaryPrimitives.ReadUInt32BigEndian(bytes)),
        16 => new(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..])),
        _ => throw new ArgumentException("an IP address is 4 or 16 bytes", nameof(bytes)),
    };

    /// <summary>Writes the address in network order: 4 bytes for IPv4, 16 for IPv6. Returns the length.</summary>
    public int WriteTo(Span<byte> destination)
    {
        if (IsV4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination, V4);
            return 4;
        }

        BinaryPrimitives.WriteUInt64BigEndian(destination, High);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Low);
        return 16;
    }

    /// <summary>Address length on the wire: 4 or 16.</summary>
    public int Length => IsV4 ? 4 : 16;

    public static IpAddr From(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out int written);
        return Read(bytes[..written]);
    }

    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        int n = WriteTo(bytes);
        return new IPAddress(bytes[..n]);
    }

    public AddressFamily Family => IsV4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;

    public bool IsLoopback => IsV4 ? (V4 >> 24) == 127 : High == 0 && Low == 1;

    public bool IsUnspecified => IsV4 ? V4 == 0 : High == 0 && Low == 0;

    /// <summary>IPv4 limited/255.x broadcast or any IPv4/IPv6 multicast.</summary>
    public bool IsMulticastOrBroadcast => IsV4 ? V4 == 0xFFFF_FFFF || (V4 >> 28) == 0xE : (High >> 56) == 0xFF;

    /// <summary>fe80::/10.</summary>
    public bool IsLinkLocalV6 => !IsV4 && (High >> 54) == (0xFE80UL >> 6);

    public override string ToString() => ToIPAddress().ToString();
}
