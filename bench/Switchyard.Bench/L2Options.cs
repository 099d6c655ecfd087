// Options of `switchyard-bench l2`, parsed by hand like the other subcommands' options.
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
}

internal sealed record L2Options
{
    public const string Help = """
        Usage: switchyard-bench l2 [options]

        TCP throughput and latency between two network namespaces, A and B, joined at layer 2 by a
        switch that runs in a third namespace (SW); all three are created fresh for every run and deleted
        afterwards. Per run: a 1-byte TCP request/response loop (rr-client in A to rr-server in B), ping
        A -> B, then iperf3 A -> B. The switches alternate run by run (A B C A B C ...). Needs root, ip
        (iproute2), iperf3, busybox (ping), vde_switch and vde_plug2tap (Debian vde2) and switchyard;
        bench/run-l2.sh installs the missing Debian packages.

        Options:
          --tools LIST          Comma-separated: switchyard, bridge, vde (default: switchyard,bridge,vde)
          --runs N              Runs per tool, alternating (default: 5)
          --seconds S           iperf3 measured seconds (default: 10)
          --omit S              iperf3 -O: seconds of slow start left out of the figures (default: 1)
          --mtu N               MTU of both namespaces' interfaces (default: 1500)
          --rr-seconds S        Seconds of request/response per run, after 0.5 s of warm-up (default: 5)
          --ping-count N        Pings per run, 0.2 s apart (default: 10; 0: no ping)
          --switchyard-bin P    The published switchyard binary (default: $SWITCHYARD_BIN, else
                                REPO/.cache/publish/switchyard)
          --switchyard-tap TEXT Extra words for Switchyard's tap ports, appended to `tap,ifname=NAME`
                                (e.g. `vnet_hdr=off`; default: none, Switchyard's own defaults)
          --switchyard-verbose  Run `switchyard up -v`
          --vde-switch P        vde_switch binary (default: vde_switch on PATH)
          --vde-plug2tap P      vde_plug2tap binary (default: vde_plug2tap on PATH)
          --netns-prefix NAME   Names of the namespaces: NAME-a, NAME-b, NAME-sw (default: syl2-PID);
                                existing namespaces with those names are deleted first
          --quiet S             Before each run, wait up to S seconds for half a second in which the
                                machine used less than --max-others CPUs (default: 5; 0: don't)
          --max-others X        The quiet gate's threshold in CPUs (default: 0.5)
          --logs DIR            Keep every process's full output there, one file per process and run
          --markdown FILE       Also write the report as Markdown to FILE
          --command TEXT        The command line to record in the report (default: this process's)
          -h, --help            Show this help

        """;

    public IReadOnlyList<L2Tool> Tools { get; init; } = [L2Tool.Switchyard, L2Tool.Bridge, L2Tool.Vde];

    public int Runs { get; init; } = 5;

    public double Seconds { get; init; } = 10;

    public int Omit { get; init; } = 1;

    public int Mtu { get; init; } = 1500;

    public double RrSeconds { get; init; } = 5;

    public int PingCount { get; init; } = 10;

    public string? SwitchyardBin { get; init; }

    public string? SwitchyardTap { get; init; }

    public bool SwitchyardVerbose { get; init; }

    public string VdeSwitch { get; init; } = "vde_switch";

    public string VdePlug2Tap { get; init; } = "vde_plug2tap";

    public string NetnsPrefix { get; init; } = string.Create(CultureInfo.InvariantCulture, $"syl2-{Environment.ProcessId}");

    public double QuietSeconds { get; init; } = 5;

    public double MaxOthers { get; init; } = 0.5;

    public string? LogDirectory { get; init; }

    public string? MarkdownPath { get; init; }

    public string? Command { get; init; }

    /// <summary>Parses the arguments after `l2`; null means help was asked for.</summary>
    public static L2Options? Parse(IReadOnlyList<string> args)
    {
        var o = new L2Options();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            switch (arg)
            {
                case "-h" or "--help":
                    return null;
                case "--tools":
                    o = o with { Tools = ParseTools(Value(args, ref i)) };
                    break;
                case "--runs":
                    o = o with { Runs = ParseInt(arg, Value(args, ref i), 1, 1000) };
                    break;
                case "--seconds":
                    o = o with { Seconds = ParseInt(arg, Value(args, ref i), 2, 600) };
                    break;
                case "--omit":
                    o = o with { Omit = ParseInt(arg, Value(args, ref i), 0, 60) };
                    break;
                case "--mtu":
                    o = o with { Mtu = ParseInt(arg, Value(args, ref i), 576, 65520) };
                    break;
                case "--rr-seconds":
                    o = o with { RrSeconds = ParseSeconds(arg, Value(args, ref i), 0) };
                    break;
                case "--ping-count":
                    o = o with { PingCount = ParseInt(arg, Value(args, ref i), 0, 10000) };
                    break;
                case "--switchyard-bin":
                    o = o with { SwitchyardBin = Value(args, ref i) };
                    break;
                case "--switchyard-tap":
                    o = o with { SwitchyardTap = ParseTapWords(arg, Value(args, ref i)) };
                    break;
                case "--switchyard-verbose":
                    o = o with { SwitchyardVerbose = true };
                    break;
                case "--vde-switch":
                    o = o with { VdeSwitch = Value(args, ref i) };
                    break;
                case "--vde-plug2tap":
                    o = o with { VdePlug2Tap = Value(args, ref i) };
                    break;
                case "--netns-prefix":
                    o = o with { NetnsPrefix = ParseName(arg, Value(args, ref i)) };
                    break;
                case "--quiet":
                    o = o with { QuietSeconds = ParseSeconds(arg, Value(args, ref i), 0) };
                    break;
                case "--max-others":
                    o = o with { MaxOthers = ParseSeconds(arg, Value(args, ref i), 0.01) };
                    break;
                case "--logs":
                    o = o with { LogDirectory = Value(args, ref i) };
                    break;
                case "--markdown":
                    o = o with { MarkdownPath = Value(args, ref i) };
                    break;
                case "--command":
                    o = o with { Command = Value(args, ref i) };
                    break;
                default:
                    throw new UsageException($"unknown option '{arg}'");
            }
        }

        return o;
    }

    /// <summary>`key=value[,key=value...]` words that go into a netdev string and into YAML quotes.</summary>
    private static string ParseTapWords(string option, string text) =>
        text.Length is > 0 and <= 200 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '=' or ',' or '_' or '-' or '.')
            ? text.Trim(',')
            : throw new UsageException($"{option} takes key=value words separated by ',', not '{text}'");

    private static List<L2Tool> ParseTools(string text)
    {
        var tools = new List<L2Tool>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            L2Tool tool = part switch
            {
                "switchyard" => L2Tool.Switchyard,
                "bridge" or "linux-bridge" => L2Tool.Bridge,
                "vde" or "vde_switch" => L2Tool.Vde,
                _ => throw new UsageException($"unknown tool '{part}' (switchyard, bridge, vde)"),
            };
            if (!tools.Contains(tool))
            {
                tools.Add(tool);
            }
        }

        return tools.Count > 0 ? tools : throw new UsageException("--tools needs at least one tool");
    }
}
