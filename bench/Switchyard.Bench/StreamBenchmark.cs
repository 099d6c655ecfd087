// `switchyard-bench stream`: alternates the tools (run 1 of every size and tool, then run 2, ...), starts a
// fresh switch for every run, measures with PeerLoop, and prints (and optionally writes) the report.
using System.Diagnostics;
using System.Globalization;

namespace Switchyard.Bench;

internal sealed class StreamBenchmark(StreamOptions options, ChildProcesses children)
{
    public int Run()
    {
        if (options.PeerCpu is int cpu)
        {
            // Pins this (the main) thread, which runs the peers; threads it creates later inherit the mask.
            Process.GetCurrentProcess().ProcessorAffinity = (nint)(1L << cpu);
        }

        string? repo = RepoRoot();
        string? switchyardBin = options.Tools.Contains(Tool.Switchyard) ? ResolveSwitchyard(repo) : null;
        if (options.Tools.Contains(Tool.Vde) && FindOnPath(options.VdeSwitch) is null)
        {
            throw new BenchException($"{options.VdeSwitch} not found (Debian: apt-get install vde2)");
        }

        MachineFacts facts = MachineFacts.Collect(repo, switchyardBin, options.Tools.Contains(Tool.Vde) ? FindOnPath(options.VdeSwitch) : null);
        string invocation = Invocation();
        string command = options.Command ?? invocation;
        Console.Out.WriteLine($"# {command}");
        Console.Out.WriteLine($"# {facts.OneLine}");
        Console.Out.WriteLine(Invariant($"# {options.Runs} runs x {options.WarmupSeconds} s warm-up + {options.Seconds} s x sizes {string.Join(",", options.Sizes)} x tools {string.Join(",", options.Tools.Select(Report.Name))}, alternating; peers on CPU {Pin(options.PeerCpu)}, switch on CPU {Pin(options.SwitchCpu)}"));

        string loadBefore = LoadAverage();
        var results = new List<RunRecord>();
        var layouts = new Dictionary<Tool, string>();
        for (int run = 1; run <= options.Runs; run++)
        {
            foreach (int size in options.Sizes)
            {
                foreach (Tool tool in options.Tools)
                {
                    RunRecord record = RunOne(tool, size, run, switchyardBin, layouts);
                    results.Add(record);
                    Console.Out.WriteLine(Report.RunLine(record, options.Runs));
                }
            }
        }

        var report = new Report(options, command, facts, results, layouts) { Invocation = invocation, LoadBefore = loadBefore, LoadAfter = LoadAverage() };
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

    /// <summary>This process's own command line, quoted so it can be pasted into a shell.</summary>
    internal static string Invocation()
    {
        string[] args = Environment.GetCommandLineArgs();
        var parts = new List<string> { "dotnet" };
        foreach (string a in args)
        {
            parts.Add(a.Length > 0 && a.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=,:+@%".Contains(c, StringComparison.Ordinal))
                ? a
                : "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'");
        }

        return string.Join(' ', parts);
    }

    internal static string LoadAverage()
    {
        try
        {
            string[] f = File.ReadAllText("/proc/loadavg").Split(' ');
            return f.Length >= 3 ? $"{f[0]} {f[1]} {f[2]}" : "?";
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static string Pin(int? cpu) => cpu is int c ? c.ToString(CultureInfo.InvariantCulture) : "any";

    private static string Invariant(FormattableString s) => FormattableString.Invariant(s);

    private RunRecord RunOne(Tool tool, int size, int run, string? switchyardBin, Dictionary<Tool, string> layouts)
    {
        Target target = Target.Create(tool, options, children, switchyardBin);
        layouts[tool] = target.Layout;
        try
        {
            using Peers peers = target.Start();
            LoadResult result = PeerLoop.Run(peers, size, options.WarmupSeconds, options.Seconds, target.SwitchPid);
            string? counters = target.Counters();
            return new RunRecord(tool, size, run, result, counters);
        }
        catch (Exception e) when (e is BenchException or System.Net.Sockets.SocketException or IOException)
        {
            return new RunRecord(tool, size, run, LoadResult.Failed(e.Message), null);
        }
        finally
        {
            target.Stop();
        }
    }

    internal static string? RepoRoot()
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (DirectoryInfo? d = new(start); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "Switchyard.slnx")))
                {
                    return d.FullName;
                }
            }
        }

        return null;
    }

    private string ResolveSwitchyard(string? repo)
    {
        string? bin = options.SwitchyardBin ?? Environment.GetEnvironmentVariable("SWITCHYARD_BIN") switch
        {
            { Length: > 0 } env => env,
            _ => repo is null ? null : Path.Combine(repo, ".cache", "publish", "switchyard"),
        };
        if (bin is null)
        {
            throw new BenchException("cannot find the switchyard binary: pass --switchyard-bin or set SWITCHYARD_BIN");
        }

        if (!File.Exists(bin) && repo is not null && options.SwitchyardBin is null)
        {
            // The repo's launcher publishes on first use; `--help` builds without starting anything.
            Console.Error.WriteLine("switchyard-bench: publishing switchyard (./switchyard --help)...");
            using var build = Process.Start(new ProcessStartInfo(Path.Combine(repo, "switchyard"), "--help")
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            }) ?? throw new BenchException("cannot run ./switchyard");
            build.StandardOutput.ReadToEnd();
            if (!build.WaitForExit(TimeSpan.FromMinutes(10)))
            {
                build.Kill();
                throw new BenchException("./switchyard --help (publish) took more than 10 minutes");
            }
        }

        return File.Exists(bin) ? Path.GetFullPath(bin) : throw new BenchException($"switchyard binary not found at {bin}");
    }

    internal static string? FindOnPath(string file)
    {
        if (file.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(file) ? Path.GetFullPath(file) : null;
        }

        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':'))
        {
            string candidate = Path.Combine(dir, file);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}

/// <summary>One run of one tool at one size.</summary>
internal sealed record RunRecord(Tool Tool, int Size, int Run, LoadResult Result, string? Counters);
