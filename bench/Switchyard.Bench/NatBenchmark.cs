// `switchyard-bench nat`: a namespace "guest" behind a user-mode NAT talking to servers on the loopback
// of a namespace "host": Switchyard's gateway, pasta and slirp4netns, alternating run by run at every
// MTU, fresh namespaces and a fresh daemon for every run; see NatOptions.Help and NatNamespaces.
//
// Per run, in this order: the request/response loop (latency), ping (latency through the ICMP path),
// iperf3 guest -> host, iperf3 -R (host -> guest). The connections always start in the guest, as NAT
// connections do; -R only turns the data around. CPU time of the daemon, the iperf3 client, the iperf3
// server and the rest of the machine is sampled inside the iperf3 window (after the omitted seconds).
using System.Globalization;

namespace Switchyard.Bench;

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

internal sealed class NatBenchmark(NatOptions options, ChildProcesses children)
{
    private const int IperfPort = 5201;
    private const int RrPort = 5202;

    private readonly Dictionary<NatTool, List<string>> commands = [];
    private readonly Dictionary<NatTool, string> layouts = [];
    private NetnsTraffic traffic = null!;

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

        var ns = new NatNamespaces(options.NetnsPrefix);
        traffic = new NetnsTraffic(children, new Dictionary<string, string> { [ns.Host] = "HOST", [ns.Guest] = "GUEST" });
        MachineFacts facts = MachineFacts.Collect(repo, bins.GetValueOrDefault(NatTool.Switchyard), null);
        string versions = Versions();
        string invocation = StreamBenchmark.Invocation();
        string command = options.Command ?? invocation;
        Console.Out.WriteLine($"# {command}");
        Console.Out.WriteLine($"# {facts.OneLine}; {versions}");
        Console.Out.WriteLine(Invariant($"# {options.Runs} runs x MTUs {string.Join(",", options.Mtus)} x tools {string.Join(",", options.Tools.Select(NatReport.Name))}, alternating; iperf3 {options.Seconds} s (+{options.Omit} s omitted) each way, request/response {options.RrSeconds} s, {options.PingCount} pings"));

        string loadBefore = StreamBenchmark.LoadAverage();
        var results = new List<NatRunRecord>();
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

        var report = new NatReport(options, command, facts, results, layouts, commands, traffic.Commands)
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
            ProcessLog iperfServer = traffic.StartIperfServer(ns.Host, logs, "127.0.0.1", IperfPort);
            traffic.StartRrServer(ns.Host, logs, "127.0.0.1", RrPort);
            GuestLink guest = daemon.Start(ns, mtu, dir);
            if (options.GuestQueueLength > 0)
            {
                guest = ns.SetQueueLength(guest, options.GuestQueueLength);
            }

            if (guest.Mtu != mtu)
            {
                problems.Add(Invariant($"the guest interface has MTU {guest.Mtu}, not {mtu}"));
            }

            RrStats? rr = traffic.RequestResponse(ns.Guest, NatNamespaces.Gateway, RrPort, options.RrSeconds, logs, problems);
            // The host namespace's own address, not 10.0.2.2: libslirp answers the gateway address itself,
            // and this pasta maps it to the loopback for TCP and UDP only.
            PingStats? ping = traffic.Ping(ns.Guest, NatNamespaces.HostAddress, options.PingCount, logs, problems);
            int[] daemonPids = daemon.Pid is int pid ? [pid] : [];
            Throughput? up = traffic.Iperf(ns.Guest, NatNamespaces.Gateway, IperfPort, options.Seconds, options.Omit, iperfServer, daemonPids,
                reverse: false, "iperf3 guest-to-host", logs, problems);
            Throughput? down = traffic.Iperf(ns.Guest, NatNamespaces.Gateway, IperfPort, options.Seconds, options.Omit, iperfServer, daemonPids,
                reverse: true, "iperf3 host-to-guest", logs, problems);
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
