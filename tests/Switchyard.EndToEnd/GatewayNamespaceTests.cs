// Many guests on the gateway, without QEMU: network namespaces attached through tap ports play the
// guests (real Linux stacks, busybox udhcpc, python3 sockets). Twenty of them take DHCP leases; one
// opens 500 TCP connections at once through 10.0.2.2 to an echo server on host loopback, all of them
// held open together and all echoing intact; then a synthetic guest floods SYNs and is stopped by its
// per-guest flow limit while another namespace still connects. Needs root (taps, namespaces).
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Switchyard.Protocols;
using Switchyard.TestKit;
using Switchyard.TestKit.Netns;
using Xunit.Abstractions;

namespace Switchyard.EndToEnd;

public sealed class GatewayNamespaceTests(ITestOutputHelper output)
{
    private const int Guests = 20;
    private const int Concurrent = 500;
    private const int FloodLimit = 600;

    private const string UdhcpcScript = """
        #!/bin/sh
        # Applies a lease inside a test namespace; never touches /etc/resolv.conf (that is the host's).
        case "$1" in
            deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
            bound|renew)
                ip -4 addr flush dev "$interface"
                ip addr add "$ip/${mask:-24}" dev "$interface"
                for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
                echo "DHCP-BOUND $interface $ip router=$router dns=$dns mtu=$mtu" ;;
        esac
        exit 0
        """;

    private const string ConcurrentClient = """
        import asyncio, random, sys
        host, port, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
        async def one(i):
            data = random.Random(i).randbytes(size)
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 60)
            writer.write(data)
            await writer.drain()
            got = await asyncio.wait_for(reader.readexactly(size), 120)
            writer.close()
            return got == data
        async def main():
            results = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
            ok = sum(1 for r in results if r is True)
            print(f"CONCURRENT-OK {ok} of {n}", [repr(r) for r in results if r is not True][:3])
        asyncio.run(main())
        """;

    [RequiresRootFact]
    public async Task TwentyNamespaceGuests_GetLeases_OneRuns500ConcurrentConnections_AndASynFloodIsBounded()
    {
        string scratch = Directory.CreateTempSubdirectory("sy-gwns-").FullName;
        string udhcpc = Path.Combine(scratch, "udhcpc.sh");
        File.WriteAllText(udhcpc, UdhcpcScript.Replace("\r", string.Empty, StringComparison.Ordinal));
        File.SetUnixFileMode(udhcpc, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string client = Path.Combine(scratch, "sy_tcp_clients.py");
        File.WriteAllText(client, ConcurrentClient);

        var namespaces = new List<TestNamespace>();
        using var echo = new BarrierEchoServer(Concurrent, size: 2048);
        try
        {
            await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(
                extraArgs: ["--gateway", $"max-flows-per-guest={FloodLimit}"], log: output.WriteLine);

            for (int i = 0; i < Guests; i++)
            {
                string ifname = string.Create(CultureInfo.InvariantCulture, $"sy{Environment.ProcessId % 100000}g{i}");
                (int code, string text) = await sy.CliAsync("port", "add", "default", $"ns{i}", $"tap,ifname={ifname}");
                Assert.True(code == 0, text);
                TestNamespace ns = TestNamespace.Create("gw");
                namespaces.Add(ns);
                ns.Adopt(ifname);
            }

            // All twenty ask at once.
            (int ExitCode, string Output)[] leases = await Task.WhenAll(namespaces.Select((ns, i) => Task.Run(() =>
                ns.Exec("busybox", ["udhcpc", "-i", string.Create(CultureInfo.InvariantCulture, $"sy{Environment.ProcessId % 100000}g{i}"), "-n", "-q", "-t", "10", "-T", "1", "-s", udhcpc], TimeSpan.FromSeconds(40)))));
            var addresses = new HashSet<string>(StringComparer.Ordinal);
            foreach ((int code, string text) in leases)
            {
                output.WriteLine(text.Trim());
                Assert.True(code == 0, text);
                string bound = text.Split('\n').First(l => l.StartsWith("DHCP-BOUND", StringComparison.Ordinal));
                Assert.Contains("router=10.0.2.2 dns=10.0.2.3", bound, StringComparison.Ordinal);
                addresses.Add(bound.Split(' ')[2]);
            }

            Assert.Equal(Guests, addresses.Count);
            JsonElement leaseTable = JsonDocument.Parse((await sy.CliAsync("leases", "--json")).Output).RootElement;
            foreach (string a in addresses)
            {
                Assert.Contains(a, leaseTable.ToString(), StringComparison.Ordinal);
            }

            // 500 connections open at once (the server echoes only when all are in), all intact.
            (int pyCode, string py) = namespaces[0].Exec("python3", [client, "10.0.2.2", echo.Port.ToString(CultureInfo.InvariantCulture), Concurrent.ToString(CultureInfo.InvariantCulture), "2048"], TimeSpan.FromSeconds(240));
            output.WriteLine(py);
            Assert.True(pyCode == 0, py);
            Assert.Contains($"CONCURRENT-OK {Concurrent} of {Concurrent}", py, StringComparison.Ordinal);
            Assert.Equal(Concurrent, echo.PeakConcurrent);

            // A synthetic guest floods SYNs; its flows stop at the per-guest limit.
            using var sink = new TcpListener(IPAddress.Loopback, 0);
            sink.Start(8);
            int sinkPort = ((IPEndPoint)sink.LocalEndpoint).Port;
            using (Socket attacker = await FloodSynsAsync(sy.StreamSocket, sinkPort, count: 3 * FloodLimit))
            {
                JsonElement show = await sy.WaitForShowAsync(s => GatewayDrop(s, "guest_flow_limit") > 0, TimeSpan.FromSeconds(20), "the flood to hit the per-guest limit");
                output.WriteLine(show.ToString());
                Assert.InRange(FloodFlows(await sy.CliAsync("flows", "--json")), 1, FloodLimit);
            }

            // When the attacker's port leaves the switch, its flows go with it.
            _ = await sy.WaitForShowAsync(s => GatewayDrop(s, "flows_closed_port_gone") > 0, TimeSpan.FromSeconds(20), "the attacker's flows to close with its port");
            Assert.Equal(0, FloodFlows(await sy.CliAsync("flows", "--json")));

            // Another guest is unaffected.
            using var echo2 = new BarrierEchoServer(20, size: 1024);
            (int code2, string py2) = namespaces[1].Exec("python3", [client, "10.0.2.2", echo2.Port.ToString(CultureInfo.InvariantCulture), "20", "1024"], TimeSpan.FromSeconds(120));
            Assert.True(code2 == 0, py2);
            Assert.Contains("CONCURRENT-OK 20 of 20", py2, StringComparison.Ordinal);
        }
        finally
        {
            foreach (TestNamespace ns in namespaces)
            {
                ns.Dispose();
            }

            Directory.Delete(scratch, recursive: true);
        }
    }

    private static long GatewayDrop(JsonElement show, string name)
    {
        string text = show.ToString();
        int at = text.IndexOf($"\"{name}\":", StringComparison.Ordinal);
        if (at < 0)
        {
            return 0;
        }

        string rest = text[(at + name.Length + 3)..].TrimStart();
        int end = 0;
        while (end < rest.Length && char.IsDigit(rest[end]))
        {
            end++;
        }

        return end == 0 ? 0 : long.Parse(rest[..end], CultureInfo.InvariantCulture);
    }

    private static int FloodFlows((int Code, string Output) flows) =>
        JsonDocument.Parse(flows.Output).RootElement.GetProperty("flows").EnumerateArray().Count(f => f.ToString().Contains("10.0.2.250", StringComparison.Ordinal));

    /// <summary>Writes SYNs from 10.0.2.250 (a MAC no one else uses) to 10.0.2.2:PORT through its own stream
    /// connection, which it returns still open: the caller closes it, and with it the attacker's port.</summary>
    private static async Task<Socket> FloodSynsAsync(string streamSocket, int port, int count)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(streamSocket));
            const ulong attackerMac = 0x0200_0000_6601UL;
            IpAddr source = IpAddr.FromV4(0x0A00_02FA);
            IpAddr destination = IpAddr.FromV4(0x0A00_0202);
            var frame = new byte[4 + 14 + 20 + 20];
            for (int i = 0; i < count; i++)
            {
                Span<byte> f = frame.AsSpan(4);
                Span<byte> tcp = f.Slice(34, 20);
                tcp.Clear();
                BinaryPrimitives.WriteUInt16BigEndian(tcp, (ushort)(20000 + i));
                BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], (ushort)port);
                BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], (uint)(i * 7919));
                tcp[12] = 5 << 4;
                tcp[13] = TcpHeader.FlagSyn;
                BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 64240);
                PacketWriter.WriteL4Checksum(tcp, source, destination, InternetChecksum.ProtocolTcp, TcpHeader.ChecksumOffset);
                PacketWriter.WriteEthernetAndIp(f, 0x5255_0A00_0202UL, attackerMac, source, destination, InternetChecksum.ProtocolTcp, 20, (ushort)i);
                BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)(frame.Length - 4));
                await socket.SendAsync(frame);
            }

            await Task.Delay(2000);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Echoes SIZE bytes per connection, but only once N connections are open at the same time
    /// (or after a minute), so a client that completes proves N concurrent connections.</summary>
    private sealed class BarrierEchoServer : IDisposable
    {
        private readonly TcpListener listener = new(IPAddress.Loopback, 0);
        private readonly TaskCompletionSource all = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationTokenSource stop = new();
        private readonly int want;
        private readonly int size;
        private int open;
        private int peak;

        public BarrierEchoServer(int want, int size)
        {
            this.want = want;
            this.size = size;
            listener.Start(1024);
            Port = ((IPEndPoint)listener.LocalEndpoint).Port;
            _ = Task.Run(AcceptAsync);
        }

        public int Port { get; }

        public int PeakConcurrent => Volatile.Read(ref peak);

        public void Dispose()
        {
            stop.Cancel();
            listener.Stop();
            stop.Dispose();
        }

        private async Task AcceptAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                TcpClient c;
                try
                {
                    c = await listener.AcceptTcpClientAsync(stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
                {
                    return;
                }

                int now = Interlocked.Increment(ref open);
                int seen;
                while ((seen = Volatile.Read(ref peak)) < now && Interlocked.CompareExchange(ref peak, now, seen) != seen)
                {
                }

                if (now >= want)
                {
                    all.TrySetResult();
                }

                _ = Task.Run(() => EchoAsync(c));
            }
        }

        private async Task EchoAsync(TcpClient c)
        {
            using (c)
            {
                try
                {
                    var data = new byte[size];
                    NetworkStream s = c.GetStream();
                    await s.ReadExactlyAsync(data, stop.Token);
                    await all.Task.WaitAsync(TimeSpan.FromSeconds(60), stop.Token);
                    await s.WriteAsync(data, stop.Token);
                    await s.FlushAsync(stop.Token);
                    await Task.Delay(200, stop.Token);
                }
                catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException or TimeoutException)
                {
                }
                finally
                {
                    Interlocked.Decrement(ref open);
                }
            }
        }
    }
}
