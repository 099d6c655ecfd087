// The report: medians (min–max) per tool and size, the Switchyard / anchor ratios, every run in the
// order it ran, and Switchyard's own counters, as Markdown (which also reads fine on a terminal).
using System.Globalization;
using System.Text;

namespace Switchyard.Bench;

internal sealed class Report(
    StreamOptions options,
    string command,
    MachineFacts facts,
    IReadOnlyList<RunRecord> runs,
    IReadOnlyDictionary<Tool, string> layouts)
{
    /// <summary>The benchmark process's own command line.</summary>
    public string? Invocation { get; init; }

    /// <summary>/proc/loadavg when the benchmark started.</summary>
    public string LoadBefore { get; init; } = "?";

    /// <summary>/proc/loadavg when the benchmark ended.</summary>
    public string LoadAfter { get; init; } = "?";

    public static string Name(Tool tool) => tool switch
    {
        Tool.Switchyard => "switchyard",
        Tool.Vde => "vde_switch",
        Tool.Ceiling => "ceiling (stream)",
        Tool.CeilingDgram => "ceiling (dgram)",
        _ => tool.ToString(),
    };

    public static string RunLine(RunRecord r, int runs)
    {
        LoadResult x = r.Result;
        string head = Inv($"run {r.Run}/{runs} {r.Size,5} B {Name(r.Tool),-17}");
        if (x.Error is not null)
        {
            return $"{head} FAILED: {x.Error}";
        }

        string line = Inv($"{head} {Mfps(x.FramesPerSecond)} Mfps {x.Gbps,7:F3} Gbit/s  sent {x.SentTotal} recv {x.ReceivedTotal} lost {x.Lost} ({x.LossFraction:P2})  switch CPU {Cpu(x.SwitchCpu)} peers CPU {Cpu(x.PeerCpu)} others CPU {Cpu(x.OthersCpu)}");
        if (x.Unexpected != 0)
        {
            line += Inv($"  unexpected frames {x.Unexpected}");
        }

        return r.Counters is null ? line : $"{line}\n      counters: {r.Counters}";
    }

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
        ReportPreamble.Append(sb, "Stream benchmark", command, Invocation);

        sb.AppendLine(Inv($"{options.Runs} runs of each tool and frame size, alternating (run 1 of every size and tool, then run 2, ...); each run {options.WarmupSeconds} s of unmeasured load, then {options.Seconds} s measured, then a drain of at most 2 s. A fresh switch process in a fresh temporary directory for every run."));
        sb.AppendLine();
        sb.AppendLine("## Machine");
        sb.AppendLine();
        sb.AppendLine("| | |");
        sb.AppendLine("|---|---|");
        sb.AppendLine(Inv($"| CPUs (nproc) | {facts.Cpus} |"));
        sb.AppendLine($"| CPU model | {facts.CpuModel} |");
        sb.AppendLine($"| kernel | {facts.Kernel} |");
        sb.AppendLine($"| OS | {facts.Os} |");
        sb.AppendLine($"| .NET (peers) | {facts.Dotnet} |");
        if (facts.Switchyard is not null)
        {
            sb.AppendLine($"| switchyard | {facts.Switchyard} |");
        }

        if (facts.VdeSwitch is not null)
        {
            sb.AppendLine($"| vde_switch | {facts.VdeSwitch} |");
        }

        sb.AppendLine($"| net.unix.max_dgram_qlen | {facts.MaxDgramQlen} (a unix datagram receiver queues at most this many before the sender gets EAGAIN) |");
        sb.AppendLine();
        sb.AppendLine("## Layout");
        sb.AppendLine();
        sb.AppendLine(Inv($"- **Peers**: this process, ONE thread (pinned to CPU {Pin(options.PeerCpu)}) running both peers with non-blocking sockets and poll(): A sends frames of the given size (dst = B's MAC, src = A's MAC, EtherType 0x88b5) as fast as its socket takes them, B counts what arrives. On a stream A sends a pre-built ~256 KiB buffer of whole framed frames per send(); B reads 1 MiB at a time and walks the length prefixes. On a datagram socket it is one send()/recv() per frame. Before the load, B sends one frame to A so the switch learns B's MAC: A → B is known unicast, not flooding."));
        sb.AppendLine(Inv($"- **Switch**: its own process, pinned (with taskset, all threads) to CPU {Pin(options.SwitchCpu)}. Two busy things on two CPUs: the peers' thread and the switch."));
        foreach (Tool tool in options.Tools)
        {
            if (layouts.TryGetValue(tool, out string? layout))
            {
                sb.AppendLine($"- **{Name(tool)}**: {layout}");
            }
        }

        sb.AppendLine("- **Counting**: frames/s and Gbit/s are what B received in the measured window (Gbit/s counts Ethernet frame bytes, without length prefixes); *A sent frames/s* is what A got into its socket in the window (on a stream, what the switch read). *Loss* is over the whole run: whole frames A handed to its socket minus frames B received after the drain. *CPU* is CPU time over the window in CPUs (1.00 = one CPU fully busy), from /proc/PID/stat; *switch* is the switch process, *peers* this process, *others* everything else on the machine (from /proc/stat: other people's work on a shared machine, kernel threads); others well above 0 means the run competed for the CPUs.");
        sb.AppendLine();
        sb.AppendLine(Inv($"## Results: median (min–max) of {options.Runs} runs"));
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
        sb.AppendLine("| run | frame | tool | frames/s | Gbit/s | A sent frames/s | sent | received | lost | unexpected | switch CPU | peers CPU | others CPU |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (RunRecord r in runs)
        {
            LoadResult x = r.Result;
            if (x.Error is not null)
            {
                sb.AppendLine(Inv($"| {r.Run} | {r.Size} | {Name(r.Tool)} | FAILED: {x.Error.ReplaceLineEndings(" ")} | | | | | | | | | |"));
                continue;
            }

            sb.AppendLine(Inv($"| {r.Run} | {r.Size} | {Name(r.Tool)} | {x.FramesPerSecond:N0} | {x.Gbps:F3} | {x.OfferedPerSecond:N0} | {x.SentTotal:N0} | {x.ReceivedTotal:N0} | {x.Lost:N0} ({x.LossFraction:P2}) | {x.Unexpected} | {Cpu(x.SwitchCpu)} | {Cpu(x.PeerCpu)} | {Cpu(x.OthersCpu)} |"));
        }

        if (runs.Any(r => r.Counters is not null))
        {
            sb.AppendLine();
            sb.AppendLine("## Switchyard's counters after each run (control API `show`, before the peers disconnect)");
            sb.AppendLine();
            foreach (RunRecord r in runs)
            {
                if (r.Counters is not null)
                {
                    sb.AppendLine(Inv($"- run {r.Run}, {r.Size} B: {r.Counters}"));
                }
            }
        }

        sb.AppendLine();
        sb.AppendLine("## How to read this");
        sb.AppendLine();
        sb.AppendLine("Only the ratios are meant to travel: absolute numbers move with the machine and with the run. The ceilings are the same peers with no switch between them, so they bound what any switch can show in this harness; a switch close to its ceiling is limited by the peers, not by itself. A switch CPU near 1.00 means the switch was the bottleneck. A switch offered more than it can forward either slows its sender down or drops. On a stream the switch's own reads pace A, so a switch that stops reading while an egress is full loses nothing: loss there means the switch read frames and then dropped them (its counters say where). On the datagram sockets the kernel makes A wait (EAGAIN) when the switch's queue is full; vde_switch's small loss is its own drops when B's queue is full. Others CPU well above 0 means the run shared the CPUs with other work: prefer the paired ratios, and look at the runs with others CPU near 0 in the per-run table.");
        return sb.ToString();
    }

    private static string Inv(FormattableString s) => FormattableString.Invariant(s);

    private static string Pin(int? cpu) => cpu is int c ? c.ToString(CultureInfo.InvariantCulture) : "any (not pinned)";

    private static string Mfps(double fps) => (fps / 1e6).ToString("F3", CultureInfo.InvariantCulture).PadLeft(7);

    private static string Cpu(double cpus) => double.IsNaN(cpus) ? "-" : cpus.ToString("F2", CultureInfo.InvariantCulture);

    /// <summary>The median of <paramref name="values"/> (sorted in place); NaN when empty.</summary>
    internal static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        values.Sort();
        int mid = values.Count / 2;
        return values.Count % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }

    /// <summary>"median (min–max)"; sorts <paramref name="values"/> in place; "-" when empty.</summary>
    internal static string Spread(List<double> values, Func<double, string> format)
    {
        if (values.Count == 0)
        {
            return "-";
        }

        double median = Median(values);
        return $"{format(median)} ({format(values[0])}–{format(values[^1])})";
    }

    private static string Fps(double v) => v >= 1e6
        ? (v / 1e6).ToString("F2", CultureInfo.InvariantCulture) + " M"
        : (v / 1e3).ToString("F0", CultureInfo.InvariantCulture) + " k";

    private List<LoadResult> Ok(Tool tool, int size) =>
        runs.Where(r => r.Tool == tool && r.Size == size && r.Result.Error is null).Select(r => r.Result).ToList();

    private double MedianFps(Tool tool, int size) => Median(Ok(tool, size).Select(x => x.FramesPerSecond).ToList());

    private void AppendSummaryTable(StringBuilder sb)
    {
        sb.AppendLine("| frame | tool | frames/s | Gbit/s | A sent frames/s | loss | switch CPU | peers CPU | others CPU | runs ok |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (int size in options.Sizes)
        {
            foreach (Tool tool in options.Tools)
            {
                List<LoadResult> ok = Ok(tool, size);
                int total = runs.Count(r => r.Tool == tool && r.Size == size);
                string fps = Spread(ok.Select(x => x.FramesPerSecond).ToList(), Fps);
                string gbps = Spread(ok.Select(x => x.Gbps).ToList(), v => v.ToString("F3", CultureInfo.InvariantCulture));
                string offered = Fps(Median(ok.Select(x => x.OfferedPerSecond).ToList()));
                string loss = Spread(ok.Select(x => x.LossFraction).ToList(), v => v.ToString("P2", CultureInfo.InvariantCulture));
                string switchCpu = tool is Tool.Ceiling or Tool.CeilingDgram ? "-" : Cpu(Median(ok.Select(x => x.SwitchCpu).ToList()));
                string peerCpu = Cpu(Median(ok.Select(x => x.PeerCpu).ToList()));
                string othersCpu = Cpu(Median(ok.Select(x => x.OthersCpu).ToList()));
                sb.AppendLine(Inv($"| {size} B | {Name(tool)} | {fps} | {gbps} | {offered} | {loss} | {switchCpu} | {peerCpu} | {othersCpu} | {ok.Count}/{total} |"));
            }
        }
    }

    private void AppendRatios(StringBuilder sb)
    {
        // Each switch against the anchor and against the ceiling of its own wire (a ceiling of the other
        // wire says nothing about a switch).
        var pairs = new List<(Tool Numerator, Tool Other)>();
        foreach ((Tool x, Tool y) in new[] { (Tool.Switchyard, Tool.Vde), (Tool.Switchyard, Tool.Ceiling), (Tool.Vde, Tool.CeilingDgram) })
        {
            if (options.Tools.Contains(x) && options.Tools.Contains(y))
            {
                pairs.Add((x, y));
            }
        }

        if (pairs.Count == 0)
        {
            sb.AppendLine("(no ratios: they need switchyard with vde or ceiling, or vde with ceiling-dgram)");
            return;
        }

        sb.AppendLine("frames/s (at a fixed frame size, Gbit/s ratios are the same). *Ratio of medians* divides the medians above; *paired* is the median (min–max) of the per-run ratios, run i of one tool against run i of the other, which ran next to each other.");
        sb.AppendLine();
        sb.AppendLine("| frame | ratio | ratio of medians | paired |");
        sb.AppendLine("|---|---|---|---|");
        foreach (int size in options.Sizes)
        {
            foreach ((Tool numerator, Tool other) in pairs)
            {
                string label = $"{Name(numerator)} / {Name(other)}";
                double ratio = MedianFps(numerator, size) / MedianFps(other, size);
                var paired = new List<double>();
                for (int run = 1; run <= options.Runs; run++)
                {
                    RunRecord? x = runs.FirstOrDefault(r => r.Tool == numerator && r.Size == size && r.Run == run && r.Result.Error is null);
                    RunRecord? y = runs.FirstOrDefault(r => r.Tool == other && r.Size == size && r.Run == run && r.Result.Error is null);
                    if (x is not null && y is not null && y.Result.FramesPerSecond > 0)
                    {
                        paired.Add(x.Result.FramesPerSecond / y.Result.FramesPerSecond);
                    }
                }

                sb.AppendLine(Inv($"| {size} B | **{label}** | **{Ratio(ratio)}** | {Spread(paired, Ratio)} |"));
            }
        }
    }

    private static string Ratio(double r) => double.IsNaN(r) || double.IsInfinity(r) ? "-" : r.ToString("F2", CultureInfo.InvariantCulture) + "×";

    /// <summary>Things a reader should not miss, found mechanically: failed runs, loss, floods, a switch
    /// that was not the bottleneck.</summary>
    private void AppendObservations(StringBuilder sb)
    {
        var notes = new List<string>();
        foreach (RunRecord r in runs)
        {
            LoadResult x = r.Result;
            if (x.Error is not null)
            {
                notes.Add(Inv($"{Name(r.Tool)} run {r.Run} at {r.Size} B failed: {x.Error.ReplaceLineEndings(" ")}"));
            }
            else if (x.Unexpected != 0)
            {
                notes.Add(Inv($"{Name(r.Tool)} run {r.Run} at {r.Size} B: {x.Unexpected} unexpected frames (wrong size at B, or floods reaching A)."));
            }
        }

        foreach (int size in options.Sizes)
        {
            foreach (Tool tool in options.Tools)
            {
                List<LoadResult> ok = Ok(tool, size);
                if (ok.Count == 0)
                {
                    continue;
                }

                double loss = Median(ok.Select(x => x.LossFraction).ToList());
                if (loss > 0.001)
                {
                    notes.Add(Inv($"{Name(tool)} at {size} B lost a median {loss:P2} of the frames A sent."));
                }

                if (tool is Tool.Switchyard or Tool.Vde)
                {
                    double cpu = Median(ok.Select(x => x.SwitchCpu).ToList());
                    double busy = Median(ok.Select(x => x.OthersCpu).ToList());
                    if (cpu < 0.85)
                    {
                        notes.Add(busy > 0.3
                            ? Inv($"{Name(tool)} at {size} B used a median {cpu:F2} CPUs while other processes used {busy:F2}: it was not CPU-bound, and part of the time it may have been waiting for a CPU rather than for work.")
                            : Inv($"{Name(tool)} at {size} B used a median {cpu:F2} CPUs: it was not CPU-bound; the peers or wake-ups limited it."));
                    }
                }
            }
        }

        double others = Median(runs.Where(r => r.Result.Error is null).Select(r => r.Result.OthersCpu).ToList());
        if (others > 0.1)
        {
            notes.Add(Inv($"The machine was not idle: other processes used a median {others:F2} CPUs during the measured windows (load average {LoadBefore} before, {LoadAfter} after). Absolute numbers are depressed and noisy; the alternating runs keep the ratios comparable."));
        }

        sb.AppendLine("## Observations (found mechanically)");
        sb.AppendLine();
        if (notes.Count == 0)
        {
            sb.AppendLine("- None: every run completed, no loss above 0.1 %, every switch CPU-bound.");
        }

        foreach (string note in notes)
        {
            sb.AppendLine($"- {note}");
        }

        sb.AppendLine();
    }
}
