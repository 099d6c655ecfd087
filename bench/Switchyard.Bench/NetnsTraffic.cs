// The traffic both namespace benchmarks (`nat`, `l2`) measure, run inside network namespaces the benchmark
// created: servers started with `ip netns exec NS ...` (which execs, so the PID held is the server's own),
// clients run to completion or killed after a bound, and their output parsed: the 1-byte TCP
// request/response loop (rr-client / rr-server), busybox ping, and iperf3 with CPU time sampled inside
// the measured window for the switch or daemon processes, both iperf3 processes and the rest of the machine.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Switchyard.Bench;

/// <summary>One iperf3 direction: the receiver's rate and who used the CPUs meanwhile.
/// <paramref name="StalledSeconds"/> counts the measured one-second intervals in which nothing arrived.
/// <paramref name="DaemonCpu"/> is the daemon or switch processes together (NaN when there are none: a
/// kernel switch, whose work is in <paramref name="RestCpu"/>).</summary>
internal sealed record Throughput(double Gbps, long Retransmits, int StalledSeconds, double DaemonCpu, double ClientCpu, double ServerCpu, double RestCpu);

/// <summary>One ping series: round trips in microseconds.</summary>
internal sealed record PingStats(int Sent, int Received, double MedianUs, double MinUs, double MaxUs);

internal sealed partial class NetnsTraffic(ChildProcesses children, IReadOnlyDictionary<string, string> aliases)
{
    private readonly string benchCommand = BenchCommand();

    /// <summary>Every server and client command as last run, namespaces replaced by their aliases (HOST, A, ...).</summary>
    public Dictionary<string, string> Commands { get; } = [];

    /// <summary>Namespace name -> the word the report shows for it; may change between runs.</summary>
    public IReadOnlyDictionary<string, string> Aliases { get; set; } = aliases;

    /// <summary>How to start this very driver again (for rr-server and rr-client in the namespaces).</summary>
    private static string BenchCommand()
    {
        string host = Environment.ProcessPath ?? "dotnet";
        string dll = Path.Combine(AppContext.BaseDirectory, "switchyard-bench.dll");
        return Path.GetFileNameWithoutExtension(host) == "dotnet" ? $"{host}\n{dll}" : host;
    }

    /// <summary>The driver's argv prefix (host and dll, or the apphost), then <paramref name="args"/>.</summary>
    public List<string> Bench(params string[] args) => [.. benchCommand.Split('\n'), .. args];

    private static string Inv(FormattableString s) => FormattableString.Invariant(s);

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private string Alias(string commandLine)
    {
        foreach ((string name, string alias) in Aliases)
        {
            commandLine = commandLine.Replace(name, alias, StringComparison.Ordinal);
        }

        return commandLine;
    }

    /// <summary>Starts a server in namespace <paramref name="ns"/> and waits for its ready line.</summary>
    public ProcessLog StartServer(string ns, List<ProcessLog> logs, string name, IReadOnlyList<string> cmd, string readyLine)
    {
        List<string> all = ["netns", "exec", ns, .. cmd];
        var log = new ProcessLog(name) { CommandLine = VhostSwitch.Render(null, "ip", all) };
        Commands[name] = Alias(log.CommandLine);
        logs.Add(log);
        log.Child = children.Start("ip", all, cpu: null, readyLine, log.OnLine);
        return log.Child.WaitReady(TimeSpan.FromSeconds(30))
            ? log
            : throw new BenchException($"{name} did not print '{readyLine}' within 30 s; its output:\n{log.Tail(20)}");
    }

    /// <summary>The iperf3 server on <paramref name="address"/>:<paramref name="port"/> in <paramref name="ns"/>.</summary>
    public ProcessLog StartIperfServer(string ns, List<ProcessLog> logs, string address, int port) =>
        // --forceflush: iperf3 writes to a pipe here, and its "listening" line would sit in stdio's buffer.
        StartServer(ns, logs, "iperf3 server", ["iperf3", "-s", "-B", address, "-p", Port(port), "--forceflush"], "Server listening");

    /// <summary>rr-server on <paramref name="address"/>:<paramref name="port"/> in <paramref name="ns"/>.</summary>
    public ProcessLog StartRrServer(string ns, List<ProcessLog> logs, string address, int port) =>
        StartServer(ns, logs, "rr-server", Bench("rr-server", "--listen", $"{address}:{Port(port)}"), "rr-server: listening");

    /// <summary>Runs a client in <paramref name="ns"/> to completion (or kills it after <paramref name="timeout"/>);
    /// <paramref name="whileRunning"/> runs meanwhile with the client's PID. Returns the exit status
    /// (null: timed out) and the log.</summary>
    public (int? Exit, ProcessLog Log) RunIn(string ns, List<ProcessLog> logs, string name, IReadOnlyList<string> cmd, TimeSpan timeout, Action<int>? whileRunning = null)
    {
        List<string> all = ["netns", "exec", ns, .. cmd];
        var log = new ProcessLog(name) { CommandLine = VhostSwitch.Render(null, "ip", all) };
        Commands[name] = Alias(log.CommandLine);
        logs.Add(log);
        log.Child = children.Start("ip", all, cpu: null, readyLine: null, log.OnLine);
        var clock = Stopwatch.StartNew();
        whileRunning?.Invoke(log.Child.Pid);
        bool exited = log.Child.WaitExit(timeout - clock.Elapsed > TimeSpan.Zero ? timeout - clock.Elapsed : TimeSpan.Zero);
        int? exit = exited ? log.Child.ExitCode : null;
        log.Child.Stop(); // flushes the output readers (and kills it if it overran)
        return (exit, log);
    }

    /// <summary>rr-client in <paramref name="ns"/> against <paramref name="target"/>:<paramref name="port"/>
    /// for <paramref name="seconds"/> after 0.5 s of warm-up; null (and a problem) if it failed.</summary>
    public RrStats? RequestResponse(string ns, string target, int port, double seconds, List<ProcessLog> logs, List<string> problems)
    {
        if (seconds <= 0)
        {
            return null;
        }

        (int? exit, ProcessLog log) = RunIn(ns, logs, "rr-client",
            Bench("rr-client", "--connect", $"{target}:{Port(port)}", "--seconds", seconds.ToString(CultureInfo.InvariantCulture), "--warmup", "0.5"),
            TimeSpan.FromSeconds(seconds + 30));
        RrStats? stats = exit == 0 ? Switchyard.Bench.RequestResponse.ParseClientLine(log.Output()) : null;
        if (stats is null)
        {
            problems.Add($"request/response: {(exit is null ? "timed out" : $"exit {exit}")}: {log.Tail(5).ReplaceLineEndings(" ")}");
        }

        return stats;
    }

    /// <summary><paramref name="count"/> busybox pings 0.2 s apart from <paramref name="ns"/> to <paramref name="target"/>.</summary>
    public PingStats? Ping(string ns, string target, int count, List<ProcessLog> logs, List<string> problems)
    {
        if (count <= 0)
        {
            return null;
        }

        (int? exit, ProcessLog log) = RunIn(ns, logs, "ping",
            ["busybox", "ping", "-c", Port(count), "-i", "0.2", "-W", "2", target],
            TimeSpan.FromSeconds((count * 0.2) + 15));
        var times = new List<double>();
        foreach (Match m in PingTime().Matches(log.Output()))
        {
            times.Add(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * 1000);
        }

        if (times.Count == 0)
        {
            problems.Add($"ping {target}: no reply ({(exit is null ? "timed out" : $"exit {exit}")}): {log.Tail(3).ReplaceLineEndings(" ")}");
            return null;
        }

        times.Sort();
        return new PingStats(count, times.Count, Report.Median(times), times[0], times[^1]);
    }

    /// <summary>iperf3 from <paramref name="ns"/> to <paramref name="target"/> (<paramref name="reverse"/>: -R),
    /// <paramref name="seconds"/> measured after <paramref name="omit"/> omitted; the CPU of
    /// <paramref name="daemonPids"/> (summed; none: NaN), the client, the server and the rest of the machine
    /// is sampled over the measured part.</summary>
    public Throughput? Iperf(string ns, string target, int port, double seconds, int omit, ProcessLog server, IReadOnlyList<int> daemonPids,
        bool reverse, string name, List<ProcessLog> logs, List<string> problems)
    {
        List<string> cmd = ["iperf3", "-c", target, "-p", Port(port), "-t", seconds.ToString(CultureInfo.InvariantCulture),
            "-O", Port(omit), "-J", "--connect-timeout", "5000"];
        if (reverse)
        {
            cmd.Add("-R");
        }

        // CPU over the measured part of the test: from just after the omitted seconds to just before the
        // end (the client's own clock starts at connect, a few ms after the process).
        double window = seconds - 0.6;
        double[] before = [];
        double[] after = [];
        int serverPid = server.Child!.Pid;
        double Daemons() => daemonPids.Count == 0 ? double.NaN : daemonPids.Sum(p => CpuTime.Seconds(p));
        (int? exit, ProcessLog log) = RunIn(ns, logs, name, cmd, TimeSpan.FromSeconds(seconds + omit + 30), pid =>
        {
            Thread.Sleep(TimeSpan.FromSeconds(omit + 0.3));
            before = [Daemons(), CpuTime.Seconds(pid), CpuTime.Seconds(serverPid), CpuTime.MachineBusySeconds()];
            var clock = Stopwatch.StartNew();
            Thread.Sleep(TimeSpan.FromSeconds(window));
            after = [Daemons(), CpuTime.Seconds(pid), CpuTime.Seconds(serverPid), CpuTime.MachineBusySeconds()];
            window = clock.Elapsed.TotalSeconds;
        });

        string output = log.Output();
        try
        {
            using var doc = JsonDocument.Parse(output);
            JsonElement root = doc.RootElement;
            if (root.TryGetProperty("error", out JsonElement error))
            {
                problems.Add($"{name}: {error.GetString()}");
                return null;
            }

            JsonElement end = root.GetProperty("end");
            double bps = end.GetProperty("sum_received").GetProperty("bits_per_second").GetDouble();
            long retransmits = end.TryGetProperty("sum_sent", out JsonElement sent) && sent.TryGetProperty("retransmits", out JsonElement r) ? r.GetInt64() : -1;
            // Whole seconds in which the stream made no progress at all (a stalled connection waiting on
            // retransmission timeouts), from the per-second intervals, the omitted ones left out.
            int stalled = 0;
            foreach (JsonElement interval in root.GetProperty("intervals").EnumerateArray())
            {
                JsonElement sum = interval.GetProperty("sum");
                bool omitted = sum.TryGetProperty("omitted", out JsonElement o) && o.ValueKind == JsonValueKind.True;
                if (!omitted && sum.GetProperty("bytes").GetInt64() == 0 && sum.GetProperty("seconds").GetDouble() > 0.5)
                {
                    stalled++;
                }
            }

            double Cpu(int i) => before.Length == 4 && after.Length == 4 ? (after[i] - before[i]) / window : double.NaN;
            double daemonCpu = Cpu(0);
            double clientCpu = Cpu(1);
            double serverCpu = Cpu(2);
            double rest = Cpu(3) - (double.IsNaN(daemonCpu) ? 0 : daemonCpu) - clientCpu - serverCpu;
            return new Throughput(bps / 1e9, retransmits, stalled, daemonCpu, clientCpu, serverCpu, rest);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            problems.Add($"{name}: {(exit is null ? "timed out" : $"exit {exit}")}, no result ({e.Message}): {log.Tail(5).ReplaceLineEndings(" ")}");
            return null;
        }
    }

    [GeneratedRegex(@"time=([0-9.]+) ms")]
    private static partial Regex PingTime();
}
