// `switchyard-bench l2`: two network namespaces joined at layer 2 by Switchyard (two tap ports), the Linux
// bridge (veth pairs) and vde_switch (taps plugged in by vde_plug2tap), alternating run by run, fresh
// namespaces and a fresh switch for every run; see L2Options.Help and L2Namespaces.
//
// Per run, in this order: the request/response loop A -> B (latency), ping A -> B, iperf3 A -> B with the
// CPU time of the switch's processes, both iperf3 processes and the rest of the machine sampled in the
// measured window (NetnsTraffic, shared with `nat`).
using System.Globalization;

namespace Switchyard.Bench;

/// <summary>What one run measured. <see cref="Error"/> set: the run failed as a whole (no switch, no
/// links); a measurement that failed on its own is null and its reason is in <see cref="Problems"/>.</summary>
internal sealed record L2Result
{
    public string? Error { get; init; }

    public IReadOnlyList<string> Problems { get; init; } = [];

    /// <summary>A's interface and its offloads (ethtool -k).</summary>
    public string? Link { get; init; }

    /// <summary>iperf3 A -> B.</summary>
    public Throughput? Tcp { get; init; }

    public RrStats? Rr { get; init; }

    public PingStats? Ping { get; init; }

    public string? Counters { get; init; }

    public double QuietWait { get; init; }
}

internal sealed record L2RunRecord(L2Tool Tool, int Run, L2Result Result);

internal sealed class L2Benchmark(L2Options options, ChildProcesses children)
{
    private const int IperfPort = 5201;
    private const int RrPort = 5202;

    private readonly Dictionary<L2Tool, List<string>> commands = [];
    private readonly Dictionary<L2Tool, string> layouts = [];

    public int Run()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new BenchException("needs root (it creates network namespaces, taps and bridges)");
        }

        foreach (string tool in new[] { "ip", "iperf3", "busybox" })
        {
            if (StreamBenchmark.FindOnPath(tool) is null)
            {
                throw new BenchException($"{tool} not found (Debian: apt-get install iproute2 iperf3 busybox)");
            }
        }

        string? repo = StreamBenchmark.RepoRoot();
        string? switchyard = options.Tools.Contains(L2Tool.Switchyard) ? ResolveSwitchyard(repo) : null;
        string? vdeSwitch = null;
        string? plug2tap = null;
        if (options.Tools.Contains(L2Tool.Vde))
        {
            vdeSwitch = StreamBenchmark.FindOnPath(options.VdeSwitch) ?? throw new BenchException($"{options.VdeSwitch} not found (Debian: apt-get install vde2)");
            plug2tap = StreamBenchmark.FindOnPath(options.VdePlug2Tap) ?? throw new BenchException($"{options.VdePlug2Tap} not found (Debian: apt-get install vde2)");
        }

        MachineFacts facts = MachineFacts.Collect(repo, switchyard, vdeSwitch);
        string versions = Versions();
        string invocation = StreamBenchmark.Invocation();
        string command = options.Command ?? invocation;
        Console.Out.WriteLine($"# {command}");
        Console.Out.WriteLine($"# {facts.OneLine}; {versions}");
        Console.Out.WriteLine(Inv($"# {options.Runs} runs x tools {string.Join(",", options.Tools.Select(L2Report.Name))}, alternating, MTU {options.Mtu}; iperf3 A -> B {options.Seconds} s (+{options.Omit} s omitted), request/response {options.RrSeconds} s, {options.PingCount} pings"));

        string loadBefore = StreamBenchmark.LoadAverage();
        var results = new List<L2RunRecord>();
        var ns = new L2Namespaces(options.NetnsPrefix);
        var traffic = new NetnsTraffic(children, ns.Aliases);
        try
        {
            for (int run = 1; run <= options.Runs; run++)
            {
                foreach (L2Tool tool in options.Tools)
                {
                    L2Switch sw = tool switch
                    {
                        L2Tool.Bridge => new BridgeL2(children),
                        L2Tool.Vde => new VdeL2(vdeSwitch!, plug2tap!, children),
                        _ => new SwitchyardL2(switchyard!, options, children),
                    };
                    L2RunRecord record = RunOne(sw, run, ns, traffic);
                    results.Add(record);
                    Console.Out.WriteLine(L2Report.RunLine(record, options.Runs));
                }
            }
        }
        finally
        {
            ns.Delete();
        }

        var report = new L2Report(options, command, facts, results, layouts, commands, traffic.Commands)
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

    private static string Inv(FormattableString s) => FormattableString.Invariant(s);

    /// <summary>Package versions of everything on the data path but the kernel and Switchyard.</summary>
    private static string Versions()
    {
        var parts = new List<string>();
        foreach (string pkg in new[] { "vde2", "libvdeplug2", "iperf3", "busybox", "busybox-static", "iproute2", "ethtool" })
        {
            if (MachineFacts.Run("dpkg-query", "-W", "-f=${Package} ${Version}", pkg) is { } v && v.Contains(' ', StringComparison.Ordinal))
            {
                parts.Add(v);
            }
        }

        return string.Join(", ", parts);
    }

    private L2RunRecord RunOne(L2Switch sw, int run, L2Namespaces ns, NetnsTraffic traffic)
    {
        layouts[sw.Tool] = sw.Layout;
        var logs = new List<ProcessLog>();
        var problems = new List<string>();
        string dir = Directory.CreateTempSubdirectory("sybench-l2-").FullName; // short: sun_path has 108 bytes
        children.TrackDirectory(dir);
        double waited = CpuTime.WaitForQuiet(options.QuietSeconds, options.MaxOthers);
        L2Result result;
        try
        {
            ns.Create();
            (string ifA, string ifB) = sw.Start(ns, dir);
            L2Namespaces.Configure(ns.A, ifA, L2Namespaces.AddressA, options.Mtu);
            L2Namespaces.Configure(ns.B, ifB, L2Namespaces.AddressB, options.Mtu);
            string link = $"A: {ifA} ({L2Namespaces.Offloads(ns.A, ifA)}); B: {ifB} ({L2Namespaces.Offloads(ns.B, ifB)})";
            ProcessLog iperfServer = traffic.StartIperfServer(ns.B, logs, L2Namespaces.AddressB, IperfPort);
            traffic.StartRrServer(ns.B, logs, L2Namespaces.AddressB, RrPort);
            RrStats? rr = traffic.RequestResponse(ns.A, L2Namespaces.AddressB, RrPort, options.RrSeconds, logs, problems);
            PingStats? ping = traffic.Ping(ns.A, L2Namespaces.AddressB, options.PingCount, logs, problems);
            Throughput? tcp = traffic.Iperf(ns.A, L2Namespaces.AddressB, IperfPort, options.Seconds, options.Omit, iperfServer, sw.Pids,
                reverse: false, "iperf3 a-to-b", logs, problems);
            result = new L2Result { Link = link, Rr = rr, Ping = ping, Tcp = tcp, Counters = sw.Counters() };
        }
        catch (BenchException e)
        {
            result = new L2Result { Error = e.Message };
        }
        finally
        {
            sw.Stop();
            foreach (ProcessLog log in logs)
            {
                log.Child?.Stop();
            }

            commands[sw.Tool] = [.. sw.Commands];
            if (options.LogDirectory is { } logDir)
            {
                Directory.CreateDirectory(logDir);
                string stem = Path.Combine(logDir, Inv($"run{run}-{L2Report.Name(sw.Tool)}"));
                foreach (ProcessLog log in sw.Logs.Concat(logs))
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

        if (result.Error is not null && sw.Logs.Count > 0)
        {
            string tails = string.Join('\n', sw.Logs.Select(l => $"--- {l.Name} output (tail) ---\n{l.Tail(30)}"));
            result = result with { Error = $"{result.Error}\n{tails}" };
        }

        return new L2RunRecord(sw.Tool, run, result with { Problems = problems, QuietWait = waited });
    }

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
