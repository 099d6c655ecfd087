// Sends a raw JSON line to a control socket and reads the answer: for requests no record can make
// (an unknown command), and for checking the wire format itself.
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Switchyard.Engine.Control;

namespace Switchyard.Engine.Tests;

internal static class ControlWire
{
    public static async Task<ControlResponse> SendLineAsync(string socketPath, string line)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await s.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        await s.SendAsync(Encoding.UTF8.GetBytes(line + "\n"));
        using var reply = new MemoryStream();
        byte[] buffer = new byte[16 * 1024];
        while (true)
        {
            int n = await s.ReceiveAsync(buffer);
            int newline = Array.IndexOf(buffer, (byte)'\n', 0, n);
            reply.Write(buffer, 0, newline < 0 ? n : newline);
            if (n == 0 || newline >= 0)
            {
                break;
            }
        }

        return JsonSerializer.Deserialize(reply.ToArray(), ControlJson.Default.ControlResponse)!;
    }
}
