// The user-mode NATs under test. Each starts fresh for every run inside the run's host namespace
// (`ip netns exec HOST ...`, which execs, so the PID we hold is the daemon's own), gives the guest
// namespace one interface with a default route via 10.0.2.2, and is stopped by its PID afterwards.
using System.Globalization;

namespace Switchyard.Bench;

internal abstract class NatDaemon(ChildProcesses children) : IRunSubject
{
    public abstract NatTool Tool { get; }

    /// <summary>The daemon's PID while it runs (CPU accounting).</summary>
    public int? Pid => Log?.Child?.Pid;

    public ProcessLog? Log { get; protected set; }

    public IReadOnlyList<ProcessLog> Logs => Log is null ? [] : [Log];

    public IReadOnlyList<int> Pids => Pid is int pid ? [pid] : [];

    /// <summary>How the daemon is started and how the guest gets its interface, for the report.</summary>
    public abstract string Layout { get; }

    /// <summary>The commands of the last start (daemon and guest set-up), as a shell would take them.</summary>
    public List<string> Commands { get; } = [];

    protected ChildProcesses Children { get; } = children;

    /// <summary>Starts the daemon in <paramref name="ns"/>'s host namespace for a guest interface of
    /// <paramref name="mtu"/>, in the run's own directory <paramref name="dir"/>, and returns once the
    /// guest has a working interface.</summary>
    public abstract GuestLink Start(NatNamespaces ns, int mtu, string dir);

    /// <summary>The daemon's own counters after the measurements, or null.</summary>
    public virtual string? Counters() => null;

    /// <summary>Stops the daemon (SIGTERM, SIGKILL after 3 s); idempotent.</summary>
    public virtual void Stop() => Log?.Child?.Stop();

    /// <summary>Starts <paramref name="file"/> in the host namespace with everything it prints kept.</summary>
    protected ProcessLog StartInHost(NatNamespaces ns, string name, string file, IReadOnlyList<string> args, string? readyLine = null)
    {
        List<string> all = ["netns", "exec", ns.Host, file, .. args];
        var log = new ProcessLog(name) { CommandLine = VhostSwitch.Render(null, "ip", all) };
        Log = log;
        Commands.Add(log.CommandLine);
        log.Child = Children.Start("ip", all, cpu: null, readyLine, log.OnLine);
        return log;
    }

    /// <summary>What to add to "the guest never came up": whether the daemon is still there, its output.</summary>
    protected string DaemonState() =>
        Log?.Child is { } c
            ? $"{Log.Name} {(c.HasExited ? $"exited ({c.ExitCode})" : "still running")}; its output:\n{Log.Tail(30)}"
            : string.Empty;
}

/// <summary>pasta from Debian's passt package, attached to the existing guest namespace.</summary>
internal sealed class PastaNat(string bin, ChildProcesses children) : NatDaemon(children)
{
    public override NatTool Tool => NatTool.Pasta;

    public override string Layout =>
        $"`env --default-signal=PIPE {bin} -f --runas 0 --config-net -I tap0 -m MTU -a 10.0.2.15 -n 24 -g 10.0.2.2 -t none -u none -T none -U none --netns /run/netns/GUEST` " +
        "in the host namespace. pasta creates tap0 in the guest namespace and configures it itself (`--config-net`) with slirp's " +
        "addresses (the guest 10.0.2.15/24, the gateway 10.0.2.2), so the clients are the same as with the other tools; without -a/-g " +
        "it would copy ext0's. This pasta (2023-03) maps the gateway address to the host's loopback for TCP and UDP (not for ICMP: " +
        "pings to 10.0.2.2 go unanswered, which is why ping targets the host's own address). All port forwarding is off " +
        "(`-t/-u/-T/-U none`; the default `auto` would scan and mirror bound ports), so the clients take the tap path only. " +
        "`--runas 0` because as root it otherwise drops to nobody and cannot enter the namespace; `-f` keeps it in the foreground " +
        "so the PID is pasta's; `env --default-signal=PIPE` because this pasta exits with \"Couldn't install signal handlers\" " +
        "when it inherits SIGPIPE ignored (as from .NET): it takes the previous disposition that signal() returns for an error.";

    public override GuestLink Start(NatNamespaces ns, int mtu, string dir)
    {
        string m = mtu.ToString(CultureInfo.InvariantCulture);
        // This pasta checks `signal(SIGPIPE, SIG_IGN)` as if it returned 0 on success; it returns the
        // previous disposition, and a process started by .NET inherits SIGPIPE ignored, so pasta would
        // exit with "Couldn't install signal handlers". env(1) resets SIGPIPE to its default and execs.
        StartInHost(ns, "pasta", "env",
            ["--default-signal=PIPE", bin, "-f", "--runas", "0", "--config-net", "-I", "tap0", "-m", m, "-a", "10.0.2.15", "-n", "24", "-g", NatNamespaces.Gateway,
             "-t", "none", "-u", "none", "-T", "none", "-U", "none", "--netns", ns.GuestPath]);
        return ns.WaitForGuest(TimeSpan.FromSeconds(20), DaemonState);
    }
}

/// <summary>slirp4netns (libslirp), attached to the existing guest namespace by path.</summary>
internal sealed class Slirp4netnsNat(string bin, ChildProcesses children) : NatDaemon(children)
{
    public override NatTool Tool => NatTool.Slirp4netns;

    public override string Layout =>
        $"`{bin} --configure --mtu=MTU --netns-type=path /run/netns/GUEST tap0` in the host namespace: it creates tap0 in the guest " +
        "namespace and configures it (`--configure`: 10.0.2.100/24, default via 10.0.2.2). The gateway 10.0.2.2 stands for the host's " +
        "loopback (slirp4netns's default; `--disable-host-loopback` is not given). libslirp answers pings to 10.0.2.2 itself, so ping " +
        "targets the host's own address, which it forwards with an ICMP socket.";

    public override GuestLink Start(NatNamespaces ns, int mtu, string dir)
    {
        StartInHost(ns, "slirp4netns", bin,
            ["--configure", "--mtu=" + mtu.ToString(CultureInfo.InvariantCulture), "--netns-type=path", ns.GuestPath, "tap0"]);
        return ns.WaitForGuest(TimeSpan.FromSeconds(20), DaemonState);
    }
}

/// <summary>Switchyard's NAT gateway with the guest on a tap port of the same network.</summary>
internal sealed class SwitchyardNat(string bin, bool verbose, ChildProcesses children) : NatDaemon(children)
{
    /// <summary>The tap Switchyard creates in the host namespace and the driver moves into the guest.</summary>
    public const string TapName = "sytap0";

    /// <summary>The guest's static address: the gateway's first DHCP address (QEMU's plan).</summary>
    public const string GuestAddress = "10.0.2.15/24";

    private string? runDir;

    public override NatTool Tool => NatTool.Switchyard;

    public override string Layout =>
        $"`{bin} up --run-dir DIR -c DIR/topology.yaml{(verbose ? " -v" : string.Empty)}` in the host namespace, the topology one network " +
        $"`nat` with the NAT gateway (`gateway: \"user,mtu=MTU\"`: QEMU's address plan, host-loopback on, so 10.0.2.2 is the host's loopback) " +
        $"and one tap port (`netdev: \"tap,ifname={TapName}\"`). Switchyard creates {TapName} in the host namespace; once it has printed " +
        $"`switchyard: ready`, the driver moves the tap into the guest namespace and configures it statically like slirp4netns --configure " +
        $"does (MTU, {GuestAddress}, up, default via 10.0.2.2; no DHCP client in the measurement).";

    public override GuestLink Start(NatNamespaces ns, int mtu, string dir)
    {
        runDir = dir;
        string m = mtu.ToString(CultureInfo.InvariantCulture);
        string topology = Path.Combine(dir, "topology.yaml");
        File.WriteAllText(topology, $"""
            networks:
              - name: nat
                gateway: "user,mtu={m}"
                ports:
                  - name: guest
                    netdev: "tap,ifname={TapName}"

            """);
        Commands.Add($"cat > DIR/topology.yaml <<'EOF'\n{File.ReadAllText(topology).TrimEnd()}\nEOF");
        List<string> args = ["up", "--run-dir", dir, "-c", topology];
        if (verbose)
        {
            args.Add("-v");
        }

        ProcessLog log = StartInHost(ns, "switchyard", bin, args, "switchyard: ready");
        if (!log.Child!.WaitReady(TimeSpan.FromSeconds(60)))
        {
            throw new BenchException($"switchyard did not print 'switchyard: ready' within 60 s; {DaemonState()}");
        }

        Guest(ns, "-n", ns.Host, "link", "set", TapName, "netns", ns.Guest);
        Guest(ns, "-n", ns.Guest, "link", "set", TapName, "mtu", m);
        Guest(ns, "-n", ns.Guest, "addr", "add", GuestAddress, "dev", TapName);
        Guest(ns, "-n", ns.Guest, "link", "set", TapName, "up");
        Guest(ns, "-n", ns.Guest, "route", "add", "default", "via", NatNamespaces.Gateway, "dev", TapName);
        return ns.WaitForGuest(TimeSpan.FromSeconds(20), DaemonState);
    }

    public override string? Counters() => runDir is null ? null : SwitchyardTarget.Show(Path.Combine(runDir, "control.sock"));

    public override void Stop()
    {
        base.Stop();
        runDir = null;
    }

    /// <summary>Runs one `ip` command of the guest's set-up, records it, and says what failed with the
    /// daemon's output if it does.</summary>
    private void Guest(NatNamespaces ns, params string[] args)
    {
        Commands.Add(VhostSwitch.Render(null, "ip", args).Replace(ns.Host, "HOST", StringComparison.Ordinal).Replace(ns.Guest, "GUEST", StringComparison.Ordinal));
        try
        {
            NatNamespaces.Ip(args);
        }
        catch (BenchException e)
        {
            throw new BenchException($"{e.Message}\n{DaemonState()}");
        }
    }
}
