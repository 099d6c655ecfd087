// `switchyard-bench nat`: a namespace "guest" behind a user-mode NAT talking to servers on the loopback
// of a namespace "host": Switchyard's gateway, pasta and slirp4netns, filled into the scenario skeleton
// (NetnsScenario: alternating runs at every MTU, fresh namespaces and a fresh daemon for every run); see
// NatOptions and NatNamespaces.
//
// Per run, in this order: the request/response loop (latency), ping (latency through the ICMP path),
// iperf3 guest -> host, iperf3 -R (host -> guest). The connections always start in the guest, as NAT
// connections do; -R only turns the data around. CPU time of the daemon, the iperf3 client, the iperf3
// server and the rest of the machine is sampled inside the iperf3 window (after the omitted seconds).
using System.Globalization;

namespace Switchyard.Bench;

/// <summary>What one NAT run measured (see ScenarioResult for the rest).</summary>
internal sealed record NatResult : ScenarioResult
{
    public GuestLink? Guest { get; init; }

    /// <summary>iperf3 guest -> host.</summary>
    public Throughput? Up { get; init; }

    /// <summary>iperf3 -R: host -> guest.</summary>
    public Throughput? Down { get; init; }

    /// <summary>Frames the guest's interface dropped on transmit during iperf3 guest -> host (-1: unknown).</summary>
    public long UpTxDropped { get; init; } = -1;
}

internal sealed class NatBenchmark(NatOptions options, ChildProcesses children)
    : NetnsScenario<NatTool, NatResult, NatOptions, NatNamespaces, NatDaemon>(options, children)
{
    private readonly Dictionary<NatTool, string> bins = [];

    protected override string Verb => "nat";

    protected override string RootReason => "it creates network namespaces";

    protected override IReadOnlyList<string> Packages { get; } = ["passt", "slirp4netns", "libslirp0", "iperf3", "busybox", "busybox-static", "iproute2"];

    protected override IReadOnlyList<int> Mtus => Options.Mtus;

    protected override string Plan =>
        FormattableString.Invariant($"{Options.Runs} runs x MTUs {string.Join(",", Options.Mtus)} x tools {string.Join(",", Options.Tools.Select(Options.Name))}, alternating; iperf3 {Options.Seconds} s (+{Options.Omit} s omitted) each way, request/response {Options.RrSeconds} s, {Options.PingCount} pings, guest txqueuelen {(Options.GuestQueueLength > 0 ? Options.GuestQueueLength.ToString(CultureInfo.InvariantCulture) : "default")}");

    protected override MachineFacts Prepare(string? repo)
    {
        foreach (NatTool tool in Options.Tools)
        {
            bins[tool] = tool switch
            {
                NatTool.Pasta => Require(Options.Pasta, "passt"),
                NatTool.Slirp4netns => Require(Options.Slirp4netns, "slirp4netns"),
                NatTool.Switchyard => ResolveSwitchyard(repo),
                _ => throw new ArgumentOutOfRangeException(nameof(tool), tool, null),
            };
        }

        return MachineFacts.Collect(repo, bins.GetValueOrDefault(NatTool.Switchyard), null);
    }

    protected override NatNamespaces CreateNamespaces() => new(Options.NetnsPrefix);

    protected override NatDaemon CreateSubject(NatTool tool) => tool switch
    {
        NatTool.Pasta => new PastaNat(bins[tool], Children),
        NatTool.Slirp4netns => new Slirp4netnsNat(bins[tool], Children),
        NatTool.Switchyard => new SwitchyardNat(bins[tool], Options.SwitchyardVerbose, Children),
        _ => throw new ArgumentOutOfRangeException(nameof(tool), tool, null),
    };

    protected override NatResult Measure(NatDaemon daemon, NatNamespaces ns, NetnsTraffic traffic, int mtu, string dir, List<ProcessLog> logs, List<string> problems)
    {
        ProcessLog iperfServer = traffic.StartIperfServer(ns.Host, logs, "127.0.0.1", IperfPort);
        traffic.StartRrServer(ns.Host, logs, "127.0.0.1", RrPort);
        GuestLink guest = daemon.Start(ns, mtu, dir);
        if (Options.GuestQueueLength > 0)
        {
            guest = ns.SetQueueLength(guest, Options.GuestQueueLength);
        }

        if (guest.Mtu != mtu)
        {
            problems.Add(FormattableString.Invariant($"the guest interface has MTU {guest.Mtu}, not {mtu}"));
        }

        RrStats? rr = traffic.RequestResponse(ns.Guest, NatNamespaces.Gateway, RrPort, Options.RrSeconds, logs, problems);
        // The host namespace's own address, not 10.0.2.2: libslirp answers the gateway address itself,
        // and this pasta maps it to the loopback for TCP and UDP only.
        PingStats? ping = traffic.Ping(ns.Guest, NatNamespaces.HostAddress, Options.PingCount, logs, problems);
        long droppedBefore = ns.TxDropped(guest);
        Throughput? up = traffic.Iperf(ns.Guest, NatNamespaces.Gateway, IperfPort, Options.Seconds, Options.Omit, iperfServer, daemon.Pids,
            reverse: false, "iperf3 guest-to-host", logs, problems);
        long droppedAfter = ns.TxDropped(guest);
        Throughput? down = traffic.Iperf(ns.Guest, NatNamespaces.Gateway, IperfPort, Options.Seconds, Options.Omit, iperfServer, daemon.Pids,
            reverse: true, "iperf3 host-to-guest", logs, problems);
        long upDropped = droppedBefore >= 0 && droppedAfter >= 0 ? droppedAfter - droppedBefore : -1;
        return new NatResult { Guest = guest, Rr = rr, Ping = ping, Up = up, Down = down, UpTxDropped = upDropped, Counters = daemon.Counters() };
    }

    protected override ScenarioReport<NatTool, NatResult, NatOptions> CreateReport(ScenarioContext<NatTool> context, IReadOnlyList<ScenarioRun<NatTool, NatResult>> runs) =>
        new NatReport(Options, context, runs);
}
