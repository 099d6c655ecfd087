// Options of `switchyard-bench l2`: the shared scenario options (ScenarioOptions) plus the MTU, the
// words for Switchyard's tap ports and vde2's binaries.
using System.Globalization;
using static Switchyard.Bench.OptionText;

namespace Switchyard.Bench;

/// <summary>The switch joining namespace A to namespace B.</summary>
internal enum L2Tool
{
    /// <summary>Switchyard, a plain switch (no gateway) with two tap ports.</summary>
    Switchyard,

    /// <summary>The Linux bridge with a veth pair per namespace.</summary>
    Bridge,

    /// <summary>vde_switch (Debian vde2) with a tap per namespace plugged in by vde_plug2tap.</summary>
    Vde,

    /// <summary>Switchyard built from another commit (--baseline-bin), set up exactly like Switchyard: a
    /// before/after comparison that alternates run by run, so the machine's drift hits both builds alike.
    /// Only when asked for (--tools switchyard,baseline).</summary>
    Baseline,
}

internal sealed record L2Options : ScenarioOptions<L2Tool>
{
    private static readonly ToolName<L2Tool>[] Names =
    [
        new(L2Tool.Switchyard, "switchyard"),
        new(L2Tool.Bridge, "linux-bridge", "bridge"),
        new(L2Tool.Vde, "vde_switch", "vde"),
        new(L2Tool.Baseline, "switchyard-baseline", "baseline"),
    ];

    public L2Options()
    {
        Runs = 5;
        Tools = [L2Tool.Switchyard, L2Tool.Bridge, L2Tool.Vde];
        NetnsPrefix = string.Create(CultureInfo.InvariantCulture, $"syl2-{Environment.ProcessId}");
    }

    public override IReadOnlyList<ToolName<L2Tool>> ToolNames => Names;

    public int Mtu { get; init; } = 1500;

    public string? SwitchyardTap { get; init; }

    public string VdeSwitch { get; init; } = "vde_switch";

    public string VdePlug2Tap { get; init; } = "vde_plug2tap";

    /// <summary>--baseline-bin: the other build the baseline tool runs.</summary>
    public string? BaselineBin { get; init; }

    protected override string Usage => """
        Usage: switchyard-bench l2 [options]

        TCP throughput and latency between two network namespaces, A and B, joined at layer 2 by a
        switch that runs in a third namespace (SW); all three are created fresh for every run and deleted
        afterwards. Per run: a 1-byte TCP request/response loop (rr-client in A to rr-server in B), ping
        A -> B, then iperf3 A -> B. The switches alternate run by run (A B C A B C ...). Needs root, ip
        (iproute2), iperf3, busybox (ping), vde_switch and vde_plug2tap (Debian vde2) and switchyard;
        bench/run-l2.sh installs the missing Debian packages.

        """;

    protected override string OwnHelp => """
          --mtu N               MTU of both namespaces' interfaces (default: 1500)
          --switchyard-tap TEXT Extra words for Switchyard's tap ports, appended to `tap,ifname=NAME`
                                (e.g. `vnet_hdr=off`; default: none, Switchyard's own defaults)
          --vde-switch P        vde_switch binary (default: vde_switch on PATH)
          --vde-plug2tap P      vde_plug2tap binary (default: vde_plug2tap on PATH)
          --baseline-bin P      Another switchyard build for the `baseline` tool, run exactly like switchyard
                                and alternating with it (--tools switchyard,baseline: before/after a change)

        """;

    protected override string NamespaceHelp => "Names of the namespaces: NAME-a, NAME-b, NAME-sw (default: syl2-PID)";

    /// <summary>Parses the arguments after `l2`; null means help was asked for.</summary>
    public static L2Options? Parse(IReadOnlyList<string> args) => Parse(new L2Options(), args);

    protected override ScenarioOptions<L2Tool>? ParseOwn(string arg, IReadOnlyList<string> args, ref int i) => arg switch
    {
        "--mtu" => this with { Mtu = ParseInt(arg, Value(args, ref i), 576, 65520) },
        "--switchyard-tap" => this with { SwitchyardTap = ParseTapWords(arg, Value(args, ref i)) },
        "--vde-switch" => this with { VdeSwitch = Value(args, ref i) },
        "--vde-plug2tap" => this with { VdePlug2Tap = Value(args, ref i) },
        "--baseline-bin" => this with { BaselineBin = Value(args, ref i) },
        _ => null,
    };

    /// <summary>`key=value[,key=value...]` words that go into a netdev string and into YAML quotes.</summary>
    private static string ParseTapWords(string option, string text) =>
        text.Length is > 0 and <= 200 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '=' or ',' or '_' or '-' or '.')
            ? text.Trim(',')
            : throw new UsageException($"{option} takes key=value words separated by ',', not '{text}'");
}
