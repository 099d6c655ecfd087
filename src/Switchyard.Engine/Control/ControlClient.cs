// The client side of the control socket, used by the CLI verbs (show, fdb, port add/del).
using System.Net.Sockets;
using System.Text.Json;

namespace Switchyard.Engine.Control;

public static class ControlClient
{
    /// <summary>Sends one request and returns the response. Throws <see cref="IOException"/> with an
    /// actionable message when no daemon answers at <paramref name="socketPath"/>.</summary>
    public static async Task<ControlResponse> SendAsync(string socketPath, ControlRequest request, CancellationToken cancellationToken = default)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            throw new IOException($"no switchyard daemon answers at {socketPath} ({ex.Message}); start one with 'switchyard up' or pass --run-dir", ex);
        }

        using var stream = new NetworkStream(socket, ownsSocket: false);
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(request, ControlJson.Default.ControlRequest);
        await stream.WriteAsync(json, cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync("\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);

        using var reply = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            int n = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            int newline = Array.IndexOf(buffer, (byte)'\n', 0, n);
            reply.Write(buffer, 0, newline < 0 ? n : newline);
            if (newline >= 0)
            {
                break;
            }
        }

        return JsonSerializer.Deserialize(reply.GetBuffer().AsSpan(0, (int)reply.Length), ControlJson.Default.ControlResponse)
            ?? throw new IOException("the daemon sent an empty response");
    }

    /// <summary>
    /// Sends a streaming request (capture, events) and returns the JSON answer and the connection,
    /// positioned just after the answer line: the stream's body follows there. The caller disposes the
    /// session, which closes the connection (and so ends the stream on the daemon's side). When the
    /// answer is not ok, the body is empty.
    /// </summary>
    public static async Task<ControlStreamSession> OpenStreamAsync(string socketPath, ControlRequest request, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                throw new IOException($"no switchyard daemon answers at {socketPath} ({ex.Message}); start one with 'switchyard up' or pass --run-dir", ex);
            }

            var stream = new NetworkStream(socket, ownsSocket: true);
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(request, ControlJson.Default.ControlRequest);
            await stream.WriteAsync(json, cancellationToken).ConfigureAwait(false);
            await stream.WriteAsync("\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);

            // The answer line is read a byte at a time so that not one byte of the body is consumed.
            using var reply = new MemoryStream();
            var one = new byte[1];
            while (await stream.ReadAsync(one, cancellationToken).ConfigureAwait(false) == 1 && one[0] != (byte)'\n')
            {
                reply.WriteByte(one[0]);
            }

            ControlResponse response = JsonSerializer.Deserialize(reply.GetBuffer().AsSpan(0, (int)reply.Length), ControlJson.Default.ControlResponse)
                ?? throw new IOException("the daemon sent an empty response");
            return new ControlStreamSession(response, stream);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>A streaming command's answer and the connection its body arrives on.</summary>
public sealed class ControlStreamSession(ControlResponse response, Stream body) : IAsyncDisposable
{
    public ControlResponse Response { get; } = response;

    /// <summary>The connection after the answer line: the body (pcap bytes, JSON event lines).</summary>
    public Stream Body { get; } = body;

    public ValueTask DisposeAsync() => Body.DisposeAsync();
}
