// UDP NAT flows: one rule per test (STYLE.md habit 14).
using FsCheck;
using FsCheck.Fluent;
using Switchyard.Protocols;
using static Switchyard.UserNet.Tests.Udp.Harness;

namespace Switchyard.UserNet.Tests.Udp;

public sealed class UdpNatTests
{
    private static readonly byte[] Hello = "hello"u8.ToArray();

    [Fact]
    public void OnDatagram_NewDestination_OpensFlowAndSendsPayload()
    {
        var h = new Harness();
        h.SendUdp(Guest, 5000, Remote, 7, Hello);

        FakeDatagramSocket socket = Assert.Single(h.Host.Udp);
        Assert.Equal(Remote, socket.Remote);
        Assert.Equal(7, socket.RemotePort);
        Assert.Equal(Hello, Assert.Single(socket.Sent).Data);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.UdpFlowsOpened));
        Assert.Equal(1, h.Limiter.Count);
    }

    [Fact]
    public void OnDatagram_SameFlowAgain_ReusesSocket()
    {
        var h = new Harness();
        h.SendUdp(Guest, 5000, Remote, 7, Hello);
        h.SendUdp(Guest, 5000, Remote, 7, Hello);
        h.SendUdp(Guest, 5001, Remote, 7, Hello);

        Assert.Equal(2, h.Host.Udp.Count);
        Assert.Equal(2, h.Host.Udp[0].Sent.Count);
        Assert.Equal(2, h.Udp.FlowCount);
    }

    [Fact]
    public void HostReply_ReachesGuest_WithFlowAddressesAndValidChecksum()
    {
        var h = new Harness();
        h.SendUdp(Guest, 5000, Remote, 7, Hello);
        h.Host.Udp[0].Reply("world"u8.ToArray());

        GuestFrame f = h.LastFrame();
        Assert.Equal(GuestMac, f.DestinationMac);
        Assert.Equal(GatewayOptions.DefaultMac, f.SourceMac);
        Assert.Equal(Remote, f.Source);
        Assert.Equal(Guest, f.Destination);
        Assert.Equal(7, f.SourcePort);
        Assert.Equal(5000, f.DestinationPort);
        Assert.Equal("world"u8.ToArray(), f.UdpPayload);
    }

    [Fact]
    public void HostReply_V6Flow_ReachesGuestWithValidChecksum()
    {
        var h = new Harness();
        h.SendUdp(Guest6, 5000, Remote6, 7, Hello);
        h.Host.Udp[0].Reply("world"u8.ToArray());

        GuestFrame f = h.LastFrame();
        Assert.Equal(Remote6, f.Source);
        Assert.Equal(Guest6, f.Destination);
        Assert.Equal("world"u8.ToArray(), f.UdpPayload);
    }

    [Fact]
    public void OnDatagram_GatewayAddress_CarriedToLoopbackAndRepliesFromGateway()
    {
        var h = new Harness();
        h.SendUdp(Guest, 5000, Gateway, 9000, Hello);

        FakeDatagramSocket socket = Assert.Single(h.Host.Udp);
        Assert.Equal(Loopback, socket.Remote);
        socket.Reply(Hello);
        GuestFrame f = h.LastFrame();
        Assert.Equal(Gateway, f.Source);
        Assert.Equal(9000, f.SourcePort);
    }

    [Fact]
    public void HostReply_Several_AllDeliveredInOneWake()
    {
        var h = new Harness();
        h.SendUdp(Guest, 5000, Remote, 7, Hello);
        FakeDatagramSocket socket = h.Host.Udp[0];
        socket.Deliver(Hello, Remote, 7, Switchyard.Core.Loop.IoEvents.None);
        socket.Deliver(Hello, Remote, 7, Switchyard.Core.Loop.IoEvents.None);
        socket.Reply(Hello);

        Assert.Equal(3, h.Link.Frames.Count);
    }

    [Fact]
    public void HostReply_LargerThanMtu_DroppedAndCounted()
    {
        var h = new Harness(GatewayOptions.Default with { Mtu = 576 });
        h.SendUdp(Guest, 5000, Remote, 7, Hello);
        h.Host.Udp[0].Reply(new byte[576 - 28 + 1]);
        h.Host.Udp[0].Reply(new byte[576 - 28]);

        Assert.Single(h.Link.Frames);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.UdpReplyTooBig));
    }

    [Fact]
    public void Flow_IdleLongerThanTimeout_ExpiresAndReleasesLimiter()
    {
        var h = new Harness();
        h.SendUdp(Guest, 5000, Remote, 7, Hello);
        h.Loop.Advance(TimeSpan.FromSeconds(30));
        h.SendUdp(Guest, 5000, Remote, 7, Hello);
        h.Loop.Advance(TimeSpan.FromSeconds(45), TimeSpan.FromSeconds(1));

        Assert.Equal(1, h.Udp.FlowCount);
        h.Loop.Advance(TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(1));

        Assert.Equal(0, h.Udp.FlowCount);
        Assert.True(h.Host.Udp[0].Disposed);
        Assert.Equal(0, h.Limiter.Count);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.UdpFlowsExpired));
    }

    [Fact]
    public void Flows_ManyExpire_OneSweepTimer()
    {
        var h = new Harness();
        for (ushort p = 1000; p < 1100; p++)
        {
            h.SendUdp(Guest, p, Remote, 7, Hello);
        }

        Assert.True(h.Loop.ArmedTimers <= 1);
        h.Loop.Advance(TimeSpan.FromSeconds(62), TimeSpan.FromSeconds(1));
        Assert.Equal(0, h.Udp.FlowCount);
        Assert.Equal(100, h.Counters.Events(GatewayEvent.UdpFlowsExpired));
    }

    [Fact]
    public void OnDatagram_Restricted_DroppedAsRestricted()
    {
        var h = new Harness(GatewayOptions.Default with { Restrict = true });
        h.SendUdp(Guest, 5000, Remote, 7, Hello);

        Assert.Empty(h.Host.Udp);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.Restricted));
    }

    [Fact]
    public void OnDatagram_OtherGuest_NotCarried()
    {
        var h = new Harness();
        h.SendUdp(Guest, 5000, Guest2, 7, Hello);

        Assert.Empty(h.Host.Udp);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.NotCarried));
    }

    [Fact]
    public void OnDatagram_DnsAddressNotPort53_NotCarried()
    {
        var h = new Harness();
        h.SendUdp(Guest, 5000, Dns, 54, Hello);

        Assert.Empty(h.Host.Udp);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.NotCarried));
    }

    [Fact]
    public void OnDatagram_GuestOverFlowLimit_RefusedAndCounted()
    {
        var h = new Harness(GatewayOptions.Default with { MaxFlowsPerGuest = 2 });
        h.SendUdp(Guest, 1, Remote, 7, Hello);
        h.SendUdp(Guest, 2, Remote, 7, Hello);
        h.SendUdp(Guest, 3, Remote, 7, Hello);
        h.SendUdp(Guest2, 3, Remote, 7, Hello, mac: GuestMac2, port: 2);

        Assert.Equal(3, h.Host.Udp.Count);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.GuestFlowLimit));
    }

    [Fact]
    public void OnDatagram_SpoofedMacsOnOnePort_ShareThatPortsFlowLimit()
    {
        var h = new Harness(GatewayOptions.Default with { MaxFlowsPerGuest = 2 });
        for (ushort i = 1; i <= 8; i++)
        {
            // A new MAC and a new address per datagram: all of it arrives on port 1.
            h.SendUdp(IpAddr.FromV4(0x0A00_0200u + 20 + i), 1000, Remote, 7, Hello, mac: 0x0200_0000_0100UL + i, port: 1);
        }

        h.SendUdp(Guest2, 3, Remote, 7, Hello, mac: GuestMac2, port: 2);

        Assert.Equal(3, h.Host.Udp.Count);
        Assert.Equal(6, h.Counters.Drops(GatewayDrop.GuestFlowLimit));
        Assert.Equal(2, h.Limiter.CountFor(1));
        Assert.Equal(1, h.Limiter.CountFor(2));
    }

    [Fact]
    public void OnDatagram_BadChecksum_Dropped()
    {
        var h = new Harness();
        byte[] l4 = BuildUdp(Guest, 5000, Remote, 7, Hello);
        l4[^1] ^= 0x55;
        h.SendRawUdp(Guest, Remote, l4);

        Assert.Empty(h.Host.Udp);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.UdpChecksumBad));
    }

    [Fact]
    public void OnDatagram_BadChecksumButTrusted_Carried()
    {
        var h = new Harness();
        byte[] l4 = BuildUdp(Guest, 5000, Remote, 7, Hello);
        l4[^1] ^= 0x55;
        h.SendRawUdp(Guest, Remote, l4, trusted: true);

        Assert.Single(h.Host.Udp);
    }

    [Fact]
    public void OnDatagram_ZeroChecksumV4_Accepted()
    {
        var h = new Harness();
        h.SendUdp(Guest, 5000, Remote, 7, Hello, checksum: 0);

        Assert.Single(h.Host.Udp);
    }

    [Fact]
    public void OnDatagram_ZeroChecksumV6_Dropped()
    {
        var h = new Harness();
        h.SendUdp(Guest6, 5000, Remote6, 7, Hello, checksum: 0);

        Assert.Empty(h.Host.Udp);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.UdpChecksumBad));
    }

    [Fact]
    public void OnDatagram_LengthFieldPastPayload_Malformed()
    {
        var h = new Harness();
        byte[] l4 = BuildUdp(Guest, 5000, Remote, 7, Hello);
        l4[5] += 1;
        h.SendRawUdp(Guest, Remote, l4, trusted: true);
        h.SendRawUdp(Guest, Remote, new byte[7], trusted: true);

        Assert.Empty(h.Host.Udp);
        Assert.Equal(2, h.Counters.Drops(GatewayDrop.UdpMalformed));
    }

    [Fact]
    public void OnDatagram_SendFails_Counted()
    {
        var h = new Harness();
        h.SendUdp(Guest, 5000, Remote, 7, Hello);
        h.Host.Udp[0].SendErrno = HostIo.ENETUNREACH;
        h.SendUdp(Guest, 5000, Remote, 7, Hello);

        Assert.Equal(1, h.Counters.Drops(GatewayDrop.UdpSendFailed));
    }

    [Fact]
    public void OnDatagram_OpenFails_CountedAndSlotReleased()
    {
        var h = new Harness();
        h.Host.UdpErrno = HostIo.EMFILE;
        h.SendUdp(Guest, 5000, Remote, 7, Hello);

        Assert.Equal(1, h.Counters.Drops(GatewayDrop.UdpSendFailed));
        Assert.Equal(0, h.Limiter.Count);
    }

    [Fact]
    public void AddFlows_ListsOutboundFlow()
    {
        var h = new Harness();
        h.SendUdp(Guest, 5000, Remote, 7, Hello);
        var list = new List<FlowInfo>();
        h.Udp.AddFlows(list);

        FlowInfo info = Assert.Single(list);
        Assert.Equal("udp", info.Protocol);
        Assert.Equal("10.0.2.15:5000", info.Guest);
        Assert.Equal("1.2.3.4:7", info.Remote);
        Assert.False(info.Inbound);
        Assert.Equal(5, info.BytesFromGuest);
    }

    [Fact]
    public void Stop_ClosesEverything()
    {
        var h = new Harness();
        h.SendUdp(Guest, 5000, Remote, 7, Hello);
        h.Udp.Stop();

        Assert.True(h.Host.Udp[0].Disposed);
        Assert.Equal(0, h.Udp.FlowCount);
        Assert.Equal(0, h.Limiter.Count);
    }

    [Fact]
    public void OnDatagram_RandomPayloads_NeverThrow() =>
        Prop.ForAll<byte[], bool, bool>((l4, v6, trusted) =>
        {
            var h = new Harness();
            l4 ??= [];
            h.SendRawUdp(v6 ? Guest6 : Guest, v6 ? Remote6 : Remote, l4, trusted);
            h.SendRawUdp(v6 ? Guest6 : Guest, v6 ? Dns6 : Dns, l4, trusted);
            if (l4.Length >= 8)
            {
                // The same bytes as a well-formed datagram to the DNS address: the forwarder sees random queries.
                h.SendUdp(v6 ? Guest6 : Guest, 5000, v6 ? Dns6 : Dns, 53, l4);
            }

            return true;
        }).QuickCheckThrowOnFailure();
}
