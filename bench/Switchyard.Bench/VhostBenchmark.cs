// `switchyard-bench vhost`: DPDK's virtio-user as the guest driver, frames guest -> switch -> guest,
// Switchyard against the DPDK ceiling (testpmd's vhost PMD), alternating (run 1 of every size and tool,
// then run 2, ...), a fresh switch and a fresh generator for every run; see VhostOptions.Help.
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Switchyard.Bench;

/// <summary>What one run measured over its window (both generator ports together), or why it failed.</summary>
internal sealed record VhostResult
{
    public string? Error { get; init; }

    public double WindowSeconds { get; init; }

    /// <summary>Frames the generator's ports received in the window: what the switch delivered.</summary>
    public long RxFrames { get; init; }

    public long RxBytes { get; init; }

    /// <summary>Frames the generator's ports sent in the window: what it offered the switch.</summary>
    public long TxFrames { get; init; }

    /// <summary>Frames port A (virtio-user 0) received in the window, i.e. the B -> A direction.</summary>
    public long RxA { get; init; }

    /// <summary>Frames port B (virtio-user 1) received in the window, i.e. the A -> B direction.</summary>
    public long RxB { get; init; }

    /// <summary>Frames the generator could not put on a TX ring (full), over the whole run (`stop`).</summary>
    public long GenTxDropped { get; init; }

    public long GenRxMissed { get; init; }

    public double SwitchCpu { get; init; } = double.NaN;

    public double GenCpu { get; init; } = double.NaN;

    public double OthersCpu { get; init; } = double.NaN;

    /// <summary>Seconds the run waited for the machine to quiet down before it started (--quiet).</summary>
    public double QuietWait { get; init; }

    /// <summary>The virtio features the generator's port 0 ended up with, by name.</summary>
    public string? Features { get; init; }

    public double Mpps => WindowSeconds > 0 ? RxFrames / WindowSeconds / 1e6 : 0;

    public double Gbps => WindowSeconds > 0 ? RxBytes * 8 / WindowSeconds / 1e9 : 0;

    public double OfferedMpps => WindowSeconds > 0 ? TxFrames / WindowSeconds / 1e6 : 0;

    public double BytesPerFrame => RxFrames > 0 ? (double)RxBytes / RxFrames : 0;

    public static VhostResult Failed(string error) => new() { Error = error };
}

/// <summary>One run of one tool at one frame size. <paramref name="Attempt"/> counts the tries of this run
/// slot; <paramref name="Kept"/> is false for a try that other work on the machine spoiled (its others
/// CPU above --max-others) and that was tried again: it is reported but not counted.</summary>
internal sealed record VhostRunRecord(VhostTool Tool, int Size, int Run, VhostResult Result, string? Counters, int Attempt = 1, bool Kept = true);

internal sealed partial class VhostBenchmark(VhostOptions options, ChildProcesses children)
{
    // Locally administered unicast addresses for the generator's two ports ("SY" in the second byte).
    private const string MacA = "02:53:59:00:00:0a";
    private const string MacB = "02:53:59:00:00:0b";

    private readonly Dictionary<(VhostTool Tool, string Role), string> commands = [];

    public int Run()
    {
        string? repo = StreamBenchmark.RepoRoot();
        string testpmd = StreamBenchmark.FindOnPath(options.Testpmd)
            ?? throw new BenchException($"{options.Testpmd} not found (Debian: apt-get install dpdk)");
        if (StreamBenchmark.FindOnPath("stdbuf") is null)
        {
            throw new BenchException("stdbuf not found (coreutils)");
        }

        string? switchyardBin = options.Tools.Contains(VhostTool.Switchyard) ? ResolveSwitchyard(repo) : null;
        CheckMemory();

        MachineFacts facts = MachineFacts.Collect(repo, switchyardBin, null);
        string dpdk = MachineFacts.Run("dpkg-query", "-W", "-f=${Package} ${Version}", "dpdk") is { Length: > 0 } pkg ? $"{testpmd} ({pkg})" : testpmd;
        string hugeBefore = HugepageState();
        string invocation = StreamBenchmark.Invocation();
        string command = options.Command ?? invocation;
        Console.Out.WriteLine($"# {command}");
        Console.Out.WriteLine($"# {facts.OneLine}, {dpdk}");
        Console.Out.WriteLine(Invariant($"# {options.Runs} runs x {options.WarmupSeconds} s warm-up + {options.Seconds} s x sizes {string.Join(",", options.Sizes)} x tools {string.Join(",", options.Tools.Select(VhostReport.Name))}, alternating; generator on CPU {options.GenCpu}, switch on CPU {options.SwitchCpu}; memory {VhostReport.MemoryName(options.Memory)}"));

        string loadBefore = StreamBenchmark.LoadAverage();
        var results = new List<VhostRunRecord>();
        var layouts = new Dictionary<VhostTool, string>();
        for (int run = 1; run <= options.Runs; run++)
        {
            foreach (int size in options.Sizes)
            {
                foreach (VhostTool tool in options.Tools)
                {
                    // A try during which other work took the CPUs measures the scheduler: try again (after
                    // the quiet gate) up to --attempts times; if none was clean, keep the least disturbed.
                    var tries = new List<VhostRunRecord>();
                    for (int attempt = 1; attempt <= options.Attempts; attempt++)
                    {
                        VhostRunRecord record = RunOne(tool, size, run, attempt, testpmd, switchyardBin, layouts) with { Attempt = attempt };
                        tries.Add(record);
                        bool clean = record.Result.Error is not null || !(record.Result.OthersCpu > options.MaxOthers);
                        Console.Out.WriteLine(VhostReport.RunLine(record, options.Runs) + (clean || attempt == options.Attempts ? string.Empty : "  (others CPU too high: trying again)"));
                        if (clean)
                        {
                            break;
                        }
                    }

                    VhostRunRecord keep = tries.Where(t => t.Result.Error is null).OrderBy(t => t.Result.OthersCpu).FirstOrDefault() ?? tries[^1];
                    results.AddRange(tries.Select(t => ReferenceEquals(t, keep) ? t : t with { Kept = false }));
                }
            }
        }

        var report = new VhostReport(options, command, facts, results, layouts, commands)
        {
            Invocation = invocation,
            LoadBefore = loadBefore,
            LoadAfter = StreamBenchmark.LoadAverage(),
            Dpdk = dpdk,
            HugepagesBefore = hugeBefore,
            HugepagesAfter = HugepageState(),
        };
        Console.Out.WriteLine();
        Console.Out.Write(report.SummaryText());
        if (options.MarkdownPath is { } path)
        {
            string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir is not null)
            {
                Directory.CreateDirectory(dir);
            }

            File.WriteAllText(path, report.Markdown());
            Console.Out.WriteLine($"wrote {path}");
        }

        return results.TrueForAll(r => r.Result.Error is null) ? 0 : 1;
    }

    /// <summary>Names the virtio-net feature bits set in <paramref name="features"/> (virtio 1.2, 5.1.3).</summary>
    internal static string FeatureNames(ulong features)
    {
        var names = new List<string>();
        for (int bit = 0; bit < 64; bit++)
        {
            if ((features & (1UL << bit)) == 0)
            {
                continue;
            }

            names.Add(bit switch
            {
                0 => "CSUM",
                1 => "GUEST_CSUM",
                2 => "CTRL_GUEST_OFFLOADS",
                3 => "MTU",
                5 => "MAC",
                7 => "GUEST_TSO4",
                8 => "GUEST_TSO6",
                9 => "GUEST_ECN",
                10 => "GUEST_UFO",
                11 => "HOST_TSO4",
                12 => "HOST_TSO6",
                13 => "HOST_ECN",
                14 => "HOST_UFO",
                15 => "MRG_RXBUF",
                16 => "STATUS",
                17 => "CTRL_VQ",
                18 => "CTRL_RX",
                19 => "CTRL_VLAN",
                21 => "GUEST_ANNOUNCE",
                22 => "MQ",
                23 => "CTRL_MAC_ADDR",
                28 => "INDIRECT_DESC",
                29 => "EVENT_IDX",
                24 => "NOTIFY_ON_EMPTY",
                27 => "ANY_LAYOUT",
                30 => "PROTOCOL_FEATURES",
                32 => "VERSION_1",
                33 => "ACCESS_PLATFORM",
                34 => "RING_PACKED",
                35 => "IN_ORDER",
                36 => "ORDER_PLATFORM",
                37 => "SR_IOV",
                38 => "NOTIFICATION_DATA",
                41 => "RING_RESET",
                _ => $"bit{bit}",
            });
        }

        return string.Join(' ', names);
    }

    private static string Invariant(FormattableString s) => FormattableString.Invariant(s);

    /// <summary>HugePages_Total/Free and the page size from /proc/meminfo, on one line.</summary>
    private static string HugepageState()
    {
        try
        {
            var kv = new Dictionary<string, string>();
            foreach (string line in File.ReadLines("/proc/meminfo"))
            {
                int colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0)
                {
                    kv[line[..colon]] = line[(colon + 1)..].Trim();
                }
            }

            return $"HugePages_Total {kv.GetValueOrDefault("HugePages_Total", "?")}, HugePages_Free {kv.GetValueOrDefault("HugePages_Free", "?")}, Hugepagesize {kv.GetValueOrDefault("Hugepagesize", "?")}";
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static long FreeHugepageBytes()
    {
        long free = 0;
        long size = 0;
        foreach (string line in File.ReadLines("/proc/meminfo"))
        {
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 2 && f[0] == "HugePages_Free:")
            {
                free = long.Parse(f[1], CultureInfo.InvariantCulture);
            }
            else if (f.Length >= 2 && f[0] == "Hugepagesize:")
            {
                size = long.Parse(f[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return free * size;
    }

    /// <summary>Where testpmd keeps its runtime files for a file prefix (removed after every run).</summary>
    private static string DpdkRunDirectory(string prefix)
    {
        string root = Environment.IsPrivilegedProcess
            ? "/var/run/dpdk"
            : Path.Combine(Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } x ? x : "/tmp", "dpdk");
        return Path.Combine(root, prefix);
    }

    private static void DeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
            // A straggling socket; the name is unique to this benchmark process.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>With hugepages, both testpmds of a DPDK run need -m MiB each from the free pool.</summary>
    private void CheckMemory()
    {
        if (options.Memory != DpdkMemory.Hugepages)
        {
            return;
        }

        long need = (options.Tools.Contains(VhostTool.Dpdk) ? 2L : 1L) * options.MemMb * 1024 * 1024;
        long free = FreeHugepageBytes();
        if (free < need)
        {
            throw new BenchException(Invariant(
                $"--memory hugepages needs {need >> 20} MiB of free hugepages, the pool has {free >> 20} MiB free (reserve them: echo N > /proc/sys/vm/nr_hugepages, as bench/run-vhost.sh does; or use --memory no-huge)"));
        }
    }

    private VhostRunRecord RunOne(VhostTool tool, int size, int run, int attempt, string testpmd, string? switchyardBin, Dictionary<VhostTool, string> layouts)
    {
        string prefix = Invariant($"sybench-{Environment.ProcessId}");
        VhostSwitch sw = tool == VhostTool.Switchyard
            ? new SwitchyardVhost(switchyardBin ?? throw new BenchException("no switchyard binary"), options, children)
            : new DpdkVhost(options, testpmd, prefix + "-vh", children);
        layouts[tool] = sw.Layout;
        var gen = new TestpmdSession("generator testpmd");
        string dir = Directory.CreateTempSubdirectory("sybench-vh-").FullName; // short: sun_path has 108 bytes
        string[] dpdkDirs = [DpdkRunDirectory(prefix + "-gen"), DpdkRunDirectory(prefix + "-vh")];
        children.TrackDirectory(dir);
        foreach (string d in dpdkDirs)
        {
            children.TrackDirectory(d);
        }

        VhostResult result;
        string? counters = null;
        double waited = WaitForQuiet();
        try
        {
            (string a, string b) = sw.Start(dir);
            StartGenerator(gen, testpmd, prefix + "-gen", a, b, size);
            (result, counters) = Measure(gen, sw, size);
        }
        catch (BenchException e)
        {
            result = VhostResult.Failed(e.Message);
        }
        finally
        {
            if (gen.Child is { } child)
            {
                if (!child.HasExited && !gen.Quit(TimeSpan.FromSeconds(10)))
                {
                    gen.OnLine("switchyard-bench: the generator did not exit within 10 s of `quit`; stopping it by its PID");
                }

                child.Stop();
            }

            sw.Stop();
            commands.TryAdd((tool, "generator"), gen.CommandLine);
            if (sw.Log is { } swLog)
            {
                commands.TryAdd((tool, "switch"), swLog.CommandLine);
            }

            if (options.LogDirectory is { } logs)
            {
                Directory.CreateDirectory(logs);
                string stem = Path.Combine(logs, Invariant($"run{run}-try{attempt}-{size}B-{VhostReport.Name(tool).Replace(' ', '-')}"));
                gen.SaveLog(stem + "-generator.log");
                sw.Log?.SaveLog(stem + "-switch.log");
            }

            DeleteDirectory(dir);
            children.ForgetDirectory(dir);
            foreach (string d in dpdkDirs)
            {
                DeleteDirectory(d);
                children.ForgetDirectory(d);
            }
        }

        if (result.Error is not null)
        {
            // Keep enough of both sides' output to say what went wrong.
            result = result with
            {
                Error = $"{result.Error}\n--- generator output (tail) ---\n{gen.Tail(25)}\n--- {sw.Log?.Name ?? "switch"} output (tail) ---\n{sw.Log?.Tail(25)}",
            };
        }

        return new VhostRunRecord(tool, size, run, result with { QuietWait = waited }, counters);
    }

    /// <summary>The quiet gate (--quiet, --max-others) before a try; returns the seconds waited.</summary>
    private double WaitForQuiet() => CpuTime.WaitForQuiet(options.QuietSeconds, options.MaxOthers);

    /// <summary>Starts the generator: one testpmd, both lcores on the generator CPU, two virtio-user ports
    /// (A on socket <paramref name="a"/>, B on <paramref name="b"/>), io forwarding between them, frames of
    /// SIZE-4 bytes addressed to the other port, and waits until both ports answer `show port stats all`.</summary>
    private void StartGenerator(TestpmdSession gen, string testpmd, string prefix, string a, string b, int size)
    {
        var args = new List<string> { "-oL", testpmd };
        args.AddRange(Testpmd.Eal(options, options.GenCpu, prefix));

        // The negotiated virtio features are logged at debug level by the virtio PMD's init code (once,
        // at start-up): they go in the report.
        args.Add("--log-level=pmd.net.virtio.init:debug");
        string q = options.QueueSize.ToString(CultureInfo.InvariantCulture);
        args.AddRange(["--vdev", $"net_virtio_user0,path={a},mac={MacA},queue_size={q}", "--vdev", $"net_virtio_user1,path={b},mac={MacB},queue_size={q}"]);
        args.AddRange(["--", "-i", "--forward-mode=io", "--nb-cores=1"]);
        args.Add(Invariant($"--burst={options.Burst}"));
        args.Add(Invariant($"--txpkts={size - 4}"));

        // tx_first builds its frames like txonly: src = the sending port's MAC, dst = --eth-peer of that
        // port. Port 0 sends to B's MAC and port 1 to A's; io forwarding then resends every frame unchanged
        // out of the port it was sent from first, so the switch sees consistent source addresses and, after
        // the first burst, known unicast only.
        args.AddRange([$"--eth-peer=0,{MacB}", $"--eth-peer=1,{MacA}"]);
        args.Add(Invariant($"--total-num-mbufs={options.Mbufs}"));
        gen.CommandLine = VhostSwitch.Render(options.GenCpu, "stdbuf", args);
        gen.Child = children.Start("stdbuf", args, options.GenCpu, readyLine: null, gen.OnLine);

        // The prompt reads stdin only after EAL init, port probing (the vhost-user handshake) and port
        // start: an answer naming both ports means the generator is up.
        IReadOnlyList<PortStats>? up = gen.ShowPortStats(2, TimeSpan.FromSeconds(60), Stopwatch.StartNew(), out _);
        if (up is null || up.Count < 2)
        {
            throw new BenchException("the generator testpmd did not come up with two virtio-user ports within 60 s (negotiation or memory-table failure? see both outputs)");
        }
    }

    private (VhostResult Result, string? Counters) Measure(TestpmdSession gen, VhostSwitch sw, int size)
    {
        int genPid = gen.Child!.Pid;
        int? swPid = sw.Pid;
        var clock = Stopwatch.StartNew();
        if (!gen.Send(Invariant($"start tx_first {options.Bursts}")))
        {
            throw new BenchException("the generator closed its stdin");
        }

        Thread.Sleep(TimeSpan.FromSeconds(options.WarmupSeconds));
        IReadOnlyList<PortStats> s0 = gen.ShowPortStats(2, TimeSpan.FromSeconds(10), clock, out TimeSpan t0)
            ?? throw new BenchException("no answer to `show port stats all` after the warm-up");
        (double gen0, double sw0, double machine0) = (CpuTime.Seconds(genPid), swPid is int p0 ? CpuTime.Seconds(p0) : double.NaN, CpuTime.MachineBusySeconds());

        TimeSpan end = t0 + TimeSpan.FromSeconds(options.Seconds);
        TimeSpan left = end - clock.Elapsed;
        if (left > TimeSpan.Zero)
        {
            Thread.Sleep(left);
        }

        IReadOnlyList<PortStats> s1 = gen.ShowPortStats(2, TimeSpan.FromSeconds(10), clock, out TimeSpan t1)
            ?? throw new BenchException("no answer to `show port stats all` at the end of the window");
        (double gen1, double sw1, double machine1) = (CpuTime.Seconds(genPid), swPid is int p1 ? CpuTime.Seconds(p1) : double.NaN, CpuTime.MachineBusySeconds());

        IReadOnlyList<ForwardStats>? fwd = gen.StopForwarding(TimeSpan.FromSeconds(10));
        string? counters = sw.Counters();

        double window = (t1 - t0).TotalSeconds;
        PortStats Port(IReadOnlyList<PortStats> s, int port) => s.FirstOrDefault(x => x.Port == port) ?? throw new BenchException(Invariant($"port {port} missing from `show port stats all`"));
        long rxA = Port(s1, 0).RxPackets - Port(s0, 0).RxPackets;
        long rxB = Port(s1, 1).RxPackets - Port(s0, 1).RxPackets;
        double genCpu = (gen1 - gen0) / window;
        double swCpu = (sw1 - sw0) / window;
        var result = new VhostResult
        {
            WindowSeconds = window,
            RxA = rxA,
            RxB = rxB,
            RxFrames = rxA + rxB,
            RxBytes = Port(s1, 0).RxBytes - Port(s0, 0).RxBytes + Port(s1, 1).RxBytes - Port(s0, 1).RxBytes,
            TxFrames = Port(s1, 0).TxPackets - Port(s0, 0).TxPackets + Port(s1, 1).TxPackets - Port(s0, 1).TxPackets,
            GenRxMissed = Port(s1, 0).RxMissed + Port(s1, 1).RxMissed,
            GenTxDropped = fwd?.Sum(f => f.TxDropped) ?? 0,
            GenCpu = genCpu,
            SwitchCpu = swCpu,
            OthersCpu = ((machine1 - machine0) / window) - genCpu - (double.IsNaN(swCpu) ? 0 : swCpu),
            Features = NegotiatedFeatures(gen.Output()),
        };

        if (result.RxFrames == 0)
        {
            return (result with { Error = "no frames came back to the generator during the window" }, counters);
        }

        if (Math.Abs(result.BytesPerFrame - (size - 4)) > 0.5)
        {
            return (result with { Error = Invariant($"frames came back with {result.BytesPerFrame:F1} bytes on average, not {size - 4}") }, counters);
        }

        return (result, counters);
    }

    /// <summary>The virtio PMD logs "features after negotiate = HEX" (debug level) for each port; names
    /// the bits of the first one.</summary>
    private static string? NegotiatedFeatures(string output)
    {
        Match m = AfterNegotiate().Match(output);
        return m.Success && ulong.TryParse(m.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong f)
            ? $"0x{f:x}: {FeatureNames(f)}"
            : null;
    }

    [GeneratedRegex(@"features after negotiate\s*=\s*(?:0x)?([0-9a-fA-F]+)")]
    private static partial Regex AfterNegotiate();

    private string ResolveSwitchyard(string? repo)
    {
        string? bin = options.SwitchyardBin ?? Environment.GetEnvironmentVariable("SWITCHYARD_BIN") switch
        {
            { Length: > 0 } env => env,
            _ => repo is null ? null : Path.Combine(repo, ".cache", "publish", "switchyard"),
        };
        return bin is not null && File.Exists(bin)
            ? Path.GetFullPath(bin)
            : throw new BenchException($"switchyard binary not found at {bin ?? "(none)"}: pass --switchyard-bin, set SWITCHYARD_BIN, or run ./switchyard --help once to publish it");
    }
}
