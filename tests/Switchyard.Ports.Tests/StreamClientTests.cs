using System.Buffers.Binary;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;
using Switchyard.Ports;
using Switchyard.Ports.Stream;

namespace Switchyard.Ports.Tests;

public sealed class SocketClientTests : IDisposable
{
    private readonly LoopFixture fixture = new();

    public void Dispose() => fixture.Dispose();

    [Fact]
    public async Task Client_PeerNotListeningYet_ConnectsWhenItAppears_AndRedialsAfterPeerCloses()
    {
        string path = fixture.NewPath();
        var sink = new RecordingSink();
        var port = new StreamPort("up", fixture.Loop, NullLogger.Instance, path, persistent: true);
        SocketClient client = await fixture.Loop.InvokeAsync(() =>
        {
            port.Attach(sink);
            var c = new SocketClient(port, fixture.Loop, NullLogger.Instance, new UnixDomainSocketEndPoint(path));
            c.Start();
            return c;
        });

        // Nobody listens: frames to the port are counted as link-down, not lost silently.
        await fixture.Loop.InvokeAsync(() =>
        {
            port.Transmit(new EgressFrame(new byte[60]));
            return true;
        });
        Assert.Equal(1, port.Counters.Drops(DropReason.TxLinkDown));

        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(4);

        for (int round = 1; round <= 2; round++)
        {
            using Socket peer = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(15));
            byte[] frame = new byte[64];
            frame[0] = 0xFF;
            frame[6] = 0x02;
            frame[20] = (byte)round;
            byte[] wire = new byte[68];
            BinaryPrimitives.WriteUInt32BigEndian(wire, 64);
            frame.CopyTo(wire, 4);
            await peer.SendAsync(wire);
            await RecordingSink.WaitUntil(() => sink.Frames.Count == round, $"frame of round {round}");
            Assert.Equal((byte)round, sink.Frames[round - 1][20]);
            peer.Shutdown(SocketShutdown.Both);
        }

        // A client port survives its connections: it was never removed from its sink.
        Assert.Empty(sink.Closed);
        await fixture.Loop.InvokeAsync(() =>
        {
            client.Dispose();
            port.Stop();
            return true;
        });
    }
}
