// A listening stream socket (unix or TCP) that turns every accepted connection into a port.
//
// Theory of operation: QEMU's own stream server takes one client at a time; ours takes any number,
// which is what lets many guests share DIR/stream.sock (or DIR/vhost-user.sock). Connection N of
// listener "stream" becomes port "stream.N"; it lives as long as its connection. What kind of port
// a connection becomes is the caller's choice (the accept callback). The listener registers its
// socket with the loop and accepts in a bounded batch on each wake-up.
//
// Budget (issue 10, hole 4): every connection holds a descriptor, and a full descriptor table kills the
// .NET runtime (each new runtime thread needs a pipe; when it cannot get one the runtime reports "Out of
// memory." and aborts). So a connection is kept only if this listener holds fewer than its cap
// (MaxConnections, default 256) and the process-wide DescriptorBudget agrees (global cap, descriptor
// reserve). A refused connection is accepted and closed at once, so its peer sees EOF instead of hanging
// in the backlog, and counted by reason. accept() itself failing with EMFILE/ENFILE (something else
// filled the table) cannot be answered that way, and the level-triggered loop would call us again at
// once: the listener stops watching its socket for AcceptPause and tries again after it, counted. One
// warning per RefusalLogInterval says what is happening, never one per connection.
//
// The listener tracks the ports it made (the accept callback returns them) and prunes the ones whose
// connection has ended before it counts; each pruned port gives its connection back to the budget.
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Switchyard.Core.Host;
using Switchyard.Core.Loop;
using Switchyard.Native;

namespace Switchyard.Ports;

public sealed partial class SocketListener : IIoHandler, IDisposable
{
    private const int MaxAcceptsPerWake = 16;
    private const int EAGAIN = 11;
    private const int EINTR = 4;
    private const int ECONNABORTED = 103;
    private const int EMFILE = 24;
    private const int ENFILE = 23;
    private const int ENOBUFS = 105;
    private const int ENOMEM = 12;

    /// <summary>How long a listener stops accepting after accept() found no free descriptor.</summary>
    public static readonly TimeSpan AcceptPause = TimeSpan.FromMilliseconds(250);

    /// <summary>At most one refusal warning per listener per this interval.</summary>
    public static readonly TimeSpan RefusalLogInterval = TimeSpan.FromSeconds(10);

    private readonly ILogger logger;
    private readonly IEventLoop loop;
    private readonly Func<AcceptedConnection, ConnectionPort?> onAccepted;
    private readonly string? unixPath;
    private readonly DescriptorBudget budget;
    private readonly List<ConnectionPort> live = [];
    private readonly LoopTimer resumeTimer;
    private Socket? socket;
    private IoRegistration? registration;

    /// <summary>The inet address and port, registered so the NAT gateway never carries a guest here.</summary>
    private IDisposable? own;
    private int nextConnection;
    private long lastRefusalLog = long.MinValue;
    private long refusedSinceLog;

    private SocketListener(string name, IEventLoop loop, ILogger logger, Socket socket, string? unixPath, Func<AcceptedConnection, ConnectionPort?> onAccepted, int maxConnections, DescriptorBudget budget)
    {
        Name = name;
        this.loop = loop;
        this.logger = logger;
        this.socket = socket;
        this.unixPath = unixPath;
        this.onAccepted = onAccepted;
        this.budget = budget;
        MaxConnections = maxConnections;
        Address = unixPath ?? socket.LocalEndPoint?.ToString() ?? "?";
        resumeTimer = loop.CreateTimer(Resume);
    }

    public string Name { get; }

    /// <summary>Where it listens: a socket path or HOST:PORT (with the real port when 0 was asked).</summary>
    public string Address { get; }

    /// <summary>Most connections this listener keeps at once.</summary>
    public int MaxConnections { get; }

    /// <summary>Connections refused because this listener held <see cref="MaxConnections"/>.</summary>
    public long RefusedListenerFull { get; private set; }

    /// <summary>Connections refused by the process's budget (global cap or descriptor reserve).</summary>
    public long RefusedByBudget { get; private set; }

    /// <summary>accept() failures for lack of descriptors (each pauses the listener for <see cref="AcceptPause"/>).</summary>
    public long AcceptOutOfDescriptors { get; private set; }

    /// <summary>True while the listener has stopped watching its socket after running out of descriptors.</summary>
    public bool Paused { get; private set; }

    /// <summary>Connections this listener holds now; on the loop.</summary>
    public int Connections
    {
        get
        {
            Prune();
            return live.Count;
        }
    }

    /// <summary>Binds and listens; throws <see cref="SocketException"/> or <see cref="IOException"/> with a
    /// user-facing message when the address is unusable. <paramref name="onAccepted"/> makes the
    /// connection a port on its network (taking the socket) and returns it, or null to refuse it.
    /// Connections draw on <paramref name="budget"/> (default: <see cref="DescriptorBudget.Shared"/>), whose
    /// MaxConnectionsPerListener caps this listener.</summary>
    public static SocketListener Open(string name, IEventLoop loop, ILogger logger, EndPoint endPoint, Func<AcceptedConnection, ConnectionPort?> onAccepted,
        DescriptorBudget? budget = null)
    {
        ArgumentNullException.ThrowIfNull(loop);
        budget ??= DescriptorBudget.Shared;
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

        var listener = new SocketListener(name, loop, logger, s, path, onAccepted, budget.MaxConnectionsPerListener, budget);
        listener.own = OwnEndpoints.Process.Register(OwnProtocol.Tcp, s.LocalEndPoint);
        listener.registration = loop.Register((int)s.Handle, listener, IoEvents.Readable);
        return listener;
    }

    public void OnIo(IoEvents events)
    {
        for (int i = 0; i < MaxAcceptsPerWake && socket is { } s && !Paused; i++)
        {
            int fd = ProcessLimits.AcceptStream((int)s.Handle, out int errno);
            if (fd < 0)
            {
                if (errno is EMFILE or ENFILE or ENOBUFS or ENOMEM)
                {
                    PauseForDescriptors(errno);
                }

                // EAGAIN: drained; ECONNABORTED/EINTR: that client gave up; anything else is the client's
                // problem, not the listener's, and the next wake-up tries again.
                return;
            }

            Admit(fd);
        }
    }

    /// <summary>Keeps or refuses the connection on <paramref name="fd"/> (owned here until handed over).</summary>
    private void Admit(int fd)
    {
        Prune();
        if (live.Count >= MaxConnections)
        {
            RefusedListenerFull++;
            Refuse(fd, $"this listener holds its limit of {MaxConnections} connections");
            return;
        }

        if (!budget.TryTakeConnection(fd))
        {
            RefusedByBudget++;
            Refuse(fd, $"the daemon's descriptor budget is spent ({budget})");
            return;
        }

        int number = ++nextConnection;
        string portName = $"{Name}.{number}";
        Socket accepted;
        try
        {
            accepted = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        }
        catch (SocketException)
        {
            FileDescriptors.Close(fd);
            budget.ReleaseConnection();
            return;
        }

        string peer = unixPath is null ? PeerOf(accepted) : $"{unixPath}#{number}";
        ConnectionPort? port;
        try
        {
            port = onAccepted(new AcceptedConnection(portName, peer, accepted));
        }
        catch
        {
            accepted.Dispose();
            budget.ReleaseConnection();
            throw;
        }

        if (port is null)
        {
            accepted.Dispose();
            budget.ReleaseConnection();
            return;
        }

        live.Add(port);
        LogAccepted(portName, peer);
    }

    private static string PeerOf(Socket accepted)
    {
        try
        {
            return accepted.RemoteEndPoint?.ToString() ?? "?";
        }
        catch (SocketException)
        {
            return "?"; // The peer already reset the connection.
        }
    }

    private void Refuse(int fd, string why)
    {
        FileDescriptors.Close(fd);
        refusedSinceLog++;
        long now = loop.Clock.GetTimestamp();
        if (lastRefusalLog == long.MinValue || loop.Clock.GetElapsedTime(lastRefusalLog, now) >= RefusalLogInterval)
        {
            LogRefused(Name, refusedSinceLog, why);
            lastRefusalLog = now;
            refusedSinceLog = 0;
        }
    }

    /// <summary>Gives back the budget of every port whose connection has ended (peer hung up, port removed);
    /// on the loop. The owner calls it when one of its ports closes, so the budget is current at once.</summary>
    public void ReleaseEnded() => Prune();

    private void Prune()
    {
        for (int i = live.Count - 1; i >= 0; i--)
        {
            if (!live[i].IsConnected)
            {
                live.RemoveAt(i);
                budget.ReleaseConnection();
            }
        }
    }

    private void PauseForDescriptors(int errno)
    {
        AcceptOutOfDescriptors++;
        budget.CountAcceptOutOfDescriptors();
        Paused = true;
        registration?.Update(IoEvents.None);
        resumeTimer.Arm(AcceptPause);
        refusedSinceLog++;
        long now = loop.Clock.GetTimestamp();
        if (lastRefusalLog == long.MinValue || loop.Clock.GetElapsedTime(lastRefusalLog, now) >= RefusalLogInterval)
        {
            LogOutOfDescriptors(Name, errno == ENFILE ? "the system's file table is full (ENFILE)" : "the process has no free descriptor (EMFILE)", (int)AcceptPause.TotalMilliseconds);
            lastRefusalLog = now;
            refusedSinceLog = 0;
        }
    }

    private void Resume()
    {
        if (Paused && registration is not null)
        {
            Paused = false;
            registration.Update(IoEvents.Readable);
        }
    }

    public void Dispose()
    {
        resumeTimer.Cancel();
        registration?.Dispose();
        registration = null;
        own?.Dispose();
        own = null;
        socket?.Dispose();
        socket = null;

        // The owner (Network.RemovePort) stops this listener's ports right after it; their connections
        // leave the budget now, with the listener.
        for (int i = 0; i < live.Count; i++)
        {
            budget.ReleaseConnection();
        }

        live.Clear();
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

    [LoggerMessage(EventId = 211, Level = LogLevel.Warning, Message = "listener {Listener}: refused {Count} connection(s): {Reason}")]
    private partial void LogRefused(string listener, long count, string reason);

    [LoggerMessage(EventId = 212, Level = LogLevel.Warning, Message = "listener {Listener}: accept failed, {Reason}; not accepting for {PauseMs} ms")]
    private partial void LogOutOfDescriptors(string listener, string reason, int pauseMs);
}

/// <summary>A connection a listener accepted: the port name it should get, a description of the
/// peer, and the socket (the accept callback takes ownership).</summary>
public readonly record struct AcceptedConnection(string PortName, string Peer, Socket Socket);
