// Issue 10 against a real daemon: peers that hold connections (hole 4, descriptor exhaustion), control
// clients that connect and idle, a `port del` of the gateway, and a namespace deleted under its port. Each attack comes from outside the
// process; each test asserts that the daemon survives, that a healthy pair of guests keeps exchanging
// frames throughout, and that the attacker got a bounded share, counted in `show`.
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Switchyard.TestKit;
using Switchyard.TestKit.Hostile;
using Switchyard.TestKit.Netns;
using Xunit.Abstractions;

namespace Switchyard.EndToEnd;

public sealed class HostileConnectionTests(ITestOutputHelper output)
{
    private static readonly TimeSpan AllowedGap = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task StreamListener_HeldConnectionsBeyondTheDescriptorLimit_RefusedAndCountedDaemonSurvives()
    {
        // 256 descriptors: the runtime alone holds about 110 (it keeps every assembly open). Before the
        // budget, the daemon accepted until accept() failed with EMFILE, spun on it, and then aborted with
        // "Out of memory." when the runtime could not create a thread (each needs a pipe).
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine, launcher: ["prlimit", "--nofile=256:256", "--"]);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);
        pair.ResetGap();

        var flood = new List<Socket>();
        int failed = 0;
        try
        {
            for (int i = 0; i < 300; i++)
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await s.ConnectAsync(new UnixDomainSocketEndPoint(sy.StreamSocket), timeout.Token);
                    flood.Add(s);
                }
                catch (Exception ex) when (ex is SocketException or OperationCanceledException)
                {
                    failed++;
                    s.Dispose();
                }
            }

            output.WriteLine($"attacker: {flood.Count} connects succeeded, {failed} failed");
            JsonElement show = await sy.WaitForShowAsync(
                s => Resource(s, "connections_refused_global_cap") + Resource(s, "connections_refused_no_descriptors") > 0,
                TimeSpan.FromSeconds(20),
                "refused connections to be counted");
            Assert.False(sy.HasExited, sy.Output);
            Assert.Equal(256, Resource(show, "descriptor_limit"));
            long max = Resource(show, "max_connections");
            Assert.InRange(Resource(show, "connections"), 2, max);
            Assert.InRange(SwitchyardProcess.Ports(show).Count(), 2, (int)max);
            Assert.True(Counter(show, "connections_refused_budget") > 0, show.ToString());
            Assert.Contains("refused", sy.Output, StringComparison.Ordinal);
            await pair.AssertHealthyAsync(AllowedGap);
        }
        finally
        {
            foreach (Socket s in flood)
            {
                s.Dispose();
            }
        }

        // The attacker's connections give their places back when they end.
        JsonElement after = await sy.WaitForShowAsync(s => Resource(s, "connections") == 2, TimeSpan.FromSeconds(20), "only the pair's connections");
        Assert.Equal(2, SwitchyardProcess.Ports(after).Count());
        Assert.DoesNotContain("Out of memory", sy.Output, StringComparison.Ordinal);
        await pair.AssertHealthyAsync(AllowedGap);
    }

    [RequiresRootFact]
    public async Task Gateway_GuestUdpFloodUnderLowDescriptorLimit_HostSocketsRefusedAndCountedDaemonSurvives()
    {
        // Each UDP flow through the gateway is a host socket. With 256 descriptors, a guest sending to a few
        // hundred ports would have filled the table; the budget stops the gateway below its ceiling instead.
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine, launcher: ["prlimit", "--nofile=256:256", "--"]);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);
        TestNamespace ns = TestNamespace.Create("udp");
        try
        {
            (int code, string text) = await sy.CliAsync("port", "add", "default", "flooder", $"netns,name={ns.Name}");
            Assert.True(code == 0, text);
            Assert.Equal(0, ns.Exec("ip", ["addr", "add", "10.0.2.100/24", "dev", "eth0"]).ExitCode);
            Assert.Equal(0, ns.Exec("ip", ["route", "add", "default", "via", "10.0.2.2"]).ExitCode);
            pair.ResetGap();

            // 10.0.2.2 is the host's loopback through the gateway: the flood stays on this machine.
            const string Flood = "import socket,time\n"
                + "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                + "for r in range(3):\n"
                + "  for p in range(40000,40400):\n"
                + "    s.sendto(b'x',('10.0.2.2',p))\n"
                + "    time.sleep(0.0005)\n";
            (int flood, string floodText) = ns.Exec("python3", ["-c", Flood], TimeSpan.FromSeconds(60));
            Assert.True(flood == 0, floodText);

            JsonElement show = await sy.WaitForShowAsync(s => Resource(s, "gateway_sockets_refused") > 0, TimeSpan.FromSeconds(20), "refused gateway host sockets");
            Assert.False(sy.HasExited, sy.Output);
            await pair.AssertHealthyAsync(AllowedGap);

            // The connections' share was kept: a new guest can still connect.
            using var late = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await late.ConnectAsync(new UnixDomainSocketEndPoint(sy.StreamSocket));
            await sy.WaitForShowAsync(s => Resource(s, "connections") == 3, TimeSpan.FromSeconds(10), "the late guest's connection");
            Assert.DoesNotContain("Out of memory", sy.Output, StringComparison.Ordinal);
            output.WriteLine(show.GetProperty("resources").ToString());
        }
        finally
        {
            ns.Dispose();
        }
    }

    [Fact]
    public async Task ControlSocket_ManyIdleClients_CappedRefusedAndIdleOnesClosed()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine, extraArgs: ["--max-control-clients", "8", "--control-idle-timeout", "2"]);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);
        pair.ResetGap();

        string control = Path.Combine(sy.RunDirectory, "control.sock");
        var idle = new List<Socket>();
        try
        {
            for (int i = 0; i < 20; i++)
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
                s.Connect(new UnixDomainSocketEndPoint(control));
                idle.Add(s);
            }

            // Clients 9..20 are told why and closed; each reads one error line, then EOF.
            int refused = 0;
            foreach (Socket s in idle.Skip(8))
            {
                string answer = ReadAll(s);
                Assert.Contains("too many control clients", answer, StringComparison.Ordinal);
                refused++;
            }

            // The first 8 said nothing for 2 s: closed (EOF) within a few seconds.
            foreach (Socket s in idle.Take(8))
            {
                Assert.Equal(string.Empty, ReadAll(s));
            }

            JsonElement show = await sy.ShowAsync();
            Assert.Equal(12, refused);
            Assert.True(Resource(show, "control_clients_refused") >= 12, show.ToString());
            Assert.True(Resource(show, "control_idle_closed") >= 8, show.ToString());
            Assert.Equal(8, Resource(show, "max_control_clients"));
            Assert.False(sy.HasExited);
            await pair.AssertHealthyAsync(AllowedGap);
        }
        finally
        {
            foreach (Socket s in idle)
            {
                s.Dispose();
            }
        }
    }

    [Fact]
    public async Task PortDel_Gateway_RefusedWithWhatToDoInstead()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);
        pair.ResetGap();

        (int code, string text) = await sy.CliAsync("port", "del", "default", "gateway");
        Assert.NotEqual(0, code);
        Assert.Contains("is its NAT gateway and cannot be removed with port del", text, StringComparison.Ordinal);
        JsonElement show = await sy.ShowAsync();
        Assert.Contains(SwitchyardProcess.Ports(show, includeGateway: true), p => p.GetProperty("kind").GetString() == "gateway");
        Assert.True(show.GetProperty("networks")[0].TryGetProperty("gateway", out _));
        await pair.AssertHealthyAsync(AllowedGap);
    }

    [RequiresRootFact]
    public async Task NetnsPort_NamespaceDeleted_PortClosedWithReasonCountedAndTapReleased()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);
        TestNamespace ns = TestNamespace.Create("del");
        try
        {
            (int code, string text) = await sy.CliAsync("port", "add", "default", "doomed", $"netns,name={ns.Name}");
            Assert.True(code == 0, text);
            Assert.Contains(Descriptors(sy.ProcessId), d => d == "/dev/net/tun");
            pair.ResetGap();

            // Deleting the namespace is all the user does; the tap's socket keeps the namespace alive, so
            // only the daemon noticing can release it.
            Assert.Equal(0, TestNamespace.Run("ip", ["netns", "del", ns.Name]).ExitCode);
            JsonElement show = await sy.WaitForShowAsync(s => Counter(s, "namespace_ports_closed") == 1, TimeSpan.FromSeconds(10), "the namespace port to close");
            Assert.DoesNotContain(SwitchyardProcess.Ports(show), p => p.GetProperty("name").GetString() == "doomed");
            Assert.DoesNotContain(show.GetProperty("networks")[0].GetProperty("attachments").EnumerateArray(), a => a.GetProperty("name").GetString() == "doomed");
            Assert.DoesNotContain(Descriptors(sy.ProcessId), d => d == "/dev/net/tun");
            Assert.Contains($"port doomed removed: netns {ns.Name} is gone", sy.Output, StringComparison.Ordinal);
            await pair.AssertHealthyAsync(AllowedGap);
        }
        finally
        {
            ns.Dispose(); // Already deleted unless the test failed early.
        }
    }

    // What the daemon's descriptors point at (/proc/PID/fd).
    private static List<string> Descriptors(int pid)
    {
        var targets = new List<string>();
        foreach (string fd in Directory.GetFiles($"/proc/{pid}/fd"))
        {
            try
            {
                targets.Add(new FileInfo(fd).LinkTarget ?? string.Empty);
            }
            catch (IOException)
            {
                // Closed while we looked.
            }
        }

        return targets;
    }

    private static long Resource(JsonElement show, string name) =>
        show.TryGetProperty("resources", out JsonElement r) && r.TryGetProperty(name, out JsonElement v) ? v.GetInt64() : 0;

    private static long Counter(JsonElement show, string name) =>
        show.GetProperty("networks")[0].GetProperty("counters").TryGetProperty(name, out JsonElement v) ? v.GetInt64() : 0;

    // Everything the peer sends until it closes (or the receive timeout).
    private static string ReadAll(Socket s)
    {
        var text = new StringBuilder();
        byte[] buffer = new byte[4096];
        int n;
        while ((n = s.Receive(buffer)) > 0)
        {
            text.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }

        return text.ToString();
    }
}
