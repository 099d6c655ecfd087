// The switch under test in the vhost benchmark: Switchyard's vhost-user back-end, or the DPDK ceiling
// (testpmd's vhost PMD io-forwarding between two vhost ports). Each starts fresh for every run in a fresh
// directory, pinned to its own CPU, and is stopped by its PID.
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Switchyard.Bench;

internal abstract class VhostSwitch(ChildProcesses children)
{
    public abstract VhostTool Tool { get; }

    /// <summary>The switch process's PID while it runs (for CPU accounting).</summary>
    public int? Pid => Log?.Child?.Pid;

    public ProcessLog? Log { get; protected set; }

    /// <summary>A human description of the layout, for the report.</summary>
    public abstract string Layout { get; }

    protected ChildProcesses Children { get; } = children;

    /// <summary>Starts the switch in <paramref name="dir"/> and returns the socket paths of port A and B.</summary>
    public abstract (string A, string B) Start(string dir);

    /// <summary>The switch's own counters, read after the generator stopped forwarding and before it
    /// disconnects; null if it has none.</summary>
    public abstract string? Counters();

    /// <summary>Stops the switch; idempotent.</summary>
    public abstract void Stop();

    /// <summary>Quotes one argument for a shell, only when it needs it.</summary>
    public static string Quote(string a) =>
        a.Length > 0 && a.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=,:+@%".Contains(c, StringComparison.Ordinal))
            ? a
            : "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>The command line a child runs (taskset and all), as a shell would take it.</summary>
    public static string Render(int? cpu, string file, IEnumerable<string> args)
    {
        var parts = new List<string>();
        if (cpu is int c)
        {
            parts.Add("taskset -c " + c.ToString(CultureInfo.InvariantCulture));
        }

        parts.Add(Quote(file));
        parts.AddRange(args.Select(Quote));
        return string.Join(' ', parts);
    }
}

internal sealed class SwitchyardVhost(string bin, VhostOptions options, ChildProcesses children) : VhostSwitch(children)
{
    private string? dir;

    public override VhostTool Tool => VhostTool.Switchyard;

    public override string Layout =>
        $"`switchyard up --run-dir DIR --vhost-user-memory trusted` ({bin}), pinned with taskset to CPU {options.SwitchCpu} (all its threads); " +
        "the generator's two virtio-user ports are two connections to DIR/vhost-user.sock, i.e. two ports " +
        "(vhost-user.1, vhost-user.2) of the default network, a learning switch.";

    public override (string A, string B) Start(string directory)
    {
        dir = directory;
        // DPDK's memory is a hugetlbfs memfd (or, with --no-huge, a memfd) that it neither seals nor makes sealable, so
        // the default policy (memory=sealed) would refuse it: the benchmark's own testpmd is a trusted front-end.
        List<string> args = ["up", "--run-dir", directory, "--vhost-user-memory", "trusted"];
        if (options.SwitchyardVerbose)
        {
            args.Add("-v");
        }

        var log = new ProcessLog("switchyard") { CommandLine = Render(options.SwitchCpu, bin, args) };
        Log = log;
        log.Child = Children.Start(bin, args, options.SwitchCpu, "switchyard: ready", log.OnLine);
        if (!log.Child.WaitReady(TimeSpan.FromSeconds(60)))
        {
            throw new BenchException($"switchyard did not print 'switchyard: ready' within 60 s; its output:\n{log.Tail()}");
        }

        string sock = Path.Combine(directory, "vhost-user.sock");
        return (sock, sock);
    }

    public override string? Counters()
    {
        if (dir is null)
        {
            return null;
        }

        try
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(Path.Combine(dir, "control.sock")));
            s.ReceiveTimeout = 5000;
            s.Send("{\"command\":\"show\"}\n"u8);
            var answer = new MemoryStream();
            var buffer = new byte[65536];
            while (answer.Length == 0 || answer.GetBuffer()[(int)answer.Length - 1] != (byte)'\n')
            {
                int n = s.Receive(buffer);
                if (n == 0)
                {
                    break;
                }

                answer.Write(buffer, 0, n);
            }

            return SwitchyardTarget.Summarize(Encoding.UTF8.GetString(answer.GetBuffer(), 0, (int)answer.Length));
        }
        catch (Exception e) when (e is SocketException or IOException or JsonException or InvalidOperationException or KeyNotFoundException)
        {
            return $"(show failed: {e.Message})";
        }
    }

    public override void Stop()
    {
        Log?.Child?.Stop();
        dir = null;
    }
}

internal sealed class DpdkVhost(VhostOptions options, string testpmd, string prefix, ChildProcesses children) : VhostSwitch(children)
{
    private TestpmdSession? session;

    public override VhostTool Tool => VhostTool.Dpdk;

    public override string Layout =>
        $"a second `dpdk-testpmd`, pinned to CPU {options.SwitchCpu} (`taskset` and `--lcores '0@{options.SwitchCpu},1@{options.SwitchCpu}'`), " +
        "with two vhost PMD ports (`--vdev net_vhost0,iface=DIR/a.sock --vdev net_vhost1,iface=DIR/b.sock`, vhost-user servers) " +
        "io-forwarding to each other (port 0's RX, i.e. what guest port A sent, goes to port 1, i.e. into guest port B's RX ring, " +
        "and back): the same data path as a switch with no lookup, DPDK's own vhost library on both sides.";

    public override (string A, string B) Start(string dir)
    {
        string a = Path.Combine(dir, "a.sock");
        string b = Path.Combine(dir, "b.sock");
        var args = new List<string> { "-oL", testpmd };
        args.AddRange(Testpmd.Eal(options, options.SwitchCpu, prefix));
        args.AddRange(["--vdev", $"net_vhost0,iface={a}", "--vdev", $"net_vhost1,iface={b}"]);
        args.AddRange(["--", "-i", "--forward-mode=io", "--auto-start", "--nb-cores=1"]);
        args.Add(string.Create(CultureInfo.InvariantCulture, $"--burst={options.Burst}"));
        args.Add(string.Create(CultureInfo.InvariantCulture, $"--total-num-mbufs={options.Mbufs}"));
        session = new TestpmdSession("dpdk vhost testpmd") { CommandLine = Render(options.SwitchCpu, "stdbuf", args) };
        Log = session;
        session.Child = Children.Start("stdbuf", args, options.SwitchCpu, readyLine: null, session.OnLine);

        // With --auto-start it starts the ports (the vhost-user sockets listen from then on) and prints
        // "io packet forwarding - ports=2 ..." before its prompt.
        if (!session.WaitForLine("packet forwarding - ports=", TimeSpan.FromSeconds(60)))
        {
            throw new BenchException($"the vhost testpmd did not start forwarding within 60 s; its output:\n{session.Tail()}");
        }

        return (a, b);
    }

    public override string? Counters()
    {
        if (session is null)
        {
            return null;
        }

        var sb = new StringBuilder();
        IReadOnlyList<PortStats>? stats = session.ShowPortStats(2, TimeSpan.FromSeconds(10), System.Diagnostics.Stopwatch.StartNew(), out _);
        IReadOnlyList<ForwardStats>? fwd = session.StopForwarding(TimeSpan.FromSeconds(10));
        if (stats is null)
        {
            return "(show port stats all: no answer)";
        }

        foreach (PortStats p in stats)
        {
            sb.Append(CultureInfo.InvariantCulture, $"vhost port {p.Port}: rx {p.RxPackets}, tx {p.TxPackets}");
            if (p.RxMissed != 0 || p.RxErrors != 0 || p.RxNoMbuf != 0 || p.TxErrors != 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $", rx-missed {p.RxMissed}, rx-errors {p.RxErrors}, rx-nombuf {p.RxNoMbuf}, tx-errors {p.TxErrors}");
            }

            ForwardStats? f = fwd?.FirstOrDefault(x => x.Port == p.Port);
            if (f is not null && f.TxDropped != 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $", tx-dropped (guest RX ring full) {f.TxDropped}");
            }

            sb.Append("; ");
        }

        return sb.ToString().TrimEnd(' ', ';');
    }

    public override void Stop()
    {
        TestpmdSession? s = session;
        session = null;
        if (s?.Child is { } child)
        {
            if (!child.HasExited)
            {
                s.Quit(TimeSpan.FromSeconds(10));
            }

            child.Stop();
        }
    }
}
