// The control socket server: DIR/control.sock, one JSON request per line, one JSON response per line.
//
// Theory of operation: runs on the thread pool with async sockets (the control plane is not the data
// path). Each request is turned into a closure posted to the event loop that owns the networks, so
// the server never touches loop-owned state itself. Requests are capped in size before parsing; a
// malformed request gets an error response, never a crash. A streaming command (capture, events)
// answers one JSON line and then owns the connection until it ends or the client hangs up.
//
// Budget (issue 10): every client costs a descriptor, a socket context and its request buffer, so the
// server keeps at most MaxClients at once (one more is told why in one JSON line and closed, counted as
// clients_refused) and closes a client that has sent nothing for IdleTimeout while it waits for a
// request (counted as idle_closed). A streaming command is not idle: it runs until it ends. The request
// buffer starts small and grows only as far as a request needs, up to MaxRequestBytes, so an idle
// client costs a few kilobytes instead of 64 KiB.
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Switchyard.Ports;

namespace Switchyard.Engine.Control;

/// <summary>How many control clients at once, and how long one may sit idle.</summary>
public sealed record ControlServerLimits(int MaxClients, TimeSpan IdleTimeout);

public sealed partial class ControlServer : IAsyncDisposable
{
    private const int MaxRequestBytes = 64 * 1024;
    private const int InitialRequestBytes = 1024;

    private readonly Socket listener;
    private readonly Func<ControlRequest, Task<ControlResponse>> handle;
    private readonly ILogger logger;
    private readonly ControlServerLimits limits;
    private readonly TimeProvider clock;
    private readonly CancellationTokenSource stopping = new();
    private readonly Task acceptLoop;
    private readonly string path;
    private int clients;
    private long clientsRefused;
    private long idleClosed;
    private long lastRefusalLog = long.MinValue;

    private ControlServer(string path, Socket listener, Func<ControlRequest, Task<ControlResponse>> handle, ILogger logger, ControlServerLimits limits, TimeProvider clock)
    {
        this.path = path;
        this.listener = listener;
        this.handle = handle;
        this.logger = logger;
        this.limits = limits;
        this.clock = clock;
        acceptLoop = AcceptLoopAsync();
    }

    /// <summary>Clients connected now.</summary>
    public int Clients => Volatile.Read(ref clients);

    /// <summary>Clients turned away because <see cref="ControlServerLimits.MaxClients"/> were connected.</summary>
    public long ClientsRefused => Interlocked.Read(ref clientsRefused);

    /// <summary>Clients closed for sending nothing for <see cref="ControlServerLimits.IdleTimeout"/>.</summary>
    public long IdleClosed => Interlocked.Read(ref idleClosed);

    public ControlServerLimits Limits => limits;

    public static ControlServer Start(string path, Func<ControlRequest, Task<ControlResponse>> handle, ILogger logger, ControlServerLimits? limits = null, TimeProvider? clock = null)
    {
        UnixSockets.RemoveStale(path);
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            s.Bind(new UnixDomainSocketEndPoint(path));
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            s.Listen(16);
        }
        catch
        {
            s.Dispose();
            throw;
        }

        return new ControlServer(path, s, handle, logger, limits ?? new ControlServerLimits(32, TimeSpan.FromSeconds(60)), clock ?? TimeProvider.System);
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync().ConfigureAwait(false);
        listener.Dispose();
        try
        {
            await acceptLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Expected on shutdown.
        }

        stopping.Dispose();
        File.Delete(path);
    }

    private async Task AcceptLoopAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ObjectDisposedException or OperationCanceledException)
            {
                return;
            }
            catch (SocketException ex)
            {
                LogAcceptFailed(ex.Message);
                await Task.Delay(100, stopping.Token).ConfigureAwait(false);
                continue;
            }

            if (Interlocked.Increment(ref clients) > limits.MaxClients)
            {
                Interlocked.Decrement(ref clients);
                Refuse(client);
                continue;
            }

            _ = ServeAsync(client);
        }
    }

    // One line saying why, sent without waiting (a client that does not read loses it), then close.
    private void Refuse(Socket client)
    {
        Interlocked.Increment(ref clientsRefused);
        try
        {
            client.Blocking = false;
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(
                new ControlResponse(false, $"too many control clients (the daemon serves {limits.MaxClients} at once; see --max-control-clients)"),
                ControlJson.Default.ControlResponse);
            client.Send([.. json, (byte)'\n'], SocketFlags.None, out _);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The client is gone already; nothing to tell it.
        }
        finally
        {
            client.Dispose();
        }

        long now = clock.GetTimestamp();
        if (lastRefusalLog == long.MinValue || clock.GetElapsedTime(lastRefusalLog, now) >= TimeSpan.FromSeconds(10))
        {
            lastRefusalLog = now;
            LogClientsRefused(limits.MaxClients, ClientsRefused);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        try
        {
            await ServeClientAsync(client).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref clients);
        }
    }

    private async Task ServeClientAsync(Socket client)
    {
        using Socket _ = client;
        using var stream = new NetworkStream(client, ownsSocket: false);
        var buffer = new byte[InitialRequestBytes];
        int filled = 0;
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                int newline = Array.IndexOf(buffer, (byte)'\n', 0, filled);
                if (newline < 0)
                {
                    if (filled == buffer.Length)
                    {
                        if (buffer.Length == MaxRequestBytes)
                        {
                            await ReplyAsync(stream, new ControlResponse(false, $"request longer than {MaxRequestBytes} bytes")).ConfigureAwait(false);
                            return;
                        }

                        Array.Resize(ref buffer, Math.Min(MaxRequestBytes, buffer.Length * 4));
                    }

                    int n = await ReadOrIdleAsync(stream, buffer.AsMemory(filled)).ConfigureAwait(false);
                    if (n <= 0)
                    {
                        return;
                    }

                    filled += n;
                    continue;
                }

                ControlResponse response = await HandleLineAsync(buffer.AsMemory(0, newline)).ConfigureAwait(false);
                try
                {
                    await ReplyAsync(stream, response).ConfigureAwait(false);
                }
                catch (Exception ex) when (response.Streaming is { } orphan && ex is IOException or SocketException)
                {
                    // The client left before its answer: run the body with a cancelled token so that what the
                    // command holds (an event subscription, a capture) is released.
                    await orphan(stream, new CancellationToken(canceled: true)).ConfigureAwait(false);
                    throw;
                }

                if (response.Streaming is { } body)
                {
                    // A streaming command owns the rest of the connection.
                    await body(stream, stopping.Token).ConfigureAwait(false);
                    return;
                }

                buffer.AsSpan(newline + 1, filled - newline - 1).CopyTo(buffer);
                filled -= newline + 1;
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
            // Client went away or we are stopping.
        }
    }

    // A read that gives up after the idle timeout: returns the bytes read, 0 at EOF, -1 when the client was idle.
    private async Task<int> ReadOrIdleAsync(NetworkStream stream, Memory<byte> into)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
        idle.CancelAfter(limits.IdleTimeout);
        try
        {
            return await stream.ReadAsync(into, idle.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            Interlocked.Increment(ref idleClosed);
            return -1;
        }
    }

    private async Task<ControlResponse> HandleLineAsync(ReadOnlyMemory<byte> line)
    {
        ControlRequest? request = ControlCommands.Parse(line.Span, out string? error);
        if (request is null)
        {
            return ControlResponse.Fail(error ?? "request has no command");
        }

        try
        {
            return await handle(request).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return new ControlResponse(false, ex.Message);
        }
    }

    private static async Task ReplyAsync(NetworkStream stream, ControlResponse response)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(response, ControlJson.Default.ControlResponse);
        await stream.WriteAsync(json).ConfigureAwait(false);
        await stream.WriteAsync("\n"u8.ToArray()).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "control socket: accept failed: {Error}")]
    private partial void LogAcceptFailed(string error);

    [LoggerMessage(EventId = 401, Level = LogLevel.Warning, Message = "control socket: {Max} clients connected, refusing more ({Refused} refused so far)")]
    private partial void LogClientsRefused(int max, long refused);
}
