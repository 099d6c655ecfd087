// The options every namespace scenario (`nat`, `l2`) shares, and the one loop that parses them.
//
// Theory of operation: a scenario's options are a record derived from ScenarioOptions<TTool>. The base
// owns what every scenario has (which tools, how many alternating runs, how long each measurement, the
// quiet gate, where the report and the logs go) and parses it; the derived record adds its own options
// by overriding ParseOwn, names its tools once in a table (the only place a tool's name is spelled), and
// sets its defaults in its constructor. The help text is assembled the same way: the scenario's usage
// and its own options, then the shared ones, so an option is described in one place.
using System.Globalization;
using System.Text;
using static Switchyard.Bench.OptionText;

namespace Switchyard.Bench;

/// <summary>A tool's name in reports and on the command line, and the other words <c>--tools</c> accepts.</summary>
internal sealed record ToolName<TTool>(TTool Tool, string Name, params string[] Also)
    where TTool : struct, Enum;

internal abstract record ScenarioOptions<TTool>
    where TTool : struct, Enum
{
    public IReadOnlyList<TTool> Tools { get; init; } = [];

    public int Runs { get; init; } = 3;

    public double Seconds { get; init; } = 10;

    public int Omit { get; init; } = 1;

    public double RrSeconds { get; init; } = 5;

    public int PingCount { get; init; } = 10;

    public string? SwitchyardBin { get; init; }

    public bool SwitchyardVerbose { get; init; }

    public string NetnsPrefix { get; init; } = string.Empty;

    public double QuietSeconds { get; init; } = 5;

    public double MaxOthers { get; init; } = 0.5;

    public string? LogDirectory { get; init; }

    public string? MarkdownPath { get; init; }

    public string? Command { get; init; }

    /// <summary>Every tool of the scenario, Switchyard first, then the anchors in the order ratios are
    /// given; the default <see cref="Tools"/> is all of them.</summary>
    public abstract IReadOnlyList<ToolName<TTool>> ToolNames { get; }

    /// <summary>The scenario's usage line and description (ends with a blank line).</summary>
    protected abstract string Usage { get; }

    /// <summary>Help lines of the scenario's own options (each ends with a newline).</summary>
    protected abstract string OwnHelp { get; }

    /// <summary>What NAME in <c>--netns-prefix NAME</c> becomes.</summary>
    protected abstract string NamespaceHelp { get; }

    public string Help
    {
        get
        {
            var sb = new StringBuilder(Usage);
            sb.AppendLine();
            sb.AppendLine("Options:");
            sb.AppendLine(Line("--tools LIST", $"Comma-separated: {string.Join(", ", ToolNames.Select(t => t.Name))}"));
            sb.AppendLine(Line(string.Empty, $"(default: {string.Join(",", ToolNames.Select(t => t.Name))})"));
            sb.Append(OwnHelp);
            sb.Append(string.Create(CultureInfo.InvariantCulture, $"""
                  --runs N              Runs per tool, alternating (default: {Runs})
                  --seconds S           iperf3 measured seconds per direction (default: {Seconds})
                  --omit S              iperf3 -O: seconds of slow start left out of the figures (default: {Omit})
                  --rr-seconds S        Seconds of request/response per run, after 0.5 s of warm-up (default: {RrSeconds})
                  --ping-count N        Pings per run, 0.2 s apart (default: {PingCount}; 0: no ping)
                  --switchyard-bin P    The published switchyard binary (default: $SWITCHYARD_BIN, else
                                        REPO/.cache/publish/switchyard)
                  --switchyard-verbose  Run `switchyard up -v`
                  --netns-prefix NAME   {NamespaceHelp};
                                        existing namespaces with those names are deleted first
                  --quiet S             Before each run, wait up to S seconds for half a second in which the
                                        machine used less than --max-others CPUs (default: {QuietSeconds}; 0: don't)
                  --max-others X        The quiet gate's threshold in CPUs (default: {MaxOthers})
                  --logs DIR            Keep every process's full output there, one file per process and run
                  --markdown FILE       Also write the report as Markdown to FILE
                  --command TEXT        The command line to record in the report (default: this process's)
                  -h, --help            Show this help

                """));
            return sb.ToString();
        }
    }

    public string Name(TTool tool) => ToolNames.First(t => t.Tool.Equals(tool)).Name;

    /// <summary>Parses the arguments after the scenario's verb on top of <paramref name="defaults"/>;
    /// null means help was asked for. Every bad value is a UsageException naming its option.</summary>
    public static TOptions? Parse<TOptions>(TOptions defaults, IReadOnlyList<string> args)
        where TOptions : ScenarioOptions<TTool>
    {
        ScenarioOptions<TTool> o = defaults.Tools.Count > 0 ? defaults : defaults with { Tools = defaults.ToolNames.Select(t => t.Tool).ToList() };
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            o = arg switch
            {
                "-h" or "--help" => null!,
                "--tools" => o with { Tools = o.ParseTools(Value(args, ref i)) },
                "--runs" => o with { Runs = ParseInt(arg, Value(args, ref i), 1, 1000) },
                "--seconds" => o with { Seconds = ParseInt(arg, Value(args, ref i), 2, 600) },
                "--omit" => o with { Omit = ParseInt(arg, Value(args, ref i), 0, 60) },
                "--rr-seconds" => o with { RrSeconds = ParseSeconds(arg, Value(args, ref i), 0) },
                "--ping-count" => o with { PingCount = ParseInt(arg, Value(args, ref i), 0, 10000) },
                "--switchyard-bin" => o with { SwitchyardBin = Value(args, ref i) },
                "--switchyard-verbose" => o with { SwitchyardVerbose = true },
                "--netns-prefix" => o with { NetnsPrefix = ParseName(arg, Value(args, ref i)) },
                "--quiet" => o with { QuietSeconds = ParseSeconds(arg, Value(args, ref i), 0) },
                "--max-others" => o with { MaxOthers = ParseSeconds(arg, Value(args, ref i), 0.01) },
                "--logs" => o with { LogDirectory = Value(args, ref i) },
                "--markdown" => o with { MarkdownPath = Value(args, ref i) },
                "--command" => o with { Command = Value(args, ref i) },
                _ => o.ParseOwn(arg, args, ref i) ?? throw new UsageException($"unknown option '{arg}'"),
            };
            if (o is null)
            {
                return null;
            }
        }

        return (TOptions)o;
    }

    /// <summary>The scenario's own option <paramref name="arg"/> applied (its value read with
    /// <see cref="OptionText.Value"/>), or null when <paramref name="arg"/> is not one of them.</summary>
    protected abstract ScenarioOptions<TTool>? ParseOwn(string arg, IReadOnlyList<string> args, ref int i);

    /// <summary>A help line: the option in a 22-column field, then its text.</summary>
    protected static string Line(string option, string text) => $"  {option,-22}{text}";

    /// <summary>A comma-separated list of whole numbers, each from <paramref name="min"/> to <paramref name="max"/>, duplicates dropped.</summary>
    protected static List<int> ParseList(string option, string text, int min, int max)
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

    private List<TTool> ParseTools(string text)
    {
        var tools = new List<TTool>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            ToolName<TTool> named = ToolNames.FirstOrDefault(t => t.Name == part || t.Also.Contains(part))
                ?? throw new UsageException($"unknown tool '{part}' ({string.Join(", ", ToolNames.Select(t => t.Name))})");
            if (!tools.Contains(named.Tool))
            {
                tools.Add(named.Tool);
            }
        }

        return tools.Count > 0 ? tools : throw new UsageException("--tools needs at least one tool");
    }
}
