// The DNS forwarder: ID rewriting, reply checks, SERVFAIL, timeouts and upstream failover.
using System.Buffers.Binary;
using System.Collections.Immutable;
using Switchyard.Protocols;
using static Switchyard.UserNet.Tests.Udp.Harness;

namespace Switchyard.UserNet.Tests.Udp;

public sealed class DnsForwarderTests
{
    private static readonly DnsUpstream Upstream1 = new(IpAddr.FromV4(0x0808_0808));
    private static readonly DnsUpstream Upstream2 = new(IpAddr.FromV4(0x0101_0101));

    private static GatewayOptions WithUpstreams(params DnsUpstream[] upstreams) =>
        GatewayOptions.Default with { DnsUpstreams = [.. upstreams] };

    internal static byte[] Query(ushort id, string name = "example.com", ushort flags = 0x0100)
    {
        var bytes = new List<byte> { (byte)(id >> 8), (byte)id, (byte)(flags >> 8), (byte)flags, 0, 1, 0, 0, 0, 0, 0, 0 };
        foreach (string label in name.Split('.'))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(label));
        }

        bytes.AddRange([0, 0, 1, 0, 1]);
        return [.. bytes];
    }

    internal static byte[] Reply(byte[] query, int extra = 16)
    {
        byte[] reply = new byte[query.Length + extra];
        query.CopyTo(reply, 0);
        reply[2] = 0x81;
        reply[3] = 0x80;
        reply[7] = 1;
        return reply;
    }

    private static ushort IdOf(byte[] message) => BinaryPrimitives.ReadUInt16BigEndian(message);

    [Fact]
    public void Query_TwoGuestsSameId_ForwardedWithDistinctIds()
    {
        var h = new Harness(WithUpstreams(Upstream1));
        h.SendUdp(Guest, 4000, Dns, 53, Query(7));
        h.SendUdp(Guest2, 4000, Dns, 53, Query(7), mac: GuestMac2);

        FakeDatagramSocket upstream = Assert.Single(h.Host.Udp);
        Assert.Equal(Upstream1.Address, upstream.Remote);
        Assert.Equal(53, upstream.RemotePort);
        Assert.Equal(2, upstream.Sent.Count);
        Assert.NotEqual(IdOf(upstream.Sent[0].Data), IdOf(upstream.Sent[1].Data));
        Assert.Equal(Query(7)[2..], upstream.Sent[0].Data[2..]);
        Assert.Equal(2, h.Counters.Events(GatewayEvent.DnsQueriesForwarded));
    }

    [Fact]
    public void Reply_MappedBackToEachGuest_WithItsIdFromDnsAddress()
    {
        var h = new Harness(WithUpstreams(Upstream1));
        h.SendUdp(Guest, 4000, Dns, 53, Query(7));
        h.SendUdp(Guest2, 4001, Dns, 53, Query(7), mac: GuestMac2);
        FakeDatagramSocket upstream = h.Host.Udp[0];

        // Answer the second guest first.
        upstream.Reply(Reply(upstream.Sent[1].Data));
        GuestFrame second = h.LastFrame();
        upstream.Reply(Reply(upstream.Sent[0].Data));
        GuestFrame first = h.LastFrame();

        Assert.Equal(Guest2, second.Destination);
        Assert.Equal(GuestMac2, second.DestinationMac);
        Assert.Equal(4001, second.DestinationPort);
        Assert.Equal(Guest, first.Destination);
        Assert.Equal(Dns, first.Source);
        Assert.Equal(53, first.SourcePort);
        Assert.Equal(7, IdOf(first.UdpPayload));
        Assert.Equal(7, IdOf(second.UdpPayload));
        Assert.Equal(2, h.Counters.Events(GatewayEvent.DnsRepliesReturned));
        Assert.Equal(0, h.Udp.Dns.Pending);
    }

    [Fact]
    public void Reply_V6Guest_SentFromDns6()
    {
        var h = new Harness(WithUpstreams(Upstream1));
        h.SendUdp(Guest6, 4000, Dns6, 53, Query(9));
        FakeDatagramSocket upstream = h.Host.Udp[0];
        upstream.Reply(Reply(upstream.Sent[0].Data));

        GuestFrame f = h.LastFrame();
        Assert.Equal(Dns6, f.Source);
        Assert.Equal(Guest6, f.Destination);
        Assert.Equal(9, IdOf(f.UdpPayload));
    }

    [Fact]
    public void Reply_DuplicateOrUnknownId_Invalid()
    {
        var h = new Harness(WithUpstreams(Upstream1));
        h.SendUdp(Guest, 4000, Dns, 53, Query(7));
        FakeDatagramSocket upstream = h.Host.Udp[0];
        byte[] reply = Reply(upstream.Sent[0].Data);
        upstream.Reply(reply);
        upstream.Reply(reply);

        Assert.Single(h.Link.Frames);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.DnsUpstreamReplyInvalid));
    }

    [Fact]
    public void Reply_OtherQuestion_InvalidAndQueryStillPending()
    {
        var h = new Harness(WithUpstreams(Upstream1));
        h.SendUdp(Guest, 4000, Dns, 53, Query(7, "example.com"));
        FakeDatagramSocket upstream = h.Host.Udp[0];
        byte[] forged = Reply(Query(IdOf(upstream.Sent[0].Data), "evil.example"));
        upstream.Reply(forged);

        Assert.Empty(h.Link.Frames);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.DnsUpstreamReplyInvalid));
        Assert.Equal(1, h.Udp.Dns.Pending);
    }

    [Fact]
    public void Reply_QuestionInOtherCase_Accepted()
    {
        var h = new Harness(WithUpstreams(Upstream1));
        h.SendUdp(Guest, 4000, Dns, 53, Query(7, "example.com"));
        FakeDatagramSocket upstream = h.Host.Udp[0];
        upstream.Reply(Reply(Query(IdOf(upstream.Sent[0].Data), "ExAmPle.COM")));

        Assert.Single(h.Link.Frames);
    }

    [Fact]
    public void Reply_FromOtherSource_Invalid()
    {
        var h = new Harness(WithUpstreams(Upstream1));
        h.SendUdp(Guest, 4000, Dns, 53, Query(7));
        FakeDatagramSocket upstream = h.Host.Udp[0];
        upstream.Deliver(Reply(upstream.Sent[0].Data), IpAddr.FromV4(0x0A0A0A0A), 53);

        Assert.Empty(h.Link.Frames);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.DnsUpstreamReplyInvalid));
    }

    [Fact]
    public void Reply_NotAResponse_Invalid()
    {
        var h = new Harness(WithUpstreams(Upstream1));
        h.SendUdp(Guest, 4000, Dns, 53, Query(7));
        FakeDatagramSocket upstream = h.Host.Udp[0];
        upstream.Reply(upstream.Sent[0].Data);

        Assert.Equal(1, h.Counters.Drops(GatewayDrop.DnsUpstreamReplyInvalid));
    }

    [Fact]
    public void Reply_LargerThanMtu_TruncatedWithTc()
    {
        var h = new Harness(WithUpstreams(Upstream1) with { Mtu = 576 });
        h.SendUdp(Guest, 4000, Dns, 53, Query(7));
        FakeDatagramSocket upstream = h.Host.Udp[0];
        upstream.Reply(Reply(upstream.Sent[0].Data, extra: 1000));

        GuestFrame f = h.LastFrame();
        Assert.True(DnsMessage.TryParse(f.UdpPayload, out DnsMessage dns));
        Assert.True(dns.IsTruncated);
        Assert.Equal(7, dns.Id);
        Assert.Equal(0, dns.AnswerCount);
    }

    [Fact]
    public void Query_NoUpstream_ServfailAndCounted()
    {
        var h = new Harness();
        h.SendUdp(Guest, 4000, Dns, 53, Query(7));

        Assert.Empty(h.Host.Udp);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.DnsNoUpstream));
        GuestFrame f = h.LastFrame();
        Assert.Equal(Dns, f.Source);
        Assert.True(DnsMessage.TryParse(f.UdpPayload, out DnsMessage dns));
        Assert.True(dns.IsResponse);
        Assert.Equal(7, dns.Id);
        Assert.Equal(DnsMessage.RcodeServerFailure, dns.Rcode);
        Assert.Equal(1, dns.QuestionCount);
    }

    [Fact]
    public void Query_HostResolvers_UsedWhenNoneConfigured()
    {
        var h = new Harness();
        var resolvers = new FakeResolvers();
        h.Context.Resolvers = resolvers;
        resolvers.Upstreams = [Upstream2];
        h.SendUdp(Guest, 4000, Dns, 53, Query(7));
        Assert.Equal(Upstream2.Address, Assert.Single(h.Host.Udp).Remote);

        // resolv.conf changed: the next query goes to the new resolver, the old socket is closed.
        resolvers.Upstreams = [Upstream1];
        h.SendUdp(Guest, 4000, Dns, 53, Query(8));
        Assert.Equal(Upstream1.Address, h.Host.Udp[1].Remote);
        Assert.True(h.Host.Udp[0].Disposed);
    }

    [Fact]
    public void Query_UpstreamSilent_RetriedOnNextThenServfail()
    {
        var h = new Harness(WithUpstreams(Upstream1, Upstream2));
        h.SendUdp(Guest, 4000, Dns, 53, Query(7));
        Assert.Single(h.Host.Udp);

        h.Loop.Advance(TimeSpan.FromSeconds(5.5), TimeSpan.FromMilliseconds(100));
        Assert.Equal(2, h.Host.Udp.Count);
        Assert.Equal(Upstream2.Address, h.Host.Udp[1].Remote);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.DnsRetries));
        Assert.Empty(h.Link.Frames);

        h.Loop.Advance(TimeSpan.FromSeconds(5.5), TimeSpan.FromMilliseconds(100));
        GuestFrame f = h.LastFrame();
        Assert.True(DnsMessage.TryParse(f.UdpPayload, out DnsMessage dns));
        Assert.Equal(DnsMessage.RcodeServerFailure, dns.Rcode);
        Assert.Equal(7, dns.Id);
        Assert.Equal(0, h.Udp.Dns.Pending);
    }

    [Fact]
    public void Query_RetriedUpstreamAnswers_ReplyReturned()
    {
        var h = new Harness(WithUpstreams(Upstream1, Upstream2));
        h.SendUdp(Guest, 4000, Dns, 53, Query(7));
        h.Loop.Advance(TimeSpan.FromSeconds(6), TimeSpan.FromMilliseconds(500));
        FakeDatagramSocket second = h.Host.Udp[1];
        second.Reply(Reply(second.Sent[0].Data));

        Assert.Equal(7, IdOf(h.LastFrame().UdpPayload));
        Assert.Equal(1, h.Counters.Events(GatewayEvent.DnsRepliesReturned));
    }

    [Fact]
    public void Query_FirstUpstreamAnswersLateAfterRetry_ReplyReturnedOnce()
    {
        var h = new Harness(WithUpstreams(Upstream1, Upstream2));
        h.SendUdp(Guest, 4000, Dns, 53, Query(7));
        h.Loop.Advance(TimeSpan.FromSeconds(6), TimeSpan.FromMilliseconds(500));
        FakeDatagramSocket first = h.Host.Udp[0];
        FakeDatagramSocket second = h.Host.Udp[1];
        first.Reply(Reply(first.Sent[0].Data));
        second.Reply(Reply(second.Sent[0].Data));

        Assert.Single(h.Link.Frames);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.DnsUpstreamReplyInvalid));
    }

    [Fact]
    public void Query_SingleUpstreamSilent_ServfailAfterTimeout()
    {
        var h = new Harness(WithUpstreams(Upstream1));
        h.SendUdp(Guest, 4000, Dns, 53, Query(7));
        h.Loop.Advance(TimeSpan.FromSeconds(4));
        Assert.Empty(h.Link.Frames);
        h.Loop.Advance(TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(100));

        Assert.Equal(DnsMessage.RcodeServerFailure, DnsRcode(h.LastFrame().UdpPayload));
        Assert.Single(h.Host.Udp);
    }

    [Fact]
    public void Query_Malformed_Counted()
    {
        var h = new Harness(WithUpstreams(Upstream1));
        h.SendUdp(Guest, 4000, Dns, 53, new byte[5]);
        h.SendUdp(Guest, 4000, Dns, 53, Query(7, flags: 0x8100));
        byte[] noQuestion = Query(7);
        noQuestion[5] = 0;
        h.SendUdp(Guest, 4000, Dns, 53, noQuestion);
        byte[] longLabel = Query(7);
        longLabel[12] = 60;
        h.SendUdp(Guest, 4000, Dns, 53, longLabel);

        Assert.Empty(h.Host.Udp);
        Assert.Equal(4, h.Counters.Drops(GatewayDrop.DnsMalformed));
    }

    [Fact]
    public void Query_TableFull_DroppedAndCounted()
    {
        var h = new Harness(WithUpstreams(Upstream1));
        for (int i = 0; i < Switchyard.UserNet.Udp.DnsForwarder.MaxPending + 3; i++)
        {
            h.SendUdp(Guest, 4000, Dns, 53, Query((ushort)i));
        }

        Assert.Equal(Switchyard.UserNet.Udp.DnsForwarder.MaxPending, h.Udp.Dns.Pending);
        Assert.Equal(3, h.Counters.Drops(GatewayDrop.DnsPendingFull));
        var ids = new HashSet<ushort>();
        foreach (var sent in h.Host.Udp[0].Sent)
        {
            Assert.True(ids.Add(IdOf(sent.Data)));
        }
    }

    [Fact]
    public void Stop_ClosesUpstreamSockets()
    {
        var h = new Harness(WithUpstreams(Upstream1));
        h.SendUdp(Guest, 4000, Dns, 53, Query(7));
        h.Udp.Stop();

        Assert.True(h.Host.Udp[0].Disposed);
        Assert.Equal(0, h.Udp.Dns.Pending);
    }

    private static int DnsRcode(byte[] payload) => payload[3] & 0xF;

    private sealed class FakeResolvers : IResolverSource
    {
        public IReadOnlyList<DnsUpstream> Upstreams { get; set; } = ImmutableArray<DnsUpstream>.Empty;
    }
}
