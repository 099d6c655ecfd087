// A read-only view of an Ethernet II header with at most one 802.1Q tag.
//
// Theory of operation: TryParse checks once that the frame holds the header (14 bytes, or 18 when
// the EtherType is the 802.1Q TPID) and then every property reads at a named offset with no further
// checks. A second tag (QinQ) is not looked through: EtherType then reports 0x8100 or 0x88A8 and a
// caller that wants IPv4 or IPv6 sees that it has neither. Parsing never throws and never mutates
// (STYLE.md habit 6).
using System.Buffers.Binary;
using Switchyard.Core.Frames;

namespace Switchyard.Protocols;

/// <summary>Where the L3 packet of a frame starts and what it is.</summary>
public readonly ref struct EthernetHeader
{
    private readonly ReadOnlySpan<byte> frame;

    private EthernetHeader(ReadOnlySpan<byte> frame, bool tagged)
    {
        this.frame = frame;
        IsTagged = tagged;
    }

    /// <summary>True when the frame carries an 802.1Q tag after the source address.</summary>
    public bool IsTagged { get; }

    /// <summary>Bytes before the L3 packet: 14, or 18 with a tag.</summary>
    public int Length => IsTagged ? Ethernet.HeaderLength + Ethernet.VlanTagLength : Ethernet.HeaderLength;

    /// <summary>The EtherType of the payload (the one after the tag, when tagged).</summary>
    public ushort EtherType => BinaryPrimitives.ReadUInt16BigEndian(frame[(Length - 2)..]);

    /// <summary>Everything after the header (the L3 packet, plus any Ethernet padding).</summary>
    public ReadOnlySpan<byte> Payload => frame[Length..];

    /// <summary>Reads the header of <paramref name="frame"/>; false when the frame is too short for it.</summary>
    public static bool TryParse(ReadOnlySpan<byte> frame, out EthernetHeader header)
    {
        header = default;
        if (frame.Length < Ethernet.HeaderLength)
        {
            return false;
        }

        bool tagged = BinaryPrimitives.ReadUInt16BigEndian(frame[Ethernet.EtherTypeOffset..]) == Ethernet.EtherTypeVlan;
        if (tagged && frame.Length < Ethernet.HeaderLength + Ethernet.VlanTagLength)
        {
            return false;
        }

        header = new EthernetHeader(frame, tagged);
        return true;
    }
}
