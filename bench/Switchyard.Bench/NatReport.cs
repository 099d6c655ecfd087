// The NAT benchmark's report, filled into the scenario skeleton (ScenarioReport): both iperf3 directions
// per MTU and tool with the daemon's CPU, the request/response latency and ping, the guest interface
// each tool set up, and the NAT layout.
using System.Globalization;
using System.Text;
using static Switchyard.Bench.ReportText;

namespace Switchyard.Bench;

internal sealed class NatReport(NatOptions options, ScenarioContext<NatTool> context, IReadOnlyList<ScenarioRun<NatTool, NatResult>> runs)
    : ScenarioReport<NatTool, NatResult, NatOptions>(options, context, runs)
{
    private static readonly Measure<NatResult> Up = new("guest → host Gbit/s", "guest → host", r => r.Up?.Gbps, F2, r => r.Up);
    private static readonly Measure<NatResult> Down = new("host → guest Gbit/s", "host → guest", r => r.Down?.Gbps, F2, r => r.Down);
    private static readonly Measure<NatResult> Rr = new("TCP request/response µs (median)", string.Empty, r => r.Rr?.MedianUs, F0);
    private static readonly Measure<NatResult> Ping = new("ping µs (median)", string.Empty, r => r.Ping?.MedianUs, F0);

    protected override string Title => "User-mode NAT benchmark";

    protected override string PlanText =>
        Inv($"{Options.Runs} runs of each tool at each MTU, alternating (run 1 of every MTU and tool, then run 2, ...). Every run in fresh namespaces with a fresh daemon: {Options.RrSeconds} s of 1-byte TCP request/response (after 0.5 s of warm-up), {Options.PingCount} pings 0.2 s apart, then iperf3 for {Options.Seconds} s guest → host and {Options.Seconds} s host → guest (`-R`), each after {Options.Omit} s of slow start that iperf3 leaves out (`-O {Options.Omit}`).");

    protected override IReadOnlyList<Measure<NatResult>> Measures { get; } = [Up, Down, Rr, Ping];

    protected override IReadOnlyList<int> Mtus => Options.Mtus;

    protected override bool MtuColumn => true;

    protected override string Noun => "tool";

    protected override (NatTool A, NatTool B) AnchorPair => (NatTool.Pasta, NatTool.Slirp4netns);

    protected override IEnumerable<string> LayoutHead =>
    [
        "**Namespaces**, both created for every run and deleted after it: *host* (`NAME-host`), where the NAT daemon and the servers run, and *guest* (`NAME-guest`), where the clients run. The servers listen on the host namespace's loopback (iperf3 on 127.0.0.1:5201, rr-server on 127.0.0.1:5202); the clients connect to the gateway address 10.0.2.2, which every tool maps to the host's loopback, so every byte crosses the NAT: guest TCP stack → guest interface → daemon → host socket → host loopback → server.",
        $"**Host namespace**: loopback, and a veth pair whose ends both stay inside it: ext0 {NatNamespaces.HostAddress}/24 with a default route via 192.0.2.254, ext1 up. pasta will not start without an interface with a default route to copy; nothing answers at 192.0.2.254, so nothing leaves the namespaces. `net.ipv4.ping_group_range` is opened there so the daemons can forward pings with ICMP sockets.",
        Options.GuestQueueLength > 0
            ? Inv($"**Guest interface queue**: once a tool has brought the guest's interface up, the driver sets its transmit queue to {Options.GuestQueueLength} frames (`ip -n GUEST link set IF txqueuelen {Options.GuestQueueLength}`), the same for every tool. The queue is the tap's ring towards the daemon; a frame that finds it full is dropped. At the kernel's default of 1000 frames (1.5 MB at MTU 1500, less than one TCP window) a daemon that is descheduled for a moment loses frames, and this pasta acknowledges a gap with a single duplicate ACK and offers no SACK, so the guest recovers only by retransmission timeouts: whole seconds with nothing moved, guest → host at MTU 1500 (results/nat-2026-11-22-0925.md).")
            : "**Guest interface queue**: the kernel's default (1000 frames), as each tool left it.",
        "**No pinning**: a NAT run has three busy processes (iperf3 client, daemon, iperf3 server) plus the kernel's softirq work on two CPUs, so no placement is fair to all tools; the scheduler places them, the same way for every tool.",
    ];

    protected override IEnumerable<string> LayoutTail =>
    [
        $"**Latency**: `switchyard-bench rr-client` holds one TCP connection (TCP_NODELAY) to `rr-server` and sends one byte, waits for its echo, {Options.RrSeconds} s long after 0.5 s of warm-up; the figure is the median round trip of the run (the table gives the median of the runs' medians). Ping: `busybox ping -c {Options.PingCount} -i 0.2` to the host namespace's own address {NatNamespaces.HostAddress} (not 10.0.2.2: libslirp answers that itself and this pasta does not map it for ICMP), the median reply time of the run.",
    ];

    protected override string CountersTitle => "Daemon counters after each run";

    protected override string CommandsTitle => "Commands (HOST and GUEST stand for the run's namespaces)";

    protected override IReadOnlyList<string> SetupCommands => NatNamespaces.SetupCommands;

    protected override string ClientsComment => "servers (host) and clients (guest)";

    protected override string HowToRead =>
        "Only the ratios travel: absolute figures move with the machine and with whatever else runs on it, and the tools ran alternately so that drift hits them alike. Throughput is what the iperf3 receiver counted. *daemon CPU* near 1.00 means the NAT daemon was the bottleneck (pasta, slirp4netns and the iperf3 processes are single-threaded; Switchyard may spread over threads and show more than 1.00). *rest CPU* is the machine's busy time minus the daemon and both iperf3 processes: the kernel's softirq work for both TCP connections plus anything else running; well above ~0.5 on two CPUs means other work competed with the run. Request/response is latency, lower is better: a Switchyard / anchor ratio below 1 means Switchyard answered faster. The guest's TCP stack and the host's sockets are the same kernel for every tool; the difference is the daemon's path between the guest's interface and the host's sockets (its tap I/O, its TCP translation, its wake-ups).";

    protected override string RunHead(ScenarioRun<NatTool, NatResult> r) => Inv($"run {r.Run}/{Options.Runs} mtu {r.Mtu,5} {Options.Name(r.Tool),-11}");

    protected override string RunFigures(NatResult x) =>
        $"guest->host {Gbps(x.Up)} Gbit/s (daemon CPU {Cpu(x.Up?.DaemonCpu)})  host->guest {Gbps(x.Down)} Gbit/s (daemon CPU {Cpu(x.Down?.DaemonCpu)})  rr {Us(x.Rr?.MedianUs)} µs  ping {Us(x.Ping?.MedianUs)} µs";

    protected override void AppendSummaryTable(StringBuilder sb)
    {
        sb.AppendLine("| MTU | tool | guest → host Gbit/s | daemon CPU | host → guest Gbit/s | daemon CPU | TCP RR µs | RR p99 µs | ping µs | runs ok |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (int mtu in Options.Mtus)
        {
            foreach (NatTool tool in Options.Tools)
            {
                string upCpu = Cpu(Report.Median(Values(tool, mtu, r => r.Up?.DaemonCpu)));
                string downCpu = Cpu(Report.Median(Values(tool, mtu, r => r.Down?.DaemonCpu)));
                string rr = Report.Spread(Values(tool, mtu, Rr.Pick), F0);
                string p99 = Us(Report.Median(Values(tool, mtu, r => r.Rr?.P99Us)));
                string ping = Report.Spread(Values(tool, mtu, Ping.Pick), F0);
                sb.AppendLine(Inv($"| {mtu} | {Options.Name(tool)} | {FlowCell(tool, mtu, Up)} | {upCpu} | {FlowCell(tool, mtu, Down)} | {downCpu} | {rr} | {p99} | {ping} | {OkCount(tool, mtu)} |"));
            }
        }
    }

    protected override void AppendEveryRun(StringBuilder sb)
    {
        sb.AppendLine("CPU columns: daemon / iperf3 client / iperf3 server / rest of the machine, in CPUs. *retr*: TCP retransmits the sender counted; *stalled*: measured seconds in which nothing arrived; *tap drops*: frames the guest's interface dropped on transmit during guest → host (its ring to the daemon was full).");
        sb.AppendLine();
        sb.AppendLine("| run | MTU | tool | guest interface | guest → host Gbit/s | retr | stalled | tap drops | CPU d/c/s/rest | host → guest Gbit/s | retr | stalled | CPU d/c/s/rest | RR median µs | RR p99 µs | RR/s | ping µs (min–max, replies) | quiet wait |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (ScenarioRun<NatTool, NatResult> r in Runs)
        {
            NatResult x = r.Result;
            if (x.Error is not null)
            {
                sb.AppendLine(Inv($"| {r.Run} | {r.Mtu} | {Options.Name(r.Tool)} | FAILED: {x.Error.Split('\n')[0]} | | | | | | | | | | | | | | {x.QuietWait:F1} s |"));
                continue;
            }

            string ping = x.Ping is { } p ? Inv($"{p.MedianUs:F0} ({p.MinUs:F0}–{p.MaxUs:F0}, {p.Received}/{p.Sent})") : "-";
            string rrs = x.Rr is { } rr ? rr.PerSecond.ToString("F0", CultureInfo.InvariantCulture) : "-";
            sb.AppendLine(Inv($"| {r.Run} | {r.Mtu} | {Options.Name(r.Tool)} | {x.Guest} | {Gbps(x.Up)} | {Retr(x.Up)} | {Stalled(x.Up)} | {(x.UpTxDropped >= 0 ? x.UpTxDropped.ToString(CultureInfo.InvariantCulture) : "-")} | {CpuSet(x.Up)} | {Gbps(x.Down)} | {Retr(x.Down)} | {Stalled(x.Down)} | {CpuSet(x.Down)} | {Us(x.Rr?.MedianUs)} | {Us(x.Rr?.P99Us)} | {rrs} | {ping} | {x.QuietWait:F1} s |"));
        }
    }

    protected override string Anonymize(string commandLine) =>
        commandLine.Replace(Options.NetnsPrefix + "-host", "HOST", StringComparison.Ordinal).Replace(Options.NetnsPrefix + "-guest", "GUEST", StringComparison.Ordinal);
}
