// A network namespace a test creates and removes, with helpers to run commands inside it.
//
// Theory of operation: names carry the test process id, so parallel runs never share one; Dispose
// deletes the namespace (which destroys every interface inside it, taps included). Commands run with
// `ip netns exec`, bounded by a timeout, and return exit code and output. Needs root.
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Switchyard.TestKit.Netns;

public sealed class TestNamespace : IDisposable
{
    private static int counter;

    private TestNamespace(string name) => Name = name;

    public string Name { get; }

    /// <summary>Creates a namespace named sy-TAG-PID-N with its loopback up.</summary>
    public static TestNamespace Create(string tag)
    {
        string name = string.Create(CultureInfo.InvariantCulture, $"sy-{tag}-{Environment.ProcessId}-{Interlocked.Increment(ref counter)}");
        Check(Run("ip", ["netns", "add", name]), $"ip netns add {name}");
        var ns = new TestNamespace(name);
        Check(Run("ip", ["-n", name, "link", "set", "lo", "up"]), "lo up");
        return ns;
    }

    /// <summary>Moves host interface <paramref name="ifname"/> into this namespace and brings it up.</summary>
    public void Adopt(string ifname)
    {
        Check(Run("ip", ["link", "set", ifname, "netns", Name]), $"move {ifname} into {Name}");
        Check(Run("ip", ["-n", Name, "link", "set", ifname, "up"]), $"{ifname} up");
    }

    /// <summary>Runs <paramref name="program"/> inside the namespace.</summary>
    public (int ExitCode, string Output) Exec(string program, IEnumerable<string> args, TimeSpan? timeout = null) =>
        Run("ip", ["netns", "exec", Name, program, .. args], timeout);

    /// <summary>Runs a shell script inside the namespace.</summary>
    public (int ExitCode, string Output) Shell(string script, TimeSpan? timeout = null) => Exec("sh", ["-c", script], timeout);

    public void Dispose() => Run("ip", ["netns", "del", Name]);

    /// <summary>Runs a program to completion (killed after the timeout, default 60 s).</summary>
    public static (int ExitCode, string Output) Run(string program, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"{program} did not start");
        var text = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (text) { text.AppendLine(e.Data); } } };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (text) { text.AppendLine(e.Data); } } };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            lock (text)
            {
                return (-1, text + $"\n(killed after {(timeout ?? TimeSpan.FromSeconds(60)).TotalSeconds} s)");
            }
        }

        p.WaitForExit();
        lock (text)
        {
            return (p.ExitCode, text.ToString());
        }
    }

    private static void Check((int ExitCode, string Output) result, string what)
    {
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{what} failed ({result.ExitCode}): {result.Output}");
        }
    }
}
