// Host-side helpers for gateway tests: an iperf3 server on loopback, and the ping-socket sysctl.
using System.Diagnostics;
using System.Globalization;

namespace Switchyard.TestKit.Servers;

/// <summary>`iperf3 -s` on 127.0.0.1:PORT, killed (by its id) on dispose.</summary>
public sealed class HostIperfServer : IDisposable
{
    private readonly Process process;

    public HostIperfServer(int port)
    {
        Port = port;
        var psi = new ProcessStartInfo("iperf3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "-s", "-B", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(a);
        }

        process = Process.Start(psi) ?? throw new InvalidOperationException("iperf3 did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Port { get; }

    public void Dispose()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(2000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        process.Dispose();
    }
}

/// <summary>Opens net.ipv4.ping_group_range to every group for the test's duration and restores it
/// (unprivileged ICMP echo sockets, which the gateway's ping forwarding uses). Needs root.</summary>
public sealed class PingGroupRange : IDisposable
{
    private const string Path = "/proc/sys/net/ipv4/ping_group_range";
    private readonly string? saved;

    public PingGroupRange()
    {
        try
        {
            saved = File.ReadAllText(Path).Trim();
            File.WriteAllText(Path, "0 2147483647");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            saved = null;
        }
    }

    public void Dispose()
    {
        if (saved is not null)
        {
            try
            {
                File.WriteAllText(Path, saved.Replace('\t', ' '));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
    }
}
