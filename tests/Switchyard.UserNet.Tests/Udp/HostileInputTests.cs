// Property tests: whatever a guest or a host peer sends, the UDP services drop or carry it and never throw.
using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using Switchyard.Protocols;
using static Switchyard.UserNet.Tests.Udp.Harness;

namespace Switchyard.UserNet.Tests.Udp;

public sealed class HostileInputTests
{
    [Fact]
    public void DnsUpstream_RandomReplies_NeverThrow() =>
        Prop.ForAll<byte[], bool>((reply, keepId) =>
        {
            var h = new Harness(GatewayOptions.Default with { DnsUpstreams = [new DnsUpstream(IpAddr.FromV4(0x08080808))] });
            h.SendUdp(Guest, 4000, Dns, 53, DnsForwarderTests.Query(1));
            FakeDatagramSocket upstream = h.Host.Udp[0];
            reply ??= [];
            if (keepId && reply.Length >= 2)
            {
                // Aim at the pending ID so the question check, not the ID lookup, has to reject it.
                upstream.Sent[0].Data.AsSpan(0, 2).CopyTo(reply);
            }

            upstream.Reply(reply);
            return h.Counters.Events(GatewayEvent.DnsRepliesReturned) + h.Counters.Drops(GatewayDrop.DnsUpstreamReplyInvalid) == 1;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void PingSocket_RandomReplies_NeverThrow() =>
        Prop.ForAll<byte[], bool>((reply, v6) =>
        {
            var h = new Harness();
            h.SendEcho(v6 ? Guest6 : Guest, v6 ? Remote6 : Remote, 3, 1, [1, 2, 3]);
            h.Host.Pings[0].Deliver(reply ?? [], v6 ? Remote6 : Remote, 0);
            foreach (byte[] frame in h.Link.Frames)
            {
                GuestFrame f = Read(frame); // any reply that went out has valid checksums
                Assert.Equal(3, BinaryPrimitives.ReadUInt16BigEndian(f.L4.AsSpan(4)));
            }

            return true;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void EchoRequest_RandomBytes_NeverThrow() =>
        Prop.ForAll<byte[], bool, bool>((l4, v6, trusted) =>
        {
            var h = new Harness();
            l4 ??= [];
            var packet = new GuestPacket(GuestMac, v6 ? Guest6 : Guest, v6 ? Remote6 : Remote, v6 ? (byte)58 : (byte)1, 64, l4, l4, trusted);
            h.Echo.OnEchoRequest(in packet);
            return true;
        }).QuickCheckThrowOnFailure();
}
