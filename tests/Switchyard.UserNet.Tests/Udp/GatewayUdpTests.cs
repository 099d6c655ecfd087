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
