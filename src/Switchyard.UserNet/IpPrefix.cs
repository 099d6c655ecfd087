// An address prefix (10.0.2.0/24, fd00::/64) and the mask arithmetic on it, written once: the gateway's
// DHCP pool, its broadcast checks, the config validation and netmask parsing all ask this type.
//
// Shifts in C# take the count modulo the width (uint.MaxValue << 32 is uint.MaxValue), so every mask
// below treats length 0 and the full width explicitly.
using Switchyard.Protocols;

namespace Switchyard.UserNet;

/// <summary>An address prefix: 10.0.2.0/24, fd00::/64.</summary>
public readonly record struct IpPrefix(IpAddr Address, int Length)
{
    /// <summary>The IPv4 netmask of a prefix length (0 → 0.0.0.0, 32 or more → 255.255.255.255).</summary>
    public static uint V4Mask(int length) => length <= 0 ? 0 : length >= 32 ? uint.MaxValue : uint.MaxValue << (32 - length);

    /// <summary>The prefix length of an IPv4 netmask, or null when the mask's ones are not contiguous
    /// (255.255.0.255).</summary>
    public static int? V4LengthOf(uint mask)
    {
        int ones = System.Numerics.BitOperations.PopCount(mask);
        return V4Mask(ones) == mask ? ones : null;
    }

    /// <summary>This IPv4 prefix's netmask.</summary>
    public uint Mask4 => V4Mask(Length);

    /// <summary>The first address of this IPv4 prefix (its host bits cleared).</summary>
    public IpAddr NetworkAddress => IpAddr.FromV4(Address.V4 & Mask4);

    /// <summary>The last (broadcast) address of this IPv4 prefix.</summary>
    public IpAddr BroadcastAddress => IpAddr.FromV4((Address.V4 & Mask4) | ~Mask4);

    /// <summary>True when <paramref name="address"/> is inside this prefix (same family).</summary>
    public bool Contains(IpAddr address)
    {
        if (address.IsV4 != Address.IsV4)
        {
            return false;
        }

        if (Address.IsV4)
        {
            return (address.V4 & Mask4) == (Address.V4 & Mask4);
        }

        ulong highMask = Length >= 64 ? ulong.MaxValue : Length <= 0 ? 0 : ulong.MaxValue << (64 - Length);
        ulong lowMask = Length <= 64 ? 0 : Length >= 128 ? ulong.MaxValue : ulong.MaxValue << (128 - Length);
        return (address.High & highMask) == (Address.High & highMask) && (address.Low & lowMask) == (Address.Low & lowMask);
    }

    public override string ToString() => $"{Address}/{Length}";
}
