// The layer-2 switches under test and the three namespaces of one L2 run.
//
// Theory of operation: every run gets three fresh namespaces: A and B (the endpoints: A runs the clients,
// B the servers) and SW (where the switch lives: Switchyard's and vde_switch's processes, or the kernel
// bridge). Each switch hands A and B one interface each (a tap or the far end of a veth pair), which the
// driver then configures the same way for every switch: MTU, 10.77.0.1/24 in A and 10.77.0.2/24 in B, up.
// Nothing is in the machine's own namespace, so the traffic stays inside namespaces the benchmark owns,
// and deleting the three namespaces removes every tap, veth and bridge a run made (a tap also goes away
// when the process holding it, which the driver stops by its PID, exits).
using System.Diagnostics;
using System.Globalization;

namespace Switchyard.Bench;

internal sealed class L2Namespaces(string prefix) : IRunNamespaces
{
    public const string AddressA = "10.77.0.1";

    public const string AddressB = "10.77.0.2";

    public string A { get; } = prefix + "-a";

    public string B { get; } = prefix + "-b";

    public string Sw { get; } = prefix + "-sw";

    /// <summary>Namespace name -> what the report calls it.</summary>
    public IReadOnlyDictionary<string, string> Aliases => new Dictionary<string, string> { [A] = "A", [B] = "B", [Sw] = "SW" };

    public static IReadOnlyList<string> SetupCommands { get; } =
    [
        "ip netns add A; ip netns add B; ip netns add SW",
        "ip -n A link set lo up; ip -n B link set lo up; ip -n SW link set lo up",
        "(the switch: see its layout; it gives A the interface IFA and B the interface IFB)",
        $"ip -n A link set IFA mtu MTU; ip -n A addr add {AddressA}/24 dev IFA; ip -n A link set IFA up",
        $"ip -n B link set IFB mtu MTU; ip -n B addr add {AddressB}/24 dev IFB; ip -n B link set IFB up",
    ];

    public void Create()
    {
        Delete();
        foreach (string ns in new[] { A, B, Sw })
        {
            NatNamespaces.Ip("netns", "add", ns);
            NatNamespaces.Ip("-n", ns, "link", "set", "lo", "up");
        }
    }

    /// <summary>Deletes the three namespaces if they exist; never throws (it runs in finally blocks).</summary>
    public void Delete()
    {
        foreach (string ns in new[] { A, B, Sw })
        {
            if (File.Exists("/run/netns/" + ns))
            {
                (int exit, _, string err) = NatNamespaces.Exec("ip", "netns", "del", ns);
                if (exit != 0)
                {
                    Console.Error.WriteLine($"switchyard-bench l2: ip netns del {ns}: {err.Trim()}");
                }
            }
        }
    }

    /// <summary>Configures an endpoint's interface once the switch has put it in <paramref name="ns"/>.</summary>
    public static void Configure(string ns, string dev, string address, int mtu)
    {
        NatNamespaces.Ip("-n", ns, "link", "set", dev, "mtu", mtu.ToString(CultureInfo.InvariantCulture));
        NatNamespaces.Ip("-n", ns, "addr", "add", address + "/24", "dev", dev);
        NatNamespaces.Ip("-n", ns, "link", "set", dev, "up");
    }

    /// <summary>Waits until <paramref name="dev"/> exists in <paramref name="ns"/> (a daemon creating its tap).</summary>
    public static void WaitForLink(string ns, string dev, TimeSpan timeout, Func<string> whyNot)
    {
        var clock = Stopwatch.StartNew();
        while (NatNamespaces.Exec("ip", "-n", ns, "link", "show", "dev", dev).Exit != 0)
        {
            if (clock.Elapsed > timeout)
            {
                throw new BenchException($"{dev} did not appear in {ns} within {timeout.TotalSeconds:F0} s; {whyNot()}");
            }

            Thread.Sleep(50);
        }
    }

    /// <summary>The offload features of an interface as `ethtool -k` shows them (tx-checksumming, TSO,
    /// GSO, GRO), or why not.</summary>
    public static string Offloads(string ns, string dev)
    {
        (int exit, string output, string error) = NatNamespaces.Exec("ip", "netns", "exec", ns, "ethtool", "-k", dev);
        if (exit != 0)
        {
            return $"(ethtool -k: {(error + output).Trim()})";
        }

        var parts = new List<string>();
        foreach (string line in output.Split('\n'))
        {
            string l = line.Trim();
            foreach (string key in new[] { "tx-checksumming", "tcp-segmentation-offload", "generic-segmentation-offload", "generic-receive-offload" })
            {
                if (l.StartsWith(key + ":", StringComparison.Ordinal))
                {
                    string shortKey = key switch
                    {
                        "tx-checksumming" => "tx-csum",
                        "tcp-segmentation-offload" => "tso",
                        "generic-segmentation-offload" => "gso",
                        _ => "gro",
                    };
                    parts.Add($"{shortKey} {l[(key.Length + 1)..].Trim().Replace(" [fixed]", " fixed", StringComparison.Ordinal)}");
                }
            }
        }

        return string.Join(", ", parts);
    }
}

internal abstract class L2Switch(ChildProcesses children) : IRunSubject
{
    public abstract L2Tool Tool { get; }

    /// <summary>The switch's user-space processes while it runs (empty for the kernel bridge).</summary>
    public virtual IReadOnlyList<int> Pids => Logs.Select(l => l.Child?.Pid ?? -1).Where(p => p > 0).ToList();

    /// <summary>Every process the switch started, its output kept.</summary>
    public List<ProcessLog> Logs { get; } = [];

    IReadOnlyList<ProcessLog> IRunSubject.Logs => Logs;

    public abstract string Layout { get; }

    /// <summary>The commands of the last start, as a shell would take them (namespaces as A, B, SW).</summary>
    public List<string> Commands { get; } = [];

    protected ChildProcesses Children { get; } = children;

    /// <summary>Builds the switch in <paramref name="ns"/>.Sw, in the run's own directory
    /// <paramref name="dir"/>, and returns the (unconfigured) interfaces it put in A and B.</summary>
    public abstract (string IfA, string IfB) Start(L2Namespaces ns, string dir);

    public virtual string? Counters() => null;

    /// <summary>Stops every process by its PID (SIGTERM, SIGKILL after 3 s); idempotent.</summary>
    public virtual void Stop()
    {
        foreach (ProcessLog log in Logs)
        {
            log.Child?.Stop();
        }
    }

    protected ProcessLog StartIn(L2Namespaces ns, string name, string file, IReadOnlyList<string> args, string? readyLine = null)
    {
        List<string> all = ["netns", "exec", ns.Sw, file, .. args];
        var log = new ProcessLog(name) { CommandLine = VhostSwitch.Render(null, "ip", all) };
        Logs.Add(log);
        Commands.Add(Alias(ns, log.CommandLine));
        log.Child = Children.Start("ip", all, cpu: null, readyLine, log.OnLine);
        return log;
    }

    /// <summary>Runs one `ip` command, recording it.</summary>
    protected void Ip(L2Namespaces ns, params string[] args)
    {
        Commands.Add(Alias(ns, VhostSwitch.Render(null, "ip", args)));
        try
        {
            NatNamespaces.Ip(args);
        }
        catch (BenchException e)
        {
            throw new BenchException($"{e.Message}\n{State()}");
        }
    }

    /// <summary>Whether each process is still there, and its last output.</summary>
    protected string State() => string.Join('\n', Logs.Select(l =>
        l.Child is { } c ? $"{l.Name} {(c.HasExited ? $"exited ({c.ExitCode})" : "still running")}; its output:\n{l.Tail(20)}" : string.Empty));

    private static string Alias(L2Namespaces ns, string text)
    {
        foreach ((string name, string alias) in ns.Aliases)
        {
            text = text.Replace(name, alias, StringComparison.Ordinal);
        }

        return text;
    }
}

/// <summary>Switchyard as a plain switch: one network, no gateway, two tap ports.</summary>
internal sealed class SwitchyardL2(string bin, L2Options options, ChildProcesses children, L2Tool tool = L2Tool.Switchyard) : L2Switch(children)
{
    private string? runDir;

    /// <summary>Switchyard, or the baseline build run the same way.</summary>
    public override L2Tool Tool => tool;

    private string Netdev(string ifname) => $"tap,ifname={ifname}" + (options.SwitchyardTap is { } extra ? "," + extra : string.Empty);

    public override string Layout =>
        $"`{bin} up --run-dir DIR -c DIR/topology.yaml{(options.SwitchyardVerbose ? " -v" : string.Empty)}` in SW; the topology is one " +
        $"network without a gateway and two tap ports (`netdev: \"{Netdev("sya")}\"` and `\"{Netdev("syb")}\"`). Switchyard creates both " +
        "taps in SW; once it has printed `switchyard: ready` the driver moves sya into A and syb into B (`ip link set NAME netns NS`; the " +
        "open tap keeps working across the move). The taps' offloads are whatever Switchyard set on them (listed per run); without " +
        "IFF_VNET_HDR the kernel segments and checksums every TCP segment before the tap, so each 1500-byte frame crosses Switchyard on its own.";

    public override (string IfA, string IfB) Start(L2Namespaces ns, string dir)
    {
        runDir = dir;
        string topology = Path.Combine(dir, "topology.yaml");
        File.WriteAllText(topology, $"""
            networks:
              - name: l2
                ports:
                  - name: a
                    netdev: "{Netdev("sya")}"
                  - name: b
                    netdev: "{Netdev("syb")}"

            """);
        Commands.Add($"cat > DIR/topology.yaml <<'EOF'\n{File.ReadAllText(topology).TrimEnd()}\nEOF");
        List<string> args = ["up", "--run-dir", dir, "-c", topology];
        if (options.SwitchyardVerbose)
        {
            args.Add("-v");
        }

        ProcessLog log = StartIn(ns, "switchyard", bin, args, "switchyard: ready");
        if (!log.Child!.WaitReady(TimeSpan.FromSeconds(60)))
        {
            throw new BenchException($"switchyard did not print 'switchyard: ready' within 60 s; {State()}");
        }

        Ip(ns, "-n", ns.Sw, "link", "set", "sya", "netns", ns.A);
        Ip(ns, "-n", ns.Sw, "link", "set", "syb", "netns", ns.B);
        return ("sya", "syb");
    }

    public override string? Counters() => runDir is null ? null : SwitchyardTarget.Show(Path.Combine(runDir, "control.sock"));

    public override void Stop()
    {
        base.Stop();
        runDir = null;
    }
}

/// <summary>The Linux bridge in SW, one veth pair per endpoint.</summary>
internal sealed class BridgeL2(ChildProcesses children) : L2Switch(children)
{
    public override L2Tool Tool => L2Tool.Bridge;

    public override IReadOnlyList<int> Pids => [];

    public override string Layout =>
        "`ip link add br0 type bridge` in SW (STP off, the default), and per endpoint a veth pair with one end enslaved to br0 in SW " +
        "and the other end in A or B (`ip -n SW link add va type veth peer name eth0 netns A`). Default veth offloads (TSO, GSO, " +
        "checksum offload on), so TCP segments up to 64 KB cross the bridge whole. The bridge has no process: a veth transmit runs the " +
        "bridge and the far end's receive path in softirq on the sending CPU, mostly in the iperf3 processes' context, so its cost " +
        "shows in their CPU (and in *rest CPU*), not in a switch column.";

    public override (string IfA, string IfB) Start(L2Namespaces ns, string dir)
    {
        Ip(ns, "-n", ns.Sw, "link", "add", "br0", "type", "bridge");
        Ip(ns, "-n", ns.Sw, "link", "add", "va", "type", "veth", "peer", "name", "eth0", "netns", ns.A);
        Ip(ns, "-n", ns.Sw, "link", "add", "vb", "type", "veth", "peer", "name", "eth0", "netns", ns.B);
        foreach (string dev in new[] { "va", "vb" })
        {
            Ip(ns, "-n", ns.Sw, "link", "set", dev, "master", "br0");
            Ip(ns, "-n", ns.Sw, "link", "set", dev, "up");
        }

        Ip(ns, "-n", ns.Sw, "link", "set", "br0", "up");
        return ("eth0", "eth0");
    }
}

/// <summary>vde_switch in SW with two taps plugged in by vde_plug2tap, then moved to A and B.</summary>
internal sealed class VdeL2(string vdeSwitch, string plug2tap, ChildProcesses children) : L2Switch(children)
{
    public override L2Tool Tool => L2Tool.Vde;

    public override string Layout =>
        $"`{vdeSwitch} -s DIR/vde` in SW (stdin kept open as its console), then `{plug2tap} -s DIR/vde vdea` and `... vdeb` in SW: " +
        "each vde_plug2tap creates its tap (no vnet header, so no offloads: the kernel hands it every 1500-byte frame) and copies " +
        "frames between it and a switch port; the driver moves vdea into A and vdeb into B. *switch CPU* is vde_switch and both " +
        "vde_plug2tap processes together.";

    public override (string IfA, string IfB) Start(L2Namespaces ns, string dir)
    {
        string sock = Path.Combine(dir, "vde");
        ProcessLog sw = StartIn(ns, "vde_switch", vdeSwitch, ["-s", sock]);
        // vde_switch prints nothing when ready; its control socket appears once it listens.
        var clock = Stopwatch.StartNew();
        while (!File.Exists(Path.Combine(sock, "ctl")))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10) || sw.Child!.HasExited)
            {
                throw new BenchException($"vde_switch did not create {sock}/ctl within 10 s; {State()}");
            }

            Thread.Sleep(50);
        }

        foreach (string tap in new[] { "vdea", "vdeb" })
        {
            StartIn(ns, "vde_plug2tap " + tap, plug2tap, ["-s", sock, tap]);
            L2Namespaces.WaitForLink(ns.Sw, tap, TimeSpan.FromSeconds(10), State);
        }

        Ip(ns, "-n", ns.Sw, "link", "set", "vdea", "netns", ns.A);
        Ip(ns, "-n", ns.Sw, "link", "set", "vdeb", "netns", ns.B);
        return ("vdea", "vdeb");
    }
}
