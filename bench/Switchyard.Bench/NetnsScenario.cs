// The skeleton every namespace benchmark (`nat`, `l2`) fills in: Switchyard and its anchors side by side,
// alternating run by run, each run in fresh namespaces with a fresh daemon, then one report.
//
// Theory of operation: NetnsScenario owns the shape, a scenario owns the particulars. The shape: check
// root and the traffic tools; resolve the binaries (the scenario's Prepare); print the header; for every
// run, every MTU and every tool, in that order (A B C A B C ...), wait for the quiet gate, create the
// namespaces, start the tool under test (a RunSubject the scenario makes), measure (the scenario's
// Measure, with NetnsTraffic), and whatever happened stop every process by its PID, keep their logs,
// delete the namespaces and the run's directory; then the report (a ScenarioReport the scenario makes)
// to the console and as Markdown. A run that fails as a whole keeps its error with the subject's last
// output; a measurement that fails alone is a problem of that run. Nothing here knows a tool by name.
using System.Globalization;

namespace Switchyard.Bench;

/// <summary>What one run measured, whatever the scenario. <see cref="Error"/> set: the run failed as a
/// whole; a measurement that failed on its own is null and its reason is in <see cref="Problems"/>.</summary>
internal abstract record ScenarioResult
{
    public string? Error { get; init; }

    public IReadOnlyList<string> Problems { get; init; } = [];

    public RrStats? Rr { get; init; }

    public PingStats? Ping { get; init; }

    /// <summary>The subject's own counters after the measurements (Switchyard's `show`), or null.</summary>
    public string? Counters { get; init; }

    public double QuietWait { get; init; }
}

/// <summary>One run: which tool, at which MTU, the how-manieth, and what it measured.</summary>
internal sealed record ScenarioRun<TTool, TResult>(TTool Tool, int Mtu, int Run, TResult Result)
    where TTool : struct, Enum
    where TResult : ScenarioResult;

/// <summary>The namespaces of one run; created before it, deleted after it.</summary>
internal interface IRunNamespaces
{
    /// <summary>Namespace name -> what the report calls it (HOST, GUEST, A, ...).</summary>
    IReadOnlyDictionary<string, string> Aliases { get; }

    /// <summary>Creates the namespaces, deleting leftovers with the same names first.</summary>
    void Create();

    /// <summary>Deletes the namespaces if they exist; never throws (it runs in finally blocks).</summary>
    void Delete();
}

/// <summary>The tool under test in one run: a daemon or a switch with its processes.</summary>
internal interface IRunSubject
{
    /// <summary>How it is started and wired, for the report.</summary>
    string Layout { get; }

    /// <summary>The commands of the last start, as a shell would take them.</summary>
    List<string> Commands { get; }

    /// <summary>Every process it started, output kept.</summary>
    IReadOnlyList<ProcessLog> Logs { get; }

    /// <summary>Its processes while it runs (CPU accounting; empty for a kernel switch).</summary>
    IReadOnlyList<int> Pids { get; }

    string? Counters();

    /// <summary>Stops every process by its PID; idempotent.</summary>
    void Stop();
}

/// <summary>What a report needs besides the runs: where and how they ran.</summary>
internal sealed record ScenarioContext<TTool>(
    string Command,
    string? Invocation,
    MachineFacts Facts,
    string Versions,
    string LoadBefore,
    string LoadAfter,
    IReadOnlyDictionary<TTool, string> Layouts,
    IReadOnlyDictionary<TTool, List<string>> Commands,
    IReadOnlyDictionary<string, string> ClientCommands)
    where TTool : struct, Enum;

/// <summary>The skeleton; see the top of this file. <typeparamref name="TNamespaces"/> and
/// <typeparamref name="TSubject"/> are the scenario's own, so its Measure needs no casts.</summary>
internal abstract class NetnsScenario<TTool, TResult, TOptions, TNamespaces, TSubject>(TOptions options, ChildProcesses children)
    where TTool : struct, Enum
    where TResult : ScenarioResult, new()
    where TOptions : ScenarioOptions<TTool>
    where TNamespaces : IRunNamespaces
    where TSubject : IRunSubject
{
    protected const int IperfPort = 5201;
    protected const int RrPort = 5202;

    private readonly Dictionary<TTool, List<string>> commands = [];
    private readonly Dictionary<TTool, string> layouts = [];

    protected TOptions Options { get; } = options;

    protected ChildProcesses Children { get; } = children;

    /// <summary>The subcommand (`nat`, `l2`): messages, temporary directory names.</summary>
    protected abstract string Verb { get; }

    /// <summary>Why it needs root, for the refusal.</summary>
    protected abstract string RootReason { get; }

    /// <summary>Debian packages on the data path whose versions the report lists.</summary>
    protected abstract IReadOnlyList<string> Packages { get; }

    /// <summary>The MTUs to run at (one for a scenario without an MTU dimension).</summary>
    protected abstract IReadOnlyList<int> Mtus { get; }

    /// <summary>The console header's plan line, after "# ".</summary>
    protected abstract string Plan { get; }

    /// <summary>Resolves the tools' binaries (throwing BenchException with the package to install) and
    /// returns the machine's facts.</summary>
    protected abstract MachineFacts Prepare(string? repo);

    protected abstract TNamespaces CreateNamespaces();

    /// <summary>A fresh, not yet started, subject for <paramref name="tool"/>.</summary>
    protected abstract TSubject CreateSubject(TTool tool);

    /// <summary>Starts <paramref name="subject"/> in the freshly created namespaces, in the run's own
    /// directory <paramref name="dir"/>, and measures; throws BenchException when the run cannot go on.</summary>
    protected abstract TResult Measure(TSubject subject, TNamespaces ns, NetnsTraffic traffic, int mtu, string dir, List<ProcessLog> logs, List<string> problems);

    protected abstract ScenarioReport<TTool, TResult, TOptions> CreateReport(ScenarioContext<TTool> context, IReadOnlyList<ScenarioRun<TTool, TResult>> runs);

    public int Run()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new BenchException($"needs root ({RootReason})");
        }

        foreach (string tool in new[] { "ip", "iperf3", "busybox" })
        {
            if (StreamBenchmark.FindOnPath(tool) is null)
            {
                throw new BenchException($"{tool} not found (Debian: apt-get install iproute2 iperf3 busybox)");
            }
        }

        string? repo = StreamBenchmark.RepoRoot();
        MachineFacts facts = Prepare(repo);
        string versions = Versions(Packages);
        string invocation = StreamBenchmark.Invocation();
        string command = Options.Command ?? invocation;
        Console.Out.WriteLine($"# {command}");
        Console.Out.WriteLine($"# {facts.OneLine}; {versions}");
        Console.Out.WriteLine($"# {Plan}");

        string loadBefore = StreamBenchmark.LoadAverage();
        var runs = new List<ScenarioRun<TTool, TResult>>();
        TNamespaces ns = CreateNamespaces();
        var traffic = new NetnsTraffic(Children, ns.Aliases);
        Func<ScenarioRun<TTool, TResult>, string> runLine = CreateReport(
            new ScenarioContext<TTool>(command, invocation, facts, versions, loadBefore, "?", layouts, commands, traffic.Commands), runs).RunLine;
        try
        {
            for (int run = 1; run <= Options.Runs; run++)
            {
                foreach (int mtu in Mtus)
                {
                    foreach (TTool tool in Options.Tools)
                    {
                        ScenarioRun<TTool, TResult> record = RunOne(tool, mtu, run, ns, traffic);
                        runs.Add(record);
                        Console.Out.WriteLine(runLine(record));
                    }
                }
            }
        }
        finally
        {
            ns.Delete();
        }

        ScenarioReport<TTool, TResult, TOptions> report = CreateReport(
            new ScenarioContext<TTool>(command, invocation, facts, versions, loadBefore, StreamBenchmark.LoadAverage(), layouts, commands, traffic.Commands), runs);
        Console.Out.WriteLine();
        Console.Out.Write(report.SummaryText());
        if (Options.MarkdownPath is { } path)
        {
            string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir is not null)
            {
                Directory.CreateDirectory(dir);
            }

            File.WriteAllText(path, report.Markdown());
            Console.Out.WriteLine($"wrote {path}");
        }

        return report.AllValid ? 0 : 1;
    }

    /// <summary>The switchyard binary: --switchyard-bin, $SWITCHYARD_BIN, or the repo's published one.</summary>
    protected string ResolveSwitchyard(string? repo)
    {
        string? bin = Options.SwitchyardBin ?? Environment.GetEnvironmentVariable("SWITCHYARD_BIN") switch
        {
            { Length: > 0 } env => env,
            _ => repo is null ? null : Path.Combine(repo, ".cache", "publish", "switchyard"),
        };
        return bin is not null && File.Exists(bin)
            ? Path.GetFullPath(bin)
            : throw new BenchException($"switchyard binary not found at {bin ?? "(none)"}: pass --switchyard-bin, set SWITCHYARD_BIN, or run ./switchyard --help once to publish it");
    }

    /// <summary>A binary on PATH, or a BenchException naming the Debian package that has it.</summary>
    protected static string Require(string file, string package) =>
        StreamBenchmark.FindOnPath(file) ?? throw new BenchException($"{file} not found (Debian: apt-get install {package})");

    /// <summary>"package version" of each installed package of <paramref name="packages"/>.</summary>
    private static string Versions(IReadOnlyList<string> packages)
    {
        var parts = new List<string>();
        foreach (string pkg in packages)
        {
            // dpkg-query -W also answers (with an empty version) for packages it knows but that are not installed.
            if (MachineFacts.Run("dpkg-query", "-W", "-f=${Package} ${Version}", pkg) is { } v && v.Contains(' ', StringComparison.Ordinal))
            {
                parts.Add(v);
            }
        }

        return string.Join(", ", parts);
    }

    private ScenarioRun<TTool, TResult> RunOne(TTool tool, int mtu, int run, TNamespaces ns, NetnsTraffic traffic)
    {
        TSubject subject = CreateSubject(tool);
        layouts[tool] = subject.Layout;
        var logs = new List<ProcessLog>();
        var problems = new List<string>();
        string dir = Directory.CreateTempSubdirectory($"sybench-{Verb}-").FullName; // short: sun_path has 108 bytes
        Children.TrackDirectory(dir);
        double waited = CpuTime.WaitForQuiet(Options.QuietSeconds, Options.MaxOthers);
        TResult result;
        try
        {
            ns.Create();
            result = Measure(subject, ns, traffic, mtu, dir, logs, problems);
        }
        catch (BenchException e)
        {
            result = new TResult { Error = e.Message };
        }
        finally
        {
            subject.Stop();
            foreach (ProcessLog log in logs)
            {
                log.Child?.Stop();
            }

            commands[tool] = [.. subject.Commands];
            if (Options.LogDirectory is { } logDir)
            {
                Directory.CreateDirectory(logDir);
                string mtuPart = Mtus.Count > 1 ? string.Create(CultureInfo.InvariantCulture, $"-mtu{mtu}") : string.Empty;
                string stem = Path.Combine(logDir, string.Create(CultureInfo.InvariantCulture, $"run{run}{mtuPart}-{Options.Name(tool)}"));
                foreach (ProcessLog log in subject.Logs.Concat(logs))
                {
                    log.SaveLog($"{stem}-{log.Name.Replace(' ', '-')}.log");
                }
            }

            ns.Delete();
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // A straggling socket; the name is unique.
            }

            Children.ForgetDirectory(dir);
        }

        if (result.Error is not null && subject.Logs.Count > 0)
        {
            string tails = string.Join('\n', subject.Logs.Select(l => $"--- {l.Name} output (tail) ---\n{l.Tail(30)}"));
            result = (TResult)((ScenarioResult)result with { Error = $"{result.Error}\n{tails}" });
        }

        return new ScenarioRun<TTool, TResult>(tool, mtu, run, (TResult)((ScenarioResult)result with { Problems = problems, QuietWait = waited }));
    }
}
