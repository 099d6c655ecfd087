// A port on one stream connection (QEMU -netdev stream / socket, or a passt-style peer).
//
// Theory of operation: the port owns a connected, non-blocking stream socket and two buffers.
// Receive: read as much as is there (a bounded number of reads per wake-up, for fairness), cut
// complete frames out of the buffer with StreamFraming and deliver each as a span of the buffer
// itself (no copy), then move the partial tail to the front. Transmit: append prefix + frame to
// the staging buffer (the one copy this medium needs, with the VLAN rewrite applied on the way) and
// ask the loop for a flush; the flush sends everything staged with one send(). If the socket is
// full, the remainder waits for EPOLLOUT while new frames keep queueing until the staging buffer is
// full, after which frames are dropped and counted, as a NIC drops when its TX queue is full.
//
// Trust: the peer is hostile. A zero or oversized length prefix, or EOF in the middle of a frame,
// closes this connection only, with a logged reason and a counter.
//
// A port made by a listener lives as long as its connection. A client port (server=off) outlives its
// connections: when one ends it goes link-down and its owner reconnects and calls Connect again.
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Switchyard.Core.Frames;
using Switchyard.Core.Loop;
using Switchyard.Core.Ports;
using Switchyard.Native;

namespace Switchyard.Ports.Stream;

public sealed partial class StreamPort : ConnectionPort, IIoHandler
{
    private const int ReceiveBufferSize = 256 * 1024;
    private const int StagingBufferSize = 1024 * 1024;
    // Fairness and balance: one wake-up reads at most two buffers' worth from a peer, and a port
    // sends as soon as it has this much staged instead of waiting for the end of the loop iteration,
    // so ingress cannot outrun egress by a whole megabyte per iteration (bench/results: drops under
    // overload were the egress staging overflowing while the loop kept reading).
    private const int MaxReadsPerWake = 2;
    private const int EagerFlushBytes = 128 * 1024;
    private const int SocketBufferBytes = 1024 * 1024;

    private readonly IEventLoop loop;
    private readonly ILogger logger;
    private readonly byte[] rx = GC.AllocateUninitializedArray<byte>(ReceiveBufferSize, pinned: true);
    private readonly byte[] tx = GC.AllocateUninitializedArray<byte>(StagingBufferSize, pinned: true);
    private Socket? socket;
    private IoRegistration? registration;
    private int rxEnd;
    private int txStart;
    private int txEnd;
    private bool waitingForWritable;
    private bool stopped;
    private string peer;

    /// <summary>Creates a port. <paramref name="persistent"/> ports survive the end of a connection
    /// (client ports that reconnect); others close themselves and are removed.</summary>
    public StreamPort(string name, IEventLoop loop, ILogger logger, string peer, bool persistent)
        : base(name, persistent)
    {
        this.loop = loop;
        this.logger = logger;
        this.peer = peer;
    }

    public override string Kind => "stream";

    public override string Peer => peer;

    public override int MaxFrameLength => StreamFraming.MaxFrameLength;

    /// <summary>True while a connection is attached.</summary>
    public override bool IsConnected => socket is not null;

    /// <summary>Attaches a connected socket; the port takes ownership. Call on the loop.</summary>
    public override void Connect(Socket connected, string? peerDescription = null)
    {
        ArgumentNullException.ThrowIfNull(connected);
        if (stopped)
        {
            connected.Dispose();
            return;
        }

        DetachConnection();
        connected.Blocking = false;
        connected.SendBufferSize = SocketBufferBytes;
        connected.ReceiveBufferSize = SocketBufferBytes;
        socket = connected;
        if (peerDescription is not null)
        {
            peer = peerDescription;
        }

        rxEnd = 0;
        txStart = txEnd = 0;
        waitingForWritable = false;
        registration = loop.Register((int)connected.Handle, this, IoEvents.Readable);
    }

    public override void Start()
    {
        // I/O starts with Connect; nothing else to do.
    }

    public void OnIo(IoEvents events)
    {
        if ((events & IoEvents.Writable) != 0)
        {
            Flush();
        }

        if (socket is not null && (events & (IoEvents.Readable | IoEvents.HangUp | IoEvents.Error)) != 0)
        {
            Receive();
        }
    }

    public override void Transmit(in EgressFrame frame)
    {
        if (socket is null)
        {
            Counters.Drop(DropReason.TxLinkDown);
            return;
        }

        int length = frame.Length;
        if (length > StreamFraming.MaxFrameLength)
        {
            Counters.Drop(DropReason.TxTooBig);
            return;
        }

        int needed = StreamFraming.PrefixLength + length;
        if (tx.Length - txEnd < needed)
        {
            CompactStaging();
            if (tx.Length - txEnd < needed)
            {
                Counters.Drop(DropReason.TxQueueFull);
                return;
            }
        }

        StreamFraming.WritePrefix(tx.AsSpan(txEnd), length);
        frame.CopyTo(tx.AsSpan(txEnd + StreamFraming.PrefixLength, length));
        txEnd += needed;
        Counters.CountTx(length);
        if (!waitingForWritable)
        {
            if (txEnd - txStart >= EagerFlushBytes)
            {
                Flush();
            }
            else
            {
                loop.RequestFlush(this);
            }
        }
    }

    public override void Flush()
    {
        if (socket is not { } s || txStart == txEnd)
        {
            return;
        }

        IoResult result = SocketIo.Send((int)s.Handle, tx.AsSpan(txStart, txEnd - txStart));
        if (result.Ok)
        {
            txStart += result.Bytes;
            if (txStart == txEnd)
            {
                txStart = txEnd = 0;
            }
        }
        else if (!result.WouldBlock)
        {
            ConnectionLost($"send failed: {result.ErrorMessage}");
            return;
        }

        bool pending = txStart != txEnd;
        if (pending != waitingForWritable)
        {
            waitingForWritable = pending;
            registration?.Update(pending ? IoEvents.Readable | IoEvents.Writable : IoEvents.Readable);
        }
    }

    public override void Stop()
    {
        if (!stopped)
        {
            stopped = true;
            DetachConnection();
        }
    }

    private void Receive()
    {
        for (int reads = 0; reads < MaxReadsPerWake && socket is { } s; reads++)
        {
            IoResult result = SocketIo.Receive((int)s.Handle, rx.AsSpan(rxEnd));
            if (result.WouldBlock)
            {
                return;
            }

            if (!result.Ok)
            {
                ConnectionLost($"receive failed: {result.ErrorMessage}");
                return;
            }

            if (result.Bytes == 0)
            {
                if (rxEnd > 0)
                {
                    ProtocolError(DropReason.RxTruncated, $"peer closed the stream {rxEnd} bytes into a frame");
                }
                else
                {
                    ConnectionLost("peer closed the connection");
                }

                return;
            }

            rxEnd += result.Bytes;
            if (!DeliverBuffered())
            {
                return;
            }
        }
    }

    /// <summary>Delivers every complete frame in the receive buffer and keeps the partial tail.
    /// Returns false if the connection was closed for a protocol error.</summary>
    private bool DeliverBuffered()
    {
        int start = 0;
        while (true)
        {
            FramingStatus status = StreamFraming.TryRead(rx.AsSpan(start, rxEnd - start), out int length);
            if (status == FramingStatus.NeedMore)
            {
                break;
            }

            if (status == FramingStatus.ZeroLength)
            {
                ProtocolError(DropReason.RxZeroLength, "length prefix of zero");
                return false;
            }

            if (status == FramingStatus.Oversized)
            {
                ProtocolError(DropReason.RxOversized, $"length prefix above {StreamFraming.MaxFrameLength}");
                return false;
            }

            Deliver(rx.AsSpan(start + StreamFraming.PrefixLength, length), OffloadInfo.None);
            start += StreamFraming.PrefixLength + length;
            if (socket is null)
            {
                return false; // Delivery closed us (e.g. the network was torn down).
            }
        }

        if (start > 0)
        {
            rx.AsSpan(start, rxEnd - start).CopyTo(rx);
            rxEnd -= start;
        }

        return true;
    }

    private void ProtocolError(DropReason reason, string detail)
    {
        Counters.Drop(reason);
        LogProtocolError(Name, peer, DropReasons.Name(reason), detail);
        ConnectionLost(detail, alreadyLogged: true);
    }

    private void ConnectionLost(string reason, bool alreadyLogged = false)
    {
        if (!alreadyLogged)
        {
            LogDisconnected(Name, peer, reason);
        }

        EndConnection(reason);
    }

    private void CompactStaging()
    {
        if (txStart > 0)
        {
            tx.AsSpan(txStart, txEnd - txStart).CopyTo(tx);
            txEnd -= txStart;
            txStart = 0;
        }
    }

    protected override void DetachConnection()
    {
        registration?.Dispose();
        registration = null;
        socket?.Dispose();
        socket = null;
        rxEnd = 0;
        txStart = txEnd = 0;
        waitingForWritable = false;
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Warning, Message = "port {Port} ({Peer}): closing connection, {Reason}: {Detail}")]
    private partial void LogProtocolError(string port, string peer, string reason, string detail);

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "port {Port} ({Peer}): {Reason}")]
    private partial void LogDisconnected(string port, string peer, string reason);
}
