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
}
