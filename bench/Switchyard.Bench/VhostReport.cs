// The vhost benchmark's report: medians (min–max) per tool and frame size, the Switchyard / DPDK ratio,
// the exact commands, every run in the order it ran, and both switches' own counters, as Markdown.
using System.Globalization;
using System.Text;

namespace Switchyard.Bench;

internal sealed class VhostReport(
    VhostOptions options,
    string command,
    MachineFacts facts,
    IReadOnlyList<VhostRunRecord> runs,
    IReadOnlyDictionary<VhostTool, string> layouts,
    IReadOnlyDictionary<(VhostTool Tool, string Role), string> commands)
{
    public string? Invocation { get; init; }

    public string LoadBefore { get; init; } = "?";

    public string LoadAfter { get; init; } = "?";

    public string Dpdk { get; init; } = "?";

    public string HugepagesBefore { get; init; } = "?";

    public string HugepagesAfter { get; init; } = "?";

    public static string Name(VhostTool tool) => tool switch
    {
        VhostTool.Switchyard => "switchyard",
        VhostTool.Dpdk => "dpdk vhost",
        _ => tool.ToString(),
    };

    public static string MemoryName(DpdkMemory memory) => memory switch
    {
        DpdkMemory.Hugepages => "hugepages (--in-memory --single-file-segments: 2 MiB pages in a hugetlb memfd)",
        _ => "no-huge (--no-huge: 4 KiB pages in a memfd)",
    };

    public static string RunLine(VhostRunRecord r, int runs)
    {
        VhostResult x = r.Result;
        string head = Inv($"run {r.Run}/{runs} {r.Size,5} B {Name(r.Tool),-11}");
        string line = x.Error is not null && x.WindowSeconds == 0
            ? $"{head} FAILED: {x.Error}"
            : Inv($"{head} {x.Mpps,7:F3} Mpps {x.Gbps,7:F3} Gbit/s  offered {x.OfferedMpps:F3} Mpps  A->B {x.RxB / x.WindowSeconds / 1e6:F3} B->A {x.RxA / x.WindowSeconds / 1e6:F3}  gen tx-dropped {x.GenTxDropped}  switch CPU {Cpu(x.SwitchCpu)} gen CPU {Cpu(x.GenCpu)} others CPU {Cpu(x.OthersCpu)}")
              + (x.Error is null ? string.Empty : $"  FAILED: {x.Error}");
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
        ReportPreamble.Append(sb, "vhost-user benchmark (DPDK virtio-user guests)", command, Invocation);

        sb.AppendLine(Inv($"{options.Runs} runs of each tool and frame size, alternating (run 1 of every size and tool, then run 2, ...); each run: a fresh switch and a fresh generator, `start tx_first {options.Bursts}`, {options.WarmupSeconds} s of load unmeasured, then {options.Seconds} s measured between two `show port stats all`."));
        sb.AppendLine();
        sb.AppendLine("## Machine");
        sb.AppendLine();
        sb.AppendLine("| | |");
        sb.AppendLine("|---|---|");
        sb.AppendLine(Inv($"| CPUs (nproc) | {facts.Cpus} |"));
        sb.AppendLine($"| CPU model | {facts.CpuModel} |");
        sb.AppendLine($"| kernel | {facts.Kernel} |");
        sb.AppendLine($"| OS | {facts.Os} |");
        sb.AppendLine($"| .NET (driver) | {facts.Dotnet} |");
        if (facts.Switchyard is not null)
        {
            sb.AppendLine($"| switchyard | {facts.Switchyard} |");
        }

        sb.AppendLine($"| DPDK | {Dpdk} |");
        sb.AppendLine($"| DPDK memory | {MemoryName(options.Memory)}, `-m {options.MemMb.ToString(CultureInfo.InvariantCulture)}` per testpmd |");
        string? reserved = Environment.GetEnvironmentVariable("SYBENCH_HUGEPAGES_NOTE");
        sb.AppendLine($"| hugepages | before: {HugepagesBefore}; after: {HugepagesAfter}{(string.IsNullOrEmpty(reserved) ? string.Empty : $" ({reserved})")} |");
        sb.AppendLine($"| load average | {LoadBefore} before, {LoadAfter} after |");
        sb.AppendLine();
        sb.AppendLine("## Layout (2 CPUs: two busy processes, never three)");
        sb.AppendLine();
        sb.AppendLine(Inv($"- **Generator (the guests)**: ONE `dpdk-testpmd`, all its threads on CPU {options.GenCpu} (`taskset -c {options.GenCpu}` and `--lcores '0@{options.GenCpu},1@{options.GenCpu}'`: the main lcore sleeps at the interactive prompt, lcore 1 forwards), `--no-pci`, its own `--file-prefix`, with TWO virtio-user ports: A = `net_virtio_user0` (MAC 02:53:59:00:00:0a) and B = `net_virtio_user1` (02:53:59:00:00:0b), `queue_size={options.QueueSize}`. `--forward-mode=io`: what port A receives goes out of B unchanged and what B receives goes out of A. `start tx_first {options.Bursts}` seeds the loop with {options.Bursts} bursts of {options.Burst} frames per port, built like txonly frames: src = the port's MAC, dst = the other port's MAC (`--eth-peer`), so the first frames teach a learning switch both MACs and every frame afterwards is known unicast with a consistent source. Frames then circulate A → switch → B → testpmd → A → switch → B → ... (and the mirror loop); a frame dropped anywhere leaves the loop for good, so the population settles at what the path holds without drops."));
        sb.AppendLine(Inv($"- **Switch**: its own process(es), pinned to CPU {options.SwitchCpu}."));
        foreach (VhostTool tool in options.Tools)
        {
            if (layouts.TryGetValue(tool, out string? layout))
            {
                sb.AppendLine($"- **{Name(tool)}**: {layout}");
            }
        }

        sb.AppendLine(Inv($"- **Frame sizes**: a 64-byte or 1518-byte Ethernet frame is counted with its 4-byte FCS, as on a wire (RFC 2544); virtio carries no FCS, so the guest puts 60 or 1514 bytes on the ring (`--txpkts=60`, `--txpkts=1514`: the txonly builder that `tx_first` uses takes its length from `--txpkts`). 1514 bytes is the largest frame a 1500-byte MTU allows; `--txpkts=1518` would be a 1504-byte payload."));
        sb.AppendLine("- **Counting**: *Mpps* is the frames the generator's two ports received in the window (both directions together: what the switch delivered), from the difference of two `show port stats all` (taken at the midpoints of the commands' round trips) over the time between them. *Gbit/s* is the bytes those frames carried on the ring (60 or 1514 per frame: testpmd's RX-bytes; no FCS, no virtio-net header). *Offered* is what the generator's ports sent in the window. *gen tx-dropped* is what the generator could not put on a full TX ring over the whole run (from `stop`). *CPU* is CPU time over the window in CPUs (1.00 = one CPU busy), from /proc/PID/stat: *switch* is Switchyard or the vhost testpmd, *gen* the generator, *others* everything else on the machine (from /proc/stat).");
        sb.AppendLine(options.QuietSeconds > 0
            ? Inv($"- **Quiet gate**: before each try the benchmark waited up to {options.QuietSeconds} s for half a second in which the rest of the machine used less than {options.MaxOthers} CPUs (*waited* in the per-run table; the full {options.QuietSeconds} s means it never got that quiet and the try started anyway).")
            : "- **Quiet gate**: off (`--quiet 0`).");
        sb.AppendLine(Inv($"- **Disturbed tries**: a try during whose window other processes used more than {options.MaxOthers} CPUs was tried again, up to {options.Attempts} tries per run; if no try was clean, the least disturbed one was kept. Only kept tries count in the tables above the per-run table, which lists every try."));
        sb.AppendLine();
        sb.AppendLine(Inv($"## Results: median (min–max) of {options.Runs} runs"));
        sb.AppendLine();
        AppendSummaryTable(sb);
        sb.AppendLine();
        sb.AppendLine("## Ratio Switchyard / DPDK");
        sb.AppendLine();
        AppendRatios(sb);
        sb.AppendLine();
        AppendObservations(sb);
        AppendCommands(sb);
        AppendFeatures(sb);
        sb.AppendLine("## Every run, in the order it ran");
        sb.AppendLine();
        sb.AppendLine("| run | try | kept | frame | tool | Mpps | Gbit/s | offered Mpps | A→B Mpps | B→A Mpps | gen tx-dropped | switch CPU | gen CPU | others CPU | waited |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (VhostRunRecord r in runs)
        {
            VhostResult x = r.Result;
            if (x.Error is not null)
            {
                sb.AppendLine(Inv($"| {r.Run} | {r.Attempt} | {(r.Kept ? "yes" : "no")} | {r.Size} | {Name(r.Tool)} | FAILED: {FirstLine(x.Error)} | | | | | | | | | {x.QuietWait:F1} s |"));
                continue;
            }

            sb.AppendLine(Inv($"| {r.Run} | {r.Attempt} | {(r.Kept ? "yes" : "no")} | {r.Size} | {Name(r.Tool)} | {x.Mpps:F3} | {x.Gbps:F3} | {x.OfferedMpps:F3} | {x.RxB / x.WindowSeconds / 1e6:F3} | {x.RxA / x.WindowSeconds / 1e6:F3} | {x.GenTxDropped:N0} | {Cpu(x.SwitchCpu)} | {Cpu(x.GenCpu)} | {Cpu(x.OthersCpu)} | {x.QuietWait:F1} s |"));
        }

        sb.AppendLine();
        sb.AppendLine("## The switches' own counters after each run (after the generator's `stop`, before it disconnects)");
        sb.AppendLine();
        sb.AppendLine("Switchyard: control API `show` (per port frames and non-zero drops, then the network's non-zero counters). DPDK: the vhost testpmd's `show port stats all` and its `stop` (tx-dropped = frames the vhost PMD could not put into the guest's full RX ring).");
        sb.AppendLine();
        foreach (VhostRunRecord r in runs)
        {
            if (r.Counters is not null)
            {
                sb.AppendLine(Inv($"- run {r.Run}{(r.Attempt > 1 ? $" (try {r.Attempt})" : string.Empty)}{(r.Kept ? string.Empty : ", not kept")}, {r.Size} B, {Name(r.Tool)}: {r.Counters}"));
            }
        }

        if (runs.Any(r => r.Result.Error is not null))
        {
            sb.AppendLine();
            sb.AppendLine("## Failed runs, with both sides' output");
            sb.AppendLine();
            foreach (VhostRunRecord r in runs.Where(r => r.Result.Error is not null))
            {
                sb.AppendLine(Inv($"### run {r.Run}, {r.Size} B, {Name(r.Tool)}"));
                sb.AppendLine();
                sb.AppendLine("```");
                sb.AppendLine(r.Result.Error);
                sb.AppendLine("```");
                sb.AppendLine();
            }
        }

        sb.AppendLine();
        sb.AppendLine("## How to read this");
        sb.AppendLine();
        sb.AppendLine("Only the ratio is meant to travel: absolute numbers move with the machine and with whatever else runs on it (identical DPDK runs swing up to 2.5× on this kind of machine), so both tools ran alternately with the same generator, the same CPU placement and the same memory. The DPDK row is a ceiling: the same two virtio-user guests with DPDK's vhost library as the back-end and no switching at all (io forwarding: no MAC lookup, no learning), with both processes busy-polling. A switch CPU near 1.00 means the switch was the bottleneck; well below it, it was waiting (for kicks, for the generator, or for a CPU that others were using). Others CPU well above 0 means other work shared the CPUs during the window: prefer the paired ratios, and the pairs where others CPU was near 0.");
        return sb.ToString();
    }

    private static string Inv(FormattableString s) => FormattableString.Invariant(s);

    private static string FirstLine(string s) => s.Split('\n')[0];

    private static string Cpu(double cpus) => double.IsNaN(cpus) ? "-" : cpus.ToString("F2", CultureInfo.InvariantCulture);

    private static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        values.Sort();
        int mid = values.Count / 2;
        return values.Count % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }

    private static string Spread(List<double> values, Func<double, string> format)
    {
        if (values.Count == 0)
        {
            return "-";
        }

        double median = Median(values);
        return $"{format(median)} ({format(values[0])}–{format(values[^1])})";
    }

    private static string F3(double v) => v.ToString("F3", CultureInfo.InvariantCulture);

    private static string F2(double v) => v.ToString("F2", CultureInfo.InvariantCulture);

    private static string Ratio(double r) => double.IsNaN(r) || double.IsInfinity(r) ? "-" : r.ToString("F3", CultureInfo.InvariantCulture) + "×";

    private List<VhostResult> Ok(VhostTool tool, int size) =>
        runs.Where(r => r.Kept && r.Tool == tool && r.Size == size && r.Result.Error is null).Select(r => r.Result).ToList();

    private void AppendSummaryTable(StringBuilder sb)
    {
        sb.AppendLine("| frame (wire / on the ring) | tool | Mpps | Gbit/s | offered Mpps | A→B / B→A Mpps | gen tx-dropped | switch CPU | gen CPU | others CPU | runs ok |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (int size in options.Sizes)
        {
            foreach (VhostTool tool in options.Tools)
            {
                List<VhostResult> ok = Ok(tool, size);
                int total = runs.Count(r => r.Kept && r.Tool == tool && r.Size == size);
                string mpps = Spread(ok.ConvertAll(x => x.Mpps), F2);
                string gbps = Spread(ok.ConvertAll(x => x.Gbps), F2);
                string offered = F2(Median(ok.ConvertAll(x => x.OfferedMpps)));
                string dirs = $"{F2(Median(ok.ConvertAll(x => x.RxB / x.WindowSeconds / 1e6)))} / {F2(Median(ok.ConvertAll(x => x.RxA / x.WindowSeconds / 1e6)))}";
                string dropped = Median(ok.ConvertAll(x => (double)x.GenTxDropped)).ToString("N0", CultureInfo.InvariantCulture);
                sb.AppendLine(Inv($"| {size} B / {size - 4} B | {Name(tool)} | {mpps} | {gbps} | {offered} | {dirs} | {dropped} | {Cpu(Median(ok.ConvertAll(x => x.SwitchCpu)))} | {Cpu(Median(ok.ConvertAll(x => x.GenCpu)))} | {Cpu(Median(ok.ConvertAll(x => x.OthersCpu)))} | {ok.Count}/{total} |"));
            }
        }
    }

    private void AppendRatios(StringBuilder sb)
    {
        if (!options.Tools.Contains(VhostTool.Switchyard) || !options.Tools.Contains(VhostTool.Dpdk))
        {
            sb.AppendLine("(no ratio: it needs both tools)");
            return;
        }

        sb.AppendLine("Mpps (at a fixed frame size the Gbit/s ratio is the same). *Ratio of medians* divides the medians above; *paired* is the median (min–max) of run i of Switchyard over run i of DPDK (they ran back to back).");
        sb.AppendLine();
        sb.AppendLine("| frame | Switchyard Mpps | DPDK Mpps | **Switchyard / DPDK** (ratio of medians) | paired |");
        sb.AppendLine("|---|---|---|---|---|");
        foreach (int size in options.Sizes)
        {
            double sy = Median(Ok(VhostTool.Switchyard, size).ConvertAll(x => x.Mpps));
            double dp = Median(Ok(VhostTool.Dpdk, size).ConvertAll(x => x.Mpps));
            var paired = new List<double>();
            for (int run = 1; run <= options.Runs; run++)
            {
                VhostRunRecord? x = runs.FirstOrDefault(r => r.Kept && r.Tool == VhostTool.Switchyard && r.Size == size && r.Run == run && r.Result.Error is null);
                VhostRunRecord? y = runs.FirstOrDefault(r => r.Kept && r.Tool == VhostTool.Dpdk && r.Size == size && r.Run == run && r.Result.Error is null);
                if (x is not null && y is not null && y.Result.Mpps > 0)
                {
                    paired.Add(x.Result.Mpps / y.Result.Mpps);
                }
            }

            sb.AppendLine(Inv($"| {size} B | {F3(sy)} | {F3(dp)} | **{Ratio(sy / dp)}** | {Spread(paired, Ratio)} |"));
        }
    }

    private void AppendObservations(StringBuilder sb)
    {
        var notes = new List<string>();
        foreach (VhostRunRecord r in runs)
        {
            if (r.Result.Error is not null)
            {
                notes.Add(Inv($"{Name(r.Tool)} run {r.Run} at {r.Size} B failed: {FirstLine(r.Result.Error)} (output below)."));
            }
        }

        foreach (int size in options.Sizes)
        {
            foreach (VhostTool tool in options.Tools)
            {
                List<VhostResult> ok = Ok(tool, size);
                if (ok.Count == 0)
                {
                    continue;
                }

                double cpu = Median(ok.ConvertAll(x => x.SwitchCpu));
                double busy = Median(ok.ConvertAll(x => x.OthersCpu));
                if (cpu < 0.85)
                {
                    notes.Add(busy > 0.3
                        ? Inv($"{Name(tool)} at {size} B used a median {cpu:F2} CPUs while other processes used {busy:F2}: it was not CPU-bound, and part of the time it may have been waiting for its CPU rather than for work.")
                        : Inv($"{Name(tool)} at {size} B used a median {cpu:F2} CPUs: it was not CPU-bound; the generator or wake-ups limited it."));
                }

                double asym = Median(ok.ConvertAll(x => x.RxA > 0 && x.RxB > 0 ? Math.Max(x.RxA, x.RxB) / (double)Math.Min(x.RxA, x.RxB) : double.PositiveInfinity));
                if (asym > 1.2)
                {
                    notes.Add(Inv($"{Name(tool)} at {size} B: the two directions differed by a median factor of {asym:F2} (A→B vs B→A)."));
                }
            }
        }

        int discarded = runs.Count(r => !r.Kept);
        if (discarded > 0)
        {
            notes.Add(Inv($"{discarded} tries were disturbed by other work (others CPU above {options.MaxOthers}) and tried again; they are in the per-run table, marked not kept."));
        }

        int busyKept = runs.Count(r => r.Kept && r.Result.Error is null && r.Result.OthersCpu > options.MaxOthers);
        if (busyKept > 0)
        {
            notes.Add(Inv($"{busyKept} of the kept runs still had others CPU above {options.MaxOthers} (no clean try in {options.Attempts}): treat their numbers, and any ratio built on them, as measurements of the scheduler more than of the software."));
        }

        double others = Median(runs.Where(r => r.Kept && r.Result.Error is null).Select(r => r.Result.OthersCpu).ToList());
        if (others > 0.1)
        {
            notes.Add(Inv($"The machine was not idle: other processes used a median {others:F2} CPUs during the measured windows (load average {LoadBefore} before, {LoadAfter} after). Absolute numbers are depressed and noisy; the alternating runs keep the ratio comparable."));
        }

        sb.AppendLine("## Observations (found mechanically)");
        sb.AppendLine();
        if (notes.Count == 0)
        {
            sb.AppendLine("- None: every run completed, both directions moved alike, every switch CPU-bound, the machine otherwise idle.");
        }

        foreach (string note in notes)
        {
            sb.AppendLine($"- {note}");
        }

        sb.AppendLine();
    }

    private void AppendCommands(StringBuilder sb)
    {
        sb.AppendLine("## Commands (exactly as run in the first run of each tool; DIR was a fresh `/tmp/sybench-vh-*` directory every run, the generator's `--txpkts` follows the frame size)");
        sb.AppendLine();
        foreach (VhostTool tool in options.Tools)
        {
            sb.AppendLine($"{Name(tool)}:");
            sb.AppendLine();
            sb.AppendLine("```sh");
            if (commands.TryGetValue((tool, "switch"), out string? sw))
            {
                sb.AppendLine($"{sw} &");
            }

            if (commands.TryGetValue((tool, "generator"), out string? gen))
            {
                sb.AppendLine(gen);
                sb.AppendLine(Inv($"# then on its prompt: start tx_first {options.Bursts}; (warm-up) show port stats all; ({options.Seconds} s) show port stats all; stop; quit"));
            }

            sb.AppendLine("```");
            sb.AppendLine();
        }
    }

    private void AppendFeatures(StringBuilder sb)
    {
        sb.AppendLine("## Negotiated virtio features (generator port A, from the virtio PMD's debug log)");
        sb.AppendLine();
        foreach (VhostTool tool in options.Tools)
        {
            string? f = runs.FirstOrDefault(r => r.Tool == tool && r.Result.Features is not null)?.Result.Features;
            sb.AppendLine($"- {Name(tool)}: {f ?? "(not logged)"}");
        }

        sb.AppendLine();
    }
}
