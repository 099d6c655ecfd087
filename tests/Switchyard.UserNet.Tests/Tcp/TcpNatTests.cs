// TCP NAT, one rule per test: handshakes both ways, options, data both ways, backpressure, loss
// recovery (RTO, fast retransmit, zero-window probes), close and reset both ways, refusals, forwards,
// admission and memory bounds. A scripted guest (TcpConn) plays the guest; fakes play the host.
using Switchyard.Core.Loop;
using Switchyard.Protocols;
using Switchyard.UserNet.Tcp;

namespace Switchyard.UserNet.Tests.Tcp;

public class TcpNatTests
{
    private static byte[] Bytes(int n, int seed = 1)
    {
        byte[] b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Fact]
    public void OutboundSyn_HostConnects_SynAckCarriesMssAndWindowScale()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h, mss: 1460, wscale: 7);
        Assert.Equal((TcpHarness.RemoteIp, (ushort)80), h.Host.ConnectTargets[0]);
        Assert.Equal(1460, c.SynAck.Options.Mss);
        Assert.Equal(TcpFlow.ShiftFor(1 << 20), c.SynAck.Options.WindowScale);
        Assert.False(c.SynAck.Options.SackPermitted);
        Assert.Equal(TcpHarness.GuestMac, c.SynAck.DestinationMac);
        Assert.Equal(TcpHarness.RemoteIp, c.SynAck.Source);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.TcpFlowsOpened));
        Assert.Equal(1, h.Limiter.Count);
    }

    [Fact]
    public void OutboundSyn_NoWindowScale_SynAckOffersNoneAndWindowIsUnscaled()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h, wscale: -1);
        Assert.Equal(-1, c.SynAck.Options.WindowScale);
        c.Send(Bytes(10));
        Segment ack = Assert.Single(h.Link.Take());
        Assert.Equal(65535, ack.Window);
    }

    [Fact]
    public void OutboundSyn_V6_MssIsMtuLessSixty()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h, v6: true);
        Assert.Equal(1440, c.SynAck.Options.Mss);
        c.Socket.PeerSends(Bytes(5000));
        c.Socket.Fire(IoEvents.Readable);
        var got = new List<byte>();
        c.Receive(got);
        Assert.Equal(5000, got.Count);
    }

    [Fact]
    public void OutboundSyn_NoReplyBeforeHostConnects()
    {
        var h = new TcpHarness();
        h.Guest(TcpHarness.GuestIp, 5000, TcpHarness.RemoteIp, 80, 1, 0, TcpHeader.FlagSyn);
        h.Guest(TcpHarness.GuestIp, 5000, TcpHarness.RemoteIp, 80, 1, 0, TcpHeader.FlagSyn);
        Assert.Empty(h.Link.Frames);
        Assert.Single(h.Host.Connected);
    }

    [Fact]
    public void OutboundSyn_ConnectRefused_RstAckAndFlowReleased()
    {
        var h = new TcpHarness();
        h.Guest(TcpHarness.GuestIp, 5000, TcpHarness.RemoteIp, 80, 77, 0, TcpHeader.FlagSyn);
        FakeTcpSocket s = h.Host.Last!;
        s.PendingError = HostIo.ECONNREFUSED;
        s.Fire(IoEvents.Writable | IoEvents.Error);
        Segment rst = Assert.Single(h.Link.Take());
        Assert.True(rst.Rst && rst.AckFlag);
        Assert.Equal(78u, rst.Ack);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.TcpConnectFailed));
        Assert.Equal(0, h.Limiter.Count);
        Assert.Equal(0, h.Nat.FlowCount);
    }

    [Fact]
    public void OutboundSyn_NoSocket_RstAck()
    {
        var h = new TcpHarness();
        h.Host.ConnectErrno = HostIo.EMFILE;
        h.Guest(TcpHarness.GuestIp, 5000, TcpHarness.RemoteIp, 80, 77, 0, TcpHeader.FlagSyn);
        Segment rst = Assert.Single(h.Link.Take());
        Assert.True(rst.Rst);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.TcpConnectFailed));
        Assert.Equal(0, h.Limiter.Count);
    }

    [Fact]
    public void OutboundSyn_Restricted_RstAndCountedRestricted()
    {
        var h = new TcpHarness(GatewayOptions.Default with { Restrict = true });
        h.Guest(TcpHarness.GuestIp, 5000, TcpHarness.RemoteIp, 80, 77, 0, TcpHeader.FlagSyn);
        Segment rst = Assert.Single(h.Link.Take());
        Assert.True(rst.Rst);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.Restricted));
        Assert.Empty(h.Host.Connected);
    }

    [Fact]
    public void OutboundSyn_AnotherGuest_RstNotCarried()
    {
        var h = new TcpHarness();
        h.Guest(TcpHarness.GuestIp, 5000, IpAddr.FromV4(0x0A000220), 80, 77, 0, TcpHeader.FlagSyn);
        Assert.True(Assert.Single(h.Link.Take()).Rst);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.NotCarried));
    }

    [Fact]
    public void OutboundSyn_GatewayAddress_ConnectsToHostLoopback()
    {
        var h = new TcpHarness();
        h.Guest(TcpHarness.GuestIp, 5000, IpAddr.FromV4(0x0A000202), 22, 77, 0, TcpHeader.FlagSyn);
        Assert.Equal("127.0.0.1", h.Host.ConnectTargets[0].Address.ToString());
    }

    [Fact]
    public void OutboundSyn_DnsAddressPort53_ConnectsToUpstream()
    {
        var upstream = new DnsUpstream(IpAddr.FromV4(0x08080808), 5353);
        var h = new TcpHarness(GatewayOptions.Default with { DnsUpstreams = [upstream] });
        h.Guest(TcpHarness.GuestIp, 5000, IpAddr.FromV4(0x0A000203), 53, 77, 0, TcpHeader.FlagSyn);
        Assert.Equal((upstream.Address, (ushort)5353), h.Host.ConnectTargets[0]);
    }

    [Fact]
    public void OutboundSyn_DnsAddressOtherPort_Rst()
    {
        var h = new TcpHarness(GatewayOptions.Default with { DnsUpstreams = [new DnsUpstream(IpAddr.FromV4(0x08080808))] });
        h.Guest(TcpHarness.GuestIp, 5000, IpAddr.FromV4(0x0A000203), 80, 77, 0, TcpHeader.FlagSyn);
        Assert.True(Assert.Single(h.Link.Take()).Rst);
        Assert.Empty(h.Host.Connected);
    }

    [Fact]
    public void Segment_NoFlowWithAck_RstWithSeqOfTheirAck()
    {
        var h = new TcpHarness();
        h.Guest(TcpHarness.GuestIp, 5000, TcpHarness.RemoteIp, 80, 10, 12345, TcpHeader.FlagAck, payload: Bytes(3));
        Segment rst = Assert.Single(h.Link.Take());
        Assert.True(rst.Rst && !rst.AckFlag);
        Assert.Equal(12345u, rst.Seq);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.TcpNoFlow));
    }

    [Fact]
    public void Segment_NoFlowRst_NotAnswered()
    {
        var h = new TcpHarness();
        h.Guest(TcpHarness.GuestIp, 5000, TcpHarness.RemoteIp, 80, 10, 0, TcpHeader.FlagRst);
        h.Guest(TcpHarness.GuestIp, 5000, TcpHarness.RemoteIp, 80, 10, 5, TcpHeader.FlagRst | TcpHeader.FlagAck);
        Assert.Empty(h.Link.Frames);
        Assert.Equal(2, h.Counters.Drops(GatewayDrop.TcpNoFlow));
    }

    [Fact]
    public void Segment_BadChecksum_DroppedAndCounted()
    {
        var h = new TcpHarness();
        h.Guest(TcpHarness.GuestIp, 5000, TcpHarness.RemoteIp, 80, 10, 0, TcpHeader.FlagSyn, corruptChecksum: true);
        Assert.Empty(h.Link.Frames);
        Assert.Empty(h.Host.Connected);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.TcpChecksumBad));
    }

    [Fact]
    public void Segment_Truncated_Malformed()
    {
        var h = new TcpHarness();
        byte[] l4 = new byte[12];
        var packet = new GuestPacket(TcpHarness.GuestMac, TcpHarness.GuestIp, TcpHarness.RemoteIp, 6, 64, l4, l4, true);
        h.Nat.OnSegment(in packet);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.TcpMalformed));
    }

    [Fact]
    public void FlowLimit_PerGuestReached_ThirdSynRefused()
    {
        var h = new TcpHarness(GatewayOptions.Default with { MaxFlowsPerGuest = 2 });
        for (ushort p = 1; p <= 3; p++)
        {
            h.Guest(TcpHarness.GuestIp, p, TcpHarness.RemoteIp, 80, 1, 0, TcpHeader.FlagSyn);
        }

        Assert.Equal(2, h.Host.Connected.Count);
        Assert.True(Assert.Single(h.Link.Take()).Rst);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.GuestFlowLimit));
        Assert.Equal(2, h.Limiter.Count);
    }

    [Fact]
    public void FlowLimit_SpoofedMacsOnOnePort_LimitFollowsPort_OtherPortStillConnects()
    {
        var h = new TcpHarness(GatewayOptions.Default with { MaxFlowsPerGuest = 2 });
        for (ushort p = 1; p <= 6; p++)
        {
            h.Guest(TcpHarness.GuestIp, p, TcpHarness.RemoteIp, 80, 1, 0, TcpHeader.FlagSyn, mac: 0x0200_0000_0100UL + p, port: 7);
        }

        h.Guest(TcpHarness.GuestIp, 99, TcpHarness.RemoteIp, 80, 1, 0, TcpHeader.FlagSyn, port: 8);

        Assert.Equal(3, h.Host.Connected.Count);
        Assert.Equal(4, h.Counters.Drops(GatewayDrop.GuestFlowLimit));
        Assert.Equal(2, h.Limiter.CountFor(7));
        Assert.Equal(1, h.Limiter.CountFor(8));
    }

    [Fact]
    public void ClosePortFlows_PortLeftTheSwitch_ItsFlowsClosedQuietlyAndBudgetFreed_OtherPortKeepsItsOwn()
    {
        var h = new TcpHarness(GatewayOptions.Default with { MaxFlowsPerGuest = 2 });
        h.Guest(TcpHarness.GuestIp, 1, TcpHarness.RemoteIp, 80, 1, 0, TcpHeader.FlagSyn, port: 7);
        h.Guest(TcpHarness.GuestIp, 2, TcpHarness.RemoteIp, 80, 1, 0, TcpHeader.FlagSyn, port: 7);
        h.Guest(TcpHarness.GuestIp, 3, TcpHarness.RemoteIp, 80, 1, 0, TcpHeader.FlagSyn, port: 8);
        _ = h.Link.Take();

        Assert.Equal(2, h.Nat.ClosePortFlows(7));

        // Nobody is left behind port 7 to tell: no RST goes out; the host sockets are gone and the places free.
        Assert.Empty(h.Link.Take());
        Assert.Equal(2, h.Host.Connected.Count(s => s.Aborted));
        Assert.Equal(0, h.Limiter.CountFor(7));
        Assert.Equal(1, h.Limiter.CountFor(8));
        Assert.Equal(1, h.Nat.FlowCount);
    }

    [Fact]
    public void GuestData_SocketTakesAll_WrittenAndAcked()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h);
        byte[] data = Bytes(60000);
        c.Send(data);
        Assert.Equal(data, c.Socket.Received.ToArray());
        Assert.Equal(1, c.Socket.SendCalls);
        Segment ack = Assert.Single(h.Link.Take());
        Assert.Equal(c.Seq, ack.Ack);
    }

    [Fact]
    public void GuestData_HostSocketFull_WindowShrinksThenDrainsWithUpdate()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h);
        c.Socket.SendRoom = 1000;
        byte[] data = Bytes(50000);
        c.Send(data);
        Segment ack = Assert.Single(h.Link.Take());
        Assert.Equal(c.Seq, ack.Ack);
        int shift = TcpFlow.ShiftFor(1 << 20);
        Assert.Equal(((1 << 20) - 49000) >> shift, ack.Window);
        Assert.Equal(IoEvents.Writable, c.Socket.Interest & IoEvents.Writable);
        Assert.Equal(1000, c.Socket.Received.Count);

        c.Socket.SendRoom = int.MaxValue;
        c.Socket.Fire(IoEvents.Writable);
        Assert.Equal(data, c.Socket.Received.ToArray());
        Assert.Equal((IoEvents)0, c.Socket.Interest & IoEvents.Writable);
    }

    [Fact]
    public void GuestData_BufferFull_WindowZeroAndUpdateAfterDrain()
    {
        var h = new TcpHarness(GatewayOptions.Default with { TcpBufferBytes = 65536 });
        var c = TcpConn.Open(h);
        c.Socket.SendRoom = 0;
        c.Send(Bytes(65536));
        Segment ack = Assert.Single(h.Link.Take());
        Assert.Equal(0, ack.Window);
        c.Send(Bytes(100), seq: c.Seq);
        Assert.Equal(c.Seq, Assert.Single(h.Link.Take()).Ack);
        Assert.Equal(65536, h.Nat.Find(Key(c))!.ToHostBuffered);
        c.Socket.SendRoom = int.MaxValue;
        c.Socket.Fire(IoEvents.Writable);
        Segment update = Assert.Single(h.Link.Take());
        Assert.True(update.Window > 0);
        Assert.Equal(65536, c.Socket.Received.Count);
    }

    [Fact]
    public void GuestData_OutOfOrder_DroppedWithDuplicateAck()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h);
        c.Send(Bytes(100), seq: c.Seq + 500);
        Segment dup = Assert.Single(h.Link.Take());
        Assert.Equal(c.Seq, dup.Ack);
        Assert.Empty(c.Socket.Received);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.TcpOutOfWindow));
    }

    [Fact]
    public void GuestData_Overlapping_OnlyNewBytesWritten()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h);
        byte[] data = Bytes(200);
        c.Send(data.AsSpan(0, 100));
        c.Send(data, seq: c.Seq - 100);
        Assert.Equal(data, c.Socket.Received.ToArray());
    }

    [Fact]
    public void HostData_LargeRead_SentAsGsoFramesWithinGuestMss()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h, mss: 1000);
        byte[] data = Bytes(200_000);
        c.Socket.PeerSends(data);
        c.Socket.Fire(IoEvents.Readable);
        Assert.Contains(h.Link.Frames, f => f.Offload.IsGso && f.Offload.GsoSize == 1000);
        Assert.All(h.Link.Frames, f => Assert.True(f.Frame.Length <= GatewayContext.TxBufferSize));
        var got = new List<byte>();
        List<Segment> segs = c.Receive(got);
        Assert.All(segs, s => Assert.True(s.Payload.Length <= 1000));
        int window = 65535 << 7;
        Assert.Equal(data.AsSpan(0, Math.Min(window, data.Length)).ToArray(), got.ToArray());
        c.Ack();
        c.Receive(got);
        Assert.Equal(data, got.ToArray());
    }

    [Fact]
    public void HostData_SmallGuestWindow_SendsOnlyTheWindow()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h, wscale: -1, window: 3000);
        c.Socket.PeerSends(Bytes(10000));
        c.Socket.Fire(IoEvents.Readable);
        var got = new List<byte>();
        c.Receive(got);
        Assert.Equal(3000, got.Count);
        c.Ack();
        c.Receive(got);
        Assert.Equal(6000, got.Count);
    }

    [Fact]
    public void HostData_RingFull_ReadableInterestStopsUntilAcked()
    {
        var h = new TcpHarness(GatewayOptions.Default with { TcpBufferBytes = 65536 });
        var c = TcpConn.Open(h, wscale: -1, window: 0);
        c.Socket.PeerSends(Bytes(100_000));
        c.Socket.Fire(IoEvents.Readable);
        Assert.Equal((IoEvents)0, c.Socket.Interest & IoEvents.Readable);
        Assert.Equal(65536, h.Nat.Find(Key(c))!.ToGuestBuffered);
    }

    [Fact]
    public void HostData_NotAcked_RetransmittedAfterRto()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h);
        c.Socket.PeerSends(Bytes(500));
        c.Socket.Fire(IoEvents.Readable);
        Segment first = Assert.Single(h.Link.Take());
        h.Loop.Advance(TimeSpan.FromMilliseconds(900));
        Assert.Empty(h.Link.Frames);
        h.Loop.Advance(TimeSpan.FromMilliseconds(200));
        Segment again = Assert.Single(h.Link.Take());
        Assert.Equal(first.Seq, again.Seq);
        Assert.Equal(first.Payload, again.Payload);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.TcpRetransmits));
    }

    [Fact]
    public void HostData_ThreeDuplicateAcks_FastRetransmit()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h, mss: 1000, wscale: -1);
        c.Socket.PeerSends(Bytes(10_000));
        c.Socket.Fire(IoEvents.Readable);
        List<Segment> segs = h.Link.Take();
        uint start = c.Rcv;
        c.Ack(start + 1000);
        c.Ack(start + 1000);
        c.Ack(start + 1000);
        Assert.Empty(h.Link.Frames);
        c.Ack(start + 1000);
        Segment re = Assert.Single(h.Link.Take());
        Assert.Equal(start + 1000, re.Seq);
        Assert.Equal(1000, re.Payload.Length);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.TcpFastRetransmits));
        Assert.NotEmpty(segs);
    }

    [Fact]
    public void HostData_ZeroWindow_ProbedThenSentWhenOpened()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h, wscale: -1, window: 0);
        c.Socket.PeerSends(Bytes(100));
        c.Socket.Fire(IoEvents.Readable);
        Assert.Empty(h.Link.Frames);
        h.Loop.Advance(TimeSpan.FromSeconds(2));
        Segment probe = Assert.Single(h.Link.Take());
        Assert.Empty(probe.Payload);
        Assert.Equal(c.Rcv - 1, probe.Seq);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.TcpZeroWindowProbes));
        c.Window = 1000;
        c.Ack();
        var got = new List<byte>();
        c.Receive(got);
        Assert.Equal(100, got.Count);
    }

    [Fact]
    public void HostData_ZeroWindowProbesUnanswered_GivesUpWithRst()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h, wscale: -1, window: 0);
        c.Socket.PeerSends(Bytes(100));
        c.Socket.Fire(IoEvents.Readable);
        h.Loop.Advance(TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(1));
        Assert.True(h.Link.Take()[^1].Rst);
        Assert.True(c.Socket.Aborted);
        Assert.Equal(0, h.Nat.FlowCount);
    }

    [Fact]
    public void HostData_ZeroWindowProbesAnswered_FlowStays()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h, wscale: -1, window: 0);
        c.Socket.PeerSends(Bytes(100));
        c.Socket.Fire(IoEvents.Readable);
        for (int i = 0; i < 10; i++)
        {
            h.Loop.Advance(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(1));
            c.Ack();
        }

        Assert.Equal(1, h.Nat.FlowCount);
        Assert.DoesNotContain(h.Link.Take(), s => s.Rst);
    }

    [Fact]
    public void HostEof_FinAfterData_ThenGuestFin_ShutdownAndReleasedAfterLinger()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h);
        c.Socket.PeerSends(Bytes(3000));
        c.Socket.PeerEof = true;
        c.Socket.Fire(IoEvents.Readable);
        var got = new List<byte>();
        List<Segment> segs = c.Receive(got);
        Assert.Equal(3000, got.Count);
        Assert.True(segs[^1].Fin);
        c.Ack();
        Assert.False(c.Socket.ShutdownSent);
        c.Send([], TcpHeader.FlagFin);
        Assert.True(c.Socket.ShutdownSent);
        Assert.Equal(c.Seq, h.Link.Take()[^1].Ack);
        Assert.True(c.Socket.Disposed);
        Assert.False(c.Socket.Aborted);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.TcpFlowsClosed));

        // A retransmitted FIN during the linger is acknowledged again.
        c.Send([], TcpHeader.FlagFin, seq: c.Seq - 1);
        Assert.Equal(c.Seq, Assert.Single(h.Link.Take()).Ack);
        h.Loop.Advance(TcpFlow.LingerTime);
        Assert.Equal(0, h.Nat.FlowCount);
        Assert.Equal(0, h.Limiter.Count);
        Assert.Equal(0, h.Nat.Pool.Outstanding);
    }

    [Fact]
    public void GuestFin_WithUnwrittenData_ShutdownOnlyAfterDrain()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h);
        c.Socket.SendRoom = 10;
        c.Send(Bytes(100), TcpHeader.FlagFin);
        Assert.False(c.Socket.ShutdownSent);
        Assert.Equal(c.Seq, h.Link.Take()[^1].Ack);
        c.Socket.SendRoom = int.MaxValue;
        c.Socket.Fire(IoEvents.Writable);
        Assert.True(c.Socket.ShutdownSent);
        Assert.Equal(100, c.Socket.Received.Count);
        Assert.Equal("CLOSE_WAIT", h.Nat.Find(Key(c))!.StateName);
    }

    [Fact]
    public void GuestRst_HostSocketAborted()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h);
        c.Rst();
        Assert.True(c.Socket.Aborted);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.TcpFlowsReset));
        Assert.Equal(0, h.Nat.FlowCount);
        Assert.Equal(0, h.Limiter.Count);
    }

    [Fact]
    public void GuestRstOutOfWindow_Ignored()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h);
        h.Guest(c.GuestIp, c.GuestPort, c.RemoteIp, c.RemotePort, c.Seq - 5000, 0, TcpHeader.FlagRst);
        Assert.False(c.Socket.Aborted);
        Assert.Equal(1, h.Nat.FlowCount);
    }

    [Fact]
    public void HostReset_RstToGuest()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h);
        c.Socket.ReceiveErrno = HostIo.ECONNRESET;
        c.Socket.Fire(IoEvents.Readable | IoEvents.HangUp);
        Segment rst = Assert.Single(h.Link.Take());
        Assert.True(rst.Rst);
        Assert.Equal(c.Rcv, rst.Seq);
        Assert.Equal(1, h.Counters.Drops(GatewayDrop.TcpHostError));
        Assert.Equal(1, h.Counters.Events(GatewayEvent.TcpFlowsReset));
    }

    [Fact]
    public void HostError_EventWithSoError_RstToGuest()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h);
        c.Socket.PendingError = HostIo.ETIMEDOUT;
        c.Socket.Fire(IoEvents.Error);
        Assert.True(Assert.Single(h.Link.Take()).Rst);
    }

    [Fact]
    public void HostData_GuestSilentTwoMinutes_GivesUpWithRstBothWays()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h);
        c.Socket.PeerSends(Bytes(100));
        c.Socket.Fire(IoEvents.Readable);
        h.Loop.Advance(TimeSpan.FromMinutes(4), TimeSpan.FromSeconds(1));
        List<Segment> segs = h.Link.Take();
        Assert.True(segs[^1].Rst);
        Assert.True(c.Socket.Aborted);
        Assert.Equal(0, h.Nat.FlowCount);
    }

    [Fact]
    public void SynReceived_GuestNeverAcks_SynAckRetransmittedThenReset()
    {
        var h = new TcpHarness();
        h.Guest(TcpHarness.GuestIp, 5000, TcpHarness.RemoteIp, 80, 1, 0, TcpHeader.FlagSyn);
        h.Host.Last!.Fire(IoEvents.Writable);
        h.Loop.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(2, h.Link.Take().Count(s => s.Syn));
        h.Loop.Advance(TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(1));
        Assert.True(h.Host.Last.Aborted);
        Assert.Equal(0, h.Nat.FlowCount);
    }

    [Fact]
    public void Forward_ClientAccepted_SynToGuestThenDataBothWays()
    {
        var h = new TcpHarness();
        var rule = new ForwardRule(ForwardProtocol.Tcp, IpAddr.None, 2222, IpAddr.None, 22);
        h.Nat.AddForward(rule);
        FakeListener l = Assert.Single(h.Host.Listeners);
        var client = new FakeTcpSocket(h.Nat, IpAddr.FromV4(0x7F000001), 51000);
        l.Pending.Enqueue(client);
        l.Fire();
        Segment syn = Assert.Single(h.Link.Take());
        Assert.True(syn.Syn && !syn.AckFlag);
        Assert.Equal(h.Options.DhcpStart, syn.Destination);
        Assert.Equal(h.Options.Host, syn.Source);
        Assert.Equal(51000, syn.SourcePort);
        Assert.Equal(22, syn.DestinationPort);
        Assert.Equal(1460, syn.Options.Mss);

        // The SYN is retransmitted until the guest answers.
        h.Loop.Advance(TimeSpan.FromSeconds(1));
        Assert.True(Assert.Single(h.Link.Take()).Syn);

        h.Guest(syn.Destination, 22, syn.Source, 51000, 5000, syn.Seq + 1, TcpHeader.FlagSyn | TcpHeader.FlagAck, 65535, options: TcpHarness.SynOptions(1400, 3));
        Segment ack = Assert.Single(h.Link.Take());
        Assert.True(ack.AckFlag && !ack.Syn);
        Assert.Equal(5001u, ack.Ack);
        Assert.Equal(1, h.Counters.Events(GatewayEvent.TcpForwardsAccepted));

        h.Guest(syn.Destination, 22, syn.Source, 51000, 5001, syn.Seq + 1, TcpHeader.FlagAck, 65535, payload: "SSH-2.0"u8);
        Assert.Equal("SSH-2.0"u8.ToArray(), client.Received.ToArray());
        h.Link.Take();
        client.PeerSends(Bytes(3000));
        client.Fire(IoEvents.Readable);
        List<Segment> data = h.Link.Take();
        Assert.Equal(3000, data.Sum(s => s.Payload.Length));
        Assert.All(data, s => Assert.True(s.Payload.Length <= 1400));

        List<FlowInfo> flows = [];
        h.Nat.AddFlows(flows);
        FlowInfo f = Assert.Single(flows);
        Assert.True(f.Inbound);
        Assert.Equal("10.0.2.15:22", f.Guest);
        Assert.Equal("10.0.2.2:51000", f.Remote);
        Assert.Equal("ESTABLISHED", f.State);
        Assert.Equal(7, f.BytesFromGuest);
        Assert.Equal(3000, f.BytesToGuest);
    }

    [Fact]
    public void Forward_V6Guest_ShowsClientAddressAndV6Mss()
    {
        var h = new TcpHarness();
        h.Nat.AddForward(new ForwardRule(ForwardProtocol.Tcp, IpAddr.None, 8080, TcpHarness.GuestIp6, 80));
        var clientIp = new IpAddr(0x2001_0DB8_0000_0000UL, 5);
        h.Host.Listeners[0].Pending.Enqueue(new FakeTcpSocket(h.Nat, clientIp, 51000));
        h.Host.Listeners[0].Fire();
        Segment syn = Assert.Single(h.Link.Take());
        Assert.Equal(clientIp, syn.Source);
        Assert.Equal(TcpHarness.GuestIp6, syn.Destination);
        Assert.Equal(1440, syn.Options.Mss);
    }

    [Fact]
    public void AddFlows_Outbound_ListsStateAndBytes()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h);
        c.Send(Bytes(10));
        c.Socket.PeerSends(Bytes(20));
        c.Socket.PeerEof = true;
        c.Socket.Fire(IoEvents.Readable);
        h.Loop.Advance(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3));
        List<FlowInfo> flows = [];
        h.Nat.AddFlows(flows);
        FlowInfo f = Assert.Single(flows);
        Assert.Equal("tcp", f.Protocol);
        Assert.Equal("10.0.2.15:40001", f.Guest);
        Assert.Equal("192.0.2.1:80", f.Remote);
        Assert.Equal("FIN_WAIT", f.State);
        Assert.False(f.Inbound);
        Assert.Equal(10, f.BytesFromGuest);
        Assert.Equal(20, f.BytesToGuest);
        Assert.True(f.Idle >= TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void HostEof_BeforeGuestCompletesHandshake_DataAndFinFollowTheAck()
    {
        var h = new TcpHarness();
        h.Guest(TcpHarness.GuestIp, 5000, TcpHarness.RemoteIp, 80, 1, 0, TcpHeader.FlagSyn);
        FakeTcpSocket s = h.Host.Last!;
        s.Fire(IoEvents.Writable);
        Segment synAck = Assert.Single(h.Link.Take());
        s.PeerSends(Bytes(100));
        s.PeerEof = true;
        s.Fire(IoEvents.Readable);
        Assert.Empty(h.Link.Frames);
        h.Guest(TcpHarness.GuestIp, 5000, TcpHarness.RemoteIp, 80, 2, synAck.Seq + 1, TcpHeader.FlagAck);
        List<Segment> segs = h.Link.Take();
        Assert.Equal(100, segs.Sum(x => x.Payload.Length));
        Assert.True(segs[^1].Fin);
    }

    [Fact]
    public void Forward_GuestRefuses_ClientAborted()
    {
        var h = new TcpHarness();
        h.Nat.AddForward(new ForwardRule(ForwardProtocol.Tcp, IpAddr.None, 8080, IpAddr.None, 80));
        var client = new FakeTcpSocket(h.Nat, IpAddr.FromV4(0xC0A80105), 51000);
        h.Host.Listeners[0].Pending.Enqueue(client);
        h.Host.Listeners[0].Fire();
        Segment syn = Assert.Single(h.Link.Take());
        Assert.Equal(IpAddr.FromV4(0xC0A80105), syn.Source);
        h.Guest(syn.Destination, 80, syn.Source, 51000, 0, syn.Seq + 1, TcpHeader.FlagRst | TcpHeader.FlagAck);
        Assert.True(client.Aborted);
        Assert.Equal(0, h.Limiter.Count);
    }

    [Fact]
    public void Forward_GuestMacUnknown_SynSentOnceResolved()
    {
        var h = new TcpHarness();
        h.Neighbours.Table.Clear();
        h.Nat.AddForward(new ForwardRule(ForwardProtocol.Tcp, IpAddr.None, 8080, IpAddr.None, 80));
        h.Host.Listeners[0].Pending.Enqueue(new FakeTcpSocket(h.Nat, IpAddr.FromV4(0x7F000001), 51000));
        h.Host.Listeners[0].Fire();
        Assert.Empty(h.Link.Frames);
        h.Loop.Advance(TimeSpan.FromMilliseconds(300));
        Assert.Empty(h.Link.Frames);
        h.Neighbours.Table[TcpHarness.GuestIp] = TcpHarness.GuestMac;
        h.Loop.Advance(TimeSpan.FromMilliseconds(300));
        Assert.True(Assert.Single(h.Link.Take()).Syn);
    }

    [Fact]
    public void Forward_GuestNeverAnswers_ClientAbortedAfterRetries()
    {
        var h = new TcpHarness();
        h.Nat.AddForward(new ForwardRule(ForwardProtocol.Tcp, IpAddr.None, 8080, IpAddr.None, 80));
        var client = new FakeTcpSocket(h.Nat, IpAddr.FromV4(0x7F000001), 51000);
        h.Host.Listeners[0].Pending.Enqueue(client);
        h.Host.Listeners[0].Fire();
        h.Loop.Advance(TimeSpan.FromMinutes(3), TimeSpan.FromSeconds(1));
        Assert.True(client.Aborted);
        Assert.True(h.Link.Take().Count(s => s.Syn) >= 4);
        Assert.Equal(0, h.Nat.FlowCount);
    }

    [Fact]
    public void RemoveForward_ListenerClosedLiveFlowStays()
    {
        var h = new TcpHarness();
        var rule = new ForwardRule(ForwardProtocol.Tcp, IpAddr.None, 8080, IpAddr.None, 80);
        h.Nat.AddForward(rule);
        var client = new FakeTcpSocket(h.Nat, IpAddr.FromV4(0x7F000001), 51000);
        h.Host.Listeners[0].Pending.Enqueue(client);
        h.Host.Listeners[0].Fire();
        Assert.True(h.Nat.RemoveForward(rule));
        Assert.True(h.Host.Listeners[0].Disposed);
        Assert.False(client.Disposed);
        Assert.Equal(1, h.Nat.FlowCount);
        Assert.False(h.Nat.RemoveForward(rule));
    }

    [Fact]
    public void AddForward_ListenFails_Throws()
    {
        var h = new TcpHarness();
        h.Host.ListenFails = true;
        Assert.Throws<HostNetworkException>(() => h.Nat.AddForward(new ForwardRule(ForwardProtocol.Tcp, IpAddr.None, 80, IpAddr.None, 80)));
    }

    [Fact]
    public void Stop_AbortsEveryFlowAndListener()
    {
        var h = new TcpHarness();
        h.Nat.AddForward(new ForwardRule(ForwardProtocol.Tcp, IpAddr.None, 8080, IpAddr.None, 80));
        var a = TcpConn.Open(h, port: 1);
        var b = TcpConn.Open(h, port: 2);
        h.Nat.Stop();
        Assert.True(a.Socket.Aborted && b.Socket.Aborted);
        Assert.True(h.Host.Listeners[0].Disposed);
        Assert.Equal(0, h.Nat.FlowCount);
        Assert.Equal(0, h.Limiter.Count);
    }

    [Fact]
    public void Memory_FiveHundredFlowsWithMegabyteWindows_HoldOnlyBufferedBytes()
    {
        var h = new TcpHarness();
        var conns = new List<TcpConn>();
        for (int i = 0; i < 500; i++)
        {
            conns.Add(TcpConn.Open(h, port: (ushort)(1000 + i)));
        }

        Assert.Equal(0, h.Nat.Pool.Outstanding);
        foreach (TcpConn c in conns)
        {
            c.Socket.PeerSends(Bytes(100));
            c.Socket.Fire(IoEvents.Readable);
            c.Receive();
        }

        Assert.Equal(500, h.Nat.Pool.Outstanding);

        foreach (TcpConn c in conns)
        {
            c.Ack();
        }

        Assert.Equal(0, h.Nat.Pool.Outstanding);
    }

    [Fact]
    public void SynAfterClose_ReusesPortDuringLinger()
    {
        var h = new TcpHarness();
        var c = TcpConn.Open(h);
        c.Socket.PeerEof = true;
        c.Socket.Fire(IoEvents.Readable);
        c.Receive();
        c.Send([], TcpHeader.FlagFin);
        h.Link.Take();
        Assert.Equal("TIME_WAIT", h.Nat.Find(Key(c))!.StateName);
        var again = TcpConn.Open(h, isn: c.Seq + 100000);
        Assert.Equal(1, h.Nat.FlowCount);
        Assert.NotNull(again.Socket);
    }

    private static TcpFlowKey Key(TcpConn c) => new(c.GuestIp, c.GuestPort, c.RemoteIp, c.RemotePort);
}
