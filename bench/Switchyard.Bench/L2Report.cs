// The L2 benchmark's report, filled into the scenario skeleton (ScenarioReport): TCP throughput A -> B per
// switch with the switch's CPU, the request/response latency and ping, the interfaces' offloads per run,
// and the three-namespace layout.
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using static Switchyard.Bench.ReportText;

namespace Switchyard.Bench;

internal sealed partial class L2Report(L2Options options, ScenarioContext<L2Tool> context, IReadOnlyList<ScenarioRun<L2Tool, L2Result>> runs)
    : ScenarioReport<L2Tool, L2Result, L2Options>(options, context, runs)
{
    private static readonly Measure<L2Result> Tcp = new("TCP A → B Gbit/s", "A → B", r => r.Tcp?.Gbps, F2, r => r.Tcp);
    private static readonly Measure<L2Result> Rr = new("TCP request/response µs (median)", string.Empty, r => r.Rr?.MedianUs, F0);
    private static readonly Measure<L2Result> Ping = new("ping µs (median)", string.Empty, r => r.Ping?.MedianUs, F0);

    protected override string Title => "L2 between two namespaces";

    protected override string PlanText =>
        Inv($"{Options.Runs} runs of each switch, alternating (run 1 of every switch, then run 2, ...), MTU {Options.Mtu}. Every run in three fresh namespaces with a fresh switch: {Options.RrSeconds} s of 1-byte TCP request/response A → B (after 0.5 s of warm-up), {Options.PingCount} pings A → B 0.2 s apart, then iperf3 A → B for {Options.Seconds} s after {Options.Omit} s that iperf3 leaves out (`-O {Options.Omit}`).");

    protected override IReadOnlyList<Measure<L2Result>> Measures { get; } = [Tcp, Rr, Ping];

    protected override IReadOnlyList<int> Mtus => [Options.Mtu];

    protected override bool MtuColumn => false;

    protected override string Noun => "switch";

    protected override (L2Tool A, L2Tool B) AnchorPair => (L2Tool.Vde, L2Tool.Bridge);

    protected override IEnumerable<(string Key, string Value)> MachineExtras =>
        Context.Facts.VdeSwitch is { } vde ? [("vde_switch", vde)] : [];

    protected override IEnumerable<string> LayoutHead =>
    [
        $"**Namespaces**, all three created for every run and deleted after it: *A* (`NAME-a`, the clients, {L2Namespaces.AddressA}/24), *B* (`NAME-b`, the servers: iperf3 on {L2Namespaces.AddressB}:5201, rr-server on :5202) and *SW* (`NAME-sw`, the switch). Nothing runs in the machine's own namespace and no interface is created there, so no traffic leaves these namespaces; deleting them removes every tap, veth and bridge of the run.",
        "**No pinning**: a throughput run has up to three busy things (iperf3 client, switch, iperf3 server) plus softirq work on two CPUs, so no placement is fair to every switch; the scheduler places them, the same way for every switch.",
    ];

    protected override IEnumerable<string> LayoutTail =>
    [
        $"**Endpoints**: whatever interface the switch put into A and B gets MTU {Options.Mtu}, its address and `up`, the same for every switch.",
        $"**Latency**: `switchyard-bench rr-client` holds one TCP connection (TCP_NODELAY) to `rr-server` and sends one byte, waits for its echo, {Options.RrSeconds} s long after 0.5 s of warm-up; the figure is the median round trip of the run (the table gives the median of the runs' medians). Ping: `busybox ping -c {Options.PingCount} -i 0.2` A → B, the median reply time of the run.",
    ];

    protected override string CountersTitle => "Switch counters after each run";

    protected override string CommandsTitle => "Commands (A, B and SW stand for the run's namespaces, DIR for its temporary directory)";

    protected override IReadOnlyList<string> SetupCommands => L2Namespaces.SetupCommands;

    protected override string ClientsComment => "servers (B) and clients (A)";

    protected override string HowToRead =>
        "Only the ratios travel: absolute figures move with the machine and with whatever else runs on it, and the switches ran alternately so that drift hits them alike. Throughput is what the iperf3 receiver counted. *switch CPU* is the switch's own processes (Switchyard; vde_switch plus both vde_plug2tap), in CPUs (1.00 = one CPU busy); the Linux bridge has no process: its forwarding is kernel softirq work, mostly charged to the iperf3 processes whose veth transmit runs it. *rest CPU* is the machine's busy time minus the switch and both iperf3 processes: softirq work for the TCP connection plus anything else running; it can come out slightly below 0 from sampling granularity). Both endpoints' TCP stacks are the same kernel for every switch; what differs is the path between A's interface and B's: the bridge's veth pairs carry 64 KB GSO segments whole, a tap without a vnet header gives its reader every 1500-byte frame (see the offloads per run). Request/response and ping are latency, lower is better: a Switchyard / anchor ratio below 1 means Switchyard answered faster.";

    protected override string RunHead(ScenarioRun<L2Tool, L2Result> r) => Inv($"run {r.Run}/{Options.Runs} {Options.Name(r.Tool),-12}");

    protected override string RunFigures(L2Result x) =>
        $"A->B {Gbps(x.Tcp)} Gbit/s (switch CPU {Cpu(x.Tcp?.DaemonCpu)}, rest {Cpu(x.Tcp?.RestCpu)})  rr {Us(x.Rr?.MedianUs)} µs  ping {Us(x.Ping?.MedianUs)} µs";

    /// <summary>The bridge's forwarding is softirq work in *rest*; a high rest says nothing about sharing.</summary>
    protected override bool RestCpuMatters(L2Tool tool) => tool != L2Tool.Bridge;

    protected override void AppendSummaryTable(StringBuilder sb)
    {
        sb.AppendLine("| switch | TCP A → B Gbit/s | switch CPU | rest CPU | TCP RR µs | RR p99 µs | ping µs | runs ok |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (L2Tool tool in Options.Tools)
        {
            string swCpu = tool == L2Tool.Bridge ? "kernel (in iperf3/rest)" : Cpu(Report.Median(Values(tool, Options.Mtu, r => r.Tcp?.DaemonCpu)));
            string rest = Cpu(Report.Median(Values(tool, Options.Mtu, r => r.Tcp?.RestCpu)));
            string rr = Report.Spread(Values(tool, Options.Mtu, Rr.Pick), F0);
            string p99 = Us(Report.Median(Values(tool, Options.Mtu, r => r.Rr?.P99Us)));
            string ping = Report.Spread(Values(tool, Options.Mtu, Ping.Pick), F0);
            sb.AppendLine(Inv($"| {Options.Name(tool)} | {FlowCell(tool, Options.Mtu, Tcp)} | {swCpu} | {rest} | {rr} | {p99} | {ping} | {OkCount(tool, Options.Mtu)} |"));
        }
    }

    protected override void AppendEveryRun(StringBuilder sb)
    {
        sb.AppendLine("CPU: switch / iperf3 client / iperf3 server / rest of the machine, in CPUs. *retr*: TCP retransmits the sender counted; *stalled*: measured seconds in which nothing arrived.");
        sb.AppendLine();
        sb.AppendLine("| run | switch | A → B Gbit/s | retr | stalled | CPU sw/c/s/rest | RR median µs | RR p99 µs | RR/s | ping µs (min–max, replies) | quiet wait |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (ScenarioRun<L2Tool, L2Result> r in Runs)
        {
            L2Result x = r.Result;
            if (x.Error is not null)
            {
                sb.AppendLine(Inv($"| {r.Run} | {Options.Name(r.Tool)} | FAILED: {x.Error.Split('\n')[0]} | | | | | | | | {x.QuietWait:F1} s |"));
                continue;
            }

            string ping = x.Ping is { } p ? Inv($"{p.MedianUs:F0} ({p.MinUs:F0}–{p.MaxUs:F0}, {p.Received}/{p.Sent})") : "-";
            string rrs = x.Rr is { } rr ? rr.PerSecond.ToString("F0", CultureInfo.InvariantCulture) : "-";
            sb.AppendLine(Inv($"| {r.Run} | {Options.Name(r.Tool)} | {Gbps(x.Tcp)} | {Retr(x.Tcp)} | {Stalled(x.Tcp)} | {CpuSet(x.Tcp)} | {Us(x.Rr?.MedianUs)} | {Us(x.Rr?.P99Us)} | {rrs} | {ping} | {x.QuietWait:F1} s |"));
        }

        sb.AppendLine();
        sb.AppendLine("Interfaces and their offloads (`ethtool -k`, in A and B), per run:");
        sb.AppendLine();
        foreach (ScenarioRun<L2Tool, L2Result> r in Runs.Where(r => r.Result.Link is not null))
        {
            sb.AppendLine($"- {Where(r)}: {r.Result.Link}");
        }
    }

    protected override string Anonymize(string commandLine) => TempDir().Replace(commandLine, "DIR");

    [GeneratedRegex(@"/tmp/sybench-l2-[A-Za-z0-9]+")]
    private static partial Regex TempDir();
}
