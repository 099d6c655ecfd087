// A datagram port (QEMU -netdev dgram, or socket,udp=): one Ethernet frame per datagram, no prefix,
// no virtio-net header (QEMU net/dgram.c).
//
// Theory of operation: the socket is bound to our local address and connected to the peer's, so the
// kernel filters out datagrams from anyone else and send() needs no address. UDP connect succeeds
// even before the peer exists. A unix datagram peer must have bound its path before we can connect
// to it, so for unix sockets connect is retried (at most once a second) when a frame is to be sent.
// Receive reads a bounded batch of datagrams per wake-up into one buffer and delivers each in turn.
// Transmit sends at once: a frame that needs no VLAN rewrite goes straight from the ingress buffer
// to the kernel, so there is no copy of ours at all.
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Switchyard.Core.Frames;
using Switchyard.Core.Host;
using Switchyard.Core.Loop;
using Switchyard.Core.Ports;
using Switchyard.Native;

namespace Switchyard.Ports.Dgram;

public sealed partial class DgramPort : Port, IIoHandler
{
    /// <summary>Largest frame we accept in one datagram; anything longer is counted oversized.</summary>
    public const int MaxDatagram = 65535;

    private const int MaxDatagramsPerWake = 64;

    private readonly IEventLoop loop;
    private readonly ILogger logger;
    private readonly EndPoint remote;
    private readonly string? localPath;
    private readonly byte[] rx = GC.AllocateUninitializedArray<byte>(MaxDatagram + 1, pinned: true);
    private readonly byte[] tx = GC.AllocateUninitializedArray<byte>(MaxDatagram + Ethernet.VlanTagLength, pinned: true);
    private Socket? socket;
    private IoRegistration? registration;
    private bool connected;
    private long lastConnectAttempt;

    /// <summary>The bound inet address and port, registered so the NAT gateway never carries a guest here.</summary>
    private IDisposable? own;

    private DgramPort(string name, IEventLoop loop, ILogger logger, Socket socket, EndPoint remote, string? localPath)
        : base(name)
    {
        own = OwnEndpoints.Process.Register(OwnProtocol.Udp, socket.LocalEndPoint);
        this.loop = loop;
        this.logger = logger;
        this.socket = socket;
        this.remote = remote;
        this.localPath = localPath;
    }

    public override string Kind => "dgram";

    public override string Peer => remote.ToString() ?? "?";

    public override int MaxFrameLength => MaxDatagram;

    /// <summary>Binds <paramref name="local"/>; throws a SocketException or IOException a user can act on.</summary>
    public static DgramPort Open(string name, IEventLoop loop, ILogger logger, EndPoint local, EndPoint remote)
    {
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(remote);
        string? path = null;
        Socket s;
        if (local is UnixDomainSocketEndPoint)
        {
            path = local.ToString();
            if (path is { Length: > 0 } && path[0] != '\0')
            {
                UnixSockets.RemoveStale(path);
            }
            else
            {
                path = null;
            }

            s = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        }
        else
        {
            s = new Socket(local.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        }

        try
        {
            s.Bind(local);
            s.Blocking = false;
            s.ReceiveBufferSize = 4 * 1024 * 1024;
            s.SendBufferSize = 4 * 1024 * 1024;
        }
        catch
        {
            s.Dispose();
            throw;
        }

        return new DgramPort(name, loop, logger, s, remote, path);
    }

    public override void Start()
    {
        if (socket is { } s)
        {
            TryConnect();
            registration = loop.Register((int)s.Handle, this, IoEvents.Readable);
        }
    }

    public void OnIo(IoEvents events)
    {
        for (int i = 0; i < MaxDatagramsPerWake && socket is { } s; i++)
        {
            IoResult result = SocketIo.Receive((int)s.Handle, rx);
            if (result.WouldBlock)
            {
                return;
            }

            if (!result.Ok)
            {
                // ECONNREFUSED from an ICMP port-unreachable for an earlier send: the peer is not up yet.
                continue;
            }

            if (result.Bytes > MaxDatagram)
            {
                Counters.Drop(DropReason.RxOversized);
                continue;
            }

            Deliver(rx.AsSpan(0, result.Bytes), OffloadInfo.None);
        }
    }

    public override void Transmit(in EgressFrame frame)
    {
        if (socket is not { } s || (!connected && !TryConnect()))
        {
            Counters.Drop(DropReason.TxLinkDown);
            return;
        }

        int length = frame.Length;
        if (length > MaxDatagram)
        {
            Counters.Drop(DropReason.TxTooBig);
            return;
        }

        ReadOnlySpan<byte> bytes;
        if (frame.Rewrite == VlanRewrite.None)
        {
            bytes = frame.Data;
        }
        else
        {
            frame.CopyTo(tx);
            bytes = tx.AsSpan(0, length);
        }

        IoResult result = SocketIo.Send((int)s.Handle, bytes);
        if (result.Ok)
        {
            Counters.CountTx(length);
        }
        else
        {
            Counters.Drop(result.WouldBlock ? DropReason.TxQueueFull : DropReason.TxError);
        }
    }

    public override void Stop()
    {
        registration?.Dispose();
        registration = null;
        own?.Dispose();
        own = null;
        socket?.Dispose();
        socket = null;
        if (localPath is not null)
        {
            try
            {
                File.Delete(localPath);
            }
            catch (IOException)
            {
                // Already gone.
            }
        }
    }

    private bool TryConnect()
    {
        long now = loop.Clock.GetTimestamp();
        if (socket is not { } s || (lastConnectAttempt != 0 && loop.Clock.GetElapsedTime(lastConnectAttempt, now) < TimeSpan.FromSeconds(1)))
        {
            return false;
        }

        lastConnectAttempt = now;
        try
        {
            s.Connect(remote);
            connected = true;
            return true;
        }
        catch (SocketException ex)
        {
            LogConnectFailed(Name, remote.ToString() ?? "?", ex.Message);
            return false;
        }
    }

    [LoggerMessage(EventId = 230, Level = LogLevel.Debug, Message = "port {Port}: peer {Peer} not reachable yet ({Error})")]
    private partial void LogConnectFailed(string port, string peer, string error);
}
