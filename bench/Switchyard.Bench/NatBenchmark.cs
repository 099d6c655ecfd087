// `switchyard-bench nat`: a namespace "guest" behind a user-mode NAT talking to servers on the loopback
// of a namespace "host": Switchyard's gateway, pasta and slirp4netns, alternating run by run at every
// MTU, fresh namespaces and a fresh daemon for every run; see NatOptions.Help and NatNamespaces.
//
// Per run, in this order: the request/response loop (latency), ping (latency through the ICMP path),
// iperf3 guest -> host, iperf3 -R (host -> guest). The connections always start in the guest, as NAT
// connections do; -R only turns the data around. CPU time of the daemon, the iperf3 client, the iperf3
// server and the rest of the machine is sampled inside the iperf3 window (after the omitted seconds).
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Switchyard.Bench;

/// <summary>One iperf3 direction: the receiver's rate and who used the CPUs meanwhile.
/// <paramref name="StalledSeconds"/> counts the measured one-second intervals in which nothing arrived.</summary>
internal sealed record Throughput(double Gbps, long Retransmits, int StalledSeconds, double DaemonCpu, double ClientCpu, double ServerCpu, double RestCpu);

/// <summary>One ping series: round trips in microseconds.</summary>
internal sealed record PingStats(int Sent, int Received, double MedianUs, double MinUs, double MaxUs);

/// <summary>What one run measured. <see cref="Error"/> set: the run failed as a whole (no guest link);
/// a measurement that failed on its own is null and its reason is in <see cref="Problems"/>.</summary>
internal sealed record NatResult
{
    public string? Error { get; init; }

    public IReadOnlyList<string> Problems { get; init; } = [];

    public GuestLink? Guest { get; init; }

    /// <summary>iperf3 guest -> host.</summary>
    public Throughput? Up { get; init; }

    /// <summary>iperf3 -R: host -> guest.</summary>
    public Throughput? Down { get; init; }

    public RrStats? Rr { get; init; }

    public PingStats? Ping { get; init; }

    public string? Counters { get; init; }

    public double QuietWait { get; init; }
}

internal sealed record NatRunRecord(NatTool Tool, int Mtu, int Run, NatResult Result);

internal sealed partial class NatBenchmark(NatOptions options, ChildProcesses children)
{
    private const int IperfPort = 5201;
    private const int RrPort = 5202;

    private readonly Dictionary<NatTool, List<string>> commands = [];
    private readonly Dictionary<NatTool, string> layouts = [];
    private readonly Dictionary<string, string> clientCommands = [];
    private string benchCommand = "switchyard-bench";

    public int Run()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new BenchException("needs root (it creates network namespaces)");
        }

        foreach (string tool in new[] { "ip", "iperf3", "busybox" })
        {
            if (StreamBenchmark.FindOnPath(tool) is null)
            {
                throw new BenchException($"{tool} not found (Debian: apt-get install iproute2 iperf3 busybox)");
            }
        }

        string? repo = StreamBenchmark.RepoRoot();
        var bins = new Dictionary<NatTool, string>();
        foreach (NatTool tool in options.Tools)
        {
            bins[tool] = tool switch
            {
                NatTool.Pasta => StreamBenchmark.FindOnPath(options.Pasta) ?? throw new BenchException($"{options.Pasta} not found (Debian: apt-get install passt)"),
                NatTool.Slirp4netns => StreamBenchmark.FindOnPath(options.Slirp4netns) ?? throw new BenchException($"{options.Slirp4netns} not found (Debian: apt-get install slirp4netns)"),
                _ => ResolveSwitchyard(repo),
            };
        }

        benchCommand = BenchCommand();
        MachineFacts facts = MachineFacts.Collect(repo, bins.GetValueOrDefault(NatTool.Switchyard), null);
        string versions = Versions();
        string invocation = StreamBenchmark.Invocation();
        string command = options.Command ?? invocation;
        Console.Out.WriteLine($"# {command}");
        Console.Out.WriteLine($"# {facts.OneLine}; {versions}");
        Console.Out.WriteLine(Invariant($"# {options.Runs} runs x MTUs {string.Join(",", options.Mtus)} x tools {string.Join(",", options.Tools.Select(NatReport.Name))}, alternating; iperf3 {options.Seconds} s (+{options.Omit} s omitted) each way, request/response {options.RrSeconds} s, {options.PingCount} pings"));

        string loadBefore = StreamBenchmark.LoadAverage();
        var results = new List<NatRunRecord>();
        var ns = new NatNamespaces(options.NetnsPrefix);
        try
        {
            for (int run = 1; run <= options.Runs; run++)
            {
                foreach (int mtu in options.Mtus)
                {
                    foreach (NatTool tool in options.Tools)
                    {
                        NatRunRecord record = RunOne(tool, mtu, run, bins[tool], ns);
                        results.Add(record);
                        Console.Out.WriteLine(NatReport.RunLine(record, options.Runs));
                    }
                }
            }
        }
        finally
        {
            ns.Delete();
        }

        var report = new NatReport(options, command, facts, results, layouts, commands, clientCommands)
        {
            Invocation = invocation,
            LoadBefore = loadBefore,
            LoadAfter = StreamBenchmark.LoadAverage(),
            Versions = versions,
        };
        Console.Out.WriteLine();
        Console.Out.Write(report.SummaryText());
        if (options.MarkdownPath is { } path)
        {
            string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir is not null)
            {
                Directory.CreateDirectory(dir);
            }

            File.WriteAllText(path, report.Markdown());
            Console.Out.WriteLine($"wrote {path}");
        }

        return results.TrueForAll(r => r.Result.Error is null && r.Result.Problems.Count == 0) ? 0 : 1;
    }

    private static string Invariant(FormattableString s) => FormattableString.Invariant(s);

    /// <summary>Package versions of everything on the data path but the kernel.</summary>
    private static string Versions()
    {
        var parts = new List<string>();
        foreach (string pkg in new[] { "passt", "slirp4netns", "libslirp0", "iperf3", "busybox", "busybox-static", "iproute2" })
        {
            // dpkg-query -W also answers (with an empty version) for packages it knows but that are not installed.
            if (MachineFacts.Run("dpkg-query", "-W", "-f=${Package} ${Version}", pkg) is { } v && v.Contains(' ', StringComparison.Ordinal))
            {
                parts.Add(v);
            }
        }

        return string.Join(", ", parts);
    }

    /// <summary>How to start this very driver again (for rr-server and rr-client in the namespaces).</summary>
    private static string BenchCommand()
    {
        string host = Environment.ProcessPath ?? "dotnet";
        string dll = Path.Combine(AppContext.BaseDirectory, "switchyard-bench.dll");
        return Path.GetFileNameWithoutExtension(host) == "dotnet" ? $"{host}\n{dll}" : host;
    }

    /// <summary>The driver's argv prefix (host and dll, or the apphost), then <paramref name="args"/>.</summary>
    private List<string> Bench(params string[] args) => [.. benchCommand.Split('\n'), .. args];

    private NatRunRecord RunOne(NatTool tool, int mtu, int run, string bin, NatNamespaces ns)
    {
        NatDaemon daemon = tool switch
        {
            NatTool.Pasta => new PastaNat(bin, children),
            NatTool.Slirp4netns => new Slirp4netnsNat(bin, children),
            _ => new SwitchyardNat(bin, options.SwitchyardVerbose, children),
        };
        layouts[tool] = daemon.Layout;
        var logs = new List<ProcessLog>();
        var problems = new List<string>();
        string dir = Directory.CreateTempSubdirectory("sybench-nat-").FullName; // short: sun_path has 108 bytes
        children.TrackDirectory(dir);
        double waited = CpuTime.WaitForQuiet(options.QuietSeconds, options.MaxOthers);
        NatResult result;
        try
        {
            ns.Create();
            // --forceflush: iperf3 writes to a pipe here, and its "listening" line would sit in stdio's buffer.
            ProcessLog iperfServer = StartServer(ns, logs, "iperf3 server", ["iperf3", "-s", "-B", "127.0.0.1", "-p", Port(IperfPort), "--forceflush"], "Server listening");
            StartServer(ns, logs, "rr-server", Bench("rr-server", "--listen", $"127.0.0.1:{Port(RrPort)}"), "rr-server: listening");
            GuestLink guest = daemon.Start(ns, mtu, dir);
            if (guest.Mtu != mtu)
            {
                problems.Add(Invariant($"the guest interface has MTU {guest.Mtu}, not {mtu}"));
            }

            RrStats? rr = RequestResponseRun(ns, logs, problems);
            PingStats? ping = PingRun(ns, logs, problems);
            Throughput? up = IperfRun(ns, daemon, iperfServer, reverse: false, logs, problems);
            Throughput? down = IperfRun(ns, daemon, iperfServer, reverse: true, logs, problems);
            result = new NatResult { Guest = guest, Rr = rr, Ping = ping, Up = up, Down = down, Counters = daemon.Counters() };
        }
        catch (BenchException e)
        {
            result = new NatResult { Error = e.Message };
        }
        finally
        {
            daemon.Stop();
            foreach (ProcessLog log in logs)
            {
                log.Child?.Stop();
            }

            commands[tool] = [.. daemon.Commands];
            if (options.LogDirectory is { } logDir)
            {
                Directory.CreateDirectory(logDir);
                string stem = Path.Combine(logDir, Invariant($"run{run}-mtu{mtu}-{NatReport.Name(tool)}"));
                if (daemon.Log is { } d)
                {
                    logs.Insert(0, d);
                }

                foreach (ProcessLog log in logs)
                {
                    log.SaveLog($"{stem}-{log.Name.Replace(' ', '-')}.log");
                }
            }

            ns.Delete();
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // A straggling socket; the name is unique.
            }

            children.ForgetDirectory(dir);
        }

        if (result.Error is not null && daemon.Log is { } daemonLog)
        {
            result = result with { Error = $"{result.Error}\n--- {daemonLog.Name} output (tail) ---\n{daemonLog.Tail(30)}" };
        }

        return new NatRunRecord(tool, mtu, run, result with { Problems = problems, QuietWait = waited });
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    /// <summary>Starts a server in the host namespace and waits for its ready line.</summary>
    private ProcessLog StartServer(NatNamespaces ns, List<ProcessLog> logs, string name, IReadOnlyList<string> cmd, string readyLine)
    {
        List<string> all = ["netns", "exec", ns.Host, .. cmd];
        var log = new ProcessLog(name) { CommandLine = VhostSwitch.Render(null, "ip", all) };
        clientCommands[name] = log.CommandLine.Replace(ns.Host, "HOST", StringComparison.Ordinal);
        logs.Add(log);
        log.Child = children.Start("ip", all, cpu: null, readyLine, log.OnLine);
        return log.Child.WaitReady(TimeSpan.FromSeconds(30))
            ? log
            : throw new BenchException($"{name} did not print '{readyLine}' within 30 s; its output:\n{log.Tail(20)}");
    }

    /// <summary>Runs a client in the guest namespace to completion (or kills it after <paramref name="timeout"/>);
    /// <paramref name="whileRunning"/> runs meanwhile with the client's PID. Returns the exit status
    /// (null: timed out) and the log.</summary>
    private (int? Exit, ProcessLog Log) RunInGuest(NatNamespaces ns, List<ProcessLog> logs, string name, IReadOnlyList<string> cmd, TimeSpan timeout, Action<int>? whileRunning = null)
    {
        List<string> all = ["netns", "exec", ns.Guest, .. cmd];
        var log = new ProcessLog(name) { CommandLine = VhostSwitch.Render(null, "ip", all) };
        clientCommands[name] = log.CommandLine.Replace(ns.Guest, "GUEST", StringComparison.Ordinal);
        logs.Add(log);
        log.Child = children.Start("ip", all, cpu: null, readyLine: null, log.OnLine);
        var clock = Stopwatch.StartNew();
        whileRunning?.Invoke(log.Child.Pid);
        bool exited = log.Child.WaitExit(timeout - clock.Elapsed > TimeSpan.Zero ? timeout - clock.Elapsed : TimeSpan.Zero);
        int? exit = exited ? log.Child.ExitCode : null;
        log.Child.Stop(); // flushes the output readers (and kills it if it overran)
        return (exit, log);
    }

    private RrStats? RequestResponseRun(NatNamespaces ns, List<ProcessLog> logs, List<string> problems)
    {
        if (options.RrSeconds <= 0)
        {
            return null;
        }

        string seconds = options.RrSeconds.ToString(CultureInfo.InvariantCulture);
        (int? exit, ProcessLog log) = RunInGuest(ns, logs, "rr-client",
            Bench("rr-client", "--connect", $"{NatNamespaces.Gateway}:{Port(RrPort)}", "--seconds", seconds, "--warmup", "0.5"),
            TimeSpan.FromSeconds(options.RrSeconds + 30));
        RrStats? stats = exit == 0 ? RequestResponse.ParseClientLine(log.Output()) : null;
        if (stats is null)
        {
            problems.Add($"request/response: {(exit is null ? "timed out" : $"exit {exit}")}: {log.Tail(5).ReplaceLineEndings(" ")}");
        }

        return stats;
    }

    private PingStats? PingRun(NatNamespaces ns, List<ProcessLog> logs, List<string> problems)
    {
        if (options.PingCount <= 0)
        {
            return null;
        }

        string count = options.PingCount.ToString(CultureInfo.InvariantCulture);
        (int? exit, ProcessLog log) = RunInGuest(ns, logs, "ping",
            ["busybox", "ping", "-c", count, "-i", "0.2", "-W", "2", NatNamespaces.HostAddress],
            TimeSpan.FromSeconds((options.PingCount * 0.2) + 15));
        var times = new List<double>();
        foreach (Match m in PingTime().Matches(log.Output()))
        {
            times.Add(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * 1000);
        }

        if (times.Count == 0)
        {
            problems.Add($"ping {NatNamespaces.HostAddress}: no reply ({(exit is null ? "timed out" : $"exit {exit}")}): {log.Tail(3).ReplaceLineEndings(" ")}");
            return null;
        }

        times.Sort();
        return new PingStats(options.PingCount, times.Count, Report.Median(times), times[0], times[^1]);
    }

    private Throughput? IperfRun(NatNamespaces ns, NatDaemon daemon, ProcessLog server, bool reverse, List<ProcessLog> logs, List<string> problems)
    {
        string direction = reverse ? "host -> guest" : "guest -> host";
        List<string> cmd = ["iperf3", "-c", NatNamespaces.Gateway, "-p", Port(IperfPort), "-t", options.Seconds.ToString(CultureInfo.InvariantCulture),
            "-O", Port(options.Omit), "-J", "--connect-timeout", "5000"];
        if (reverse)
        {
            cmd.Add("-R");
        }

        // CPU over the measured part of the test: from just after the omitted seconds to just before the
        // end (the client's own clock starts at connect, a few ms after the process).
        double window = options.Seconds - 0.6;
        double[] before = [];
        double[] after = [];
        int serverPid = server.Child!.Pid;
        int daemonPid = daemon.Pid ?? -1;
        (int? exit, ProcessLog log) = RunInGuest(ns, logs, reverse ? "iperf3 host-to-guest" : "iperf3 guest-to-host", cmd, TimeSpan.FromSeconds(options.Seconds + options.Omit + 30), pid =>
        {
            Thread.Sleep(TimeSpan.FromSeconds(options.Omit + 0.3));
            before = [CpuTime.Seconds(daemonPid), CpuTime.Seconds(pid), CpuTime.Seconds(serverPid), CpuTime.MachineBusySeconds()];
            var clock = Stopwatch.StartNew();
            Thread.Sleep(TimeSpan.FromSeconds(window));
            after = [CpuTime.Seconds(daemonPid), CpuTime.Seconds(pid), CpuTime.Seconds(serverPid), CpuTime.MachineBusySeconds()];
            window = clock.Elapsed.TotalSeconds;
        });

        string output = log.Output();
        try
        {
            using var doc = JsonDocument.Parse(output);
            JsonElement root = doc.RootElement;
            if (root.TryGetProperty("error", out JsonElement error))
            {
                problems.Add($"iperf3 {direction}: {error.GetString()}");
                return null;
            }

            JsonElement end = root.GetProperty("end");
            double bps = end.GetProperty("sum_received").GetProperty("bits_per_second").GetDouble();
            long retransmits = end.TryGetProperty("sum_sent", out JsonElement sent) && sent.TryGetProperty("retransmits", out JsonElement r) ? r.GetInt64() : -1;
            // Whole seconds in which the stream made no progress at all (a stalled connection waiting on
            // retransmission timeouts), from the per-second intervals, the omitted ones left out.
            int stalled = 0;
            foreach (JsonElement interval in root.GetProperty("intervals").EnumerateArray())
            {
                JsonElement sum = interval.GetProperty("sum");
                bool omitted = sum.TryGetProperty("omitted", out JsonElement o) && o.ValueKind == JsonValueKind.True;
                if (!omitted && sum.GetProperty("bytes").GetInt64() == 0 && sum.GetProperty("seconds").GetDouble() > 0.5)
                {
                    stalled++;
                }
            }

            double Cpu(int i) => before.Length == 4 && after.Length == 4 ? (after[i] - before[i]) / window : double.NaN;
            double daemonCpu = Cpu(0);
            double clientCpu = Cpu(1);
            double serverCpu = Cpu(2);
            return new Throughput(bps / 1e9, retransmits, stalled, daemonCpu, clientCpu, serverCpu, Cpu(3) - daemonCpu - clientCpu - serverCpu);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            problems.Add($"iperf3 {direction}: {(exit is null ? "timed out" : $"exit {exit}")}, no result ({e.Message}): {log.Tail(5).ReplaceLineEndings(" ")}");
            return null;
        }
    }

    [GeneratedRegex(@"time=([0-9.]+) ms")]
    private static partial Regex PingTime();

    private string ResolveSwitchyard(string? repo)
    {
        string? bin = options.SwitchyardBin ?? Environment.GetEnvironmentVariable("SWITCHYARD_BIN") switch
        {
            { Length: > 0 } env => env,
            _ => repo is null ? null : Path.Combine(repo, ".cache", "publish", "switchyard"),
        };
        return bin is not null && File.Exists(bin)
            ? Path.GetFullPath(bin)
            : throw new BenchException($"switchyard binary not found at {bin ?? "(none)"}: pass --switchyard-bin, set SWITCHYARD_BIN, or run ./switchyard --help once to publish it");
    }
}
