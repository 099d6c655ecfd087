// Theory of operation: one QemuGuest is one qemu-system-x86_64 process booting the test image under
// TCG with -nographic, which puts the guest's serial console (ttyS0) on QEMU's stdout. Two pump
// tasks read stdout and stderr line by line into a locked list (escape sequences stripped, stderr
// lines prefixed "[qemu] "); waiters registered by WaitForLineAsync are checked against every new
// line and against the lines already received, and all fail at once when QEMU exits. The guest's
// /init prints GUEST-BOOTED, runs /test.sh and prints GUEST-DONE rc=N, which RunToCompletionAsync
// turns into a GuestResult. Every wait is bounded and its failure message carries the console's
// last lines, because a silent guest is otherwise impossible to diagnose. The guest owns its QEMU
// process (killed through its own Process object, never by name) and its temp directory.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Switchyard.TestKit.Qemu;

/// <summary>A QEMU guest booted from the test image; dispose to kill it and delete its files.</summary>
public sealed partial class QemuGuest : IAsyncDisposable
{
    /// <summary>The line /init prints once modules are loaded and links are up.</summary>
    public const string BootedMarker = "GUEST-BOOTED";

    /// <summary>The line prefix /init prints after /test.sh, followed by <c>rc=N</c>.</summary>
    public const string DoneMarker = "GUEST-DONE";

    /// <summary>The kernel command line every guest gets.</summary>
    public const string KernelCommandLine = "console=ttyS0 quiet panic=-1";

    private const int TailLines = 60;
    private static readonly TimeSpan ExitAfterDone = TimeSpan.FromSeconds(15);

    private readonly Process process;
    private readonly string tempDirectory;
    private readonly Action<string>? log;
    private readonly object gate = new();
    private readonly List<string> lines = [];
    private readonly List<LineWaiter> waiters = [];
    private readonly Task<int> exited;
    private int? exitCode;
    private int disposed;

    private QemuGuest(string name, Process process, string tempDirectory, Action<string>? log)
    {
        Name = name;
        this.process = process;
        this.tempDirectory = tempDirectory;
        this.log = log;
        Task stdout = Task.Run(() => PumpAsync(process.StandardOutput, prefix: null));
        Task stderr = Task.Run(() => PumpAsync(process.StandardError, prefix: "[qemu] "));
        exited = WatchExitAsync(stdout, stderr);
    }

    /// <summary>The name given in the options.</summary>
    public string Name { get; }

    /// <summary>The QEMU process id.</summary>
    public int ProcessId => process.Id;

    /// <summary>The full QEMU command line, for logs.</summary>
    public string CommandLine { get; private init; } = string.Empty;

    /// <summary>True once QEMU has exited and its output is fully read.</summary>
    public bool HasExited => exited.IsCompleted;

    /// <summary>All console output so far.</summary>
    public string Output
    {
        get
        {
            lock (gate)
                return string.Join('\n', lines);
        }
    }

    /// <summary>A locally administered QEMU-style MAC, <c>52:54:00:12:34:NN</c>.</summary>
    public static string Mac(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(n, 255);
        return string.Create(CultureInfo.InvariantCulture, $"52:54:00:12:34:{n:x2}");
    }

    /// <summary>Builds the guest's initrd and starts QEMU. The guest boots in the background.</summary>
    public static QemuGuest Start(QemuGuestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        GuestImage image = options.Image ?? GuestImage.Get();

        string safeName = UnsafeNameChars().Replace(options.Name, "_");
        string temp = Path.Combine(Path.GetTempPath(), $"switchyard-{safeName}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            string initrd = Path.Combine(temp, "initrd.gz");
            GuestInitrd.Create(image.BaseInitrd, initrd, options.TestScript, options.ExtraFiles);

            var psi = new ProcessStartInfo(image.QemuPath)
            {
                RedirectStandardInput = true, // never written: keeps QEMU's monitor away from our terminal
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                StandardOutputEncoding = Encoding.UTF8,
                StandardErrorEncoding = Encoding.UTF8,
            };
            string append = string.IsNullOrWhiteSpace(options.ExtraKernelArgs)
                ? KernelCommandLine
                : $"{KernelCommandLine} {options.ExtraKernelArgs}";
            string[] args =
            [
                "-accel", "tcg",
                "-m", options.MemoryMiB.ToString(CultureInfo.InvariantCulture),
                "-nographic",
                "-no-reboot",
                "-nic", "none", // no default NIC: only the caller's netdevs exist
                "-kernel", image.Kernel,
                "-initrd", initrd,
                "-append", append,
            ];
            foreach (string arg in args)
                psi.ArgumentList.Add(arg);
            foreach (string arg in options.ExtraArgs)
                psi.ArgumentList.Add(arg);

            var process = new Process { StartInfo = psi };
            process.Start();
            return new QemuGuest(options.Name, process, temp, options.Log)
            {
                CommandLine = image.QemuPath + " " + string.Join(' ', psi.ArgumentList),
            };
        }
        catch
        {
            TryDeleteDirectory(temp);
            throw;
        }
    }

    /// <summary>Waits for the first console line (already received or future) that <paramref name="match"/> accepts.</summary>
    /// <exception cref="QemuGuestException">On timeout, or when QEMU exits first; the message holds the console's tail.</exception>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(match);
        var waiter = new LineWaiter(match);
        lock (gate)
        {
            foreach (string line in lines)
            {
                if (match(line))
                    return line;
            }

            if (exitCode is int code)
                throw new QemuGuestException(Describe($"QEMU exited with code {code} before the awaited line appeared"));
            waiters.Add(waiter);
        }

        try
        {
            return await waiter.Completion.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new QemuGuestException(Describe($"no awaited console line within {timeout.TotalSeconds:0.#} s"), ex);
        }
        finally
        {
            lock (gate)
                waiters.Remove(waiter);
        }
    }

    /// <summary>Waits for a console line matching <paramref name="pattern"/>.</summary>
    public Task<string> WaitForLineAsync(Regex pattern, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        return WaitForLineAsync(pattern.IsMatch, timeout, cancellationToken);
    }

    /// <summary>Waits for a console line containing <paramref name="text"/>.</summary>
    public Task<string> WaitForLineAsync(string text, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        return WaitForLineAsync(line => line.Contains(text, StringComparison.Ordinal), timeout, cancellationToken);
    }

    /// <summary>Waits until /init reports <see cref="BootedMarker"/>.</summary>
    public Task<string> WaitForBootAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WaitForLineAsync(BootedMarker, timeout, cancellationToken);

    /// <summary>Waits for QEMU to exit and returns its exit code.</summary>
    /// <exception cref="QemuGuestException">When QEMU is still running after <paramref name="timeout"/>.</exception>
    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        try
        {
            return await exited.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new QemuGuestException(Describe($"QEMU still running after {timeout.TotalSeconds:0.#} s"), ex);
        }
    }

    /// <summary>
    /// Waits for <c>GUEST-DONE rc=N</c> and for QEMU to power off, and returns N with the console.
    /// </summary>
    /// <exception cref="QemuGuestException">On timeout, or when the guest dies without reporting.</exception>
    public async Task<GuestResult> RunToCompletionAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        string line = await WaitForLineAsync(DoneRegex(), timeout, cancellationToken).ConfigureAwait(false);
        int rc = int.Parse(DoneRegex().Match(line).Groups[1].ValueSpan, CultureInfo.InvariantCulture);

        int? qemuExit;
        try
        {
            qemuExit = await WaitForExitAsync(ExitAfterDone, cancellationToken).ConfigureAwait(false);
        }
        catch (QemuGuestException)
        {
            // The test is over; a guest that does not power off is only a nuisance.
            Kill();
            qemuExit = null;
        }

        return new GuestResult(rc, Output, qemuExit);
    }

    /// <summary>Kills QEMU now (it is the process this object started) and deletes the temp files.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;

        Kill();
        try
        {
            await exited.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Leave the pumps; the process handle is released below either way.
        }

        process.Dispose();
        TryDeleteDirectory(tempDirectory);
    }

    /// <summary>The failure text used by every exception: what went wrong plus the console's tail.</summary>
    public string Describe(string what)
    {
        string[] snapshot;
        lock (gate)
            snapshot = lines.ToArray();
        int from = Math.Max(0, snapshot.Length - TailLines);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"guest '{Name}': {what}.");
        text.Append(CultureInfo.InvariantCulture, $" Last {snapshot.Length - from} of {snapshot.Length} console lines:");
        for (int i = from; i < snapshot.Length; i++)
            text.Append('\n').Append("  | ").Append(snapshot[i]);
        return text.ToString();
    }

    private void Kill()
    {
        try
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: false);
        }
        catch (InvalidOperationException)
        {
            // Already exited between the check and the kill.
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // Exiting: the signal raced with its end.
        }
    }

    private async Task PumpAsync(StreamReader reader, string? prefix)
    {
        while (await reader.ReadLineAsync().ConfigureAwait(false) is string raw)
        {
            string line = Clean(raw);
            if (line.Length == 0 && raw.Length != 0)
                continue; // a line of pure escape sequences (console resets)
            if (prefix is not null)
                line = prefix + line;
            AddLine(line);
        }
    }

    private async Task<int> WatchExitAsync(Task stdout, Task stderr)
    {
        try
        {
            await Task.WhenAll(stdout, stderr).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The pipe broke because the process was killed; the exit code says the rest.
        }
        catch (ObjectDisposedException)
        {
        }

        await process.WaitForExitAsync().ConfigureAwait(false);
        int code = process.ExitCode;
        LineWaiter[] failed;
        lock (gate)
        {
            exitCode = code;
            failed = waiters.ToArray();
            waiters.Clear();
        }

        if (failed.Length > 0)
        {
            var ex = new QemuGuestException(Describe($"QEMU exited with code {code} before the awaited line appeared"));
            foreach (LineWaiter waiter in failed)
                waiter.Completion.TrySetException(ex);
        }

        return code;
    }

    private void AddLine(string line)
    {
        List<LineWaiter>? matched = null;
        lock (gate)
        {
            lines.Add(line);
            foreach (LineWaiter waiter in waiters)
            {
                if (waiter.Match(line))
                    (matched ??= []).Add(waiter);
            }

            if (matched is not null)
            {
                foreach (LineWaiter waiter in matched)
                    waiters.Remove(waiter);
            }
        }

        if (matched is not null)
        {
            foreach (LineWaiter waiter in matched)
                waiter.Completion.TrySetResult(line);
        }

        if (log is not null)
        {
            try
            {
                log($"[{Name}] {line}");
            }
            catch (InvalidOperationException)
            {
                // xunit's output helper refuses writes once its test has finished.
            }
        }
    }

    private static string Clean(string raw)
    {
        string line = EscapeSequence().Replace(raw, string.Empty);
        if (line.AsSpan().IndexOfAnyInRange('\0', '\x1f') < 0)
            return line;

        var kept = new StringBuilder(line.Length);
        foreach (char c in line)
        {
            if (c == '\t' || c >= ' ')
                kept.Append(c);
        }

        return kept.ToString();
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    // CSI sequences (ESC [ ... final), two-byte escapes (ESC c = reset, ESC 7/8, ESC =/>), charset selection.
    [GeneratedRegex(@"\x1B(?:\[[0-?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[@-Z\\-_a-z0-9=>])")]
    private static partial Regex EscapeSequence();

    [GeneratedRegex(@"GUEST-DONE rc=(\d+)")]
    private static partial Regex DoneRegex();

    [GeneratedRegex(@"[^A-Za-z0-9_.-]")]
    private static partial Regex UnsafeNameChars();

    private sealed class LineWaiter(Func<string, bool> match)
    {
        public Func<string, bool> Match { get; } = match;

        public TaskCompletionSource<string> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
