// Network namespaces on a Switchyard network, against the real kernel: netns ports (the tap created
// inside the namespace), `switchyard attach`, `switchyard exec` and `switchyard taps`. Two namespaces
// ping each other and run iperf3 across the switch; exec fetches from a host loopback HTTP server
// through the gateway with byte-identical output and passes exit codes through. Every namespace is
// deleted in a finally block. Traffic stays on loopback and inside namespaces created here. Needs root.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Switchyard.TestKit;
using Switchyard.TestKit.Netns;
using Switchyard.TestKit.Qemu;
using Switchyard.TestKit.Servers;
using Xunit.Abstractions;

namespace Switchyard.EndToEnd;

public sealed class NamespacePortTests(ITestOutputHelper output)
{
    [RequiresRootFact]
    public async Task TwoNamespaces_OnNetnsPorts_PingAndRunIperf3()
    {
        using TestNamespace a = TestNamespace.Create("na");
        using TestNamespace b = TestNamespace.Create("nb");
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);

        (int code, string text) = await sy.CliAsync("port", "add", "default", "nsa", $"netns,name={a.Name}");
        Assert.True(code == 0, text);
        (code, text) = await sy.CliAsync("port", "add", "default", "nsb", $"netns,name={b.Name},ifname=lan0");
        Assert.True(code == 0, text);

        // The taps exist inside the namespaces, already up.
        Assert.Contains("UP", a.Exec("ip", ["-o", "link", "show", "eth0"]).Output, StringComparison.Ordinal);
        Assert.Contains("UP", b.Exec("ip", ["-o", "link", "show", "lan0"]).Output, StringComparison.Ordinal);
        Assert.Equal(0, a.Exec("ip", ["addr", "add", "10.0.2.100/24", "dev", "eth0"]).ExitCode);
        Assert.Equal(0, b.Exec("ip", ["addr", "add", "10.0.2.101/24", "dev", "lan0"]).ExitCode);

        (int ping, string pingText) = a.Exec("busybox", ["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.2.101"]);
        output.WriteLine(pingText);
        Assert.True(ping == 0, pingText);
        Assert.Equal(0, b.Exec("busybox", ["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.0.2.100"]).ExitCode);

        // iperf3: a one-shot server in a, a 2-second client in b.
        Assert.Equal(0, a.Exec("iperf3", ["-s", "-1", "-D", "-B", "10.0.2.100"]).ExitCode);
        int iperf = -1;
        string iperfText = string.Empty;
        for (int attempt = 0; attempt < 20; attempt++)
        {
            (iperf, iperfText) = b.Exec("iperf3", ["-c", "10.0.2.100", "-t", "2", "-f", "m"], TimeSpan.FromSeconds(30));
            if (iperf == 0 || !iperfText.Contains("refused", StringComparison.OrdinalIgnoreCase))
            {
                break;
            }

            await Task.Delay(100);
        }

        output.WriteLine(iperfText);
        Assert.True(iperf == 0, iperfText);
        Assert.Contains("receiver", iperfText, StringComparison.Ordinal);
    }

    [RequiresRootFact]
    public async Task Attach_AtRunTime_ByNameAndByPid_TapsListsThemAsSwitchyards()
    {
        using TestNamespace a = TestNamespace.Create("at");
        using TestNamespace b = TestNamespace.Create("ap");
        using Process sleeper = Process.Start(new ProcessStartInfo("ip") { ArgumentList = { "netns", "exec", b.Name, "sleep", "60" } })!;
        try
        {
            await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
            (int code, string text) = await sy.CliAsync("attach", "default", "--netns", a.Name, "--name", "att");
            Assert.True(code == 0, text);
            Assert.Contains("UP", a.Exec("ip", ["-o", "link", "show", "eth0"]).Output, StringComparison.Ordinal);

            // By pid: `ip netns exec` execs sleep, so the pid is a process inside b. Wait until it is there.
            for (int i = 0; i < 50 && !File.ReadAllText($"/proc/{sleeper.Id}/comm").StartsWith("sleep", StringComparison.Ordinal); i++)
            {
                await Task.Delay(50);
            }

            (code, text) = await sy.CliAsync("attach", "default", "--pid", sleeper.Id.ToString(CultureInfo.InvariantCulture), "--ifname", "sy1", "--json");
            Assert.True(code == 0, text);
            using (JsonDocument attached = JsonDocument.Parse(text))
            {
                Assert.True(attached.RootElement.GetProperty("ok").GetBoolean(), text);
            }

            Assert.Contains("UP", b.Exec("ip", ["-o", "link", "show", "sy1"]).Output, StringComparison.Ordinal);

            JsonElement show = await sy.ShowAsync();
            Assert.Contains(SwitchyardProcess.Ports(show), p => p.GetProperty("name").GetString() == "att");
            Assert.Contains(SwitchyardProcess.Ports(show), p => p.GetProperty("name").GetString() == $"pid-{sleeper.Id}");

            (code, text) = await sy.CliAsync("taps", "--json");
            Assert.True(code == 0, text);
            using JsonDocument taps = JsonDocument.Parse(text);
            bool Held(string ifname) => taps.RootElement.EnumerateArray().Any(t =>
                t.GetProperty("interface").GetString() == ifname
                && !t.GetProperty("inThisNamespace").GetBoolean()
                && t.GetProperty("holders").EnumerateArray().Any(h => h.GetProperty("pid").GetInt32() == sy.ProcessId && h.GetProperty("role").GetString() == "switchyard"));
            Assert.True(Held("eth0"), text);
            Assert.True(Held("sy1"), text);

            (code, text) = await sy.CliAsync("taps");
            Assert.Equal(0, code);
            Assert.Contains("switchyard", text, StringComparison.Ordinal);

            // Removing the port deletes the interface in the namespace.
            (code, text) = await sy.CliAsync("port", "del", "default", "att");
            Assert.True(code == 0, text);
            Assert.NotEqual(0, a.Exec("ip", ["link", "show", "eth0"]).ExitCode);
        }
        finally
        {
            sleeper.Kill();
            await sleeper.WaitForExitAsync();
        }
    }

    [RequiresRootFact]
    public async Task NetnsPort_MissingNamespaceOrPidOrTakenName_ErrorSaysWhatToDo()
    {
        using TestNamespace a = TestNamespace.Create("er");
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        string missing = $"sy-missing-{Environment.ProcessId}";

        (int code, string text) = await sy.CliAsync("attach", "default", "--netns", missing, "--name", "m1");
        Assert.NotEqual(0, code);
        Assert.Contains($"ip netns add {missing}", text, StringComparison.Ordinal);

        (code, text) = await sy.CliAsync("port", "add", "default", "m2", "netns,pid=999999999");
        Assert.NotEqual(0, code);
        Assert.Contains("no process 999999999", text, StringComparison.Ordinal);

        // eth0 taken by something that is not a tap (a veth).
        Assert.Equal(0, a.Exec("ip", ["link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"]).ExitCode);
        (code, text) = await sy.CliAsync("attach", "default", "--netns", a.Name, "--name", "m3");
        Assert.NotEqual(0, code);
        Assert.Contains("not a tap", text, StringComparison.Ordinal);

        (code, text) = await sy.CliAsync("attach", "default");
        Assert.Equal(2, code);
        Assert.Contains("--netns NAME or --pid PID", text, StringComparison.Ordinal);
    }

    [RequiresRootFact]
    public async Task Exec_Wget_FetchesFromHostLoopbackThroughTheGateway_ByteIdentical_ExitCodesPassThrough()
    {
        byte[] body = TestHttpServer.RandomBody(300_000);
        using var http = new TestHttpServer(body);
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);

        (int code, byte[] stdout, string stderr) = await RunBinaryAsync(sy, "exec", "--", "busybox", "wget", "-q", "-O", "-", $"http://10.0.2.2:{http.Port}/");
        output.WriteLine(stderr);
        Assert.True(code == 0, stderr);
        Assert.Equal(body.Length, stdout.Length);
        Assert.True(body.AsSpan().SequenceEqual(stdout), "exec output differs from the served body");

        // The child sees the gateway's DNS, the host's resolv.conf is untouched, exit codes pass through.
        string hostResolv = File.ReadAllText("/etc/resolv.conf");
        (code, stdout, stderr) = await RunBinaryAsync(sy, "exec", "default", "--", "sh", "-c", "cat /etc/resolv.conf; ip -o -4 addr show eth0; ip route; exit 42");
        string text = System.Text.Encoding.UTF8.GetString(stdout);
        output.WriteLine(text + stderr);
        Assert.Equal(42, code);
        Assert.Contains("nameserver 10.0.2.3", text, StringComparison.Ordinal);
        Assert.Contains("10.0.2.", text, StringComparison.Ordinal);
        Assert.Contains("default via 10.0.2.2", text, StringComparison.Ordinal);
        Assert.Equal(hostResolv, File.ReadAllText("/etc/resolv.conf"));

        (code, _, stderr) = await RunBinaryAsync(sy, "exec", "--", "false");
        Assert.Equal(1, code);

        // Each exec released its lease when its command ended.
        (int leasesCode, string leasesJson) = await sy.CliAsync("leases", "--json");
        Assert.Equal(0, leasesCode);
        using (JsonDocument leases = JsonDocument.Parse(leasesJson))
        {
            JsonElement rows = leases.RootElement.GetProperty("leases");
            Assert.True(rows.GetArrayLength() >= 3, leasesJson);
            Assert.All(rows.EnumerateArray(), l => Assert.False(l.GetProperty("active").GetBoolean(), leasesJson));
        }

        // Nothing left behind: no exec namespace, no port.
        string namespaces = TestNamespace.Run("ip", ["netns", "list"]).Output;
        Assert.DoesNotContain("sy-exec-", namespaces, StringComparison.Ordinal);
        Assert.DoesNotContain(SwitchyardProcess.Ports(await sy.ShowAsync()), p => p.GetProperty("name").GetString()!.StartsWith("sy-exec-", StringComparison.Ordinal));

        // SIGTERM, and SIGINT sent to exec alone (no terminal here), are passed on to the command, whose
        // exit code says so. Either way the port and the namespace go away.
        await SignalExecAsync(sy, "TERM", code => Assert.Equal(128 + 15, code));
        await SignalExecAsync(sy, "INT", code => Assert.Equal(128 + 2, code));

        (code, _, stderr) = await RunBinaryAsync(sy, "exec", "busybox", "true");
        Assert.Equal(2, code);
        Assert.Contains("'--'", stderr, StringComparison.Ordinal);
    }

    // Starts `exec -- sleep 60`, sends SIGNAL to the exec process once the command runs, and checks
    // the exit code and that nothing is left behind.
    private async Task SignalExecAsync(SwitchyardProcess sy, string signal, Action<int> checkExitCode)
    {
        Task<(int Code, byte[] Stdout, string Stderr)> sleeping = RunBinaryAsync(sy, "exec", "--", "sleep", "60");
        string? execNs = null;
        for (int i = 0; i < 200 && execNs is null; i++)
        {
            await Task.Delay(100);
            execNs = TestNamespace.Run("ip", ["netns", "list"]).Output.Split('\n').Select(l => l.Split(' ')[0]).FirstOrDefault(n => n.StartsWith("sy-exec-", StringComparison.Ordinal));
        }

        Assert.NotNull(execNs);
        for (int i = 0; i < 150 && TestNamespace.Run("ip", ["netns", "pids", execNs]).Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length < 2; i++)
        {
            await Task.Delay(100); // until udhcpc and the command both run in the namespace
        }

        Assert.Equal(0, TestNamespace.Run("kill", [$"-{signal}", execNs["sy-exec-".Length..]]).ExitCode);
        (int code, _, string stderr) = await sleeping.WaitAsync(TimeSpan.FromSeconds(30));
        output.WriteLine($"exec after SIG{signal}: {code} {stderr}");
        checkExitCode(code);
        Assert.DoesNotContain(execNs, TestNamespace.Run("ip", ["netns", "list"]).Output, StringComparison.Ordinal);
        Assert.DoesNotContain(SwitchyardProcess.Ports(await sy.ShowAsync()), p => p.GetProperty("name").GetString() == execNs);
    }

    // Runs the published switchyard binary with stdout kept as bytes (CliAsync returns text).
    internal static async Task<(int Code, byte[] Stdout, string Stderr)> RunBinaryAsync(SwitchyardProcess sy, params string[] args)
    {
        string bin = Environment.GetEnvironmentVariable("SWITCHYARD_BIN") is { Length: > 0 } b && File.Exists(b)
            ? b
            : Path.Combine(GuestImage.FindRepositoryRoot(AppContext.BaseDirectory)!, ".cache", "publish", "switchyard");
        var psi = new ProcessStartInfo(bin) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.ArgumentList.Insert(0, sy.RunDirectory);
        psi.ArgumentList.Insert(0, "--run-dir");
        using Process p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = new MemoryStream();
        Task copy = p.StandardOutput.BaseStream.CopyToAsync(stdout);
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await p.WaitForExitAsync(timeout.Token);
        await copy;
        return (p.ExitCode, stdout.ToArray(), await stderr);
    }
}
