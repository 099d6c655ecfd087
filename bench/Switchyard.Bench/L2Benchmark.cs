// `switchyard-bench l2`: two network namespaces joined at layer 2 by Switchyard (two tap ports), the Linux
// bridge (veth pairs) and vde_switch (taps plugged in by vde_plug2tap), filled into the scenario skeleton
// (NetnsScenario: alternating runs, fresh namespaces and a fresh switch for every run); see L2Options and
// L2Namespaces.
//
// Per run, in this order: the request/response loop A -> B (latency), ping A -> B, iperf3 A -> B with the
// CPU time of the switch's processes, both iperf3 processes and the rest of the machine sampled in the
// measured window (NetnsTraffic, shared with `nat`).
namespace Switchyard.Bench;

/// <summary>What one L2 run measured (see ScenarioResult for the rest).</summary>
internal sealed record L2Result : ScenarioResult
{
    /// <summary>A's interface and its offloads (ethtool -k).</summary>
    public string? Link { get; init; }

    /// <summary>iperf3 A -> B.</summary>
    public Throughput? Tcp { get; init; }
}

internal sealed class L2Benchmark(L2Options options, ChildProcesses children)
    : NetnsScenario<L2Tool, L2Result, L2Options, L2Namespaces, L2Switch>(options, children)
{
    private string? switchyard;
    private string? baseline;
    private string? vdeSwitch;
    private string? plug2tap;

    protected override string Verb => "l2";

    protected override string RootReason => "it creates network namespaces, taps and bridges";

    protected override IReadOnlyList<string> Packages { get; } = ["vde2", "libvdeplug2", "iperf3", "busybox", "busybox-static", "iproute2", "ethtool"];

    protected override IReadOnlyList<int> Mtus => [Options.Mtu];

    protected override string Plan =>
        FormattableString.Invariant($"{Options.Runs} runs x tools {string.Join(",", Options.Tools.Select(Options.Name))}, alternating, MTU {Options.Mtu}; iperf3 A -> B {Options.Seconds} s (+{Options.Omit} s omitted), request/response {Options.RrSeconds} s, {Options.PingCount} pings");

    protected override MachineFacts Prepare(string? repo)
    {
        switchyard = Options.Tools.Contains(L2Tool.Switchyard) ? ResolveSwitchyard(repo) : null;
        if (Options.Tools.Contains(L2Tool.Baseline))
        {
            baseline = Options.BaselineBin is { } b && File.Exists(b)
                ? Path.GetFullPath(b)
                : throw new BenchException($"the baseline tool needs --baseline-bin PATH, another switchyard build ({Options.BaselineBin ?? "none given"})");
        }
        if (Options.Tools.Contains(L2Tool.Vde))
        {
            vdeSwitch = Require(Options.VdeSwitch, "vde2");
            plug2tap = Require(Options.VdePlug2Tap, "vde2");
        }

        return MachineFacts.Collect(repo, switchyard, vdeSwitch);
    }

    protected override L2Namespaces CreateNamespaces() => new(Options.NetnsPrefix);

    protected override L2Switch CreateSubject(L2Tool tool) => tool switch
    {
        L2Tool.Bridge => new BridgeL2(Children),
        L2Tool.Vde => new VdeL2(vdeSwitch!, plug2tap!, Children),
        L2Tool.Switchyard => new SwitchyardL2(switchyard!, Options, Children),
        L2Tool.Baseline => new SwitchyardL2(baseline!, Options, Children, L2Tool.Baseline),
        _ => throw new ArgumentOutOfRangeException(nameof(tool), tool, null),
    };

    protected override L2Result Measure(L2Switch sw, L2Namespaces ns, NetnsTraffic traffic, int mtu, string dir, List<ProcessLog> logs, List<string> problems)
    {
        (string ifA, string ifB) = sw.Start(ns, dir);
        L2Namespaces.Configure(ns.A, ifA, L2Namespaces.AddressA, mtu);
        L2Namespaces.Configure(ns.B, ifB, L2Namespaces.AddressB, mtu);
        string link = $"A: {ifA} ({L2Namespaces.Offloads(ns.A, ifA)}); B: {ifB} ({L2Namespaces.Offloads(ns.B, ifB)})";
        ProcessLog iperfServer = traffic.StartIperfServer(ns.B, logs, L2Namespaces.AddressB, IperfPort);
        traffic.StartRrServer(ns.B, logs, L2Namespaces.AddressB, RrPort);
        RrStats? rr = traffic.RequestResponse(ns.A, L2Namespaces.AddressB, RrPort, Options.RrSeconds, logs, problems);
        PingStats? ping = traffic.Ping(ns.A, L2Namespaces.AddressB, Options.PingCount, logs, problems);
        Throughput? tcp = traffic.Iperf(ns.A, L2Namespaces.AddressB, IperfPort, Options.Seconds, Options.Omit, iperfServer, sw.Pids,
            reverse: false, "iperf3 a-to-b", logs, problems);
        return new L2Result { Link = link, Rr = rr, Ping = ping, Tcp = tcp, Counters = sw.Counters() };
    }

    protected override ScenarioReport<L2Tool, L2Result, L2Options> CreateReport(ScenarioContext<L2Tool> context, IReadOnlyList<ScenarioRun<L2Tool, L2Result>> runs) =>
        new L2Report(Options, context, runs);
}
