// A minimal HTTP/1.0 file server on host loopback (IPv4 and IPv6) for end-to-end tests: it serves
// one body at any path and counts the requests it answered and the client addresses it saw.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Switchyard.TestKit.Servers;

public sealed class TestHttpServer : IDisposable
{
    private readonly List<TcpListener> listeners = [];
    private readonly CancellationTokenSource stop = new();
    private readonly List<Task> loops = [];

    /// <summary>Listens on 127.0.0.1 and ::1 (both on one port when possible) and serves <paramref name="body"/>.</summary>
    public TestHttpServer(byte[] body, IPAddress? address = null)
    {
        Body = body;
        var first = new TcpListener(address ?? IPAddress.Loopback, 0);
        first.Start();
        Port = ((IPEndPoint)first.LocalEndpoint).Port;
        listeners.Add(first);
        if (address is null)
        {
            try
            {
                var six = new TcpListener(IPAddress.IPv6Loopback, Port);
                six.Start();
                listeners.Add(six);
            }
            catch (SocketException)
            {
                // No IPv6 loopback here: IPv4 only.
            }
        }

        foreach (TcpListener l in listeners)
        {
            loops.Add(Task.Run(() => ServeAsync(l)));
        }
    }

    /// <summary>A deterministic pseudo-random body of <paramref name="length"/> bytes.</summary>
    public static byte[] RandomBody(int length, int seed = 42)
    {
        var body = new byte[length];
        new Random(seed).NextBytes(body);
        return body;
    }

    public byte[] Body { get; }

    public int Port { get; }

    public string BodyMd5 => Convert.ToHexStringLower(MD5.HashData(Body));

    public int Requests => requests;

    public ConcurrentQueue<IPAddress> Clients { get; } = new();

    private int requests;

    public void Dispose()
    {
        stop.Cancel();
        foreach (TcpListener l in listeners)
        {
            l.Stop();
        }

        try
        {
            Task.WaitAll([.. loops], TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
        }

        stop.Dispose();
    }

    private async Task ServeAsync(TcpListener listener)
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = Task.Run(() => AnswerAsync(client));
        }
    }

    private async Task AnswerAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                Clients.Enqueue(((IPEndPoint)client.Client.RemoteEndPoint!).Address);
                NetworkStream stream = client.GetStream();
                var request = new byte[8192];
                int have = 0;
                while (have < request.Length)
                {
                    int n = await stream.ReadAsync(request.AsMemory(have), stop.Token);
                    if (n == 0)
                    {
                        return;
                    }

                    have += n;
                    if (Encoding.ASCII.GetString(request, 0, have).Contains("\r\n\r\n", StringComparison.Ordinal))
                    {
                        break;
                    }
                }

                byte[] head = Encoding.ASCII.GetBytes($"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {Body.Length}\r\nConnection: close\r\n\r\n");
                await stream.WriteAsync(head, stop.Token);
                await stream.WriteAsync(Body, stop.Token);
                Interlocked.Increment(ref requests);
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }
}
