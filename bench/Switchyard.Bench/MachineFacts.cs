// What the report says about the machine and the software under test, so a number can be traced back.
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Switchyard.Bench;

internal sealed record MachineFacts(
    int Cpus,
    string CpuModel,
    string Kernel,
    string Os,
    string Dotnet,
    string? Switchyard,
    string? VdeSwitch,
    string MaxDgramQlen)
{
    public string OneLine =>
        $"{Cpus} CPUs ({CpuModel}), kernel {Kernel}, {Os}, {Dotnet}" +
        (Switchyard is null ? string.Empty : $", switchyard {Switchyard}") +
        (VdeSwitch is null ? string.Empty : $", vde_switch {VdeSwitch}");

    /// <summary>CPUs in the machine (not this process's affinity mask, which taskset narrows).</summary>
    public static int OnlineCpus()
    {
        try
        {
            int n = 0;
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("processor", StringComparison.Ordinal))
                {
                    n++;
                }
            }

            return n > 0 ? n : Environment.ProcessorCount;
        }
        catch (IOException)
        {
            return Environment.ProcessorCount;
        }
    }

    public static MachineFacts Collect(string? repo, string? switchyardBin, string? vdeSwitch)
    {
        string cpuModel = "unknown";
        foreach (string line in File.ReadLines("/proc/cpuinfo"))
        {
            if (line.StartsWith("model name", StringComparison.Ordinal))
            {
                cpuModel = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
                break;
            }
        }

        string os = "Linux";
        if (File.Exists("/etc/os-release"))
        {
            foreach (string line in File.ReadLines("/etc/os-release"))
            {
                if (line.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))
                {
                    os = line["PRETTY_NAME=".Length..].Trim('"');
                }
            }
        }

        string? switchyard = null;
        if (switchyardBin is not null)
        {
            switchyard = switchyardBin;
            if (repo is not null && Run("git", "-C", repo, "rev-parse", "--short", "HEAD") is { Length: > 0 } commit)
            {
                bool dirty = Run("git", "-C", repo, "status", "--porcelain", "--", "src", "Directory.Build.props", "Directory.Packages.props") is { Length: > 0 };
                switchyard = $"{switchyardBin} built from commit {commit}" + (dirty ? " plus uncommitted changes in src/" : string.Empty);
            }
        }

        string? vde = null;
        if (vdeSwitch is not null)
        {
            vde = Run("dpkg-query", "-W", "-f=${Package} ${Version}", "vde-switch") is { Length: > 0 } pkg
                ? $"{vdeSwitch} ({pkg})"
                : vdeSwitch;
        }

        return new MachineFacts(
            OnlineCpus(),
            cpuModel,
            ReadTrimmed("/proc/sys/kernel/osrelease"),
            os,
            RuntimeInformation.FrameworkDescription,
            switchyard,
            vde,
            ReadTrimmed("/proc/sys/net/unix/max_dgram_qlen"));
    }

    private static string ReadTrimmed(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    /// <summary>Runs a short command and returns its trimmed stdout, or null if it failed.</summary>
    internal static string? Run(string file, params string[] args)
    {
        try
        {
            var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in args)
            {
                psi.ArgumentList.Add(a);
            }

            using Process p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd();
            p.StandardError.ReadToEnd();
            if (!p.WaitForExit(10_000))
            {
                p.Kill();
                return null;
            }

            return p.ExitCode == 0 ? output.Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
