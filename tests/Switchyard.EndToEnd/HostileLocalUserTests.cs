// A local user against `switchyard exec` run by root (issue 10, hole 7): the DHCP hook script and its
// markers once lived at the predictable /tmp/sy-exec-PID, reused if it existed. An unprivileged user who
// pre-created it could plant a `releasing` link to a root-owned file (root truncated it) and swap
// `udhcpc.sh` after root wrote it (root ran it). Here `nobody` does exactly that, for every PID exec is
// likely to get, and keeps re-planting while exec runs; the exec must succeed without touching any of it.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Switchyard.TestKit;
using Switchyard.TestKit.Hostile;
using Xunit.Abstractions;

namespace Switchyard.EndToEnd;

public sealed class HostileLocalUserTests(ITestOutputHelper output)
{
    private const int Nobody = 65534;

    [RequiresRootFact]
    public async Task Exec_NobodyPlantsScratchDirectoriesAndLinks_RootTouchesNoneOfThem()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);

        // A root-only file the attacker wants truncated, and a place the attacker's script would mark.
        DirectoryInfo rootOnly = Directory.CreateTempSubdirectory("sy-victim-");
        string victim = Path.Combine(rootOnly.FullName, "precious");
        File.WriteAllText(victim, "precious");
        string attackerHome = Path.Combine("/tmp", $"sy-attacker-{Guid.NewGuid():N}");
        Directory.CreateDirectory(attackerHome);
        File.SetUnixFileMode(attackerHome, (UnixFileMode)Convert.ToInt32("777", 8));
        string marker = Path.Combine(attackerHome, "ran-as-root");
        int lastPid = int.Parse(File.ReadAllText("/proc/sys/kernel/ns_last_pid").Trim(), CultureInfo.InvariantCulture);
        int first = lastPid + 1;
        int last = lastPid + 1000;
        // The attacker, as nobody: plant a directory for every PID exec is likely to get (with a `releasing`
        // link to the victim and its own hook script), then keep swapping scripts and links into anything
        // called sy-exec-* it can reach, for at most 60 s. (Debian's python3: a per-user one under /root is not nobody's to run.)
        string evil = Path.Combine(attackerHome, "evil.sh");
        File.WriteAllText(evil, $"#!/bin/sh\ntouch {marker}\n");
        File.SetUnixFileMode(evil, (UnixFileMode)Convert.ToInt32("755", 8));
        string stop = Path.Combine(attackerHome, "stop");
        string plant = $$"""
            import glob, os, shutil, sys, time
            for pid in range({{first}}, {{last + 1}}):
                d = f"/tmp/sy-exec-{pid}"
                try:
                    os.mkdir(d); os.chmod(d, 0o777)
                    os.symlink("{{victim}}", d + "/releasing"); shutil.copy("{{evil}}", d + "/udhcpc.sh")
                except OSError:
                    pass
            print("PLANTED", flush=True)
            end = time.time() + 60
            while not os.path.exists("{{stop}}") and time.time() < end:
                for d in glob.glob("/tmp/sy-exec-*") + glob.glob("/run/sy-exec-*"):
                    for name, act in (("udhcpc.sh", lambda p: shutil.copy("{{evil}}", p)), ("releasing", lambda p: os.symlink("{{victim}}", p)), ("bound", lambda p: os.symlink("{{victim}}", p))):
                        try:
                            if os.path.lexists(d + "/" + name) and name != "udhcpc.sh":
                                os.unlink(d + "/" + name)
                            act(d + "/" + name)
                        except OSError:
                            pass
                time.sleep(0.02)
            """;
        using Process attacker = StartAsNobody(plant);
        try
        {
            Assert.Equal("PLANTED", (await attacker.StandardOutput.ReadLineAsync())?.Trim());
            pair.ResetGap();

            // The command reports where exec's private directory is and what it looks like.
            (int code, byte[] stdout, string stderr) = await NamespacePortTests.RunBinaryAsync(
                sy, "exec", "--", "sh", "-c", "stat -c '%a %U %F %n' /run/sy-exec-* /tmp/sy-exec-* 2>/dev/null | grep -v ' nobody '; ip -o -4 addr show eth0");
            string text = Encoding.UTF8.GetString(stdout);
            output.WriteLine(text + stderr);
            Assert.True(code == 0, stderr);
            Assert.Contains("10.0.2.", text, StringComparison.Ordinal);
            Assert.Matches(@"700 root directory /(run|tmp)/sy-exec-\w{6}\n", text);

            await pair.AssertHealthyAsync(TimeSpan.FromSeconds(2));
        }
        finally
        {
            File.WriteAllText(stop, string.Empty);
            if (!attacker.WaitForExit(10_000))
            {
                attacker.Kill(entireProcessTree: true);
            }

            for (int pid = first; pid <= last; pid++)
            {
                string d = string.Create(CultureInfo.InvariantCulture, $"/tmp/sy-exec-{pid}");
                if (Directory.Exists(d) && File.GetUnixFileMode(d).HasFlag(UnixFileMode.OtherWrite))
                {
                    Directory.Delete(d, recursive: true);
                }
            }
        }

        Assert.Equal("precious", File.ReadAllText(victim));
        Assert.False(File.Exists(marker), "root ran the attacker's script");
        Assert.False(sy.HasExited, "the daemon survived");
        Directory.Delete(attackerHome, recursive: true);
        rootOnly.Delete(recursive: true);
    }

    private static Process StartAsNobody(string script)
    {
        var psi = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string a in (string[])["--reuid", $"{Nobody}", "--regid", $"{Nobody}", "--clear-groups", "/usr/bin/python3", "-c", script])
        {
            psi.ArgumentList.Add(a);
        }

        return Process.Start(psi) ?? throw new InvalidOperationException("setpriv did not start");
    }
}
