// `switchyard exec`'s work: a command in a fresh namespace on a network, like `pasta -- CMD`
// (docs/namespaces.md). The CLI verb only parses its command line and prints what this returns.
//
// Theory of operation for exec: as root, the simplest design that leaves the host untouched.
// `ip netns add sy-exec-PID` makes the namespace; the daemon attaches it with a netns port (the tap
// is created inside it as eth0); busybox udhcpc inside the namespace takes a lease from the
// network's gateway (it stays, renewing the lease, until the command ends, then releases it) and a
// script applies address, default route and MTU, and writes the DNS
// servers to /etc/netns/NAME/resolv.conf. That hook script and its marker files live in a fresh
// private directory (PrivateDirectory: mkdtemp, 0700, files created O_EXCL), never at a predictable
// path: root executes the script, so a local user who could plant or swap it would own the host. `ip netns exec` then runs the command: it bind-mounts
// that file over /etc/resolv.conf in a private mount namespace of the child only, so the host's
// resolv.conf is never modified. The command inherits our stdin/stdout/stderr (nothing of ours is
// written to stdout) and its exit code is ours. Ctrl-C reaches the command through the terminal's
// process group; SIGINT/SIGTERM sent to us alone are passed on. We outlive the command, and the port, the namespace and the /etc/netns directory are
// removed whatever happens. Rootless operation is a non-goal.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Native;

namespace Switchyard.Engine.Host;

/// <summary>How an exec ended: the command's exit code, or an error (with the exit code to use) that
/// happened before or instead of it.</summary>
public sealed record ExecOutcome(int ExitCode, string? Error = null)
{
    public static ExecOutcome Failed(string error, int exitCode) => new(exitCode, error);
}

public static class NamespaceExec
{
    private const string UdhcpcScript = """
        #!/bin/sh
        # switchyard exec: applies a DHCP lease inside the exec namespace. Never touches /etc/resolv.conf
        # itself; DNS servers go to $SY_RESOLV (/etc/netns/NAME/resolv.conf, which `ip netns exec` mounts).
        case "$1" in
            # At cleanup the address stays: the DHCPRELEASE just sent may still wait on ARP for the
            # gateway, and flushing the address would drop it. The namespace is deleted right after.
            deconfig) [ -e "$SY_RELEASING" ] || ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
            bound|renew)
                ip -4 addr flush dev "$interface"
                ip addr add "$ip/${mask:-24}" dev "$interface"
                [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
                for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
                if [ -n "$SY_RESOLV" ]; then
                    : > "$SY_RESOLV"
                    for d in $dns; do echo "nameserver $d" >> "$SY_RESOLV"; done
                    [ -n "$domain" ] && echo "search $domain" >> "$SY_RESOLV"
                fi
                [ -n "$SY_BOUND" ] && : > "$SY_BOUND" ;;
        esac
        exit 0
        """;

    /// <summary>Runs <paramref name="commandLine"/> in a fresh namespace attached to <paramref name="network"/>
    /// of the daemon in <paramref name="runDirectory"/>, and removes everything afterwards (see the file header).</summary>
    public static async Task<ExecOutcome> RunAsync(string runDirectory, string network, string[] commandLine, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        if (commandLine.Length == 0)
        {
            return ExecOutcome.Failed("give the command after '--', e.g. switchyard exec -- busybox wget -O - http://10.0.2.2:8080/", 2);
        }

        if (!Environment.IsPrivilegedProcess)
        {
            return ExecOutcome.Failed("switchyard exec needs root: it creates a network namespace (rootless exec is not supported; run it with sudo)", 1);
        }

        foreach (string tool in new[] { "ip", "busybox" })
        {
            if (FindOnPath(tool) is null)
            {
                return ExecOutcome.Failed(tool == "ip"
                    ? "switchyard exec needs iproute2's 'ip' on PATH: install iproute2 (apt-get install iproute2)"
                    : "switchyard exec needs busybox (its udhcpc takes the DHCP lease): install busybox (apt-get install busybox)", 1);
            }
        }

        string socket = Path.Combine(runDirectory, Defaults.ControlSocketFileName);
        string nsName = string.Create(CultureInfo.InvariantCulture, $"sy-exec-{Environment.ProcessId}");
        string portName = nsName;
        string etcDir = Path.Combine("/etc/netns", nsName);
        PrivateDirectory? scratch = null; // the udhcpc hook and its markers: root runs them, so nobody else may touch them
        bool portAdded = false;
        bool nsAdded = false;

        // Ctrl-C and SIGTERM: we stay to clean up. A Ctrl-C typed at our terminal reaches the command
        // directly (same foreground process group); a SIGINT sent to us alone (kill -INT, a supervisor)
        // is passed on, so the command sees it once either way. SIGTERM is passed on, and a command
        // still running 5 s later is killed.
        Process? child = null;
        Process? dhcp = null;
        string? releasing = null;
        int stoppedBy = 0; // a signal that arrives before the command starts means it never starts
        var gate = new object(); // orders the handlers against the command's start
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c =>
        {
            c.Cancel = true;
            lock (gate)
            {
                stoppedBy = Signals.Interrupt;
                if (child is { } running && !Signals.OwnsTerminalForeground(0))
                {
                    _ = Signals.Send(running.Id, Signals.Interrupt);
                }
            }
        });
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            lock (gate)
            {
                stoppedBy = Signals.Terminate;
                if (child is { } running && Signals.Send(running.Id, Signals.Terminate))
                {
                    _ = KillLaterAsync(running, TimeSpan.FromSeconds(5));
                }
            }
        });

        try
        {
            (int code, string output) = await RunAsync("ip", ["netns", "add", nsName], null, ct).ConfigureAwait(false);
            if (code != 0)
            {
                return ExecOutcome.Failed($"ip netns add {nsName} failed: {output.Trim()}", 1);
            }

            nsAdded = true;
            _ = await RunAsync("ip", ["-n", nsName, "link", "set", "lo", "up"], null, ct).ConfigureAwait(false);

            ControlResponse added;
            try
            {
                added = await ControlClient.SendAsync(socket, new PortAddCommand(network, portName, $"netns,name={nsName},ifname=eth0"), ct).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                return ExecOutcome.Failed(ex.Message, 1);
            }

            if (!added.Ok)
            {
                return ExecOutcome.Failed($"attaching the namespace to network {network} failed: {added.Error}", 1);
            }

            portAdded = true;
            Directory.CreateDirectory(etcDir);
            scratch = PrivateDirectory.Create("sy-exec-");
            string script = scratch.CreateFile("udhcpc.sh", Encoding.UTF8.GetBytes(UdhcpcScript.Replace("\r", string.Empty, StringComparison.Ordinal)), executable: true);
            // udhcpc stays for the command's lifetime (renewing the lease); -R releases the lease when
            // it is stopped with SIGTERM at cleanup, so repeated execs do not use up the address pool.
            string bound = Path.Combine(scratch.Path, "bound");
            releasing = "releasing";
            var dhcpInfo = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in (string[])["netns", "exec", nsName, "busybox", "udhcpc", "-i", "eth0", "-n", "-f", "-R", "-t", "10", "-T", "1", "-s", script])
            {
                dhcpInfo.ArgumentList.Add(a);
            }

            dhcpInfo.Environment["SY_RESOLV"] = Path.Combine(etcDir, "resolv.conf");
            dhcpInfo.Environment["SY_BOUND"] = bound;
            dhcpInfo.Environment["SY_RELEASING"] = Path.Combine(scratch.Path, releasing);
            dhcp = Process.Start(dhcpInfo) ?? throw new IOException("busybox udhcpc did not start");
            var dhcpOutput = new StringBuilder();
            dhcp.OutputDataReceived += (_, e) => { lock (dhcpOutput) { dhcpOutput.AppendLine(e.Data); } };
            dhcp.ErrorDataReceived += (_, e) => { lock (dhcpOutput) { dhcpOutput.AppendLine(e.Data); } };
            dhcp.BeginOutputReadLine();
            dhcp.BeginErrorReadLine();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            while (!File.Exists(bound) && !dhcp.HasExited && DateTime.UtcNow < deadline && stoppedBy == 0)
            {
                await Task.Delay(50, ct).ConfigureAwait(false);
            }

            if (stoppedBy != 0)
            {
                return new ExecOutcome(128 + stoppedBy);
            }

            if (!File.Exists(bound))
            {
                lock (dhcpOutput)
                {
                    return ExecOutcome.Failed($"no DHCP lease from network {network}'s gateway (does it have one? see 'switchyard show'); udhcpc said:\n{dhcpOutput.ToString().Trim()}", 1);
                }
            }

            var psi = new ProcessStartInfo("ip") { UseShellExecute = false };
            foreach (string a in (string[])["netns", "exec", nsName, .. commandLine])
            {
                psi.ArgumentList.Add(a);
            }

            try
            {
                lock (gate)
                {
                    if (stoppedBy != 0)
                    {
                        return new ExecOutcome(128 + stoppedBy);
                    }

                    child = Process.Start(psi);
                }
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                return ExecOutcome.Failed($"starting {commandLine[0]} failed: {ex.Message}", 127);
            }

            if (child is null)
            {
                return ExecOutcome.Failed($"starting {commandLine[0]} failed", 127);
            }

            using (child)
            {
                await child.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                return new ExecOutcome(child.ExitCode);
            }
        }
        finally
        {
            if (dhcp is not null)
            {
                string? mac = await LinkMacAsync(nsName).ConfigureAwait(false);
                if (releasing is not null && scratch is not null)
                {
                    try
                    {
                        _ = scratch.CreateFile(releasing, []);
                    }
                    catch (IOException)
                    {
                        // Already there: nothing else can write in our private directory, so it is our own marker.
                    }
                }

                await StopDhcpAsync(dhcp).ConfigureAwait(false);
                if (mac is not null && portAdded)
                {
                    await WaitForReleaseAsync(socket, network, mac).ConfigureAwait(false);
                }
            }

            if (portAdded)
            {
                try
                {
                    _ = await ControlClient.SendAsync(socket, new PortDelCommand(network, portName), CancellationToken.None).ConfigureAwait(false);
                }
                catch (IOException)
                {
                    // The daemon is gone; deleting the namespace below removes the tap anyway.
                }
            }

            if (nsAdded)
            {
                _ = await RunAsync("ip", ["netns", "del", nsName], null, CancellationToken.None).ConfigureAwait(false);
            }

            TryDelete(etcDir);
            scratch?.Dispose();
        }
    }

    // The command got SIGTERM; if it is still running after the grace period, SIGKILL it and its children.
    private static async Task KillLaterAsync(Process running, TimeSpan grace)
    {
        using var wait = new CancellationTokenSource(grace);
        try
        {
            await running.WaitForExitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try
            {
                running.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It exited just now.
            }
        }
    }

    // The namespace's eth0 MAC, which its lease is keyed by (null if it cannot be read).
    private static async Task<string?> LinkMacAsync(string nsName)
    {
        (int code, string output) = await RunAsync("ip", ["-n", nsName, "-o", "link", "show", "eth0"], null, CancellationToken.None).ConfigureAwait(false);
        int at = output.IndexOf("link/ether ", StringComparison.Ordinal);
        return code != 0 || at < 0 || output.Length < at + 11 + 17 ? null : output.Substring(at + 11, 17);
    }

    // udhcpc's DHCPRELEASE is a unicast UDP datagram, so the namespace's kernel may first have to ARP for
    // the gateway (a command that never talked to it left no neighbour entry). Removing the port at once
    // could drop the release on the way; wait, at most 5 s, until the gateway shows the lease released.
    private static async Task WaitForReleaseAsync(string socket, string network, string mac)
    {
        for (int i = 0; i < 100; i++)
        {
            try
            {
                ControlResponse leases = await ControlClient.SendAsync(socket, new LeasesCommand(network), CancellationToken.None).ConfigureAwait(false);
                bool active = false;
                foreach (LeaseRow row in leases.Leases ?? [])
                {
                    active |= row.Active && string.Equals(row.Mac, mac, StringComparison.OrdinalIgnoreCase);
                }

                if (!active)
                {
                    return;
                }
            }
            catch (IOException)
            {
                return;
            }

            await Task.Delay(50).ConfigureAwait(false);
        }
    }

    // SIGTERM makes udhcpc -R send DHCPRELEASE before it exits; a stuck one is killed after 3 s.
    private static async Task StopDhcpAsync(Process dhcp)
    {
        using (dhcp)
        {
            if (!dhcp.HasExited)
            {
                _ = await RunAsync("kill", ["-TERM", dhcp.Id.ToString(CultureInfo.InvariantCulture)], null, CancellationToken.None).ConfigureAwait(false);
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                try
                {
                    await dhcp.WaitForExitAsync(wait.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    dhcp.Kill();
                }
            }
        }
    }

    private static void TryDelete(string dir)
    {
        try
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: a leftover directory under /etc/netns or /tmp is harmless.
        }
    }

    private static string? FindOnPath(string program)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':'))
        {
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    // Runs a helper to completion with its output captured (for error messages).
    private static async Task<(int Code, string Output)> RunAsync(string program, string[] args, Dictionary<string, string>? env, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach ((string key, string value) in env ?? [])
        {
            psi.Environment[key] = value;
        }

        using Process p = Process.Start(psi) ?? throw new IOException($"{program} did not start");
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(ct);
        Task<string> stderr = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct).ConfigureAwait(false);
        var text = new StringBuilder(await stdout.ConfigureAwait(false)).Append(await stderr.ConfigureAwait(false));
        return (p.ExitCode, text.ToString());
    }
}
