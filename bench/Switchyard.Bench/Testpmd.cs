// dpdk-testpmd driven through its interactive prompt on stdin: the command line for each role, the
// session (send a command, wait for its whole answer), and the parsers for `show port stats all` and
// the forward statistics `stop` prints. testpmd runs under `stdbuf -oL` so its printf output arrives
// line by line on the pipe instead of in 4 KiB blocks.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Switchyard.Bench;

/// <summary>One port's block of `show port stats all` (cumulative since the port started).</summary>
internal sealed record PortStats(int Port, long RxPackets, long RxBytes, long RxMissed, long RxErrors, long RxNoMbuf, long TxPackets, long TxBytes, long TxErrors);

/// <summary>One port's forward statistics, printed by `stop` (since `start`).</summary>
internal sealed record ForwardStats(int Port, long RxPackets, long RxDropped, long TxPackets, long TxDropped);

internal static partial class Testpmd
{
    /// <summary>The EAL options that decide where memory comes from (see VhostOptions.Memory).</summary>
    public static IEnumerable<string> MemoryArgs(VhostOptions o) => o.Memory switch
    {
        DpdkMemory.Hugepages => ["--in-memory", "--single-file-segments", "--iova-mode=va", "-m", o.MemMb.ToString(CultureInfo.InvariantCulture)],
        _ => ["--no-huge", "-m", o.MemMb.ToString(CultureInfo.InvariantCulture)],
    };

    /// <summary>EAL options common to both roles: both lcores (main and forwarding) on one CPU, no PCI
    /// scan, no telemetry socket, its own file prefix (run directory /var/run/dpdk/PREFIX).</summary>
    public static List<string> Eal(VhostOptions o, int cpu, string prefix)
    {
        string c = cpu.ToString(CultureInfo.InvariantCulture);
        var args = new List<string> { "--lcores", $"0@{c},1@{c}", "--no-pci", "--no-telemetry", "--file-prefix", prefix };
        args.AddRange(MemoryArgs(o));
        return args;
    }

    public static ParsedBlocks<PortStats> ParsePortStats(IReadOnlyList<string> lines) =>
        ParseBlocks(lines, "NIC statistics for port", static (port, kv) => new PortStats(
            port,
            Get(kv, "RX-packets"),
            Get(kv, "RX-bytes"),
            Get(kv, "RX-missed"),
            Get(kv, "RX-errors"),
            Get(kv, "RX-nombuf"),
            Get(kv, "TX-packets"),
            Get(kv, "TX-bytes"),
            Get(kv, "TX-errors")));

    public static ParsedBlocks<ForwardStats> ParseForwardStats(IReadOnlyList<string> lines) =>
        ParseBlocks(lines, "Forward statistics for port", static (port, kv) => new ForwardStats(
            port,
            Get(kv, "RX-packets"),
            Get(kv, "RX-dropped"),
            Get(kv, "TX-packets"),
            Get(kv, "TX-dropped")));

    private static long Get(Dictionary<string, long> kv, string key) => kv.TryGetValue(key, out long v) ? v : 0;

    /// <summary>Blocks that start with a header line naming the port and end with a line of only '#', '-'
    /// or '+' (testpmd's rulers); the key: value pairs in between. Incomplete blocks are not returned.</summary>
    private static ParsedBlocks<T> ParseBlocks<T>(IReadOnlyList<string> lines, string header, Func<int, Dictionary<string, long>, T> make)
    {
        var done = new List<T>();
        Dictionary<string, long>? current = null;
        int port = -1;
        foreach (string raw in lines)
        {
            string line = raw.Replace("testpmd>", string.Empty, StringComparison.Ordinal).Trim();
            int h = line.IndexOf(header, StringComparison.Ordinal);
            if (h >= 0)
            {
                Match m = PortNumber().Match(line, h + header.Length);
                port = m.Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
                current = [];
                continue;
            }

            if (current is null)
            {
                continue;
            }

            if (line.Length >= 8 && line.All(c => c is '#' or '-' or '+'))
            {
                done.Add(make(port, current));
                current = null;
                continue;
            }

            foreach (Match m in KeyValue().Matches(line))
            {
                current[m.Groups[1].Value] = long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            }
        }

        return new ParsedBlocks<T>(done);
    }

    [GeneratedRegex(@"\G\s*(\d+)")]
    private static partial Regex PortNumber();

    [GeneratedRegex(@"([A-Za-z][A-Za-z-]*):\s*(\d+)")]
    private static partial Regex KeyValue();
}

internal sealed record ParsedBlocks<T>(IReadOnlyList<T> Blocks);

/// <summary>A started process and everything it printed (stdout and stderr, one line at a time).</summary>
internal class ProcessLog(string name)
{
    private readonly object gate = new();
    private readonly List<string> lines = [];

    public string Name { get; } = name;

    public ChildProcesses.Child? Child { get; set; }

    /// <summary>The full command line, for the report.</summary>
    public string CommandLine { get; set; } = string.Empty;

    public void OnLine(string line)
    {
        lock (gate)
        {
            lines.Add(line);
            Monitor.PulseAll(gate);
        }
    }

    /// <summary>Everything the process printed so far.</summary>
    public string Output()
    {
        lock (gate)
        {
            return string.Join('\n', lines);
        }
    }

    public string Tail(int count = 40)
    {
        lock (gate)
        {
            return string.Join('\n', lines.Skip(Math.Max(0, lines.Count - count)));
        }
    }

    /// <summary>Waits until the output (from the beginning) has a line containing <paramref name="text"/>.</summary>
    public bool WaitForLine(string text, TimeSpan timeout) =>
        WaitFor(0, seen => seen.Any(l => l.Contains(text, StringComparison.Ordinal)), timeout) is not null;

    /// <summary>Writes the whole output to <paramref name="path"/>, with the command line first.</summary>
    public void SaveLog(string path)
    {
        var sb = new StringBuilder();
        sb.Append("# ").AppendLine(CommandLine);
        sb.AppendLine(Output());
        File.WriteAllText(path, sb.ToString());
    }

    protected int Mark()
    {
        lock (gate)
        {
            return lines.Count;
        }
    }

    /// <summary>Waits until the lines printed since <paramref name="from"/> satisfy <paramref name="done"/>;
    /// returns them, or null on timeout or if the process exited without satisfying it.</summary>
    protected List<string>? WaitFor(int from, Func<List<string>, bool> done, TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        lock (gate)
        {
            while (true)
            {
                List<string> seen = lines.GetRange(from, lines.Count - from);
                if (done(seen))
                {
                    return seen;
                }

                TimeSpan left = timeout - waited.Elapsed;
                if (left <= TimeSpan.Zero)
                {
                    return null;
                }

                if (Child is { HasExited: true } && !Monitor.Wait(gate, TimeSpan.FromMilliseconds(200)))
                {
                    return null; // exited and nothing more is coming
                }

                Monitor.Wait(gate, left < TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100));
            }
        }
    }
}

/// <summary>A testpmd process; commands go to its interactive prompt on stdin.</summary>
internal sealed class TestpmdSession(string name) : ProcessLog(name)
{
    /// <summary>`show port stats all`; null if the answer did not come (the caller reports the tail).
    /// <paramref name="at"/> is the midpoint between sending and the whole answer arriving.</summary>
    public IReadOnlyList<PortStats>? ShowPortStats(int ports, TimeSpan timeout, Stopwatch clock, out TimeSpan at)
    {
        int mark = Mark();
        TimeSpan sent = clock.Elapsed;
        at = sent;
        if (!Send("show port stats all"))
        {
            return null;
        }

        List<string>? answer = WaitFor(mark, seen => Testpmd.ParsePortStats(seen).Blocks.Count >= ports, timeout);
        if (answer is null)
        {
            return null;
        }

        at = (sent + clock.Elapsed) / 2;
        return Testpmd.ParsePortStats(answer).Blocks;
    }

    /// <summary>`stop`: ends forwarding and returns the per-port forward statistics (empty if forwarding
    /// had not started), or null if no answer came.</summary>
    public IReadOnlyList<ForwardStats>? StopForwarding(TimeSpan timeout)
    {
        int mark = Mark();
        if (!Send("stop"))
        {
            return null;
        }

        List<string>? answer = WaitFor(
            mark,
            seen => seen.Any(l => l.Trim() == "Done." || l.Contains("Packet forwarding not started", StringComparison.Ordinal)),
            timeout);
        return answer is null ? null : Testpmd.ParseForwardStats(answer).Blocks;
    }

    /// <summary>`quit`, then waits for the process to exit by itself (it closes its ports and, for
    /// virtio-user, tells the back-end with GET_VRING_BASE); false if it did not within the timeout.</summary>
    public bool Quit(TimeSpan timeout)
    {
        if (Child is null)
        {
            return true;
        }

        Send("quit");
        return Child.WaitExit(timeout);
    }

    public bool Send(string command) => Child?.SendLine(command) ?? false;
}
