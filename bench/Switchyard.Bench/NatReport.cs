// The NAT benchmark's report: medians (min–max) per MTU and tool for both iperf3 directions, the
// request/response latency and ping, the Switchyard / anchor ratios (ratio of medians and paired per
// run), every run in the order it ran, the exact commands, and every failure with the daemon's output.
using System.Globalization;
using System.Text;
using static Switchyard.Bench.ReportText;

namespace Switchyard.Bench;

internal sealed class NatReport(
    NatOptions options,
    string command,
    MachineFacts facts,
    IReadOnlyList<NatRunRecord> runs,
    IReadOnlyDictionary<NatTool, string> layouts,
    IReadOnlyDictionary<NatTool, List<string>> commands,
    IReadOnlyDictionary<string, string> clientCommands)
{
    /// <summary>A measure of one run (null when that measurement failed).</summary>
    private delegate double? Pick(NatResult r);

    public string? Invocation { get; init; }

    public string LoadBefore { get; init; } = "?";

    public string LoadAfter { get; init; } = "?";

    public string Versions { get; init; } = "?";

    public static string Name(NatTool tool) => tool switch
    {
        NatTool.Switchyard => "switchyard",
        NatTool.Pasta => "pasta",
        NatTool.Slirp4netns => "slirp4netns",
        _ => tool.ToString(),
    };

    public static string RunLine(NatRunRecord r, int runs)
    {
        NatResult x = r.Result;
        string head = Inv($"run {r.Run}/{runs} mtu {r.Mtu,5} {Name(r.Tool),-11}");
        if (x.Error is not null)
        {
            return $"{head} FAILED: {x.Error}";
        }

        string line = $"{head} guest->host {Gbps(x.Up)} Gbit/s (daemon CPU {Cpu(x.Up?.DaemonCpu)})  host->guest {Gbps(x.Down)} Gbit/s (daemon CPU {Cpu(x.Down?.DaemonCpu)})  rr {Us(x.Rr?.MedianUs)} µs  ping {Us(x.Ping?.MedianUs)} µs";
        foreach (string p in x.Problems)
        {
            line += $"\n      problem: {p}";
        }

        return line;
    }

    public string SummaryText()
    {
        var sb = new StringBuilder();
        AppendSummaryTable(sb);
        sb.AppendLine();
        AppendRatios(sb);
        return sb.ToString();
    }

    public string Markdown()
    {
        var sb = new StringBuilder();
        ReportPreamble.Append(sb, "User-mode NAT benchmark", command, Invocation);

        sb.AppendLine(Inv($"{options.Runs} runs of each tool at each MTU, alternating (run 1 of every MTU and tool, then run 2, ...). Every run in fresh namespaces with a fresh daemon: {options.RrSeconds} s of 1-byte TCP request/response (after 0.5 s of warm-up), {options.PingCount} pings 0.2 s apart, then iperf3 for {options.Seconds} s guest → host and {options.Seconds} s host → guest (`-R`), each after {options.Omit} s of slow start that iperf3 leaves out (`-O {options.Omit}`)."));
        sb.AppendLine();
        sb.AppendLine("## Machine");
        sb.AppendLine();
        sb.AppendLine("| | |");
        sb.AppendLine("|---|---|");
        sb.AppendLine(Inv($"| CPUs (nproc) | {facts.Cpus} |"));
        sb.AppendLine($"| CPU model | {facts.CpuModel} |");
        sb.AppendLine($"| kernel | {facts.Kernel} |");
        sb.AppendLine($"| OS | {facts.Os} |");
        sb.AppendLine($"| .NET (driver, rr-client, rr-server) | {facts.Dotnet} |");
        if (facts.Switchyard is not null)
        {
            sb.AppendLine($"| switchyard | {facts.Switchyard} |");
        }

        sb.AppendLine($"| packages | {Versions} |");
        sb.AppendLine($"| load average | {LoadBefore} before, {LoadAfter} after |");
        sb.AppendLine();
        AppendLayout(sb);
        sb.AppendLine(Inv($"## Results: median (min–max) of {options.Runs} runs"));
        sb.AppendLine();
        AppendSummaryTable(sb);
        sb.AppendLine();
        sb.AppendLine("## Ratios");
        sb.AppendLine();
        AppendRatios(sb);
        sb.AppendLine();
        AppendObservations(sb);
        AppendEveryRun(sb);
        AppendCommands(sb);
        AppendFailures(sb);
        sb.AppendLine("## How to read this");
        sb.AppendLine();
        sb.AppendLine("Only the ratios travel: absolute figures move with the machine and with whatever else runs on it, and the tools ran alternately so that drift hits them alike. Throughput is what the iperf3 receiver counted. *daemon CPU* near 1.00 means the NAT daemon was the bottleneck (pasta, slirp4netns and the iperf3 processes are single-threaded; Switchyard may spread over threads and show more than 1.00). *rest CPU* is the machine's busy time minus the daemon and both iperf3 processes: the kernel's softirq work for both TCP connections plus anything else running; well above ~0.5 on two CPUs means other work competed with the run. Request/response is latency, lower is better: a Switchyard / anchor ratio below 1 means Switchyard answered faster. The guest's TCP stack and the host's sockets are the same kernel for every tool; the difference is the daemon's path between the guest's interface and the host's sockets (its tap I/O, its TCP translation, its wake-ups).");
        return sb.ToString();
    }

    private static readonly (string Name, Pick Pick, Func<double, string> Format, bool LowerIsBetter)[] Measures =
    [
        ("guest → host Gbit/s", r => r.Up?.Gbps, F2, false),
        ("host → guest Gbit/s", r => r.Down?.Gbps, F2, false),
        ("TCP request/response µs (median)", r => r.Rr?.MedianUs, F0, true),
        ("ping µs (median)", r => r.Ping?.MedianUs, F0, true),
    ];

    private List<double> Values(NatTool tool, int mtu, Pick pick)
    {
        var values = new List<double>();
        foreach (NatRunRecord r in runs)
        {
            if (r.Tool == tool && r.Mtu == mtu && r.Result.Error is null && pick(r.Result) is double v && !double.IsNaN(v))
            {
                values.Add(v);
            }
        }

        return values;
    }

    private void AppendLayout(StringBuilder sb)
    {
        sb.AppendLine("## Layout");
        sb.AppendLine();
        sb.AppendLine("- **Namespaces**, both created for every run and deleted after it: *host* (`NAME-host`), where the NAT daemon and the servers run, and *guest* (`NAME-guest`), where the clients run. The servers listen on the host namespace's loopback (iperf3 on 127.0.0.1:5201, rr-server on 127.0.0.1:5202); the clients connect to the gateway address 10.0.2.2, which every tool maps to the host's loopback, so every byte crosses the NAT: guest TCP stack → guest interface → daemon → host socket → host loopback → server.");
        sb.AppendLine($"- **Host namespace**: loopback, and a veth pair whose ends both stay inside it: ext0 {NatNamespaces.HostAddress}/24 with a default route via 192.0.2.254, ext1 up. pasta will not start without an interface with a default route to copy; nothing answers at 192.0.2.254, so nothing leaves the namespaces. `net.ipv4.ping_group_range` is opened there so the daemons can forward pings with ICMP sockets.");
        sb.AppendLine(options.GuestQueueLength > 0
            ? Inv($"- **Guest interface queue**: once a tool has brought the guest's interface up, the driver sets its transmit queue to {options.GuestQueueLength} frames (`ip -n GUEST link set IF txqueuelen {options.GuestQueueLength}`), the same for every tool. The queue is the tap's ring towards the daemon; a frame that finds it full is dropped. At the kernel's default of 1000 frames (1.5 MB at MTU 1500, less than one TCP window) a daemon that is descheduled for a moment loses frames, and this pasta acknowledges a gap with a single duplicate ACK and offers no SACK, so the guest recovers only by retransmission timeouts: whole seconds with nothing moved, guest → host at MTU 1500 (results/nat-2026-11-22-0925.md).")
            : "- **Guest interface queue**: the kernel's default (1000 frames), as each tool left it.");
        sb.AppendLine("- **No pinning**: a NAT run has three busy processes (iperf3 client, daemon, iperf3 server) plus the kernel's softirq work on two CPUs, so no placement is fair to all tools; the scheduler places them, the same way for every tool.");
        foreach (NatTool tool in options.Tools)
        {
            if (layouts.TryGetValue(tool, out string? layout))
            {
                sb.AppendLine($"- **{Name(tool)}**: {layout}");
            }
        }

        sb.AppendLine($"- **Latency**: `switchyard-bench rr-client` holds one TCP connection (TCP_NODELAY) to `rr-server` and sends one byte, waits for its echo, {options.RrSeconds} s long after 0.5 s of warm-up; the figure is the median round trip of the run (the table gives the median of the runs' medians). Ping: `busybox ping -c {options.PingCount} -i 0.2` to the host namespace's own address {NatNamespaces.HostAddress} (not 10.0.2.2: libslirp answers that itself and this pasta does not map it for ICMP), the median reply time of the run.");
        sb.AppendLine("- **CPU** (in CPUs, 1.00 = one CPU busy) is sampled from /proc over the iperf3 window, from 0.3 s after the omitted seconds to 0.3 s before the end.");
        sb.AppendLine();
    }

    private void AppendSummaryTable(StringBuilder sb)
    {
        sb.AppendLine("| MTU | tool | guest → host Gbit/s | daemon CPU | host → guest Gbit/s | daemon CPU | TCP RR µs | RR p99 µs | ping µs | runs ok |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (int mtu in options.Mtus)
        {
            foreach (NatTool tool in options.Tools)
            {
                int total = runs.Count(r => r.Tool == tool && r.Mtu == mtu);
                int ok = runs.Count(r => r.Tool == tool && r.Mtu == mtu && r.Result.Error is null && r.Result.Problems.Count == 0);
                string up = Report.Spread(Values(tool, mtu, r => r.Up?.Gbps), F2);
                string upCpu = Cpu(Report.Median(Values(tool, mtu, r => r.Up?.DaemonCpu)));
                string down = Report.Spread(Values(tool, mtu, r => r.Down?.Gbps), F2);
                string downCpu = Cpu(Report.Median(Values(tool, mtu, r => r.Down?.DaemonCpu)));
                string rr = Report.Spread(Values(tool, mtu, r => r.Rr?.MedianUs), F0);
                string p99 = Us(Report.Median(Values(tool, mtu, r => r.Rr?.P99Us)));
                string ping = Report.Spread(Values(tool, mtu, r => r.Ping?.MedianUs), F0);
                sb.AppendLine(Inv($"| {mtu} | {Name(tool)} | {up} | {upCpu} | {down} | {downCpu} | {rr} | {p99} | {ping} | {ok}/{total} |"));
            }
        }
    }

    private List<(NatTool A, NatTool B)> Pairs()
    {
        var pairs = new List<(NatTool, NatTool)>();
        NatTool[] order = [NatTool.Switchyard, NatTool.Pasta, NatTool.Slirp4netns];
        if (options.Tools.Contains(NatTool.Switchyard))
        {
            foreach (NatTool anchor in order[1..])
            {
                if (options.Tools.Contains(anchor))
                {
                    pairs.Add((NatTool.Switchyard, anchor));
                }
            }
        }
        else if (options.Tools.Contains(NatTool.Pasta) && options.Tools.Contains(NatTool.Slirp4netns))
        {
            pairs.Add((NatTool.Pasta, NatTool.Slirp4netns)); // the anchors against each other, for scale
        }

        return pairs;
    }

    private void AppendRatios(StringBuilder sb)
    {
        List<(NatTool A, NatTool B)> pairs = Pairs();
        if (pairs.Count == 0)
        {
            sb.AppendLine("(no ratios: they need switchyard with pasta or slirp4netns, or pasta with slirp4netns)");
            return;
        }

        sb.AppendLine("*Ratio of medians* divides the medians above; *paired* is the median (min–max) of the per-run ratios (run i of one tool against run i of the other; they ran one after the other). Throughput: above 1 = the first tool moved more. Latency: below 1 = the first tool answered faster.");
        sb.AppendLine();
        sb.AppendLine("| MTU | ratio | measure | ratio of medians | paired |");
        sb.AppendLine("|---|---|---|---|---|");
        foreach (int mtu in options.Mtus)
        {
            foreach ((NatTool a, NatTool b) in pairs)
            {
                foreach ((string name, Pick pick, _, _) in Measures)
                {
                    double ma = Report.Median(Values(a, mtu, pick));
                    double mb = Report.Median(Values(b, mtu, pick));
                    string ratio = double.IsNaN(ma) || double.IsNaN(mb) || mb == 0 ? "-" : (ma / mb).ToString("F2", CultureInfo.InvariantCulture);
                    var paired = new List<double>();
                    for (int run = 1; run <= options.Runs; run++)
                    {
                        double? va = One(a, mtu, run, pick);
                        double? vb = One(b, mtu, run, pick);
                        if (va is double x && vb is double y && y != 0)
                        {
                            paired.Add(x / y);
                        }
                    }

                    sb.AppendLine(Inv($"| {mtu} | {Name(a)} / {Name(b)} | {name} | {ratio} | {Report.Spread(paired, F2)} |"));
                }
            }
        }
    }

    private double? One(NatTool tool, int mtu, int run, Pick pick)
    {
        NatRunRecord? r = runs.FirstOrDefault(x => x.Tool == tool && x.Mtu == mtu && x.Run == run);
        return r is null || r.Result.Error is not null ? null : pick(r.Result);
    }

    private void AppendObservations(StringBuilder sb)
    {
        var notes = new List<string>();
        foreach (NatRunRecord r in runs)
        {
            string where = Inv($"run {r.Run}, MTU {r.Mtu}, {Name(r.Tool)}");
            if (r.Result.Error is not null)
            {
                notes.Add($"{where}: FAILED: {r.Result.Error.Split('\n')[0]} (details under *Failures*)");
                continue;
            }

            foreach (string p in r.Result.Problems)
            {
                notes.Add($"{where}: {p}");
            }

            if (r.Result.Ping is { } ping && ping.Received < ping.Sent)
            {
                notes.Add(Inv($"{where}: ping lost {ping.Sent - ping.Received} of {ping.Sent}"));
            }

            foreach ((string dir, Throughput? t) in new[] { ("guest → host", r.Result.Up), ("host → guest", r.Result.Down) })
            {
                if (t is not null && t.StalledSeconds > 0)
                {
                    notes.Add(Inv($"{where}, {dir}: {t.StalledSeconds} of {options.Seconds} s moved nothing at all (the connection stalled; {t.Retransmits} retransmits)"));
                }

                if (t is not null && t.RestCpu > 0.8)
                {
                    notes.Add(Inv($"{where}, {dir}: rest CPU {t.RestCpu:F2} (kernel work plus other processes): the run shared the CPUs"));
                }
            }
        }

        sb.AppendLine("## Observations (found mechanically)");
        sb.AppendLine();
        if (notes.Count == 0)
        {
            sb.AppendLine("- None: every run and every measurement completed, no ping lost, rest CPU at most 0.8.");
        }

        foreach (string note in notes)
        {
            sb.AppendLine($"- {note}");
        }

        sb.AppendLine();
    }

    private void AppendEveryRun(StringBuilder sb)
    {
        sb.AppendLine("## Every run, in the order it ran");
        sb.AppendLine();
        sb.AppendLine("CPU columns: daemon / iperf3 client / iperf3 server / rest of the machine, in CPUs. *retr*: TCP retransmits the sender counted; *stalled*: measured seconds in which nothing arrived.");
        sb.AppendLine();
        sb.AppendLine("| run | MTU | tool | guest interface | guest → host Gbit/s | retr | stalled | CPU d/c/s/rest | host → guest Gbit/s | retr | stalled | CPU d/c/s/rest | RR median µs | RR p99 µs | RR/s | ping µs (min–max, replies) | quiet wait |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (NatRunRecord r in runs)
        {
            NatResult x = r.Result;
            if (x.Error is not null)
            {
                sb.AppendLine(Inv($"| {r.Run} | {r.Mtu} | {Name(r.Tool)} | FAILED: {x.Error.Split('\n')[0]} | | | | | | | | | | | | | {x.QuietWait:F1} s |"));
                continue;
            }

            string ping = x.Ping is { } p ? Inv($"{p.MedianUs:F0} ({p.MinUs:F0}–{p.MaxUs:F0}, {p.Received}/{p.Sent})") : "-";
            string rrs = x.Rr is { } rr ? rr.PerSecond.ToString("F0", CultureInfo.InvariantCulture) : "-";
            sb.AppendLine(Inv($"| {r.Run} | {r.Mtu} | {Name(r.Tool)} | {x.Guest} | {Gbps(x.Up)} | {Retr(x.Up)} | {Stalled(x.Up)} | {CpuSet(x.Up)} | {Gbps(x.Down)} | {Retr(x.Down)} | {Stalled(x.Down)} | {CpuSet(x.Down)} | {Us(x.Rr?.MedianUs)} | {Us(x.Rr?.P99Us)} | {rrs} | {ping} | {x.QuietWait:F1} s |"));
        }

        sb.AppendLine();
        if (runs.Any(r => r.Result.Counters is not null))
        {
            sb.AppendLine("Daemon counters after each run:");
            sb.AppendLine();
            foreach (NatRunRecord r in runs)
            {
                if (r.Result.Counters is not null)
                {
                    sb.AppendLine(Inv($"- run {r.Run}, MTU {r.Mtu}, {Name(r.Tool)}: {r.Result.Counters}"));
                }
            }

            sb.AppendLine();
        }
    }

    private static string Retr(Throughput? t) => t is null || t.Retransmits < 0 ? "-" : t.Retransmits.ToString(CultureInfo.InvariantCulture);

    private static string Stalled(Throughput? t) => t is null ? "-" : t.StalledSeconds.ToString(CultureInfo.InvariantCulture);

    private static string CpuSet(Throughput? t) => t is null ? "-" : $"{Cpu(t.DaemonCpu)} / {Cpu(t.ClientCpu)} / {Cpu(t.ServerCpu)} / {Cpu(t.RestCpu)}";

    private void AppendCommands(StringBuilder sb)
    {
        sb.AppendLine("## Commands (HOST and GUEST stand for the run's namespaces)");
        sb.AppendLine();
        sb.AppendLine("```sh");
        sb.AppendLine("# namespaces, for every run");
        foreach (string c in NatNamespaces.SetupCommands)
        {
            sb.AppendLine(c);
        }

        foreach (NatTool tool in options.Tools)
        {
            if (commands.TryGetValue(tool, out List<string>? cs) && cs.Count > 0)
            {
                sb.AppendLine($"# {Name(tool)} (its last run)");
                foreach (string c in cs)
                {
                    sb.AppendLine(Anonymize(c));
                }
            }
        }

        sb.AppendLine("# servers (host) and clients (guest)");
        foreach (string c in clientCommands.Values)
        {
            sb.AppendLine(Anonymize(c));
        }

        sb.AppendLine("```");
        sb.AppendLine();
    }

    private string Anonymize(string c) =>
        c.Replace(options.NetnsPrefix + "-host", "HOST", StringComparison.Ordinal).Replace(options.NetnsPrefix + "-guest", "GUEST", StringComparison.Ordinal);

    private void AppendFailures(StringBuilder sb)
    {
        List<NatRunRecord> failed = runs.Where(r => r.Result.Error is not null).ToList();
        if (failed.Count == 0)
        {
            return;
        }

        sb.AppendLine("## Failures");
        sb.AppendLine();
        foreach (NatRunRecord r in failed)
        {
            sb.AppendLine(Inv($"### run {r.Run}, MTU {r.Mtu}, {Name(r.Tool)}"));
            sb.AppendLine();
            sb.AppendLine("```");
            sb.AppendLine(Anonymize(r.Result.Error!));
            sb.AppendLine("```");
            sb.AppendLine();
        }
    }
}
