// Options of `switchyard-bench vhost`, parsed by hand like StreamOptions.
using static Switchyard.Bench.OptionText;

namespace Switchyard.Bench;

/// <summary>What the generator's two virtio-user ports are plugged into.</summary>
internal enum VhostTool
{
    /// <summary>Switchyard's default network: both ports are connections to DIR/vhost-user.sock.</summary>
    Switchyard,

    /// <summary>The DPDK ceiling: a second testpmd whose two vhost PMD ports io-forward to each other.</summary>
    Dpdk,
}

/// <summary>Where the DPDK processes get the memory they share with the vhost-user back-end.</summary>
internal enum DpdkMemory
{
    /// <summary>2 MiB hugepages from the kernel's pool through memfd (--in-memory --single-file-segments).</summary>
    Hugepages,

    /// <summary>4 KiB pages in one memfd (--no-huge): no hugepages needed.</summary>
    NoHuge,
}

internal sealed record VhostOptions
{
    public const string Help = """
        Usage: switchyard-bench vhost [options]

        Guest -> switch -> guest with DPDK's virtio-user as the guest driver. ONE generator dpdk-testpmd
        holds two virtio-user ports (A and B) and io-forwards between them (B's RX goes out of A and A's
        RX out of B), pinned to one CPU; `start tx_first N` seeds the loop with N bursts per port. Frames
        then go A -> switch -> B -> testpmd -> A -> switch -> B ... and back the other way. The switch on
        the other CPU is either Switchyard (A and B are two connections to DIR/vhost-user.sock) or the
        DPDK ceiling: a second testpmd with two vhost PMD ports io-forwarding to each other. Rates come
        from the generator's port counters (`show port stats all`) over the measured window.

        Options:
          --tools LIST          Comma-separated: switchyard, dpdk (default: switchyard,dpdk)
          --sizes LIST          Ethernet frame sizes including the 4-byte FCS, 64..1518 (default: 64,1518);
                                the generator puts SIZE-4 bytes on the ring (testpmd --txpkts), as a NIC
                                hands a 64-byte wire frame to the host as 60 bytes
          --runs N              Runs per tool and size, alternating (default: 5)
          --seconds S           Measured seconds per run (default: 10)
          --warmup S            Seconds of load before the measurement (default: 2)
          --bursts N            Bursts each generator port sends to seed the loop: `start tx_first N`
                                (default: 8, i.e. 8 x 32 = 256 frames per port: one full ring)
          --burst N             testpmd --burst, frames per burst in both testpmds (default: 32)
          --queue-size N        virtio-user queue_size (descriptors per ring) (default: 256)
          --memory MODE         hugepages: --in-memory --single-file-segments, 2 MiB pages from the pool
                                (they must be free; bench/run-vhost.sh reserves them); no-huge: --no-huge,
                                4 KiB pages in a memfd (default: hugepages)
          --mem-mb N            -m for each testpmd, in MiB (default: 256)
          --mbufs N             testpmd --total-num-mbufs (default: 16384)
          --testpmd P           dpdk-testpmd binary (default: dpdk-testpmd on PATH)
          --switchyard-bin P    The published switchyard binary (default: $SWITCHYARD_BIN, else
                                REPO/.cache/publish/switchyard)
          --switchyard-verbose  Run `switchyard up -v` (logs every vhost-user message)
          --quiet S             Before each run, wait up to S seconds for half a second in which the
                                machine's other work used less than --max-others CPUs (default: 30; 0: don't)
          --max-others X        A run during which other processes used more than X CPUs is tried again
                                (default: 0.3)
          --attempts N          Tries per run at most; if none was clean, the least disturbed one is kept
                                (default: 3)
          --gen-cpu N           CPU of the generator testpmd (all its threads) (default: 0)
          --switch-cpu N        CPU of the switch process (all its threads) (default: 1)
          --logs DIR            Keep every process's full output there, one file per process and run
          --markdown FILE       Also write the report as Markdown to FILE
          --command TEXT        The command line to record in the report (default: this process's)
          -h, --help            Show this help

        """;

    public IReadOnlyList<VhostTool> Tools { get; init; } = [VhostTool.Switchyard, VhostTool.Dpdk];

    public IReadOnlyList<int> Sizes { get; init; } = [64, 1518];

    public int Runs { get; init; } = 5;

    public double Seconds { get; init; } = 10;

    public double WarmupSeconds { get; init; } = 2;

    public int Bursts { get; init; } = 8;

    public int Burst { get; init; } = 32;

    public int QueueSize { get; init; } = 256;

    public DpdkMemory Memory { get; init; } = DpdkMemory.Hugepages;

    public int MemMb { get; init; } = 256;

    public int Mbufs { get; init; } = 16384;

    public string Testpmd { get; init; } = "dpdk-testpmd";

    public string? SwitchyardBin { get; init; }

    public bool SwitchyardVerbose { get; init; }

    public double QuietSeconds { get; init; } = 30;

    public double MaxOthers { get; init; } = 0.3;

    public int Attempts { get; init; } = 3;

    public int GenCpu { get; init; }

    public int SwitchCpu { get; init; } = 1;

    public string? LogDirectory { get; init; }

    public string? MarkdownPath { get; init; }

    public string? Command { get; init; }

    /// <summary>Parses the arguments after `vhost`; null means help was asked for.</summary>
    public static VhostOptions? Parse(IReadOnlyList<string> args)
    {
        var o = new VhostOptions();
        int cpus = MachineFacts.OnlineCpus();
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
                    o = o with { Sizes = ParseList(arg, Value(args, ref i), 64, 1518) };
                    break;
                case "--runs":
                    o = o with { Runs = ParseInt(arg, Value(args, ref i), 1, 1000) };
                    break;
                case "--seconds":
                    o = o with { Seconds = ParseSeconds(arg, Value(args, ref i), 0.5) };
                    break;
                case "--warmup":
                    o = o with { WarmupSeconds = ParseSeconds(arg, Value(args, ref i), 0) };
                    break;
                case "--bursts":
                    o = o with { Bursts = ParseInt(arg, Value(args, ref i), 1, 64) };
                    break;
                case "--burst":
                    o = o with { Burst = ParseInt(arg, Value(args, ref i), 1, 512) };
                    break;
                case "--queue-size":
                    o = o with { QueueSize = ParseInt(arg, Value(args, ref i), 64, 32768) };
                    break;
                case "--memory":
                    o = o with
                    {
                        Memory = Value(args, ref i) switch
                        {
                            "hugepages" or "huge" => DpdkMemory.Hugepages,
                            "no-huge" or "nohuge" => DpdkMemory.NoHuge,
                            string other => throw new UsageException($"--memory takes hugepages or no-huge, not '{other}'"),
                        },
                    };
                    break;
                case "--mem-mb":
                    o = o with { MemMb = ParseInt(arg, Value(args, ref i), 64, 65536) };
                    break;
                case "--mbufs":
                    o = o with { Mbufs = ParseInt(arg, Value(args, ref i), 1024, 1 << 22) };
                    break;
                case "--testpmd":
                    o = o with { Testpmd = Value(args, ref i) };
                    break;
                case "--switchyard-bin":
                    o = o with { SwitchyardBin = Value(args, ref i) };
                    break;
                case "--switchyard-verbose":
                    o = o with { SwitchyardVerbose = true };
                    break;
                case "--quiet":
                    o = o with { QuietSeconds = ParseSeconds(arg, Value(args, ref i), 0) };
                    break;
                case "--max-others":
                    o = o with { MaxOthers = ParseSeconds(arg, Value(args, ref i), 0.01) };
                    break;
                case "--attempts":
                    o = o with { Attempts = ParseInt(arg, Value(args, ref i), 1, 20) };
                    break;
                case "--gen-cpu":
                    o = o with { GenCpu = ParseInt(arg, Value(args, ref i), 0, cpus - 1) };
                    break;
                case "--switch-cpu":
                    o = o with { SwitchCpu = ParseInt(arg, Value(args, ref i), 0, cpus - 1) };
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

        if (o.GenCpu == o.SwitchCpu)
        {
            throw new UsageException("--gen-cpu and --switch-cpu must differ: two busy processes need two CPUs");
        }

        if ((o.QueueSize & (o.QueueSize - 1)) != 0)
        {
            throw new UsageException($"--queue-size must be a power of two, not {o.QueueSize}");
        }

        return o;
    }

    private static List<int> ParseList(string option, string text, int min, int max)
    {
        var values = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            values.Add(ParseInt(option, part, min, max));
        }

        return values.Count > 0 ? values : throw new UsageException($"{option} needs at least one value");
    }

    private static List<VhostTool> ParseTools(string text)
    {
        var tools = new List<VhostTool>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            VhostTool tool = part switch
            {
                "switchyard" => VhostTool.Switchyard,
                "dpdk" or "dpdk-vhost" or "testpmd" => VhostTool.Dpdk,
                _ => throw new UsageException($"unknown tool '{part}' (switchyard, dpdk)"),
            };
            if (!tools.Contains(tool))
            {
                tools.Add(tool);
            }
        }

        return tools.Count > 0 ? tools : throw new UsageException("--tools needs at least one tool");
    }
}
