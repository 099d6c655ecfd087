// Theory of operation: the end-to-end tests boot real Linux guests under QEMU. The guest is a Debian
// kernel plus a busybox initramfs, built by tests/guest/build-image.sh into <repo>/.cache/guest/.
// GuestImage finds the repository (the directory holding Switchyard.slnx above the test binaries),
// runs the build script once per test process (the script itself returns at once when its hash
// stamp says nothing changed) and answers either with the image or with a reason a test can show
// when it skips. It trusts nothing it did not check: qemu must be on PATH and both files must exist.
using System.Diagnostics;

namespace Switchyard.TestKit.Qemu;

/// <summary>The guest kernel and base initramfs used by every QEMU test.</summary>
public sealed class GuestImage
{
    /// <summary>Set to 1 to skip every guest test without trying to build the image.</summary>
    public const string SkipVariable = "SWITCHYARD_SKIP_GUEST_TESTS";

    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(10);
    private static readonly Lazy<(GuestImage? Image, string WhyNot)> Cached =
        new(Locate, LazyThreadSafetyMode.ExecutionAndPublication);

    private GuestImage(string repositoryRoot, string cacheDirectory, string qemuPath)
    {
        RepositoryRoot = repositoryRoot;
        CacheDirectory = cacheDirectory;
        QemuPath = qemuPath;
        Kernel = Path.Combine(cacheDirectory, "vmlinuz");
        BaseInitrd = Path.Combine(cacheDirectory, "base.cpio.gz");
        string versionFile = Path.Combine(cacheDirectory, "kernel-version");
        KernelVersion = File.Exists(versionFile) ? File.ReadAllText(versionFile).Trim() : "unknown";
    }

    /// <summary>The directory that holds Switchyard.slnx.</summary>
    public string RepositoryRoot { get; }

    /// <summary>Where build-image.sh keeps its outputs (<c>.cache/guest</c>).</summary>
    public string CacheDirectory { get; }

    /// <summary>The guest kernel (bzImage) passed to <c>-kernel</c>.</summary>
    public string Kernel { get; }

    /// <summary>The gzip'd newc archive with busybox, iperf3, the modules and /init.</summary>
    public string BaseInitrd { get; }

    /// <summary>The guest kernel release, e.g. 6.1.0-56-amd64.</summary>
    public string KernelVersion { get; }

    /// <summary>Full path of qemu-system-x86_64.</summary>
    public string QemuPath { get; }

    /// <summary>
    /// Returns the guest image, building it on first use in this process. On failure
    /// <paramref name="whyNot"/> says why, in words fit for a skipped test's message.
    /// </summary>
    public static bool TryGet(out GuestImage image, out string whyNot)
    {
        (GuestImage? found, string reason) = Cached.Value;
        image = found!;
        whyNot = reason;
        return found is not null;
    }

    /// <summary>Returns the guest image or throws with the reason it is unavailable.</summary>
    public static GuestImage Get() =>
        TryGet(out GuestImage image, out string whyNot) ? image : throw new InvalidOperationException(whyNot);

    /// <summary>Walks up from <paramref name="start"/> until a directory holds Switchyard.slnx.</summary>
    public static string? FindRepositoryRoot(string start)
    {
        for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Switchyard.slnx")))
                return dir.FullName;
        }

        return null;
    }

    /// <summary>Full path of <paramref name="program"/> on PATH, or null.</summary>
    public static string? FindOnPath(string program)
    {
        string? path = Environment.GetEnvironmentVariable("PATH");
        if (string.IsNullOrEmpty(path))
            return null;

        foreach (string dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
                return candidate;
        }

        return null;
    }

    private static (GuestImage? Image, string WhyNot) Locate()
    {
        if (Environment.GetEnvironmentVariable(SkipVariable) == "1")
            return (null, $"guest tests disabled by {SkipVariable}=1");
        if (!OperatingSystem.IsLinux())
            return (null, "QEMU guest tests run on Linux only");

        string? qemu = FindOnPath("qemu-system-x86_64");
        if (qemu is null)
            return (null, "qemu-system-x86_64 not installed (apt-get install -y qemu-system-x86)");

        string? root = FindRepositoryRoot(AppContext.BaseDirectory);
        if (root is null)
            return (null, $"no Switchyard.slnx above {AppContext.BaseDirectory}");

        string cache = Path.Combine(root, ".cache", "guest");
        string script = Path.Combine(root, "tests", "guest", "build-image.sh");
        if (!File.Exists(script))
            return (null, $"{script} is missing");

        // The script returns within milliseconds when its stamp matches, and rebuilds when
        // tests/guest/ changed, so it runs once per process even when the outputs exist.
        string? failure = RunBuildScript(script, cache);
        var image = new GuestImage(root, cache, qemu);
        if (File.Exists(image.Kernel) && File.Exists(image.BaseInitrd))
            return failure is null ? (image, string.Empty) : (null, failure);

        return (null, failure ?? $"build-image.sh produced no {image.Kernel} / {image.BaseInitrd}");
    }

    private static string? RunBuildScript(string script, string cache)
    {
        var psi = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add(cache);

        using var process = new Process { StartInfo = psi };
        var log = new System.Text.StringBuilder();
        object gate = new();
        void Append(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is null)
                return;
            lock (gate)
                log.AppendLine(e.Data);
        }

        process.OutputDataReceived += Append;
        process.ErrorDataReceived += Append;
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return $"cannot run bash {script}: {ex.Message}";
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(BuildTimeout))
        {
            process.Kill();
            process.WaitForExit();
            return $"build-image.sh did not finish within {BuildTimeout.TotalMinutes} minutes:\n{Tail(log, gate)}";
        }

        process.WaitForExit(); // drains the redirected streams
        return process.ExitCode == 0
            ? null
            : $"tests/guest/build-image.sh failed (exit {process.ExitCode}):\n{Tail(log, gate)}";
    }

    private static string Tail(System.Text.StringBuilder log, object gate)
    {
        string text;
        lock (gate)
            text = log.ToString();
        string[] lines = text.Split('\n');
        return string.Join('\n', lines[Math.Max(0, lines.Length - 20)..]);
    }
}
