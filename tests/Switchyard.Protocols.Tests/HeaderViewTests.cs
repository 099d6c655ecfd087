// Header views: TryParse accepts exactly what the RFC layouts allow and rejects every length that
// lies, without throwing; accessors read the right fields.
using System.Buffers.Binary;
using static Switchyard.Protocols.Tests.TestPackets;

namespace Switchyard.Protocols.Tests;

public sealed class HeaderViewTests
{
    [Fact]
    public void Ethernet_TaggedFrame_L3StartsAfterTheTag()
    {
        var p = Build(new PacketSpec { Tag = 0x2005 });

        Assert.True(EthernetHeader.TryParse(p.Frame, out EthernetHeader eth));
        Assert.True(eth.IsTagged);
        Assert.Equal(18, eth.Length);
        Assert.Equal(0x0800, eth.EtherType);
    }

    [Fact]
    public void Ethernet_TooShortForHeaderOrTag_Rejected()
    {
        Assert.False(EthernetHeader.TryParse(new byte[13], out _));
        byte[] tagged = new byte[17];
        tagged[12] = 0x81;
        Assert.False(EthernetHeader.TryParse(tagged, out _));
    }

    [Fact]
    public void IPv4_WellFormed_FieldsRead()
    {
        var p = Build(new PacketSpec { IPv4OptionsLength = 8, Padding = 6 });

        Assert.True(IPv4Header.TryParse(p.Frame.AsSpan(p.L3), out IPv4Header ip));
        Assert.Equal(28, ip.HeaderLength);
        Assert.Equal(p.End - p.L3, ip.TotalLength);
        Assert.Equal(6, ip.Protocol);
        Assert.Equal(0xBEEF, ip.Identification);
        Assert.False(ip.IsFragment);
        Assert.True(ip.Source.SequenceEqual(SourceIPv4));
        Assert.Equal(p.End - p.L4, ip.Payload.Length);
    }

    [Theory]
    [InlineData("version 6", 0, 0x65)]
    [InlineData("IHL 4 (below the 20-byte minimum)", 0, 0x44)]
    [InlineData("IHL 15 (60 bytes, past a 20+20-byte packet)", 0, 0x4F)]
    [InlineData("total length below the header", 3, 19)]
    [InlineData("total length past the data", 3, 41)]
    public void IPv4_LyingLengths_Rejected(string rule, int offset, int value)
    {
        byte[] packet = new byte[40];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), 40);
        packet[offset] = (byte)value;

        Assert.True(!IPv4Header.TryParse(packet, out _), rule);
    }

    [Fact]
    public void IPv4_ShorterThanFixedHeader_Rejected() => Assert.False(IPv4Header.TryParse(new byte[19], out _));

    [Fact]
    public void IPv4_MoreFragmentsOrOffset_IsFragment()
    {
        var p = Build(new PacketSpec());
        byte[] mf = (byte[])p.Frame.Clone();
        mf[p.L3 + 6] |= 0x20;
        byte[] offset = (byte[])p.Frame.Clone();
        offset[p.L3 + 7] = 1;

        Assert.True(IPv4Header.TryParse(mf.AsSpan(p.L3), out IPv4Header a) && a.IsFragment);
        Assert.True(IPv4Header.TryParse(offset.AsSpan(p.L3), out IPv4Header b) && b.IsFragment);
    }

    [Fact]
    public void IPv6_WellFormed_PaddingExcluded()
    {
        var p = Build(new PacketSpec { IPv6 = true, Padding = 10 });

        Assert.True(IPv6Header.TryParse(p.Frame.AsSpan(p.L3), out IPv6Header ip));
        Assert.Equal(p.End - p.L4, ip.PayloadLength);
        Assert.Equal(6, ip.NextHeader);
        Assert.True(ip.Destination.SequenceEqual(DestinationIPv6));
    }

    [Fact]
    public void IPv6_WrongVersionShortOrPayloadPastData_Rejected()
    {
        var p = Build(new PacketSpec { IPv6 = true });
        byte[] v4 = (byte[])p.Frame.Clone();
        v4[p.L3] = 0x40;
        byte[] longer = (byte[])p.Frame.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(longer.AsSpan(p.L3 + 4), (ushort)(p.End - p.L4 + 1));

        Assert.False(IPv6Header.TryParse(v4.AsSpan(p.L3), out _));
        Assert.False(IPv6Header.TryParse(longer.AsSpan(p.L3), out _));
        Assert.False(IPv6Header.TryParse(new byte[39], out _));
    }

    [Fact]
    public void Tcp_WellFormed_FieldsRead()
    {
        var p = Build(new PacketSpec { Sequence = 0xFFFF_FFF0, TcpFlags = 0x19 });

        Assert.True(TcpHeader.TryParse(p.Frame.AsSpan(p.L4, p.End - p.L4), out TcpHeader tcp));
        Assert.Equal(32, tcp.HeaderLength);
        Assert.Equal(0xFFFF_FFF0u, tcp.SequenceNumber);
        Assert.Equal(0x19, tcp.Flags);
        Assert.Equal(443, tcp.DestinationPort);
        Assert.Equal(p.PayloadLength, tcp.Payload.Length);
    }

    [Theory]
    [InlineData(19, 0x50)] // shorter than the fixed header
    [InlineData(40, 0x40)] // data offset 4: below the minimum
    [InlineData(40, 0xB0)] // data offset 11 = 44 bytes: past the segment
    public void Tcp_LyingDataOffsetOrShort_Rejected(int length, int dataOffsetByte)
    {
        byte[] segment = new byte[length];
        if (length > 12)
        {
            segment[12] = (byte)dataOffsetByte;
        }

        Assert.False(TcpHeader.TryParse(segment, out _));
    }

    [Fact]
    public void Udp_ShorterThanHeader_RejectedAndLengthFieldNotTrusted()
    {
        Assert.False(UdpHeader.TryParse(new byte[7], out _));
        byte[] datagram = new byte[20];
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(4), 9999);

        Assert.True(UdpHeader.TryParse(datagram, out UdpHeader udp));
        Assert.Equal(9999, udp.LengthField);
        Assert.Equal(12, udp.Payload.Length);
    }
}
