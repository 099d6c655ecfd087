// CPU time of a process (all its threads) from /proc/PID/stat, to tell who the bottleneck was: a
// switch near 100 % of a CPU is the limit; a switch well below it while the peers are busy means the
// peers (or the scheduler) were.
using System.Globalization;

namespace Switchyard.Bench;

internal static class CpuTime
{
    /// <summary>USER_HZ: the unit of utime/stime; 100 on every Linux architecture .NET runs on.</summary>
    private const double TicksPerSecond = 100;

    /// <summary>Busy CPU time of the whole machine (every CPU, every process) in seconds, from the first
    /// line of /proc/stat: user + nice + system + irq + softirq + steal; NaN if unreadable.</summary>
    public static double MachineBusySeconds()
    {
        string? line;
        try
        {
            using var reader = new StreamReader("/proc/stat");
            line = reader.ReadLine();
        }
        catch (IOException)
        {
            return double.NaN;
        }

        if (line is null || !line.StartsWith("cpu ", StringComparison.Ordinal))
        {
            return double.NaN;
        }

        string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long busy = 0;
        foreach (int i in (ReadOnlySpan<int>)[1, 2, 3, 6, 7, 8])
        {
            if (i < f.Length && long.TryParse(f[i], NumberStyles.None, CultureInfo.InvariantCulture, out long v))
            {
                busy += v;
            }
        }

        return busy / TicksPerSecond;
    }

    /// <summary>Waits (at most <paramref name="seconds"/>) for half a second in which the whole machine
    /// was busy for less than <paramref name="maxCpus"/> CPUs. Call it while nothing of the benchmark
    /// runs, so what it sees is other people's work. Returns the seconds waited; 0 when
    /// <paramref name="seconds"/> is 0.</summary>
    public static double WaitForQuiet(double seconds, double maxCpus)
    {
        if (seconds <= 0)
        {
            return 0;
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        double before = MachineBusySeconds();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            TimeSpan start = clock.Elapsed;
            Thread.Sleep(500);
            double now = MachineBusySeconds();
            if ((now - before) / (clock.Elapsed - start).TotalSeconds < maxCpus)
            {
                break;
            }

            before = now;
        }

        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>utime + stime of <paramref name="pid"/> in seconds (self when null); NaN if unreadable.</summary>
    public static double Seconds(int? pid)
    {
        string path = pid is int p ? $"/proc/{p.ToString(CultureInfo.InvariantCulture)}/stat" : "/proc/self/stat";
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (IOException)
        {
            return double.NaN;
        }

        // The command name (field 2) is in parentheses and may contain spaces; count fields after it.
        int close = text.LastIndexOf(')');
        if (close < 0)
        {
            return double.NaN;
        }

        string[] fields = text[(close + 2)..].Split(' ');

        // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
        if (fields.Length < 13
            || !long.TryParse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture, out long utime)
            || !long.TryParse(fields[12], NumberStyles.None, CultureInfo.InvariantCulture, out long stime))
        {
            return double.NaN;
        }

        return (utime + stime) / TicksPerSecond;
    }
}
