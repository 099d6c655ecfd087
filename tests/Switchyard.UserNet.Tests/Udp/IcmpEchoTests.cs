// ICMP echo through ping sockets: identifier rewriting both ways, checksums, EACCES diagnostics.
using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Switchyard.Protocols;
using static Switchyard.UserNet.Tests.Udp.Harness;

namespace Switchyard.UserNet.Tests.Udp;

public sealed class IcmpEchoTests
{
    private static readonly byte[] Data = "abcdefghijklmnop"u8.ToArray();

    /// <summary>What the kernel's ping socket hands back: an echo reply with the socket's identifier.</summary>
    private static byte[] KernelReply(byte[] request, bool v6, ushort socketId)
    {
        byte[] reply = (byte[])request.Clone();
        reply[0] = v6 ? (byte)129 : (byte)0;
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(4), socketId);
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(2), 0x1234); // whatever; we recompute
        return reply;
    }

    [Fact]
    public void EchoV4_SentOnPingSocketToDestination()
    {
        var h = new Harness();
        h.SendEcho(Guest, Remote, 0x4242, 1, Data);

        FakeDatagramSocket ping = Assert.Single(h.Host.Pings);
        Assert.Equal("ping", ping.Kind);
        var sent = Assert.Single(ping.Sent);
        Assert.Equal(Remote, sent.Address);
        Assert.Equal(8, sent.Data[0]);
        Assert.Equal(Data, sent.Data[8..]);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.PingsForwarded));
    }

    [Fact]
    public void EchoReplyV4_IdRestoredAndChecksumValid()
    {
        var h = new Harness();
        h.SendEcho(Guest, Remote, 0x4242, 1, Data);
        FakeDatagramSocket ping = h.Host.Pings[0];
        ping.Deliver(KernelReply(ping.Sent[0].Data, false, 0x0777), Remote, 0);

        GuestFrame f = h.LastFrame(); // asserts the ICMP checksum
        Assert.Equal(Remote, f.Source);
        Assert.Equal(Guest, f.Destination);
        Assert.Equal(GuestMac, f.DestinationMac);
        Assert.Equal(1, f.Protocol);
        Assert.Equal(0, f.L4[0]);
        Assert.Equal(0x4242, BinaryPrimitives.ReadUInt16BigEndian(f.L4.AsSpan(4)));
        Assert.Equal(Data, f.L4[8..]);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.PingRepliesReturned));
    }

    [Fact]
    public void EchoReplyV6_IdRestoredAndPseudoHeaderChecksumValid()
    {
        var h = new Harness();
        h.SendEcho(Guest6, Remote6, 0x5151, 3, Data);
        FakeDatagramSocket ping = Assert.Single(h.Host.Pings);
        Assert.Equal("ping6", ping.Kind);
        ping.Deliver(KernelReply(ping.Sent[0].Data, true, 0x0999), Remote6, 0);

        GuestFrame f = h.LastFrame(); // asserts the ICMPv6 checksum over the pseudo-header
        Assert.Equal(58, f.Protocol);
        Assert.Equal(129, f.L4[0]);
        Assert.Equal(0x5151, BinaryPrimitives.ReadUInt16BigEndian(f.L4.AsSpan(4)));
        Assert.Equal(Remote6, f.Source);
    }

    [Fact]
    public void EchoToGatewayV6_CarriedToLoopbackAndAnsweredAsGateway()
    {
        var h = new Harness();
        h.SendEcho(Guest6, Gateway6, 1, 1, Data);
        FakeDatagramSocket ping = h.Host.Pings[0];
        var loopback6 = new IpAddr(0, 1);
        Assert.Equal(loopback6, ping.Sent[0].Address);
        ping.Deliver(KernelReply(ping.Sent[0].Data, true, 9), loopback6, 0);

        GuestFrame f = h.LastFrame();
        Assert.Equal(Gateway6, f.Source);
    }

    [Fact]
    public void Echo_SameIdentifier_ReusesFlow_OtherIdentifier_NewFlow()
    {
        var h = new Harness();
        h.SendEcho(Guest, Remote, 1, 1, Data);
        h.SendEcho(Guest, Remote, 1, 2, Data);
        h.SendEcho(Guest, Remote, 2, 1, Data);

        Assert.Equal(2, h.Host.Pings.Count);
        Assert.Equal(2, h.Host.Pings[0].Sent.Count);
    }

    [Fact]
    public void EchoReply_FromOtherAddressOrNotAReply_Dropped()
    {
        var h = new Harness();
        h.SendEcho(Guest, Remote, 1, 1, Data);
        FakeDatagramSocket ping = h.Host.Pings[0];
        ping.Deliver(KernelReply(ping.Sent[0].Data, false, 5), IpAddr.FromV4(0x05050505), 0);
        ping.Deliver(ping.Sent[0].Data, Remote, 0);
        ping.Deliver(new byte[3], Remote, 0);

        Assert.Empty(h.Link.Frames);
        Assert.Equal(3, h.Counters.Drops(GatewayDrop.PingReplyInvalid));
    }

    [Fact]
    public void Echo_BadChecksum_Dropped()
    {
        var h = new Harness();
        byte[] l4 = [8, 0, 0, 0, 0, 1, 0, 1];
        var packet = new GuestPacket(GuestMac, Guest, Remote, 1, 64, l4, l4, false);
        h.Echo.OnEchoRequest(in packet);

        Assert.Empty(h.Host.Pings);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.IcmpChecksumBad));
    }

    [Fact]
    public void Echo_PingNotPermitted_CountedAndWarnedOnce()
    {
        var h = new Harness();
        h.Host.PingErrno = HostIo.EACCES;
        h.SendEcho(Guest, Remote, 1, 1, Data);
        h.SendEcho(Guest, Remote, 1, 2, Data);
        h.SendEcho(Guest6, Remote6, 1, 1, Data);

        Assert.Equal(3, h.Counters.Drops(GatewayDrop.PingNotPermitted));
        Assert.Equal(0, h.Limiter.Count);
        var entry = Assert.Single(h.Logger.Entries);
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.Contains("sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"", entry.Message, StringComparison.Ordinal);

        h.Loop.Advance(IcmpEcho.WarningInterval);
        h.SendEcho(Guest, Remote, 1, 3, Data);
        Assert.Equal(2, h.Logger.Entries.Count);
    }

    [Fact]
    public void Echo_OtherOpenError_CountedAsSendFailed()
    {
        var h = new Harness();
        h.Host.PingErrno = HostIo.EMFILE;
        h.SendEcho(Guest, Remote, 1, 1, Data);

        Assert.Equal(1, h.Counters.Drops(GatewayDrop.PingSendFailed));
        Assert.Empty(h.Logger.Entries);
    }

    [Fact]
    public void Echo_Restricted_Dropped()
    {
        var h = new Harness(GatewayOptions.Default with { Restrict = true });
        h.SendEcho(Guest, Remote, 1, 1, Data);

        Assert.Empty(h.Host.Pings);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.Restricted));
    }

    [Fact]
    public void PingFlow_Idle_ExpiresAndReleasesLimiter()
    {
        var h = new Harness();
        h.SendEcho(Guest, Remote, 1, 1, Data);
        h.Loop.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(1, h.Echo.FlowCount);
        h.Loop.Advance(TimeSpan.FromSeconds(12), TimeSpan.FromSeconds(1));

        Assert.Equal(0, h.Echo.FlowCount);
        Assert.True(h.Host.Pings[0].Disposed);
        Assert.Equal(0, h.Limiter.Count);
    }

    [Fact]
    public void AddFlows_ListsPingFlow_StopCloses()
    {
        var h = new Harness();
        h.SendEcho(Guest, Remote, 1, 1, Data);
        var list = new List<FlowInfo>();
        h.Echo.AddFlows(list);
        Assert.Equal("icmp", Assert.Single(list).Protocol);

        h.Echo.Stop();
        Assert.True(h.Host.Pings[0].Disposed);
        Assert.Equal(0, h.Limiter.Count);
    }
}
