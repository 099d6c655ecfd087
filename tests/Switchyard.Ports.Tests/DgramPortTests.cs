using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Core.Frames;
using Switchyard.Ports.Dgram;

namespace Switchyard.Ports.Tests;

public sealed class DgramPortTests : IDisposable
{
    private readonly LoopFixture fixture = new();

    public void Dispose() => fixture.Dispose();

    [Fact]
    public async Task Udp_DatagramFromPeer_IsOneFrame_AndTransmitReachesPeer()
    {
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var ourEndPoint = (IPEndPoint)probe.LocalEndPoint!;
        probe.Dispose();

        var sink = new RecordingSink();
        DgramPort port = await fixture.Loop.InvokeAsync(() =>
        {
            DgramPort p = DgramPort.Open("d", fixture.Loop, NullLogger.Instance, ourEndPoint, peer.LocalEndPoint!);
            p.Attach(sink);
            p.Start();
            return p;
        });

        byte[] frame = new byte[80];
        frame[0] = 0xFF;
        frame[6] = 0x02;
        peer.SendTo(frame, ourEndPoint);
        await RecordingSink.WaitUntil(() => sink.Frames.Count == 1, "a frame");
        Assert.Equal(frame, sink.Frames[0]);

        await fixture.Loop.InvokeAsync(() =>
        {
            port.Transmit(new EgressFrame(frame));
            return true;
        });
        byte[] got = new byte[2000];
        peer.ReceiveTimeout = 5000;
        Assert.Equal(80, peer.Receive(got));
        Assert.Equal(1, port.Counters.TxFrames);
        await fixture.Loop.InvokeAsync(() =>
        {
            port.Stop();
            return true;
        });
    }

    [Fact]
    public async Task Unix_TransmitWithVlanInsert_PeerGetsTaggedFrame()
    {
        string ours = fixture.NewPath();
        string theirs = fixture.NewPath();
        using var peer = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        peer.Bind(new UnixDomainSocketEndPoint(theirs));
        DgramPort port = await fixture.Loop.InvokeAsync(() =>
        {
            DgramPort p = DgramPort.Open("u", fixture.Loop, NullLogger.Instance, new UnixDomainSocketEndPoint(ours), new UnixDomainSocketEndPoint(theirs));
            p.Attach(new RecordingSink());
            p.Start();
            return p;
        });

        byte[] frame = new byte[60];
        frame[12] = 0x08;
        await fixture.Loop.InvokeAsync(() =>
        {
            port.Transmit(new EgressFrame(frame, VlanRewrite.Insert, 10, OffloadInfo.None));
            return true;
        });
        byte[] got = new byte[2000];
        peer.ReceiveTimeout = 5000;
        int n = peer.Receive(got);
        Assert.Equal(64, n);
        Assert.Equal(new byte[] { 0x81, 0x00, 0x00, 0x0A, 0x08 }, got[12..17]);
        await fixture.Loop.InvokeAsync(() =>
        {
            port.Stop();
            return true;
        });
        Assert.False(File.Exists(ours), "the port removes its socket file");
    }
}
