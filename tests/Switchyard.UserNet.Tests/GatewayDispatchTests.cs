// The gateway's boundary: every malformed or unwanted frame from a guest is dropped and counted (or
// ignored, for other guests' traffic), and no byte sequence makes it throw.
using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Core.Frames;
using Switchyard.Core.Loop;
using Switchyard.Core.Ports;
using Switchyard.Protocols;
using Switchyard.TestKit;

namespace Switchyard.UserNet.Tests;

public sealed class GatewayDispatchTests
{
    private const ulong GuestMac = 0x0200_0000_0001UL;
    private static readonly IpAddr Guest = IpAddr.FromV4(0x0A00_020F);
    private static readonly IpAddr Gateway = IpAddr.FromV4(0x0A00_0202);

    private readonly ManualLoop loop = new();
    private readonly NatGateway gateway;
    private readonly RecordingSink sink = new();

    public GatewayDispatchTests()
    {
        gateway = new NatGateway("gateway", GatewayOptions.Default, loop, new RefusingHostNetwork(), resolvers: null, NullLogger.Instance);
        gateway.Attach(sink);
        gateway.Start();
    }

    private GatewayCounters Counters => gateway.GatewayCounters;

    [Fact]
    public void Runt_IsEthernetMalformed()
    {
        Send(new byte[10]);
        Assert.Equal(1, Counters.Drops(GatewayDrop.EthernetMalformed));
    }

    [Fact]
    public void UnicastForAnotherMac_IsIgnoredNotDropped()
    {
        byte[] frame = Ipv4Frame(InternetChecksum.ProtocolUdp, new byte[8]);
        Ethernet.WriteMac(frame, 0x0200_0000_0099UL);
        Send(frame);
        Assert.Equal(0, Counters.TotalDrops);
        Assert.Equal(1, Counters.Events(GatewayEvent.FramesNotForGateway));
    }

    [Fact]
    public void MulticastSourceMac_IsEthernetMalformed()
    {
        byte[] frame = Ipv4Frame(InternetChecksum.ProtocolUdp, new byte[8]);
        Ethernet.WriteMac(frame.AsSpan(6), 0x0100_5E00_0001UL);
        Send(frame);
        Assert.Equal(1, Counters.Drops(GatewayDrop.EthernetMalformed));
    }

    [Fact]
    public void UnknownEtherTypeToGateway_IsUnsupportedEtherType()
    {
        byte[] frame = Ipv4Frame(InternetChecksum.ProtocolUdp, new byte[8]);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x88B5);
        Send(frame);
        Assert.Equal(1, Counters.Drops(GatewayDrop.UnsupportedEtherType));
    }

    [Fact]
    public void TruncatedIpv4_IsIpMalformed()
    {
        byte[] frame = Ipv4Frame(InternetChecksum.ProtocolUdp, new byte[8]);
        Send(frame.AsSpan(0, 14 + 12).ToArray());
        Assert.Equal(1, Counters.Drops(GatewayDrop.IpMalformed));
    }

    [Fact]
    public void Ipv4TotalLengthBeyondFrame_IsIpMalformed()
    {
        byte[] frame = Ipv4Frame(InternetChecksum.ProtocolUdp, new byte[8]);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14 + 2), 1400);
        Send(frame);
        Assert.Equal(1, Counters.Drops(GatewayDrop.IpMalformed));
    }

    [Fact]
    public void BadIpv4HeaderChecksum_IsIpChecksumBad()
    {
        byte[] frame = Ipv4Frame(InternetChecksum.ProtocolUdp, new byte[8]);
        frame[14 + 10] ^= 0xFF;
        Send(frame);
        Assert.Equal(1, Counters.Drops(GatewayDrop.IpChecksumBad));
    }

    [Fact]
    public void Ipv4Fragment_IsIpFragment()
    {
        byte[] frame = Ipv4Frame(InternetChecksum.ProtocolUdp, new byte[8], fragmentField: 0x2000);
        Send(frame);
        Assert.Equal(1, Counters.Drops(GatewayDrop.IpFragment));
    }

    [Fact]
    public void LoopbackSource_IsIpSourceInvalid()
    {
        byte[] frame = Ipv4Frame(InternetChecksum.ProtocolUdp, new byte[8], source: IpAddr.FromV4(0x7F00_0001));
        Send(frame);
        Assert.Equal(1, Counters.Drops(GatewayDrop.IpSourceInvalid));
    }

    [Fact]
    public void UnknownIpProtocol_IsUnsupportedProtocol()
    {
        Send(Ipv4Frame(47, new byte[8]));
        Assert.Equal(1, Counters.Drops(GatewayDrop.UnsupportedProtocol));
    }

    [Fact]
    public void Ipv6ExtensionHeaderToGateway_IsIpExtensionHeader()
    {
        var frame = new byte[14 + 40 + 8];
        PacketWriter.WriteEthernet(frame, GatewayOptions.DefaultMac, GuestMac, Ethernet.EtherTypeIPv6);
        PacketWriter.WriteIPv6(frame.AsSpan(14), new IpAddr(0xFD00_0000_0000_0000UL, 0x15), new IpAddr(0xFD00_0000_0000_0000UL, 2), 0, 8);
        Send(frame);
        Assert.Equal(1, Counters.Drops(GatewayDrop.IpExtensionHeader));
    }

    [Fact]
    public void OversizedFrame_IsFrameTooLarge()
    {
        Send(new byte[GatewayContext.TxBufferSize + 1]);
        Assert.Equal(1, Counters.Drops(GatewayDrop.FrameTooLarge));
        Assert.Equal(1, gateway.Counters.Drops(DropReason.TxTooBig));
    }

    [Fact]
    public void AddForward_HostSideUnavailable_ThrowsWithThePortAndKeepsNoRule()
    {
        var rule = new ForwardRule(ForwardProtocol.Tcp, IpAddr.FromV4(0x7F00_0001), 2222, IpAddr.None, 22);
        HostNetworkException ex = Assert.Throws<HostNetworkException>(() => gateway.AddForward(rule));
        Assert.Contains("2222", ex.Message, StringComparison.Ordinal);
        Assert.Empty(gateway.Forwards);
    }

    [Fact]
    public void RandomFrames_NeverThrow_AndEveryFrameIsAccounted() =>
        Prop.ForAll<byte[]>(bytes =>
        {
            // Half the time aim it at the gateway as IPv4, so the deeper parsers see the bytes too.
            if (bytes.Length > 34 && (bytes[0] & 1) == 0)
            {
                Ethernet.WriteMac(bytes, GatewayOptions.DefaultMac);
                Ethernet.WriteMac(bytes.AsSpan(6), GuestMac);
                BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(12), Ethernet.EtherTypeIPv4);
            }

            Send(bytes);
            return true;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void RandomIpv4Payloads_ToEveryProtocol_NeverThrow() =>
        Prop.ForAll<byte, byte[], bool>((protocol, payload, toGateway) =>
        {
            IpAddr destination = toGateway ? Gateway : IpAddr.FromV4(0xC000_0201);
            Send(Ipv4Frame(protocol, payload ?? [], destination: destination));
            return true;
        }).QuickCheckThrowOnFailure();

    private void Send(byte[] frame) => gateway.Transmit(new EgressFrame(frame));

    private static byte[] Ipv4Frame(byte protocol, byte[] l4, IpAddr? source = null, IpAddr? destination = null, ushort fragmentField = 0x4000)
    {
        var frame = new byte[14 + 20 + l4.Length];
        l4.CopyTo(frame.AsSpan(34));
        PacketWriter.WriteEthernetAndIp(frame, GatewayOptions.DefaultMac, GuestMac, source ?? Guest, destination ?? Gateway, protocol, l4.Length, 1);
        if (fragmentField != 0x4000)
        {
            Span<byte> ip = frame.AsSpan(14, 20);
            BinaryPrimitives.WriteUInt16BigEndian(ip[6..], fragmentField);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip));
        }

        return frame;
    }

    private sealed class RecordingSink : IFrameSink
    {
        public List<byte[]> Frames { get; } = [];

        public void Receive(Port ingress, ReadOnlySpan<byte> frame, in OffloadInfo offload) => Frames.Add(frame.ToArray());

        public void PortClosed(Port port, string reason)
        {
        }
    }

    /// <summary>A host where every socket fails: enough for the gateway's boundary.</summary>
    private sealed class RefusingHostNetwork : IHostNetwork
    {
        public IHostTcpSocket? ConnectTcp(IpAddr address, ushort port, IHostSocketOwner owner, out int errno)
        {
            errno = HostIo.ECONNREFUSED;
            return null;
        }

        public IHostDatagramSocket? OpenUdp(IpAddr address, ushort port, IHostSocketOwner owner, out int errno)
        {
            errno = HostIo.ENETUNREACH;
            return null;
        }

        public IHostDatagramSocket? OpenPing(bool v6, IHostSocketOwner owner, out int errno)
        {
            errno = HostIo.EACCES;
            return null;
        }

        public IHostTcpListener ListenTcp(IpAddr address, ushort port, IHostSocketOwner owner) =>
            throw new HostNetworkException($"tcp port {port} is already in use");

        public IHostDatagramSocket BindUdp(IpAddr address, ushort port, IHostSocketOwner owner) =>
            throw new HostNetworkException($"udp port {port} is already in use");
    }
}
