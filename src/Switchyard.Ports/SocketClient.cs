// The connecting side of a port (spec server=off): Switchyard dials a QEMU that listens
// (-netdev stream,server=on, socket,listen=, or a vhost-user chardev with server=on) and keeps
// dialling for as long as the port exists.
//
// Theory of operation: the client owns one persistent connection port (stream or vhost-user). While the port is down it tries to
// connect with exponential backoff (100 ms doubling to 5 s); a connect that is in progress waits for
// EPOLLOUT and then reads SO_ERROR. When the connection ends the port reports Disconnected and the
// cycle starts again. Failures are logged on the first attempt and then once per 30 s, not per try.
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Switchyard.Core.Loop;
using Switchyard.Core.Ports;

namespace Switchyard.Ports;

/// <summary>A port that lives on a connected stream socket and can be given a new one after a disconnect.</summary>
public interface IConnectionPort
{
    string Name { get; }

    string Peer { get; }

    bool IsConnected { get; }

    /// <summary>Attaches a connected socket (taking ownership). On the loop.</summary>
    void Connect(Socket connected, string? peerDescription = null);

    /// <summary>Raised on the loop when a persistent port loses its connection.</summary>
    event Action<Port, string>? Disconnected;
}

public sealed partial class SocketClient : IIoHandler, IDisposable
{
    private static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan LogEvery = TimeSpan.FromSeconds(30);

    private readonly IEventLoop loop;
    private readonly ILogger logger;
    private readonly EndPoint endPoint;
    private readonly LoopTimer retryTimer;
    private readonly TimeSpan? fixedInterval;
    private Socket? pending;
    private IoRegistration? pendingRegistration;
    private TimeSpan backoff = InitialBackoff;
    private long lastLogged;
    private bool disposed;

    /// <param name="reconnectInterval">A fixed retry interval (QEMU's reconnect=); null for exponential backoff.</param>
    public SocketClient(IConnectionPort port, IEventLoop loop, ILogger logger, EndPoint endPoint, TimeSpan? reconnectInterval = null)
    {
        ArgumentNullException.ThrowIfNull(port);
        Port = port;
        this.loop = loop;
        this.logger = logger;
        this.endPoint = endPoint;
        fixedInterval = reconnectInterval;
        retryTimer = loop.CreateTimer(TryConnect);
        port.Disconnected += OnDisconnected;
    }

    public IConnectionPort Port { get; }

    /// <summary>Starts dialling; call on the loop.</summary>
    public void Start() => TryConnect();

    public void OnIo(IoEvents events)
    {
        if (pending is not { } s)
        {
            return;
        }

        int error = (int)(s.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error) ?? 0);
        ClearPending(dispose: false);
        if (error == 0)
        {
            Connected(s);
        }
        else
        {
            s.Dispose();
            Failed(new SocketException(error).Message);
        }
    }

    public void Dispose()
    {
        disposed = true;
        retryTimer.Dispose();
        ClearPending(dispose: true);
        Port.Disconnected -= OnDisconnected;
    }

    public override string ToString() => $"client {Port.Name} to {endPoint}";

    private void TryConnect()
    {
        if (disposed || Port.IsConnected || pending is not null)
        {
            return;
        }

        var s = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        s.Blocking = false;
        try
        {
            s.Connect(endPoint);
            Connected(s);
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
        {
            pending = s;
            pendingRegistration = loop.Register((int)s.Handle, this, IoEvents.Writable);
        }
        catch (SocketException ex)
        {
            s.Dispose();

            // .NET reports a missing unix socket path (ENOENT) as "Cannot assign requested address".
            Failed(endPoint is UnixDomainSocketEndPoint && ex.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported
                ? "no socket at that path yet; is the peer started with server=on?"
                : ex.Message);
        }
    }

    private void Connected(Socket s)
    {
        if (s.ProtocolType == ProtocolType.Tcp)
        {
            s.NoDelay = true;
        }

        backoff = InitialBackoff;
        lastLogged = 0;
        Port.Connect(s, endPoint.ToString());
        LogConnected(Port.Name, endPoint.ToString() ?? "?");
    }

    private void Failed(string why)
    {
        long now = loop.Clock.GetTimestamp();
        if (lastLogged == 0 || loop.Clock.GetElapsedTime(lastLogged, now) >= LogEvery)
        {
            lastLogged = now;
            LogConnectFailed(Port.Name, endPoint.ToString() ?? "?", why);
        }

        ScheduleRetry();
    }

    private void OnDisconnected(Port port, string reason) => ScheduleRetry();

    private void ScheduleRetry()
    {
        if (disposed)
        {
            return;
        }

        retryTimer.Arm(fixedInterval ?? backoff);
        backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
    }

    private void ClearPending(bool dispose)
    {
        pendingRegistration?.Dispose();
        pendingRegistration = null;
        if (dispose)
        {
            pending?.Dispose();
        }

        pending = null;
    }

    [LoggerMessage(EventId = 220, Level = LogLevel.Information, Message = "port {Port} connected to {Peer}")]
    private partial void LogConnected(string port, string peer);

    [LoggerMessage(EventId = 221, Level = LogLevel.Warning, Message = "port {Port}: cannot connect to {Peer} ({Error}); retrying")]
    private partial void LogConnectFailed(string port, string peer, string error);
}
