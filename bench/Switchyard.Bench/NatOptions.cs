// Options of `switchyard-bench nat`, parsed by hand like StreamOptions and VhostOptions.
using System.Globalization;
using static Switchyard.Bench.OptionText;

namespace Switchyard.Bench;

/// <summary>The user-mode NAT between the guest namespace and the host namespace.</summary>
internal enum NatTool
{
    /// <summary>Switchyard's NAT gateway, the guest on a tap port of the same network.</summary>
    Switchyard,

    /// <summary>pasta (Debian package passt), attached to the guest namespace with --netns.</summary>
    Pasta,

    /// <summary>slirp4netns (libslirp), attached to the guest namespace with --netns-type=path.</summary>
    Slirp4netns,
}

internal sealed record NatOptions
{
    public const string Help = """
        Usage: switchyard-bench nat [options]

        TCP throughput and latency from a network namespace (the "guest") through a user-mode NAT to
        servers on the loopback of another namespace (the "host"), both created by the benchmark for
        every run and deleted afterwards; the NAT daemon and the servers run in the host namespace, the
        clients in the guest. Per run: a 1-byte TCP request/response loop (rr-client to rr-server), ping
        to the host namespace's address, iperf3 guest -> host and iperf3 -R (host -> guest), all
        against the gateway address 10.0.2.2, which every tool maps to the host's loopback. Tools
        alternate run by run (A B C A B C ...) at every MTU. Needs root, ip (iproute2), iperf3, busybox
        (ping), and the tools' binaries; bench/run-nat.sh installs the missing Debian packages.

        Options:
          --tools LIST          Comma-separated: switchyard, pasta, slirp4netns
                                (default: switchyard,pasta,slirp4netns)
          --mtus LIST           MTUs of the guest's interface, 576..65520 (default: 1500,65520)
          --runs N              Runs per tool and MTU, alternating (default: 3)
          --seconds S           iperf3 measured seconds per direction (default: 10)
          --omit S              iperf3 -O: seconds of slow start left out of the figures (default: 1)
          --rr-seconds S        Seconds of request/response per run, after 0.5 s of warm-up (default: 5)
          --ping-count N        Pings per run, 0.2 s apart (default: 10; 0: no ping)
          --switchyard-bin P    The published switchyard binary (default: $SWITCHYARD_BIN, else
                                REPO/.cache/publish/switchyard)
          --switchyard-verbose  Run `switchyard up -v`
          --pasta P             pasta binary (default: pasta on PATH)
          --slirp4netns P       slirp4netns binary (default: slirp4netns on PATH)
          --guest-txqueuelen N  Transmit queue of the guest's interface, in frames, set alike for every
                                tool once it is up (default: 10000; 0: leave the kernel's 1000). A tap
                                drops what overflows it, and pasta recovers from such a loss only by
                                retransmission timeouts: at 1000 frames (1.5 MB at MTU 1500, less than
                                one TCP window) its guest -> host stream stalls on a busy machine
          --netns-prefix NAME   Names of the namespaces: NAME-host and NAME-guest (default: synat-PID);
                                existing namespaces with those names are deleted first
          --quiet S             Before each run, wait up to S seconds for half a second in which the
                                machine used less than --max-others CPUs (default: 5; 0: don't)
          --max-others X        The quiet gate's threshold in CPUs (default: 0.5)
          --logs DIR            Keep every process's full output there, one file per process and run
          --markdown FILE       Also write the report as Markdown to FILE
          --command TEXT        The command line to record in the report (default: this process's)
          -h, --help            Show this help

        """;

    public IReadOnlyList<NatTool> Tools { get; init; } = [NatTool.Switchyard, NatTool.Pasta, NatTool.Slirp4netns];

    public IReadOnlyList<int> Mtus { get; init; } = [1500, 65520];

    public int Runs { get; init; } = 3;

    public double Seconds { get; init; } = 10;

    public int Omit { get; init; } = 1;

    public double RrSeconds { get; init; } = 5;

    public int PingCount { get; init; } = 10;

    public string? SwitchyardBin { get; init; }

    public bool SwitchyardVerbose { get; init; }

    public string Pasta { get; init; } = "pasta";

    public string Slirp4netns { get; init; } = "slirp4netns";

    /// <summary>The guest interface's transmit queue in frames (0: the kernel's default); see the help.</summary>
    public int GuestQueueLength { get; init; } = 10000;

    public string NetnsPrefix { get; init; } = string.Create(CultureInfo.InvariantCulture, $"synat-{Environment.ProcessId}");

    public double QuietSeconds { get; init; } = 5;

    public double MaxOthers { get; init; } = 0.5;

    public string? LogDirectory { get; init; }

    public string? MarkdownPath { get; init; }

    public string? Command { get; init; }

    /// <summary>Parses the arguments after `nat`; null means help was asked for.</summary>
    public static NatOptions? Parse(IReadOnlyList<string> args)
    {
        var o = new NatOptions();
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
                case "--mtus":
                    o = o with { Mtus = ParseList(arg, Value(args, ref i), 576, 65520) };
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
                case "--rr-seconds":
                    o = o with { RrSeconds = ParseSeconds(arg, Value(args, ref i), 0) };
                    break;
                case "--ping-count":
                    o = o with { PingCount = ParseInt(arg, Value(args, ref i), 0, 10000) };
                    break;
                case "--switchyard-bin":
                    o = o with { SwitchyardBin = Value(args, ref i) };
                    break;
                case "--switchyard-verbose":
                    o = o with { SwitchyardVerbose = true };
                    break;
                case "--pasta":
                    o = o with { Pasta = Value(args, ref i) };
                    break;
                case "--slirp4netns":
                    o = o with { Slirp4netns = Value(args, ref i) };
                    break;
                case "--guest-txqueuelen":
                    o = o with { GuestQueueLength = ParseInt(arg, Value(args, ref i), 0, 1_000_000) };
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

    private static List<int> ParseList(string option, string text, int min, int max)
    {
        var values = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int v = ParseInt(option, part, min, max);
            if (!values.Contains(v))
            {
                values.Add(v);
            }
        }

        return values.Count > 0 ? values : throw new UsageException($"{option} needs at least one value");
    }

    private static List<NatTool> ParseTools(string text)
    {
        var tools = new List<NatTool>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            NatTool tool = part switch
            {
                "switchyard" => NatTool.Switchyard,
                "pasta" or "passt" => NatTool.Pasta,
                "slirp4netns" or "slirp" => NatTool.Slirp4netns,
                _ => throw new UsageException($"unknown tool '{part}' (switchyard, pasta, slirp4netns)"),
            };
            if (!tools.Contains(tool))
            {
                tools.Add(tool);
            }
        }

        return tools.Count > 0 ? tools : throw new UsageException("--tools needs at least one tool");
    }
}
