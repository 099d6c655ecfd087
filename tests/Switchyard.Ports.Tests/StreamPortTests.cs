using System.Buffers.Binary;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;
using Switchyard.Ports.Stream;
using Switchyard.TestKit.Streams;

namespace Switchyard.Ports.Tests;

public sealed class StreamPortTests : IDisposable
{
    private readonly LoopFixture fixture = new();

    public void Dispose() => fixture.Dispose();

    [Fact]
    public async Task Receive_FrameSplitIntoSingleBytes_IsReassembled()
    {
        (StreamPort port, RecordingSink sink, Socket peer) = await StartPort();
        byte[] frame = Frame(100, fill: 0x5A);
        foreach (byte b in StreamWire.Prefixed(frame))
        {
            peer.Send([b]);
        }

        await RecordingSink.WaitUntil(() => sink.Frames.Count == 1, "one frame");
        Assert.Equal(frame, sink.Frames[0]);
        Assert.Equal(1, port.Counters.RxFrames);
        peer.Dispose();
    }

    [Fact]
    public async Task Receive_ManyFramesInOneWrite_AreAllDelivered()
    {
        (_, RecordingSink sink, Socket peer) = await StartPort();
        var all = new List<byte>();
        for (int i = 0; i < 50; i++)
        {
            all.AddRange(StreamWire.Prefixed(Frame(60 + i, fill: (byte)i)));
        }

        peer.Send(all.ToArray());
        await RecordingSink.WaitUntil(() => sink.Frames.Count == 50, "50 frames");
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(60 + i, sink.Frames[i].Length);
            Assert.Equal((byte)i, sink.Frames[i][20]);
        }

        peer.Dispose();
    }

    [Fact]
    public async Task Receive_ZeroLengthPrefix_ClosesConnectionAndCounts()
    {
        (StreamPort port, RecordingSink sink, Socket peer) = await StartPort();
        peer.Send([0, 0, 0, 0]);
        await RecordingSink.WaitUntil(() => sink.Closed.Count == 1, "the port to close");
        Assert.Equal(1, port.Counters.Drops(DropReason.RxZeroLength));
        Assert.Equal(0, peer.Receive(new byte[1])); // Our side closed the connection.
        peer.Dispose();
    }

    [Fact]
    public async Task Receive_OversizedPrefix_ClosesConnectionAndCounts()
    {
        (StreamPort port, RecordingSink sink, Socket peer) = await StartPort();
        byte[] prefix = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(prefix, 69633);
        peer.Send(prefix);
        await RecordingSink.WaitUntil(() => sink.Closed.Count == 1, "the port to close");
        Assert.Equal(1, port.Counters.Drops(DropReason.RxOversized));
        peer.Dispose();
    }

    [Fact]
    public async Task Receive_EofInsideFrame_ClosesAsTruncated()
    {
        (StreamPort port, RecordingSink sink, Socket peer) = await StartPort();
        byte[] bytes = StreamWire.Prefixed(Frame(200, 1));
        peer.Send(bytes.AsSpan(0, 50));
        peer.Shutdown(SocketShutdown.Send);
        await RecordingSink.WaitUntil(() => sink.Closed.Count == 1, "the port to close");
        Assert.Equal(1, port.Counters.Drops(DropReason.RxTruncated));
        Assert.Empty(sink.Frames);
        peer.Dispose();
    }

    [Fact]
    public async Task Receive_RuntFrame_IsDroppedButConnectionStays()
    {
        (StreamPort port, RecordingSink sink, Socket peer) = await StartPort();
        peer.Send(StreamWire.Prefixed(new byte[10]));
        peer.Send(StreamWire.Prefixed(Frame(64, 3)));
        await RecordingSink.WaitUntil(() => sink.Frames.Count == 1, "the good frame");
        Assert.Equal(1, port.Counters.Drops(DropReason.RxRunt));
        Assert.Empty(sink.Closed);
        peer.Dispose();
    }

    [Fact]
    public async Task Transmit_BatchOfFrames_ArrivesFramedInOrder()
    {
        (StreamPort port, _, Socket peer) = await StartPort();
        await fixture.Loop.InvokeAsync(() =>
        {
            for (int i = 0; i < 20; i++)
            {
                port.Transmit(new EgressFrame(Frame(100 + i, (byte)i)));
            }

            return true;
        });

        for (int i = 0; i < 20; i++)
        {
            byte[] prefix = StreamWire.ReceiveExactly(peer, 4);
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(prefix);
            Assert.Equal(100 + i, length);
            byte[] body = StreamWire.ReceiveExactly(peer, length);
            Assert.Equal((byte)i, body[20]);
        }

        Assert.Equal(20, port.Counters.TxFrames);
        peer.Dispose();
    }

    [Fact]
    public async Task Transmit_PeerNotReading_DropsWhenStagingIsFullAndKeepsFraming()
    {
        (StreamPort port, _, Socket peer) = await StartPort();
        int sent = await fixture.Loop.InvokeAsync(() =>
        {
            for (int i = 0; i < 4000; i++)
            {
                port.Transmit(new EgressFrame(Frame(1500, (byte)i)));
            }

            return (int)port.Counters.TxFrames;
        });

        Assert.True(port.Counters.Drops(DropReason.TxQueueFull) > 0, "a peer that never reads must cause counted drops");

        // Everything that was accepted arrives intact and framed.
        for (int i = 0; i < sent; i++)
        {
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(StreamWire.ReceiveExactly(peer, 4));
            Assert.Equal(1500, length);
            _ = StreamWire.ReceiveExactly(peer, length);
        }

        peer.Dispose();
    }

    private static byte[] Frame(int length, byte fill)
    {
        byte[] frame = new byte[length];
        frame.AsSpan().Fill(fill);
        frame[0] = 0xFF; // broadcast destination
        frame[6] = 0x02; // locally administered unicast source
        return frame;
    }

    private async Task<(StreamPort Port, RecordingSink Sink, Socket Peer)> StartPort()
    {
        (Socket ours, Socket peer) = fixture.StreamPair();
        var sink = new RecordingSink();
        var port = new StreamPort("p", fixture.Loop, NullLogger.Instance, "test", persistent: false);
        await fixture.Loop.InvokeAsync(() =>
        {
            port.Attach(sink);
            port.Connect(ours);
            return true;
        });
        return (port, sink, peer);
    }
}
