// A listening stream socket (unix or TCP) that turns every accepted connection into a port.
//
// Theory of operation: QEMU's own stream server takes one client at a time; ours takes any number,
// which is what lets many guests share DIR/stream.sock (or DIR/vhost-user.sock). Connection N of
// listener "stream" becomes port "stream.N"; it lives as long as its connection. What kind of port
// a connection becomes is the caller's choice (the accept callback). The listener registers its
// socket with the loop and accepts in a bounded batch on each wake-up.
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Switchyard.Core.Host;
using Switchyard.Core.Loop;

namespace Switchyard.Ports;

public sealed partial class SocketListener : IIoHandler, IDisposable
{
    private const int MaxAcceptsPerWake = 16;

    private readonly ILogger logger;
    private readonly Func<AcceptedConnection, bool> onAccepted;
    private readonly string? unixPath;
    private Socket? socket;
    private IoRegistration? registration;

    /// <summary>The inet address and port, registered so the NAT gateway never carries a guest here.</summary>
    private IDisposable? own;
    private int nextConnection;

    private SocketListener(string name, ILogger logger, Socket socket, string? unixPath, Func<AcceptedConnection, bool> onAccepted)
    {
        Name = name;
        this.logger = logger;
        this.socket = socket;
        this.unixPath = unixPath;
        this.onAccepted = onAccepted;
        Address = unixPath ?? socket.LocalEndPoint?.ToString() ?? "?";
    }

    public string Name { get; }

    /// <summary>Where it listens: a socket path or HOST:PORT (with the real port when 0 was asked).</summary>
    public string Address { get; }

    /// <summary>Binds and listens; throws <see cref="SocketException"/> or <see cref="IOException"/> with a
    /// user-facing message when the address is unusable. <paramref name="onAccepted"/> makes the
    /// connection a port on its network (taking the socket) and returns false to refuse it.</summary>
    public static SocketListener Open(string name, IEventLoop loop, ILogger logger, EndPoint endPoint, Func<AcceptedConnection, bool> onAccepted)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        string? path = null;
        Socket s;
        if (endPoint is UnixDomainSocketEndPoint unix)
        {
            path = unix.ToString();
            bool isAbstract = path.Length > 0 && path[0] == '\0';
            if (!isAbstract)
            {
                UnixSockets.RemoveStale(path);
            }
            else
            {
                path = null;
            }

            s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        }
        else
        {
            s = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        }

        try
        {
            s.Bind(endPoint);
            s.Listen(64);
            s.Blocking = false;
        }
        catch
        {
            s.Dispose();
            throw;
        }

        var listener = new SocketListener(name, logger, s, path, onAccepted);
        listener.own = OwnEndpoints.Process.Register(OwnProtocol.Tcp, s.LocalEndPoint);
        listener.registration = loop.Register((int)s.Handle, listener, IoEvents.Readable);
        return listener;
    }

    public void OnIo(IoEvents events)
    {
        for (int i = 0; i < MaxAcceptsPerWake && socket is { } s; i++)
        {
            Socket accepted;
            try
            {
                accepted = s.Accept();
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.WouldBlock or SocketError.Interrupted or SocketError.ConnectionAborted)
            {
                return;
            }
            catch (SocketException ex)
            {
                // EMFILE and friends: log and back off until the next wake-up rather than spin.
                LogAcceptFailed(Name, ex.Message);
                return;
            }

            string portName = $"{Name}.{++nextConnection}";
            string peer = unixPath is null ? accepted.RemoteEndPoint?.ToString() ?? "?" : $"{unixPath}#{nextConnection}";
            if (!onAccepted(new AcceptedConnection(portName, peer, accepted)))
            {
                accepted.Dispose();
                continue;
            }

            LogAccepted(portName, peer);
        }
    }

    public void Dispose()
    {
        registration?.Dispose();
        registration = null;
        own?.Dispose();
        own = null;
        socket?.Dispose();
        socket = null;
        if (unixPath is not null)
        {
            try
            {
                File.Delete(unixPath);
            }
            catch (IOException)
            {
                // Already gone or not ours any more; nothing to clean.
            }
        }
    }

    public override string ToString() => $"listener {Name} on {Address}";

    [LoggerMessage(EventId = 210, Level = LogLevel.Information, Message = "port {Port} connected ({Peer})")]
    private partial void LogAccepted(string port, string peer);

    [LoggerMessage(EventId = 211, Level = LogLevel.Warning, Message = "listener {Listener}: accept failed: {Error}")]
    private partial void LogAcceptFailed(string listener, string error);
}

/// <summary>A connection a listener accepted: the port name it should get, a description of the
/// peer, and the socket (the accept callback takes ownership).</summary>
public readonly record struct AcceptedConnection(string PortName, string Peer, Socket Socket);
