// A tiny authoritative DNS server on host loopback for end-to-end tests: it answers A and AAAA
// queries for the names it is given and NXDOMAIN for everything else, and records every name it was
// asked, so a test can prove a guest's query really went through the gateway's forwarder.
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Switchyard.TestKit.Servers;

public sealed class TestDnsServer : IDisposable
{
    private readonly UdpClient udp;
    private readonly Dictionary<string, IPAddress[]> records;
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;

    public TestDnsServer(IReadOnlyDictionary<string, IPAddress[]> records)
    {
        this.records = new Dictionary<string, IPAddress[]>(records, StringComparer.OrdinalIgnoreCase);
        udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        Port = ((IPEndPoint)udp.Client.LocalEndPoint!).Port;
        loop = Task.Run(ServeAsync);
    }

    public int Port { get; }

    /// <summary>Every question name received, in order.</summary>
    public ConcurrentQueue<string> Queries { get; } = new();

    public void Dispose()
    {
        stop.Cancel();
        udp.Dispose();
        try
        {
            loop.Wait(TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
        }

        stop.Dispose();
    }

    private async Task ServeAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            UdpReceiveResult request;
            try
            {
                request = await udp.ReceiveAsync(stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            if (Answer(request.Buffer) is { } reply)
            {
                await udp.SendAsync(reply, request.RemoteEndPoint);
            }
        }
    }

    private byte[]? Answer(byte[] query)
    {
        if (query.Length < 12 || BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(4)) != 1)
        {
            return null;
        }

        // One question: the name as labels, then type and class.
        int at = 12;
        var name = new StringBuilder();
        while (at < query.Length && query[at] != 0)
        {
            int len = query[at];
            if (len > 63 || at + 1 + len > query.Length)
            {
                return null;
            }

            name.Append(name.Length > 0 ? "." : string.Empty).Append(Encoding.ASCII.GetString(query, at + 1, len));
            at += 1 + len;
        }

        if (at + 5 > query.Length)
        {
            return null;
        }

        int questionEnd = at + 5;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(at + 1));
        string qname = name.ToString();
        Queries.Enqueue(qname);

        var answers = new List<IPAddress>();
        bool known = records.TryGetValue(qname, out IPAddress[]? addresses);
        foreach (IPAddress a in addresses ?? [])
        {
            if ((type == 1 && a.AddressFamily == AddressFamily.InterNetwork) || (type == 28 && a.AddressFamily == AddressFamily.InterNetworkV6))
            {
                answers.Add(a);
            }
        }

        var reply = new List<byte>(query.AsSpan(0, questionEnd).ToArray());
        reply[2] = (byte)(0x84 | (query[2] & 0x01)); // QR, AA, RD copied
        reply[3] = (byte)(known ? 0x00 : 0x03);       // NOERROR or NXDOMAIN
        reply[6] = 0;
        reply[7] = (byte)answers.Count;
        reply[8] = reply[9] = reply[10] = reply[11] = 0;
        foreach (IPAddress a in answers)
        {
            byte[] data = a.GetAddressBytes();
            reply.AddRange([0xC0, 12, 0, (byte)type, 0, 1, 0, 0, 0, 60, 0, (byte)data.Length]);
            reply.AddRange(data);
        }

        return [.. reply];
    }
}
