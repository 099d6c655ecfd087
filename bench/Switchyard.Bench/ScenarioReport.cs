// The report skeleton of the namespace benchmarks: the shape every report has, filled in by each scenario.
//
// Theory of operation: the shape is the preamble (title, the command that produced it), the plan, the
// machine, the layout, the medians (min–max) per MTU and tool, the Switchyard / anchor ratios (ratio of
// medians and paired per run), the observations found mechanically, every run in the order it ran, the
// exact commands, the failures with the subject's output, and how to read it. A scenario supplies its
// measures, its tables (the summary and the per-run table differ in their columns), its layout bullets
// and its texts. The stall rule (StallRule) lives here for every scenario: a throughput run under the
// floor is named in the observations, counted as not ok, and left out of medians and ratios, and a
// ratio with no valid run on a side is refused instead of printed.
using System.Globalization;
using System.Text;
using static Switchyard.Bench.ReportText;

namespace Switchyard.Bench;

/// <summary>One figure of a run. <paramref name="Flow"/> set: a throughput measure (Gbit/s, the stall
/// rule applies) and <paramref name="Label"/> names its direction in observations.</summary>
internal sealed record Measure<TResult>(string Name, string Label, Func<TResult, double?> Pick, Func<double, string> Format, Func<TResult, Throughput?>? Flow = null)
    where TResult : ScenarioResult;

internal abstract class ScenarioReport<TTool, TResult, TOptions>(TOptions options, ScenarioContext<TTool> context, IReadOnlyList<ScenarioRun<TTool, TResult>> runs)
    where TTool : struct, Enum
    where TResult : ScenarioResult
    where TOptions : ScenarioOptions<TTool>
{
    protected TOptions Options { get; } = options;

    protected ScenarioContext<TTool> Context { get; } = context;

    protected IReadOnlyList<ScenarioRun<TTool, TResult>> Runs { get; } = runs;

    /// <summary>True when every run completed every measurement and none stalled.</summary>
    public bool AllValid => Runs.All(Ok);

    protected abstract string Title { get; }

    /// <summary>The paragraph under the title: what every run did.</summary>
    protected abstract string PlanText { get; }

    /// <summary>The measures, in the order the ratios give them.</summary>
    protected abstract IReadOnlyList<Measure<TResult>> Measures { get; }

    protected abstract IReadOnlyList<int> Mtus { get; }

    /// <summary>Whether tables and notes name the MTU (a scenario that runs at several).</summary>
    protected abstract bool MtuColumn { get; }

    /// <summary>"tool" or "switch".</summary>
    protected abstract string Noun { get; }

    /// <summary>The two anchors to compare for scale when Switchyard is not in the run.</summary>
    protected abstract (TTool A, TTool B) AnchorPair { get; }

    /// <summary>Layout bullets before the tools' own (namespaces, placement), after them (endpoints, latency).</summary>
    protected abstract IEnumerable<string> LayoutHead { get; }

    protected abstract IEnumerable<string> LayoutTail { get; }

    protected abstract string CountersTitle { get; }

    protected abstract string CommandsTitle { get; }

    protected abstract IReadOnlyList<string> SetupCommands { get; }

    /// <summary>The comment over the servers' and clients' commands.</summary>
    protected abstract string ClientsComment { get; }

    protected abstract string HowToRead { get; }

    /// <summary>The console line of one run as it finishes: <see cref="RunHead"/>, then its figures or
    /// its failure, then its problems.</summary>
    public string RunLine(ScenarioRun<TTool, TResult> r)
    {
        string head = RunHead(r);
        if (r.Result.Error is not null)
        {
            return $"{head} FAILED: {r.Result.Error}";
        }

        var line = new StringBuilder($"{head} {RunFigures(r.Result)}");
        foreach (string p in r.Result.Problems)
        {
            line.Append($"\n      problem: {p}");
        }

        return line.ToString();
    }

    /// <summary>"run 1/5 ..." naming the run in a fixed width.</summary>
    protected abstract string RunHead(ScenarioRun<TTool, TResult> r);

    /// <summary>The figures of a completed run, on one line.</summary>
    protected abstract string RunFigures(TResult x);

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
        ReportPreamble.Append(sb, Title, Context.Command, Context.Invocation);
        sb.AppendLine(PlanText);
        sb.AppendLine();
        AppendMachine(sb);
        sb.AppendLine("## Layout");
        sb.AppendLine();
        foreach (string bullet in LayoutHead)
        {
            sb.AppendLine($"- {bullet}");
        }

        foreach (TTool tool in Options.Tools)
        {
            if (Context.Layouts.TryGetValue(tool, out string? layout))
            {
                sb.AppendLine($"- **{Options.Name(tool)}**: {layout}");
            }
        }

        foreach (string bullet in LayoutTail)
        {
            sb.AppendLine($"- {bullet}");
        }

        sb.AppendLine("- **CPU** (in CPUs, 1.00 = one CPU busy) is sampled from /proc over the iperf3 window, from 0.3 s after the omitted seconds to 0.3 s before the end.");
        sb.AppendLine();
        sb.AppendLine(Inv($"## Results: median (min–max) of {Options.Runs} runs"));
        sb.AppendLine();
        AppendSummaryTable(sb);
        sb.AppendLine();
        sb.AppendLine("## Ratios");
        sb.AppendLine();
        AppendRatios(sb);
        sb.AppendLine();
        AppendObservations(sb);
        sb.AppendLine("## Every run, in the order it ran");
        sb.AppendLine();
        AppendEveryRun(sb);
        sb.AppendLine();
        AppendCounters(sb);
        AppendCommands(sb);
        AppendFailures(sb);
        sb.AppendLine("## How to read this");
        sb.AppendLine();
        sb.AppendLine(HowToRead);
        return sb.ToString();
    }

    /// <summary>Rows of the machine table beyond the ones every report has.</summary>
    protected virtual IEnumerable<(string Key, string Value)> MachineExtras => [];

    /// <summary>Whether a high *rest* CPU says something about <paramref name="tool"/> (not for a kernel switch).</summary>
    protected virtual bool RestCpuMatters(TTool tool) => true;

    /// <summary>The summary table: medians (min–max) per MTU and tool; throughput cells through <see cref="FlowCell"/>.</summary>
    protected abstract void AppendSummaryTable(StringBuilder sb);

    /// <summary>The per-run table, header included, and anything else listed per run.</summary>
    protected abstract void AppendEveryRun(StringBuilder sb);

    /// <summary>Namespaces and temporary directories of a command line replaced by the words the report uses.</summary>
    protected abstract string Anonymize(string commandLine);

    /// <summary>"run 2, MTU 1500, pasta" (no MTU in a scenario with one).</summary>
    protected string Where(ScenarioRun<TTool, TResult> r) =>
        MtuColumn ? Inv($"run {r.Run}, MTU {r.Mtu}, {Options.Name(r.Tool)}") : Inv($"run {r.Run}, {Options.Name(r.Tool)}");

    /// <summary>The figures of every completed run of <paramref name="tool"/> at <paramref name="mtu"/>.</summary>
    protected List<double> Values(TTool tool, int mtu, Func<TResult, double?> pick)
    {
        var values = new List<double>();
        foreach (ScenarioRun<TTool, TResult> r in Runs)
        {
            if (r.Tool.Equals(tool) && r.Mtu == mtu && r.Result.Error is null && pick(r.Result) is double v && !double.IsNaN(v))
            {
                values.Add(v);
            }
        }

        return values;
    }

    /// <summary>"ok/total": runs without failure, problem or stall.</summary>
    protected string OkCount(TTool tool, int mtu)
    {
        int total = Runs.Count(r => r.Tool.Equals(tool) && r.Mtu == mtu);
        int ok = Runs.Count(r => r.Tool.Equals(tool) && r.Mtu == mtu && Ok(r));
        return Inv($"{ok}/{total}");
    }

    /// <summary>A throughput cell: median (min–max) of the valid runs, with the stalled ones counted.</summary>
    protected string FlowCell(TTool tool, int mtu, Measure<TResult> measure)
    {
        List<RunFigure> all = Figures(tool, mtu, measure);
        List<double> valid = StallRule.Valid(all);
        int stalled = all.Count - valid.Count;
        return valid.Count == 0 && stalled > 0
            ? $"stalled: {Report.Spread(all.Select(f => f.Value).ToList(), measure.Format)}"
            : Report.Spread(valid, measure.Format) + (stalled > 0 ? Inv($" +{stalled} stalled") : string.Empty);
    }

    /// <summary>Every completed run's figure of <paramref name="measure"/>, marked by the stall rule.</summary>
    protected List<RunFigure> Figures(TTool tool, int mtu, Measure<TResult> measure)
    {
        double floor = Floor(mtu, measure);
        var figures = new List<RunFigure>();
        foreach (ScenarioRun<TTool, TResult> r in Runs)
        {
            if (r.Tool.Equals(tool) && r.Mtu == mtu && r.Result.Error is null && measure.Pick(r.Result) is double v && !double.IsNaN(v))
            {
                figures.Add(new RunFigure(v, IsStalled(r.Result, measure, floor)));
            }
        }

        return figures;
    }

    /// <summary>The stall floor of <paramref name="measure"/> at <paramref name="mtu"/>: from the best tool's
    /// median of all its completed runs; NaN for a measure the rule does not apply to.</summary>
    protected double Floor(int mtu, Measure<TResult> measure)
    {
        if (measure.Flow is null)
        {
            return double.NaN;
        }

        double best = double.NaN;
        foreach (TTool tool in Options.Tools)
        {
            double m = Report.Median(Values(tool, mtu, measure.Pick));
            if (!double.IsNaN(m) && (double.IsNaN(best) || m > best))
            {
                best = m;
            }
        }

        return StallRule.Floor(best);
    }

    private bool Stalled(ScenarioRun<TTool, TResult> r, Measure<TResult> measure) => IsStalled(r.Result, measure, Floor(r.Mtu, measure));

    private bool IsStalled(TResult result, Measure<TResult> measure, double floor) =>
        measure.Flow?.Invoke(result) is { } t && StallRule.IsStalled(t, floor, Options.Seconds);

    private bool Ok(ScenarioRun<TTool, TResult> r) =>
        r.Result.Error is null && r.Result.Problems.Count == 0 && !Measures.Any(m => Stalled(r, m));

    private void AppendMachine(StringBuilder sb)
    {
        MachineFacts facts = Context.Facts;
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

        foreach ((string key, string value) in MachineExtras)
        {
            sb.AppendLine($"| {key} | {value} |");
        }

        sb.AppendLine($"| packages | {Context.Versions} |");
        sb.AppendLine($"| load average | {Context.LoadBefore} before, {Context.LoadAfter} after |");
        sb.AppendLine();
    }

    /// <summary>Switchyard against every anchor in the run; without Switchyard, the anchor pair for scale.</summary>
    private List<(TTool A, TTool B)> Pairs()
    {
        var pairs = new List<(TTool, TTool)>();
        TTool candidate = Options.ToolNames[0].Tool;
        if (Options.Tools.Contains(candidate))
        {
            foreach (ToolName<TTool> anchor in Options.ToolNames.Skip(1))
            {
                if (Options.Tools.Contains(anchor.Tool))
                {
                    pairs.Add((candidate, anchor.Tool));
                }
            }
        }
        else if (Options.Tools.Contains(AnchorPair.A) && Options.Tools.Contains(AnchorPair.B))
        {
            pairs.Add(AnchorPair);
        }

        return pairs;
    }

    private void AppendRatios(StringBuilder sb)
    {
        List<(TTool A, TTool B)> pairs = Pairs();
        if (pairs.Count == 0)
        {
            sb.AppendLine(Inv($"(no ratios: they need switchyard with an anchor, or {Options.Name(AnchorPair.A)} with {Options.Name(AnchorPair.B)})"));
            return;
        }

        sb.AppendLine(Inv($"*Ratio of medians* divides the medians above; *paired* is the median (min–max) of the per-run ratios (run i of one {Noun} against run i of the other; they ran one after the other). Throughput: above 1 = the first {Noun} moved more. Latency: below 1 = the first {Noun} answered faster. A throughput run under the stall floor ({StallRule.FloorGbps:F2} Gbit/s, or {StallRule.FloorShare:P0} of the best {Noun}'s median), or with half or more of its seconds empty, is left out, and a side with no run left gives no ratio: dividing by a stall measures the stall."));
        sb.AppendLine();
        sb.AppendLine(MtuColumn ? "| MTU | ratio | measure | ratio of medians | paired |" : "| ratio | measure | ratio of medians | paired |");
        sb.AppendLine(MtuColumn ? "|---|---|---|---|---|" : "|---|---|---|---|");
        foreach (int mtu in Mtus)
        {
            foreach ((TTool a, TTool b) in pairs)
            {
                foreach (Measure<TResult> m in Measures)
                {
                    string ratio = StallRule.RatioOfMedians(Figures(a, mtu, m), Figures(b, mtu, m), Options.Name(a), Options.Name(b));
                    var pa = new List<RunFigure?>();
                    var pb = new List<RunFigure?>();
                    for (int run = 1; run <= Options.Runs; run++)
                    {
                        pa.Add(One(a, mtu, run, m));
                        pb.Add(One(b, mtu, run, m));
                    }

                    string paired = StallRule.Paired(pa, pb);
                    string head = MtuColumn ? Inv($"| {mtu} ") : string.Empty;
                    sb.AppendLine($"{head}| {Options.Name(a)} / {Options.Name(b)} | {m.Name} | {ratio} | {paired} |");
                }
            }
        }
    }

    private RunFigure? One(TTool tool, int mtu, int run, Measure<TResult> measure)
    {
        ScenarioRun<TTool, TResult>? r = Runs.FirstOrDefault(x => x.Tool.Equals(tool) && x.Mtu == mtu && x.Run == run);
        return r is null || r.Result.Error is not null || measure.Pick(r.Result) is not double v || double.IsNaN(v)
            ? null
            : new RunFigure(v, IsStalled(r.Result, measure, Floor(mtu, measure)));
    }

    private void AppendObservations(StringBuilder sb)
    {
        var notes = new List<string>();
        foreach (ScenarioRun<TTool, TResult> r in Runs)
        {
            string where = Where(r);
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

            foreach (Measure<TResult> m in Measures)
            {
                if (m.Flow?.Invoke(r.Result) is not { } t)
                {
                    continue;
                }

                string at = m.Label.Length > 0 ? $"{where}, {m.Label}" : where;
                double floor = Floor(r.Mtu, m);
                if (StallRule.IsStalled(t.Gbps, floor))
                {
                    notes.Add(Inv($"{at}: **invalid run**: {t.Gbps:F2} Gbit/s is under the stall floor of {floor:F2} Gbit/s, left out of the medians and ratios"));
                }
                else if (StallRule.IsStalled(t, floor, Options.Seconds))
                {
                    notes.Add(Inv($"{at}: **invalid run**: {t.StalledSeconds} of {Options.Seconds} s moved nothing (half or more), left out of the medians and ratios"));
                }

                if (t.StalledSeconds > 0)
                {
                    notes.Add(Inv($"{at}: {t.StalledSeconds} of {Options.Seconds} s moved nothing at all (the connection stalled; {t.Retransmits} retransmits)"));
                }

                if (RestCpuMatters(r.Tool) && t.RestCpu > 0.8)
                {
                    notes.Add(Inv($"{at}: rest CPU {t.RestCpu:F2} (kernel work plus other processes): the run shared the CPUs"));
                }
            }
        }

        // WaitForQuiet returns after the half second that was quiet, or once it has waited the full time.
        int unquiet = Options.QuietSeconds > 0 ? Runs.Count(r => r.Result.QuietWait >= Options.QuietSeconds) : 0;
        if (unquiet > 0)
        {
            notes.Add(Inv($"the quiet gate was not met before {unquiet} of {Runs.Count} runs: for {Options.QuietSeconds} s the machine never had half a second below {Options.MaxOthers} busy CPUs (other people's work), so those runs shared the CPUs; compare the paired ratios"));
        }

        sb.AppendLine("## Observations (found mechanically)");
        sb.AppendLine();
        if (notes.Count == 0)
        {
            sb.AppendLine("- None: every run and every measurement completed, no ping lost, no stalled second or run, rest CPU at most 0.8.");
        }

        foreach (string note in notes)
        {
            sb.AppendLine($"- {note}");
        }

        sb.AppendLine();
    }

    private void AppendCounters(StringBuilder sb)
    {
        if (!Runs.Any(r => r.Result.Counters is not null))
        {
            return;
        }

        sb.AppendLine($"{CountersTitle}:");
        sb.AppendLine();
        foreach (ScenarioRun<TTool, TResult> r in Runs.Where(r => r.Result.Counters is not null))
        {
            sb.AppendLine($"- {Where(r)}: {r.Result.Counters}");
        }

        sb.AppendLine();
    }

    private void AppendCommands(StringBuilder sb)
    {
        sb.AppendLine($"## {CommandsTitle}");
        sb.AppendLine();
        sb.AppendLine("```sh");
        sb.AppendLine("# namespaces, for every run");
        foreach (string c in SetupCommands)
        {
            sb.AppendLine(c);
        }

        foreach (TTool tool in Options.Tools)
        {
            if (Context.Commands.TryGetValue(tool, out List<string>? cs) && cs.Count > 0)
            {
                sb.AppendLine($"# {Options.Name(tool)} (its last run)");
                foreach (string c in cs)
                {
                    sb.AppendLine(Anonymize(c));
                }
            }
        }

        sb.AppendLine($"# {ClientsComment}");
        foreach (string c in Context.ClientCommands.Values)
        {
            sb.AppendLine(Anonymize(c));
        }

        sb.AppendLine("```");
        sb.AppendLine();
    }

    private void AppendFailures(StringBuilder sb)
    {
        List<ScenarioRun<TTool, TResult>> failed = Runs.Where(r => r.Result.Error is not null).ToList();
        if (failed.Count == 0)
        {
            return;
        }

        sb.AppendLine("## Failures");
        sb.AppendLine();
        foreach (ScenarioRun<TTool, TResult> r in failed)
        {
            sb.AppendLine($"### {Where(r)}");
            sb.AppendLine();
            sb.AppendLine("```");
            sb.AppendLine(Anonymize(r.Result.Error!));
            sb.AppendLine("```");
            sb.AppendLine();
        }
    }
}
