// The L2 benchmark's report: medians (min–max) per switch of TCP throughput A -> B with the switch's CPU,
// the request/response latency and ping, the Switchyard / anchor ratios (ratio of medians and paired per
// run), every run in the order it ran with the interfaces' offloads, the exact commands, every failure.
using System.Globalization;
using System.Text;
using static Switchyard.Bench.ReportText;

namespace Switchyard.Bench;

internal sealed class L2Report(
    L2Options options,
    string command,
    MachineFacts facts,
    IReadOnlyList<L2RunRecord> runs,
    IReadOnlyDictionary<L2Tool, string> layouts,
    IReadOnlyDictionary<L2Tool, List<string>> commands,
    IReadOnlyDictionary<string, string> clientCommands)
{
    private delegate double? Pick(L2Result r);

    public string? Invocation { get; init; }

    public string LoadBefore { get; init; } = "?";

    public string LoadAfter { get; init; } = "?";

    public string Versions { get; init; } = "?";

    private static readonly (string Name, Pick Pick, Func<double, string> Format)[] Measures =
    [
        ("TCP A → B Gbit/s", r => r.Tcp?.Gbps, F2),
        ("TCP request/response µs (median)", r => r.Rr?.MedianUs, F0),
        ("ping µs (median)", r => r.Ping?.MedianUs, F0),
    ];

    public static string Name(L2Tool tool) => tool switch
    {
        L2Tool.Switchyard => "switchyard",
        L2Tool.Bridge => "linux-bridge",
        L2Tool.Vde => "vde_switch",
        _ => tool.ToString(),
    };

    public static string RunLine(L2RunRecord r, int runs)
    {
        L2Result x = r.Result;
        string head = Inv($"run {r.Run}/{runs} {Name(r.Tool),-12}");
        if (x.Error is not null)
        {
            return $"{head} FAILED: {x.Error}";
        }

        string line = $"{head} A->B {Gbps(x.Tcp)} Gbit/s (switch CPU {Cpu(x.Tcp?.DaemonCpu)}, rest {Cpu(x.Tcp?.RestCpu)})  rr {Us(x.Rr?.MedianUs)} µs  ping {Us(x.Ping?.MedianUs)} µs";
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
        ReportPreamble.Append(sb, "L2 between two namespaces", command, Invocation);

        sb.AppendLine(Inv($"{options.Runs} runs of each switch, alternating (run 1 of every switch, then run 2, ...), MTU {options.Mtu}. Every run in three fresh namespaces with a fresh switch: {options.RrSeconds} s of 1-byte TCP request/response A → B (after 0.5 s of warm-up), {options.PingCount} pings A → B 0.2 s apart, then iperf3 A → B for {options.Seconds} s after {options.Omit} s that iperf3 leaves out (`-O {options.Omit}`)."));
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

        if (facts.VdeSwitch is not null)
        {
            sb.AppendLine($"| vde_switch | {facts.VdeSwitch} |");
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
        sb.AppendLine("Only the ratios travel: absolute figures move with the machine and with whatever else runs on it, and the switches ran alternately so that drift hits them alike. Throughput is what the iperf3 receiver counted. *switch CPU* is the switch's own processes (Switchyard; vde_switch plus both vde_plug2tap), in CPUs (1.00 = one CPU busy); the Linux bridge has no process: its forwarding is kernel softirq work, mostly charged to the iperf3 processes whose veth transmit runs it. *rest CPU* is the machine's busy time minus the switch and both iperf3 processes: softirq work for the TCP connection plus anything else running; it can come out slightly below 0 from sampling granularity). Both endpoints' TCP stacks are the same kernel for every switch; what differs is the path between A's interface and B's: the bridge's veth pairs carry 64 KB GSO segments whole, a tap without a vnet header gives its reader every 1500-byte frame (see the offloads per run). Request/response and ping are latency, lower is better: a Switchyard / anchor ratio below 1 means Switchyard answered faster.");
        return sb.ToString();
    }

    private List<double> Values(L2Tool tool, Pick pick)
    {
        var values = new List<double>();
        foreach (L2RunRecord r in runs)
        {
            if (r.Tool == tool && r.Result.Error is null && pick(r.Result) is double v && !double.IsNaN(v))
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
        sb.AppendLine($"- **Namespaces**, all three created for every run and deleted after it: *A* (`NAME-a`, the clients, {L2Namespaces.AddressA}/24), *B* (`NAME-b`, the servers: iperf3 on {L2Namespaces.AddressB}:5201, rr-server on :5202) and *SW* (`NAME-sw`, the switch). Nothing runs in the machine's own namespace and no interface is created there, so no traffic leaves these namespaces; deleting them removes every tap, veth and bridge of the run.");
        sb.AppendLine("- **No pinning**: a throughput run has up to three busy things (iperf3 client, switch, iperf3 server) plus softirq work on two CPUs, so no placement is fair to every switch; the scheduler places them, the same way for every switch.");
        foreach (L2Tool tool in options.Tools)
        {
            if (layouts.TryGetValue(tool, out string? layout))
            {
                sb.AppendLine($"- **{Name(tool)}**: {layout}");
            }
        }

        sb.AppendLine($"- **Endpoints**: whatever interface the switch put into A and B gets MTU {options.Mtu}, its address and `up`, the same for every switch.");
        sb.AppendLine($"- **Latency**: `switchyard-bench rr-client` holds one TCP connection (TCP_NODELAY) to `rr-server` and sends one byte, waits for its echo, {options.RrSeconds} s long after 0.5 s of warm-up; the figure is the median round trip of the run (the table gives the median of the runs' medians). Ping: `busybox ping -c {options.PingCount} -i 0.2` A → B, the median reply time of the run.");
        sb.AppendLine("- **CPU** (in CPUs, 1.00 = one CPU busy) is sampled from /proc over the iperf3 window, from 0.3 s after the omitted seconds to 0.3 s before the end.");
        sb.AppendLine();
    }

    private void AppendSummaryTable(StringBuilder sb)
    {
        sb.AppendLine("| switch | TCP A → B Gbit/s | switch CPU | rest CPU | TCP RR µs | RR p99 µs | ping µs | runs ok |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (L2Tool tool in options.Tools)
        {
            int total = runs.Count(r => r.Tool == tool);
            int ok = runs.Count(r => r.Tool == tool && r.Result.Error is null && r.Result.Problems.Count == 0);
            string tcp = Report.Spread(Values(tool, r => r.Tcp?.Gbps), F2);
            string swCpu = tool == L2Tool.Bridge ? "kernel (in iperf3/rest)" : Cpu(Report.Median(Values(tool, r => r.Tcp?.DaemonCpu)));
            string rest = Cpu(Report.Median(Values(tool, r => r.Tcp?.RestCpu)));
            string rr = Report.Spread(Values(tool, r => r.Rr?.MedianUs), F0);
            string p99 = Us(Report.Median(Values(tool, r => r.Rr?.P99Us)));
            string ping = Report.Spread(Values(tool, r => r.Ping?.MedianUs), F0);
            sb.AppendLine(Inv($"| {Name(tool)} | {tcp} | {swCpu} | {rest} | {rr} | {p99} | {ping} | {ok}/{total} |"));
        }
    }

    private List<(L2Tool A, L2Tool B)> Pairs()
    {
        var pairs = new List<(L2Tool, L2Tool)>();
        if (options.Tools.Contains(L2Tool.Switchyard))
        {
            foreach (L2Tool anchor in new[] { L2Tool.Bridge, L2Tool.Vde })
            {
                if (options.Tools.Contains(anchor))
                {
                    pairs.Add((L2Tool.Switchyard, anchor));
                }
            }
        }
        else if (options.Tools.Contains(L2Tool.Vde) && options.Tools.Contains(L2Tool.Bridge))
        {
            pairs.Add((L2Tool.Vde, L2Tool.Bridge)); // the anchors against each other, for scale
        }

        return pairs;
    }

    private void AppendRatios(StringBuilder sb)
    {
        List<(L2Tool A, L2Tool B)> pairs = Pairs();
        if (pairs.Count == 0)
        {
            sb.AppendLine("(no ratios: they need two switches)");
            return;
        }

        sb.AppendLine("*Ratio of medians* divides the medians above; *paired* is the median (min–max) of the per-run ratios (run i of one switch against run i of the other; they ran one after the other). Throughput: above 1 = the first switch moved more. Latency: below 1 = the first switch answered faster.");
        sb.AppendLine();
        sb.AppendLine("| ratio | measure | ratio of medians | paired |");
        sb.AppendLine("|---|---|---|---|");
        foreach ((L2Tool a, L2Tool b) in pairs)
        {
            foreach ((string name, Pick pick, _) in Measures)
            {
                double ma = Report.Median(Values(a, pick));
                double mb = Report.Median(Values(b, pick));
                string ratio = double.IsNaN(ma) || double.IsNaN(mb) || mb == 0 ? "-" : (ma / mb).ToString("F2", CultureInfo.InvariantCulture);
                var paired = new List<double>();
                for (int run = 1; run <= options.Runs; run++)
                {
                    if (One(a, run, pick) is double x && One(b, run, pick) is double y && y != 0)
                    {
                        paired.Add(x / y);
                    }
                }

                sb.AppendLine(Inv($"| {Name(a)} / {Name(b)} | {name} | {ratio} | {Report.Spread(paired, F2)} |"));
            }
        }
    }

    private double? One(L2Tool tool, int run, Pick pick)
    {
        L2RunRecord? r = runs.FirstOrDefault(x => x.Tool == tool && x.Run == run);
        return r is null || r.Result.Error is not null ? null : pick(r.Result);
    }

    private void AppendObservations(StringBuilder sb)
    {
        var notes = new List<string>();
        foreach (L2RunRecord r in runs)
        {
            string where = Inv($"run {r.Run}, {Name(r.Tool)}");
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

            if (r.Result.Tcp is { } t && t.StalledSeconds > 0)
            {
                notes.Add(Inv($"{where}: {t.StalledSeconds} of {options.Seconds} s moved nothing at all (the connection stalled; {t.Retransmits} retransmits)"));
            }

            if (r.Result.Tcp is { } u && r.Tool != L2Tool.Bridge && u.RestCpu > 0.8)
            {
                notes.Add(Inv($"{where}: rest CPU {u.RestCpu:F2} (kernel work plus other processes): the run shared the CPUs"));
            }
        }

        // WaitForQuiet returns after the half second that was quiet, or once it has waited the full time.
        int unquiet = options.QuietSeconds > 0 ? runs.Count(r => r.Result.QuietWait >= options.QuietSeconds) : 0;
        if (unquiet > 0)
        {
            notes.Add(Inv($"the quiet gate was not met before {unquiet} of {runs.Count} runs: for {options.QuietSeconds} s the machine never had half a second below {options.MaxOthers} busy CPUs (other people's work), so those runs shared the CPUs; compare the paired ratios"));
        }

        sb.AppendLine("## Observations (found mechanically)");
        sb.AppendLine();
        if (notes.Count == 0)
        {
            sb.AppendLine("- None: every run and every measurement completed, no ping lost, no stalled second, rest CPU at most 0.8 where a switch process ran.");
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
        sb.AppendLine("CPU: switch / iperf3 client / iperf3 server / rest of the machine, in CPUs. *retr*: TCP retransmits the sender counted; *stalled*: measured seconds in which nothing arrived.");
        sb.AppendLine();
        sb.AppendLine("| run | switch | A → B Gbit/s | retr | stalled | CPU sw/c/s/rest | RR median µs | RR p99 µs | RR/s | ping µs (min–max, replies) | quiet wait |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (L2RunRecord r in runs)
        {
            L2Result x = r.Result;
            if (x.Error is not null)
            {
                sb.AppendLine(Inv($"| {r.Run} | {Name(r.Tool)} | FAILED: {x.Error.Split('\n')[0]} | | | | | | | | {x.QuietWait:F1} s |"));
                continue;
            }

            string ping = x.Ping is { } p ? Inv($"{p.MedianUs:F0} ({p.MinUs:F0}–{p.MaxUs:F0}, {p.Received}/{p.Sent})") : "-";
            string rrs = x.Rr is { } rr ? rr.PerSecond.ToString("F0", CultureInfo.InvariantCulture) : "-";
            string retr = x.Tcp is null || x.Tcp.Retransmits < 0 ? "-" : x.Tcp.Retransmits.ToString(CultureInfo.InvariantCulture);
            string stalled = x.Tcp is null ? "-" : x.Tcp.StalledSeconds.ToString(CultureInfo.InvariantCulture);
            string cpu = x.Tcp is { } t ? $"{Cpu(t.DaemonCpu)} / {Cpu(t.ClientCpu)} / {Cpu(t.ServerCpu)} / {Cpu(t.RestCpu)}" : "-";
            sb.AppendLine(Inv($"| {r.Run} | {Name(r.Tool)} | {Gbps(x.Tcp)} | {retr} | {stalled} | {cpu} | {Us(x.Rr?.MedianUs)} | {Us(x.Rr?.P99Us)} | {rrs} | {ping} | {x.QuietWait:F1} s |"));
        }

        sb.AppendLine();
        sb.AppendLine("Interfaces and their offloads (`ethtool -k`, in A and B), per run:");
        sb.AppendLine();
        foreach (L2RunRecord r in runs.Where(r => r.Result.Link is not null))
        {
            sb.AppendLine(Inv($"- run {r.Run}, {Name(r.Tool)}: {r.Result.Link}"));
        }

        sb.AppendLine();
        if (runs.Any(r => r.Result.Counters is not null))
        {
            sb.AppendLine("Switch counters after each run:");
            sb.AppendLine();
            foreach (L2RunRecord r in runs.Where(r => r.Result.Counters is not null))
            {
                sb.AppendLine(Inv($"- run {r.Run}, {Name(r.Tool)}: {r.Result.Counters}"));
            }

            sb.AppendLine();
        }
    }

    private void AppendCommands(StringBuilder sb)
    {
        sb.AppendLine("## Commands (A, B and SW stand for the run's namespaces, DIR for its temporary directory)");
        sb.AppendLine();
        sb.AppendLine("```sh");
        sb.AppendLine("# namespaces, for every run");
        foreach (string c in L2Namespaces.SetupCommands)
        {
            sb.AppendLine(c);
        }

        foreach (L2Tool tool in options.Tools)
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

        sb.AppendLine("# servers (B) and clients (A)");
        foreach (string c in clientCommands.Values)
        {
            sb.AppendLine(Anonymize(c));
        }

        sb.AppendLine("```");
        sb.AppendLine();
    }

    private static string Anonymize(string c) =>
        System.Text.RegularExpressions.Regex.Replace(c, @"/tmp/sybench-l2-[A-Za-z0-9]+", "DIR");

    private void AppendFailures(StringBuilder sb)
    {
        List<L2RunRecord> failed = runs.Where(r => r.Result.Error is not null).ToList();
        if (failed.Count == 0)
        {
            return;
        }

        sb.AppendLine("## Failures");
        sb.AppendLine();
        foreach (L2RunRecord r in failed)
        {
            sb.AppendLine(Inv($"### run {r.Run}, {Name(r.Tool)}"));
            sb.AppendLine();
            sb.AppendLine("```");
            sb.AppendLine(Anonymize(r.Result.Error!));
            sb.AppendLine("```");
            sb.AppendLine();
        }
    }
}
