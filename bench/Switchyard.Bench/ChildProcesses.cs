// The processes this benchmark starts (switch daemons), and only those: each is stopped by its own PID,
// SIGTERM first (so it removes its sockets), SIGKILL if it has not exited within a grace period. A
// registry makes sure nothing (process or temporary directory) outlives the benchmark, even when it is
// interrupted with Ctrl-C or SIGTERM.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Switchyard.Bench;

internal sealed class ChildProcesses : IDisposable
{
    private readonly ConcurrentDictionary<int, Child> live = new();
    private readonly ConcurrentDictionary<string, bool> directories = new();
    private readonly PosixSignalRegistration sigint;
    private readonly PosixSignalRegistration sigterm;

    public ChildProcesses()
    {
        sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    /// <summary>Starts <paramref name="file"/>, optionally pinned to one CPU with taskset (which execs, so
    /// the PID is the program's own and every thread it creates inherits the CPU mask). Every line the
    /// process prints (stdout and stderr) also goes to <paramref name="onLine"/>, from the first one on.</summary>
    public Child Start(string file, IReadOnlyList<string> args, int? cpu, string? readyLine, Action<string>? onLine = null)
    {
        var psi = new ProcessStartInfo
        {
            RedirectStandardInput = true, // vde_switch runs a console on stdin and exits at EOF; keep it open
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (cpu is int c)
        {
            psi.FileName = "taskset";
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(c.ToString(System.Globalization.CultureInfo.InvariantCulture));
            psi.ArgumentList.Add(file);
        }
        else
        {
            psi.FileName = file;
        }

        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var process = new Process { StartInfo = psi };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            process.Dispose();
            throw new BenchException($"cannot start {psi.FileName}: {e.Message}");
        }

        var child = new Child(process, readyLine, this, onLine);
        live[child.Pid] = child;
        return child;
    }

    public void Dispose()
    {
        foreach (Child child in live.Values)
        {
            child.Stop();
        }

        sigint.Dispose();
        sigterm.Dispose();
    }

    /// <summary>Remembers a temporary directory to remove if the benchmark is interrupted.</summary>
    public void TrackDirectory(string path) => directories[path] = true;

    public void ForgetDirectory(string path) => directories.TryRemove(path, out _);

    private void OnSignal(PosixSignalContext context)
    {
        // SIGKILL by PID and no waiting: this handler runs on the runtime's signal-handling thread, which
        // also reaps children, so waiting here for a child (or for kill(1)) to exit would never end.
        foreach (Child child in live.Values)
        {
            child.KillNow();
        }

        foreach (string dir in directories.Keys)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // Best effort on the way out.
            }
        }

        context.Cancel = false; // and then die of the signal as usual
    }

    private void Forget(Child child) => live.TryRemove(child.Pid, out _);

    /// <summary>Sends a signal to one PID with kill(1): no interop (and no unsafe code) in the benchmark.</summary>
    private static void Signal(int pid, string signal)
    {
        var psi = new ProcessStartInfo("kill") { UseShellExecute = false };
        psi.ArgumentList.Add($"-{signal}");
        psi.ArgumentList.Add(pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            using Process? kill = Process.Start(psi);
            kill?.WaitForExit(5000);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // No kill(1): the SIGKILL fallback below still stops the process.
        }
    }

    /// <summary>One started process: its output tail (for error messages), readiness, and stopping.</summary>
    internal sealed class Child
    {
        private const int TailLines = 40;
        private readonly Process process;
        private readonly ChildProcesses owner;
        private readonly Queue<string> tail = new();
        private readonly ManualResetEventSlim ready = new();
        private readonly string? readyLine;
        private readonly Action<string>? onLine;
        private int stopped;

        public Child(Process process, string? readyLine, ChildProcesses owner, Action<string>? onLine = null)
        {
            this.process = process;
            this.readyLine = readyLine;
            this.owner = owner;
            this.onLine = onLine;
            Pid = process.Id;
            process.OutputDataReceived += (_, e) => OnLine(e.Data);
            process.ErrorDataReceived += (_, e) => OnLine(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public int Pid { get; }

        public bool HasExited => process.HasExited;

        /// <summary>The exit status once the process has exited (read it before <see cref="Stop"/>, which
        /// releases the process); null while it runs.</summary>
        public int? ExitCode
        {
            get
            {
                try
                {
                    return process.HasExited ? process.ExitCode : null;
                }
                catch (InvalidOperationException)
                {
                    return null;
                }
            }
        }

        /// <summary>The last lines the process printed (stdout and stderr interleaved).</summary>
        public string Tail
        {
            get
            {
                lock (tail)
                {
                    return string.Join('\n', tail);
                }
            }
        }

        /// <summary>Writes one line to the process's standard input (testpmd's interactive prompt);
        /// false if the process has closed it (exited).</summary>
        public bool SendLine(string line)
        {
            try
            {
                process.StandardInput.Write(line + "\n");
                process.StandardInput.Flush();
                return true;
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
            {
                return false;
            }
        }

        /// <summary>Waits up to <paramref name="timeout"/> for the process to exit by itself.</summary>
        public bool WaitExit(TimeSpan timeout)
        {
            try
            {
                return process.WaitForExit(timeout);
            }
            catch (InvalidOperationException)
            {
                return true;
            }
        }

        /// <summary>Waits for the ready line; false on timeout or if the process exited first.</summary>
        public bool WaitReady(TimeSpan timeout)
        {
            var deadline = Stopwatch.StartNew();
            while (deadline.Elapsed < timeout)
            {
                if (ready.Wait(TimeSpan.FromMilliseconds(50)))
                {
                    return true;
                }

                if (process.HasExited)
                {
                    return ready.IsSet;
                }
            }

            return false;
        }

        /// <summary>SIGKILL to this PID at once, without waiting for it (for the signal handler).</summary>
        public void KillNow()
        {
            try
            {
                process.Kill();
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
            {
                // Already exited or reaped.
            }
        }

        /// <summary>SIGTERM to this PID, SIGKILL after 3 s; idempotent.</summary>
        public void Stop()
        {
            if (Interlocked.Exchange(ref stopped, 1) != 0)
            {
                return;
            }

            try
            {
                if (!process.HasExited)
                {
                    Signal(Pid, "TERM");
                    if (!process.WaitForExit(3000))
                    {
                        process.Kill(); // SIGKILL, this PID only
                        process.WaitForExit(3000);
                    }
                }

                process.WaitForExit(); // flush the output readers
            }
            catch (InvalidOperationException)
            {
                // Already reaped.
            }
            finally
            {
                owner.Forget(this);
                process.Dispose();
                ready.Dispose();
            }
        }

        private void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            onLine?.Invoke(line);
            if (readyLine is not null && line.Contains(readyLine, StringComparison.Ordinal))
            {
                ready.Set();
            }

            lock (tail)
            {
                tail.Enqueue(line);
                while (tail.Count > TailLines)
                {
                    tail.Dequeue();
                }
            }
        }
    }
}
