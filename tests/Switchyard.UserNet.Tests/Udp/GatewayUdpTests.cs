// Through the whole gateway: Ethernet frames in via Transmit, frames out via the sink, so the
// dispatcher's contract with UdpNat, the DNS forwarder and IcmpEcho is exercised as the switch uses it.
using System.Buffers.Binary;
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;
using Switchyard.Protocols;
using Switchyard.TestKit;
using static Switchyard.UserNet.Tests.Udp.Harness;

namespace Switchyard.UserNet.Tests.Udp;

public sealed class GatewayUdpTests
{
    private sealed class Sink : IFrameSink
    {
        public List<byte[]> Frames { get; } = [];

        public void Receive(Port ingress, ReadOnlySpan<byte> frame, in OffloadInfo offload) => Frames.Add(frame.ToArray());

        public void PortClosed(Port port, string reason)
        {
        }
    }

    private static (NatGateway Gateway, FakeHostNetwork Host, Sink Sink) Start(GatewayOptions? options = null)
    {
        var host = new FakeHostNetwork();
        var gateway = new NatGateway("gw", options ?? GatewayOptions.Default, new ManualLoop(), host, null, new ListLogger());
        var sink = new Sink();
        gateway.Attach(sink);
        gateway.Start();
        sink.Frames.Clear(); // the router advertisement sent on start
        return (gateway, host, sink);
    }

    private static byte[] Frame(IpAddr source, IpAddr destination, byte protocol, byte[] l4)
    {
        byte[] frame = new byte[14 + 20 + l4.Length];
        PacketWriter.WriteEthernet(frame, GatewayOptions.DefaultMac, GuestMac, Ethernet.EtherTypeIPv4);
        PacketWriter.WriteIPv4(frame.AsSpan(14), source, destination, protocol, l4.Length, 1);
        l4.CopyTo(frame, 34);
        return frame;
    }

    [Fact]
    public void Gateway_UdpFrameToHostAlias_CarriedAndReplyDelivered()
    {
        var (gateway, host, sink) = Start();
        byte[] l4 = BuildUdp(Guest, 5000, Gateway, 8080, "ping"u8.ToArray());
        gateway.Transmit(new EgressFrame(Frame(Guest, Gateway, 17, l4)));

        FakeDatagramSocket socket = Assert.Single(host.Udp);
        Assert.Equal(Loopback, socket.Remote);
        socket.Reply("pong"u8.ToArray());

        GuestFrame f = Read(Assert.Single(sink.Frames));
        Assert.Equal(Gateway, f.Source);
        Assert.Equal(8080, f.SourcePort);
        Assert.Equal("pong"u8.ToArray(), f.UdpPayload);
    }

    [Fact]
    public void Gateway_DnsQueryWithoutUpstream_AnsweredServfail()
    {
        var (gateway, _, sink) = Start();
        byte[] l4 = BuildUdp(Guest, 5000, Dns, 53, DnsForwarderTests.Query(0x1234));
        gateway.Transmit(new EgressFrame(Frame(Guest, Dns, 17, l4)));

        GuestFrame f = Read(Assert.Single(sink.Frames));
        Assert.Equal(0x1234, BinaryPrimitives.ReadUInt16BigEndian(f.UdpPayload));
        Assert.Equal(1, gateway.GatewayCounters.Drops(GatewayDrop.DnsNoUpstream));
    }

    [Fact]
    public void Gateway_ConfiguredUdpForward_OpenedOnStartAndRemovable()
    {
        var rule = new ForwardRule(ForwardProtocol.Udp, IpAddr.None, 6000, IpAddr.None, 60);
        var (gateway, host, _) = Start(GatewayOptions.Default with { Forwards = [rule] });
        FakeDatagramSocket bound = Assert.Single(host.Bound);
        Assert.Single(gateway.Forwards);

        Assert.True(gateway.RemoveForward(rule));
        Assert.True(bound.Disposed);
        Assert.Empty(gateway.Forwards);
    }

    /// <summary>An echo request frame from the guest to <paramref name="destination"/>, v4 or v6.</summary>
    private static byte[] EchoFrame(IpAddr source, IpAddr destination, ushort sequence)
    {
        bool v6 = !source.IsV4;
        byte protocol = v6 ? PacketWriter.ProtocolIcmpV6 : PacketWriter.ProtocolIcmp;
        byte[] icmp = [v6 ? (byte)128 : (byte)8, 0, 0, 0, 0, 7, 0, (byte)sequence, 1, 2, 3, 4];
        byte[] frame = new byte[PacketWriter.L4Offset(v6) + icmp.Length];
        PacketWriter.WriteEthernetAndIp(frame, GatewayOptions.DefaultMac, GuestMac, source, destination, protocol, icmp.Length, 1);
        icmp.CopyTo(frame, PacketWriter.L4Offset(v6));
        PacketWriter.WriteL4Checksum(frame.AsSpan(PacketWriter.L4Offset(v6)), source, destination, protocol, 2);
        return frame;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Gateway_EchoToGatewayPingNotPermitted_FirstAndLaterEchoesAnsweredByGateway(bool v6)
    {
        var (gateway, host, sink) = Start();
        host.PingErrno = HostIo.EACCES;
        IpAddr guest = v6 ? Guest6 : Guest;
        IpAddr gw = v6 ? Gateway6 : Gateway;

        for (ushort seq = 1; seq <= 3; seq++)
        {
            gateway.Transmit(new EgressFrame(EchoFrame(guest, gw, seq)));
        }

        // Every request answered, the first too (it used to be the one lost per minute).
        var replies = sink.Frames.Select(Read).Where(f => f.L4.Length >= 8 && f.L4[0] == (v6 ? 129 : 0)).ToList();
        Assert.Equal(3, replies.Count);
        Assert.All(replies, f => Assert.Equal(gw, f.Source));
        Assert.Equal(3, gateway.GatewayCounters.Events(GatewayEvent.EchoRepliesFromGateway));
        Assert.Equal(1, gateway.GatewayCounters.Drops(GatewayDrop.PingNotPermitted));
        Assert.Empty(gateway.Flows());
    }

    [Fact]
    public void Gateway_EchoToOutside_GoesToPingSocket_StopClosesIt()
    {
        var (gateway, host, _) = Start();
        byte[] icmp = [8, 0, 0, 0, 0, 7, 0, 1, 1, 2, 3, 4];
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), (ushort)~Sum16(icmp));
        gateway.Transmit(new EgressFrame(Frame(Guest, Remote, 1, icmp)));

        FakeDatagramSocket ping = Assert.Single(host.Pings);
        Assert.Single(gateway.Flows());
        gateway.Stop();
        Assert.True(ping.Disposed);
    }
}
