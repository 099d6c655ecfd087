// ARP (RFC 826) for Ethernet and IPv4 only: a read-only view and a builder.
//
// Theory of operation: TryParse checks once that the packet is at least 28 bytes and that it is the one
// combination a virtual Ethernet carries (hardware type 1, protocol type 0x0800, address lengths 6 and
// 4, operation request or reply); every property then reads at a fixed offset. Anything else (other
// hardware, RARP, trailing Ethernet padding aside) is not ARP we speak and TryParse says false. Parsing
// never throws and never mutates. The builder writes the same 28 bytes.
using System.Buffers.Binary;
using Switchyard.Core.Frames;

namespace Switchyard.Protocols;

/// <summary>An Ethernet/IPv4 ARP packet (RFC 826).</summary>
public readonly ref struct ArpPacket
{
    public const int Length = 28;
    public const ushort HardwareTypeEthernet = 1;
    public const ushort OperationRequest = 1;
    public const ushort OperationReply = 2;

    private const int OperationOffset = 6;
    private const int SenderHardwareOffset = 8;
    private const int SenderProtocolOffset = 14;
    private const int TargetHardwareOffset = 18;
    private const int TargetProtocolOffset = 24;

    private readonly ReadOnlySpan<byte> packet;

    private ArpPacket(ReadOnlySpan<byte> packet) => this.packet = packet;

    public ushort Operation => BinaryPrimitives.ReadUInt16BigEndian(packet[OperationOffset..]);

    public bool IsRequest => Operation == OperationRequest;

    public ulong SenderMac => Ethernet.ReadMac(packet[SenderHardwareOffset..]);

    /// <summary>Sender IPv4 address as a number (10.0.2.15 = 0x0A00020F).</summary>
    public uint SenderIp => BinaryPrimitives.ReadUInt32BigEndian(packet[SenderProtocolOffset..]);

    public ulong TargetMac => Ethernet.ReadMac(packet[TargetHardwareOffset..]);

    public uint TargetIp => BinaryPrimitives.ReadUInt32BigEndian(packet[TargetProtocolOffset..]);

    /// <summary>Reads an ARP packet (the Ethernet payload, padding allowed after it); false unless it is
    /// an Ethernet/IPv4 request or reply of at least 28 bytes.</summary>
    public static bool TryParse(ReadOnlySpan<byte> data, out ArpPacket packet)
    {
        packet = default;
        if (data.Length < Length
            || BinaryPrimitives.ReadUInt16BigEndian(data) != HardwareTypeEthernet
            || BinaryPrimitives.ReadUInt16BigEndian(data[2..]) != Ethernet.EtherTypeIPv4
            || data[4] != Ethernet.AddressLength
            || data[5] != 4)
        {
            return false;
        }

        ushort op = BinaryPrimitives.ReadUInt16BigEndian(data[OperationOffset..]);
        if (op is not (OperationRequest or OperationReply))
        {
            return false;
        }

        packet = new ArpPacket(data[..Length]);
        return true;
    }
}

/// <summary>Writes Ethernet/IPv4 ARP packets.</summary>
public static class ArpBuilder
{
    /// <summary>Writes a 28-byte ARP packet at the start of <paramref name="at"/>; returns 28.</summary>
    public static int Write(Span<byte> at, ushort operation, ulong senderMac, uint senderIp, ulong targetMac, uint targetIp)
    {
        Span<byte> p = at[..ArpPacket.Length];
        BinaryPrimitives.WriteUInt16BigEndian(p, ArpPacket.HardwareTypeEthernet);
        BinaryPrimitives.WriteUInt16BigEndian(p[2..], Ethernet.EtherTypeIPv4);
        p[4] = Ethernet.AddressLength;
        p[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(p[6..], operation);
        Ethernet.WriteMac(p[8..], senderMac);
        BinaryPrimitives.WriteUInt32BigEndian(p[14..], senderIp);
        Ethernet.WriteMac(p[18..], targetMac);
        BinaryPrimitives.WriteUInt32BigEndian(p[24..], targetIp);
        return ArpPacket.Length;
    }
}
