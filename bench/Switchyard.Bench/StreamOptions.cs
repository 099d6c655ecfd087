// Options of `switchyard-bench stream`, parsed by hand (no package needed for a dozen flags).
using static Switchyard.Bench.OptionText;

namespace Switchyard.Bench;

/// <summary>The tools a stream run can drive frames through.</summary>
internal enum Tool
{
    /// <summary>Switchyard's default network, both peers on DIR/stream.sock (4-byte length prefix).</summary>
    Switchyard,

    /// <summary>Debian's vde_switch, both peers attached with libvdeplug's own protocol (one datagram per frame).</summary>
    Vde,

    /// <summary>The stream peers joined directly (no switch): the cost of the peers themselves.</summary>
    Ceiling,

    /// <summary>The datagram peers joined directly (no switch): the ceiling of the vde_switch layout.</summary>
    CeilingDgram,
}

internal sealed record StreamOptions
{
    public const string Help = """
        Usage: switchyard-bench stream [options]

        Drives frames between two synthetic peers A and B through a switch. B sends one frame first so the
        switch learns B's MAC; then A sends frames of SIZE bytes (dst=B, src=A) as fast as the switch takes
        them for --seconds while B counts what arrives. Tools run alternately (run 1 of every tool and size,
        then run 2, ...), each run with a fresh switch process in a fresh temporary directory.

        Options:
          --tools LIST          Comma-separated: switchyard, vde, ceiling, ceiling-dgram
                                (default: switchyard,vde,ceiling,ceiling-dgram)
          --sizes LIST          Ethernet frame sizes in bytes, 60..65535 (default: 64,1500)
          --runs N              Runs per tool and size (default: 5)
          --seconds S           Measured seconds per run (default: 5)
          --warmup S            Unmeasured seconds of load before the measurement (default: 1)
          --switchyard-bin P    The published switchyard binary (default: $SWITCHYARD_BIN, else
                                REPO/.cache/publish/switchyard, built with `REPO/switchyard --help` if missing)
          --vde-switch P        vde_switch binary (default: vde_switch on PATH)
          --peer-cpu N          Pin the peers' thread to CPU N (default: 0)
          --switch-cpu N        Pin the switch process (all its threads) to CPU N (default: 1)
          --no-pin              Do not pin anything
          --markdown FILE       Also write the report as Markdown to FILE
          --command TEXT        The command line to record in the report (default: this process's)
          -h, --help            Show this help

        """;

    public IReadOnlyList<Tool> Tools { get; init; } = [Tool.Switchyard, Tool.Vde, Tool.Ceiling, Tool.CeilingDgram];

    public IReadOnlyList<int> Sizes { get; init; } = [64, 1500];

    public int Runs { get; init; } = 5;

    public double Seconds { get; init; } = 5;

    public double WarmupSeconds { get; init; } = 1;

    public string? SwitchyardBin { get; init; }

    public string VdeSwitch { get; init; } = "vde_switch";

    public int? PeerCpu { get; init; } = 0;

    public int? SwitchCpu { get; init; } = 1;

    public string? MarkdownPath { get; init; }

    public string? Command { get; init; }

    /// <summary>Parses the arguments after `stream`; null means help was asked for.</summary>
    public static StreamOptions? Parse(IReadOnlyList<string> args)
    {
        var o = new StreamOptions();
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
                case "--sizes":
                    o = o with { Sizes = ParseSizes(Value(args, ref i)) };
                    break;
                case "--runs":
                    o = o with { Runs = ParseInt(arg, Value(args, ref i), 1, 1000) };
                    break;
                case "--seconds":
                    o = o with { Seconds = ParseSeconds(arg, Value(args, ref i), 0.1) };
                    break;
                case "--warmup":
                    o = o with { WarmupSeconds = ParseSeconds(arg, Value(args, ref i), 0) };
                    break;
                case "--switchyard-bin":
                    o = o with { SwitchyardBin = Value(args, ref i) };
                    break;
                case "--vde-switch":
                    o = o with { VdeSwitch = Value(args, ref i) };
                    break;
                case "--peer-cpu":
                    o = o with { PeerCpu = ParseInt(arg, Value(args, ref i), 0, MachineFacts.OnlineCpus() - 1) };
                    break;
                case "--switch-cpu":
                    o = o with { SwitchCpu = ParseInt(arg, Value(args, ref i), 0, MachineFacts.OnlineCpus() - 1) };
                    break;
                case "--no-pin":
                    o = o with { PeerCpu = null, SwitchCpu = null };
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

    private static List<int> ParseSizes(string text)
    {
        var sizes = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            sizes.Add(ParseInt("--sizes", part, 60, 65535));
        }

        return sizes.Count > 0 ? sizes : throw new UsageException("--sizes needs at least one size");
    }

    private static List<Tool> ParseTools(string text)
    {
        var tools = new List<Tool>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            Tool tool = part switch
            {
                "switchyard" => Tool.Switchyard,
                "vde" or "vde_switch" => Tool.Vde,
                "ceiling" => Tool.Ceiling,
                "ceiling-dgram" => Tool.CeilingDgram,
                _ => throw new UsageException($"unknown tool '{part}' (switchyard, vde, ceiling, ceiling-dgram)"),
            };
            if (!tools.Contains(tool))
            {
                tools.Add(tool);
            }
        }

        return tools.Count > 0 ? tools : throw new UsageException("--tools needs at least one tool");
    }
}
