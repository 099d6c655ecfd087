// A LinkServices on a ManualLoop with a link that records what it sends, and builders for the frames
// guests send. Deliver() does what NatGateway's dispatcher does before it calls the link services
// (Ethernet, IP header checks, Learn), so the tests drive LinkServices with whole frames.
using System.Buffers.Binary;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Core.Frames;
using Switchyard.Protocols;
using Switchyard.TestKit;

namespace Switchyard.UserNet.Tests.Link;

internal sealed class RecordingLink : IGuestLink
{
    public List<byte[]> Frames { get; } = [];

    public void Send(ReadOnlySpan<byte> frame, in OffloadInfo offload) => Frames.Add(frame.ToArray());
}

/// <summary>The link services never open host sockets; any call is a test failure.</summary>
internal sealed class NoHostNetwork : IHostNetwork
{
    public IHostTcpSocket? ConnectTcp(IpAddr address, ushort port, IHostSocketOwner owner, out int errno) => throw new NotSupportedException();

    public IHostDatagramSocket? OpenUdp(IpAddr address, ushort port, IHostSocketOwner owner, out int errno) => throw new NotSupportedException();

    public IHostDatagramSocket? OpenPing(bool v6, IHostSocketOwner owner, out int errno) => throw new NotSupportedException();

    public IHostTcpListener ListenTcp(IpAddr address, ushort port, IHostSocketOwner owner) => throw new NotSupportedException();

    public IHostDatagramSocket BindUdp(IpAddr address, ushort port, IHostSocketOwner owner) => throw new NotSupportedException();
}

internal sealed class LinkHarness
{
    public const ulong GuestMac = 0x5254_0012_3456UL;
    public static readonly IpAddr Gateway = IpAddr.FromV4(0x0A00_0202);
    public static readonly IpAddr Dns = IpAddr.FromV4(0x0A00_0203);
    public static readonly IpAddr Guest = IpAddr.FromV4(0x0A00_020F);
    public static readonly IpAddr Broadcast = IpAddr.FromV4(0xFFFF_FFFF);
    public static readonly IpAddr Host6 = new(0xFD00_0000_0000_0000UL, 2);
    public static readonly IpAddr Guest6 = new(0xFD00_0000_0000_0000UL, 0x5054_00FF_FE12_3456UL);
    public static readonly IpAddr GuestLinkLocal = new(0xFE80_0000_0000_0000UL, 0x5054_00FF_FE12_3456UL);
    public static readonly IpAddr AllNodes = new(0xFF02_0000_0000_0000UL, 1);
    public static readonly IpAddr AllRouters = new(0xFF02_0000_0000_0000UL, 2);
    public static readonly IpAddr AllDhcp = new(0xFF02_0000_0000_0000UL, 0x0001_0002);

    /// <summary>fe80::5055:aff:fe00:202, the EUI-64 link-local of 52:55:0a:00:02:02.</summary>
    public static readonly IpAddr GatewayLinkLocal = new(0xFE80_0000_0000_0000UL, 0x5055_0AFF_FE00_0202UL);

    public LinkHarness(GatewayOptions? options = null)
    {
        Options = options ?? GatewayOptions.Default;
        Context = new GatewayContext(Options, Link, new NoHostNetwork(), Loop, NullLogger.Instance);
        Services = new LinkServices(Context);
    }

    public GatewayOptions Options { get; }

    public ManualLoop Loop { get; } = new();

    public RecordingLink Link { get; } = new();

    public GatewayContext Context { get; }

    public LinkServices Services { get; }

    public GatewayCounters Counters => Context.Counters;

    public List<byte[]> Sent => Link.Frames;

    /// <summary>Frames sent since the last call.</summary>
    public List<byte[]> Take()
    {
        var copy = new List<byte[]>(Link.Frames);
        Link.Frames.Clear();
        return copy;
    }

    public byte[] TakeOne()
    {
        List<byte[]> frames = Take();
        Assert.Single(frames);
        return frames[0];
    }

    /// <summary>The switch port the next frames come in on (GuestPacket.IngressPort).</summary>
    public int IngressPort { get; set; } = 1;

    /// <summary>Feeds a whole frame as NatGateway would. Returns TryHandle's answer (ARP: true).</summary>
    public bool Deliver(byte[] frame, bool checksumTrusted = false)
    {
        Assert.True(EthernetHeader.TryParse(frame, out EthernetHeader eth));
        ulong sourceMac = Ethernet.Source(frame);
        switch (eth.EtherType)
        {
            case Ethernet.EtherTypeArp:
                Services.OnArp(sourceMac, eth.Payload);
                return true;
            case Ethernet.EtherTypeIPv4:
            {
                Assert.True(IPv4Header.TryParse(eth.Payload, out IPv4Header ip));
                var source = IpAddr.Read(ip.Source);
                if (!source.IsUnspecified && Context.Plan.IsGuestSide(source))
                {
                    Services.Learn(sourceMac, source);
                }

                var packet = new GuestPacket(sourceMac, source, IpAddr.Read(ip.Destination), ip.Protocol, ip.TimeToLive, ip.Datagram, ip.Payload, checksumTrusted) { IngressPort = IngressPort };
                return Services.TryHandle(in packet);
            }

            case Ethernet.EtherTypeIPv6:
            {
                Assert.True(IPv6Header.TryParse(eth.Payload, out IPv6Header ip));
                var source = IpAddr.Read(ip.Source);
                if (!source.IsUnspecified)
                {
                    Services.Learn(sourceMac, source);
                }

                var packet = new GuestPacket(sourceMac, source, IpAddr.Read(ip.Destination), ip.NextHeader, eth.Payload[7], eth.Payload[..(40 + ip.PayloadLength)], ip.Payload, checksumTrusted) { IngressPort = IngressPort };
                return Services.TryHandle(in packet);
            }

            default:
                throw new InvalidOperationException("unexpected EtherType");
        }
    }

    public static byte[] ArpFrame(ushort op, ulong senderMac, uint senderIp, ulong targetMac, uint targetIp, ulong destinationMac = 0xFFFF_FFFF_FFFFUL)
    {
        var frame = new byte[60];
        PacketWriter.WriteEthernet(frame, destinationMac, senderMac, Ethernet.EtherTypeArp);
        ArpBuilder.Write(frame.AsSpan(14), op, senderMac, senderIp, targetMac, targetIp);
        return frame;
    }

    public static byte[] UdpFrame(ulong sourceMac, ulong destinationMac, IpAddr source, ushort sourcePort, IpAddr destination, ushort destinationPort, ReadOnlySpan<byte> payload)
    {
        bool v6 = !source.IsV4;
        var frame = new byte[PacketWriter.UdpPayloadOffset(v6) + payload.Length];
        payload.CopyTo(frame.AsSpan(PacketWriter.UdpPayloadOffset(v6)));
        int n = PacketWriter.WriteUdpFrame(frame, destinationMac, sourceMac, source, sourcePort, destination, destinationPort, payload.Length);
        Assert.Equal(frame.Length, n);
        return frame;
    }

    /// <summary>An ICMP or ICMPv6 frame around <paramref name="icmp"/> (checksum computed unless told not to).</summary>
    public static byte[] IcmpFrame(ulong sourceMac, ulong destinationMac, IpAddr source, IpAddr destination, ReadOnlySpan<byte> icmp, byte ttl = 64, bool fixChecksum = true)
    {
        bool v6 = !source.IsV4;
        var frame = new byte[PacketWriter.L4Offset(v6) + icmp.Length];
        Span<byte> l4 = frame.AsSpan(PacketWriter.L4Offset(v6));
        icmp.CopyTo(l4);
        if (fixChecksum && icmp.Length >= 4)
        {
            IcmpBuilder.WriteChecksum(l4, source, destination);
        }

        PacketWriter.WriteEthernetAndIp(frame, destinationMac, sourceMac, source, destination, v6 ? PacketWriter.ProtocolIcmpV6 : PacketWriter.ProtocolIcmp, icmp.Length, 7, ttl);
        return frame;
    }

    /// <summary>A DHCP request message from <paramref name="mac"/>, as a broadcast frame (or unicast when ciaddr is set).</summary>
    public static byte[] DhcpFrame(ulong mac, byte type, uint xid = 0x1234_5678, uint ciaddr = 0, uint requested = 0, uint serverId = 0, string? hostname = null, ushort flags = 0)
    {
        var payload = new byte[600];
        var b = new DhcpBuilder(payload, DhcpMessage.OpRequest, xid, flags, ciaddr, 0, 0, 0, mac);
        b.AddByte(DhcpMessage.OptionMessageType, type);
        if (requested != 0)
        {
            b.AddUInt32(DhcpMessage.OptionRequestedAddress, requested);
        }

        if (serverId != 0)
        {
            b.AddUInt32(DhcpMessage.OptionServerIdentifier, serverId);
        }

        if (hostname is not null)
        {
            b.AddAscii(DhcpMessage.OptionHostname, hostname);
        }

        b.Add(DhcpMessage.OptionParameterRequestList, [1, 3, 6, 12, 15, 26, 28, 119]);
        int n = b.Finish();
        IpAddr source = IpAddr.FromV4(ciaddr);
        IpAddr destination = ciaddr == 0 ? Broadcast : Gateway;
        return UdpFrame(mac, ciaddr == 0 ? 0xFFFF_FFFF_FFFFUL : GatewayOptions.DefaultMac, source, 68, destination, 67, payload.AsSpan(0, n));
    }

    /// <summary>The UDP payload of a frame the gateway sent, with its addressing.</summary>
    public static byte[] UdpPayloadOf(byte[] frame, out IpAddr source, out IpAddr destination, out ushort sourcePort, out ushort destinationPort)
    {
        Assert.True(EthernetHeader.TryParse(frame, out EthernetHeader eth));
        ReadOnlySpan<byte> l4;
        byte protocol;
        if (eth.EtherType == Ethernet.EtherTypeIPv4)
        {
            Assert.True(IPv4Header.TryParse(eth.Payload, out IPv4Header ip));
            Assert.Equal(0, InternetChecksum.Compute(ip.Header));
            source = IpAddr.Read(ip.Source);
            destination = IpAddr.Read(ip.Destination);
            l4 = ip.Payload;
            protocol = ip.Protocol;
        }
        else
        {
            Assert.True(IPv6Header.TryParse(eth.Payload, out IPv6Header ip));
            source = IpAddr.Read(ip.Source);
            destination = IpAddr.Read(ip.Destination);
            l4 = ip.Payload;
            protocol = ip.NextHeader;
        }

        Assert.Equal(InternetChecksum.ProtocolUdp, protocol);
        Assert.Equal(0, InternetChecksum.Compute(l4, PacketWriter.PseudoHeaderSum(source, destination, protocol, l4.Length)));
        Assert.True(UdpHeader.TryParse(l4, out UdpHeader udp));
        Assert.Equal(l4.Length, udp.LengthField);
        sourcePort = udp.SourcePort;
        destinationPort = udp.DestinationPort;
        return udp.Payload.ToArray();
    }

    /// <summary>The ICMP/ICMPv6 message of a frame the gateway sent, checksum verified.</summary>
    public static byte[] IcmpOf(byte[] frame, out IpAddr source, out IpAddr destination, out byte ttl)
    {
        Assert.True(EthernetHeader.TryParse(frame, out EthernetHeader eth));
        if (eth.EtherType == Ethernet.EtherTypeIPv4)
        {
            Assert.True(IPv4Header.TryParse(eth.Payload, out IPv4Header ip));
            Assert.Equal(0, InternetChecksum.Compute(ip.Header));
            Assert.Equal(PacketWriter.ProtocolIcmp, ip.Protocol);
            source = IpAddr.Read(ip.Source);
            destination = IpAddr.Read(ip.Destination);
            ttl = ip.TimeToLive;
            Assert.Equal(0, InternetChecksum.Compute(ip.Payload));
            return ip.Payload.ToArray();
        }

        Assert.True(IPv6Header.TryParse(eth.Payload, out IPv6Header ip6));
        Assert.Equal(PacketWriter.ProtocolIcmpV6, ip6.NextHeader);
        source = IpAddr.Read(ip6.Source);
        destination = IpAddr.Read(ip6.Destination);
        ttl = eth.Payload[7];
        ReadOnlySpan<byte> l4 = ip6.Payload;
        Assert.Equal(0, InternetChecksum.Compute(l4, PacketWriter.PseudoHeaderSum(source, destination, PacketWriter.ProtocolIcmpV6, l4.Length)));
        return l4.ToArray();
    }

    public static uint ReadU32(ReadOnlySpan<byte> b) => BinaryPrimitives.ReadUInt32BigEndian(b);
}
