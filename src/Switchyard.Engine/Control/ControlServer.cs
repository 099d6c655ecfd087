// The control socket server: DIR/control.sock, one JSON request per line, one JSON response per line.
//
// Theory of operation: runs on the thread pool with async sockets (the control plane is not the data
// path). Each request is turned into a closure posted to the event loop that owns the networks, so
// the server never touches loop-owned state itself. Requests are capped in size before parsing; a
// malformed request gets an error response, never a crash. A streaming command (capture, events)
// answers one JSON line and then owns the connection until it ends or the client hangs up.
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Switchyard.Ports;

namespace Switchyard.Engine.Control;

public sealed partial class ControlServer : IAsyncDisposable
{
    private const int MaxRequestBytes = 64 * 1024;

    private readonly Socket listener;
    private readonly Func<ControlRequest, Task<ControlResponse>> handle;
    private readonly ILogger logger;
    private readonly CancellationTokenSource stopping = new();
    private readonly Task acceptLoop;
    private readonly string path;

    private ControlServer(string path, Socket listener, Func<ControlRequest, Task<ControlResponse>> handle, ILogger logger)
    {
        this.path = path;
        this.listener = listener;
        this.handle = handle;
        this.logger = logger;
        acceptLoop = AcceptLoopAsync();
    }

    public static ControlServer Start(string path, Func<ControlRequest, Task<ControlResponse>> handle, ILogger logger)
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

        return new ControlServer(path, s, handle, logger);
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

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using Socket _ = client;
        using var stream = new NetworkStream(client, ownsSocket: false);
        var buffer = new byte[MaxRequestBytes];
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
                        await ReplyAsync(stream, new ControlResponse(false, $"request longer than {MaxRequestBytes} bytes")).ConfigureAwait(false);
                        return;
                    }

                    int n = await stream.ReadAsync(buffer.AsMemory(filled), stopping.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        return;
                    }

                    filled += n;
                    continue;
                }

                ControlResponse response = await HandleLineAsync(buffer.AsMemory(0, newline)).ConfigureAwait(false);
                await ReplyAsync(stream, response).ConfigureAwait(false);
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

    private async Task<ControlResponse> HandleLineAsync(ReadOnlyMemory<byte> line)
    {
        ControlRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(line.Span, ControlJson.Default.ControlRequest);
        }
        catch (JsonException ex)
        {
            return new ControlResponse(false, $"malformed request: {ex.Message}");
        }

        if (request is null || string.IsNullOrEmpty(request.Command))
        {
            return new ControlResponse(false, "request has no command");
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
}
