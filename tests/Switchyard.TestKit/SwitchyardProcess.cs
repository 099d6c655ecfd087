// Runs the real switchyard executable for end-to-end tests, the way a user does: `switchyard up`
// in the foreground, then CLI verbs against its run directory.
//
// The binary comes from $SWITCHYARD_BIN (set by ./test) or is built through the ./switchyard
// wrapper. Only the process started here is ever signalled, by its own Process object.
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Switchyard.TestKit.Qemu;

namespace Switchyard.TestKit;

public sealed class SwitchyardProcess : IAsyncDisposable
{
    private static readonly Lazy<string> BinaryPath = new(FindBinary);
    private readonly Process process;
    private readonly StringBuilder output = new();
    private readonly TaskCompletionSource ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<string>? log;

    private SwitchyardProcess(Process process, string runDir, Action<string>? log)
    {
        this.process = process;
        RunDirectory = runDir;
        this.log = log;
    }

    public string RunDirectory { get; }

    /// <summary>The switchyard executable the tests run (SWITCHYARD_BIN, or the published one).</summary>
    public static string Binary => BinaryPath.Value;

    public string StreamSocket => Path.Combine(RunDirectory, "stream.sock");

    public int ProcessId => process.Id;

    public string Output
    {
        get
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    public bool HasExited => process.HasExited;

    /// <summary>Starts `switchyard up --run-dir DIR [args]` and waits for `switchyard: ready`. With a
    /// <paramref name="launcher"/> (e.g. <c>["prlimit", "--nofile=256:256", "--"]</c>) the daemon is started
    /// through that program; <see cref="ProcessId"/> is then the launcher's, which execs the daemon.</summary>
    public static async Task<SwitchyardProcess> StartAsync(string? runDir = null, IEnumerable<string>? extraArgs = null, Action<string>? log = null, IReadOnlyList<string>? launcher = null)
    {
        runDir ??= Directory.CreateTempSubdirectory("sy-e2e-").FullName;
        var psi = new ProcessStartInfo(launcher is { Count: > 0 } ? launcher[0] : BinaryPath.Value)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (launcher is { Count: > 0 })
        {
            foreach (string a in launcher.Skip(1))
            {
                psi.ArgumentList.Add(a);
            }

            psi.ArgumentList.Add(BinaryPath.Value);
        }

        psi.ArgumentList.Add("up");
        psi.ArgumentList.Add("--run-dir");
        psi.ArgumentList.Add(runDir);
        foreach (string a in extraArgs ?? [])
        {
            psi.ArgumentList.Add(a);
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var sy = new SwitchyardProcess(process, runDir, log);
        process.OutputDataReceived += (_, e) => sy.OnLine(e.Data, "");
        process.ErrorDataReceived += (_, e) => sy.OnLine(e.Data, "[log] ");
        process.Exited += (_, _) => sy.ready.TrySetException(new InvalidOperationException("switchyard exited before it was ready:\n" + sy.Output));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await sy.ready.Task.WaitAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        return sy;
    }

    /// <summary>Runs a CLI verb against this daemon's run directory; returns (exit code, stdout+stderr).</summary>
    public async Task<(int ExitCode, string Output)> CliAsync(params string[] args)
    {
        var psi = new ProcessStartInfo(BinaryPath.Value)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.ArgumentList.Add("--run-dir");
        psi.ArgumentList.Add(RunDirectory);
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await p.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        string text = await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false);
        log?.Invoke($"$ switchyard {string.Join(' ', args)}\n{text}");
        return (p.ExitCode, text);
    }

    /// <summary>`switchyard show --json`, parsed.</summary>
    public async Task<JsonElement> ShowAsync()
    {
        (int code, string text) = await CliAsync("show", "--json").ConfigureAwait(false);
        if (code != 0)
        {
            throw new InvalidOperationException($"switchyard show failed ({code}): {text}");
        }

        using JsonDocument doc = JsonDocument.Parse(text);
        return doc.RootElement.GetProperty("show").Clone();
    }

    /// <summary>`switchyard fdb --json`, parsed into its rows.</summary>
    public async Task<JsonElement> FdbAsync()
    {
        (int code, string text) = await CliAsync("fdb", "--json").ConfigureAwait(false);
        if (code != 0)
        {
            throw new InvalidOperationException($"switchyard fdb failed ({code}): {text}");
        }

        using JsonDocument doc = JsonDocument.Parse(text);
        return doc.RootElement.TryGetProperty("fdb", out JsonElement rows) ? rows.Clone() : JsonDocument.Parse("[]").RootElement.Clone();
    }

    /// <summary>The ports of <paramref name="network"/> in a `show` answer: the ports guests attach to,
    /// plus the NAT gateway's internal port when <paramref name="includeGateway"/> is set.</summary>
    public static IEnumerable<JsonElement> Ports(JsonElement show, string network = "default", bool includeGateway = false)
    {
        foreach (JsonElement n in show.GetProperty("networks").EnumerateArray())
        {
            if (n.GetProperty("name").GetString() == network)
            {
                return n.GetProperty("ports").EnumerateArray()
                    .Where(p => includeGateway || p.GetProperty("kind").GetString() != "gateway").ToList();
            }
        }

        return [];
    }

    /// <summary>Polls until <paramref name="condition"/> holds for a `show` answer, or throws after <paramref name="timeout"/>.</summary>
    public async Task<JsonElement> WaitForShowAsync(Func<JsonElement, bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        JsonElement show;
        do
        {
            show = await ShowAsync().ConfigureAwait(false);
            if (condition(show))
            {
                return show;
            }

            await Task.Delay(250).ConfigureAwait(false);
        }
        while (clock.Elapsed < timeout);
        throw new TimeoutException($"timed out waiting for {what}; last show: {show}");
    }

    /// <summary>Sends SIGTERM and waits for a clean exit; returns the exit code.</summary>
    public async Task<int> StopAsync()
    {
        if (!process.HasExited)
        {
            _ = Kill(process.Id, 15);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                await process.WaitForExitAsync().ConfigureAwait(false);
            }
        }

        return process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        process.Dispose();
        try
        {
            Directory.Delete(RunDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private static string FindBinary()
    {
        if (Environment.GetEnvironmentVariable("SWITCHYARD_BIN") is { Length: > 0 } bin && File.Exists(bin))
        {
            return bin;
        }

        string root = GuestImage.FindRepositoryRoot(AppContext.BaseDirectory)
            ?? throw new InvalidOperationException("cannot find the repository root (Switchyard.slnx) to build switchyard");
        using (Process build = Process.Start(new ProcessStartInfo(Path.Combine(root, "switchyard"), "--help") { RedirectStandardOutput = true, RedirectStandardError = true })!)
        {
            string err = build.StandardError.ReadToEnd();
            build.StandardOutput.ReadToEnd();
            build.WaitForExit();
            if (build.ExitCode != 0)
            {
                throw new InvalidOperationException("building switchyard failed:\n" + err);
            }
        }

        return Path.Combine(root, ".cache", "publish", "switchyard");
    }

    private void OnLine(string? line, string prefix)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.Append(prefix).Append(line).Append('\n');
        }

        log?.Invoke("[switchyard] " + prefix + line);
        if (line == "switchyard: ready")
        {
            ready.TrySetResult();
        }
    }
}
