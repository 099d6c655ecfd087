// The few Ethernet facts the frame model itself needs: where the addresses are and where an 802.1Q
// tag goes. Full header parsing lives in Switchyard.Protocols.
using System.Buffers.Binary;

namespace Switchyard.Core.Frames;

/// <summary>Ethernet II / 802.1Q layout constants and tag arithmetic.</summary>
public static class Ethernet
{
    /// <summary>Destination + source MAC + EtherType.</summary>
    public const int HeaderLength = 14;

    /// <summary>An 802.1Q tag: TPID 0x8100 then the tag control information.</summary>
    public const int VlanTagLength = 4;

    public const int AddressLength = 6;
    public const int EtherTypeOffset = 12;
    public const ushort EtherTypeVlan = 0x8100;
    public const ushort EtherTypeIPv4 = 0x0800;
    public const ushort EtherTypeArp = 0x0806;
    public const ushort EtherTypeIPv6 = 0x86DD;

    /// <summary>Largest VLAN id usable on a port (0 means priority-tagged, 4095 is reserved).</summary>
    public const ushort MaxVlanId = 4094;

    /// <summary>The 48-bit destination address as a number (first byte most significant).</summary>
    public static ulong Destination(ReadOnlySpan<byte> frame) => ReadMac(frame);

    /// <summary>The 48-bit source address as a number.</summary>
    public static ulong Source(ReadOnlySpan<byte> frame) => ReadMac(frame[AddressLength..]);

    /// <summary>Group bit (I/G) of a MAC address: broadcast and multicast.</summary>
    public static bool IsGroup(ulong mac) => (mac & 0x0100_0000_0000UL) != 0;

    public static ulong ReadMac(ReadOnlySpan<byte> at) =>
        ((ulong)BinaryPrimitives.ReadUInt16BigEndian(at) << 32) | BinaryPrimitives.ReadUInt32BigEndian(at[2..]);

    public static void WriteMac(Span<byte> at, ulong mac)
    {
        BinaryPrimitives.WriteUInt16BigEndian(at, (ushort)(mac >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(at[2..], (uint)mac);
    }

    public static string FormatMac(ulong mac) => string.Create(17, mac, static (span, m) =>
    {
        const string hex = "0123456789abcdef";
        for (int i = 0; i < 6; i++)
        {
            byte b = (byte)(m >> (40 - (8 * i)));
            span[i * 3] = hex[b >> 4];
            span[(i * 3) + 1] = hex[b & 0xF];
            if (i < 5)
            {
                span[(i * 3) + 2] = ':';
            }
        }
    });

    /// <summary>True when the frame carries an 802.1Q tag (and is long enough to hold it).</summary>
    public static bool IsTagged(ReadOnlySpan<byte> frame) =>
        frame.Length >= HeaderLength + VlanTagLength
        && BinaryPrimitives.ReadUInt16BigEndian(frame[EtherTypeOffset..]) == EtherTypeVlan;

    /// <summary>The tag control information (PCP, DEI, VID) of a tagged frame.</summary>
    public static ushort TagControl(ReadOnlySpan<byte> frame) =>
        BinaryPrimitives.ReadUInt16BigEndian(frame[(EtherTypeOffset + 2)..]);
}
