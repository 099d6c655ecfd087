// The two network namespaces of one NAT run: "host" (where the NAT daemon and the servers run; its
// loopback is what the gateway address 10.0.2.2 stands for) and "guest" (the clients, behind the NAT).
//
// Theory of operation: both are created fresh for every run with `ip netns add` and deleted afterwards,
// so no tool inherits another's sockets, routes or port bindings, and nothing touches the machine's own
// network. The host namespace gets, besides its loopback, one veth pair whose ends both stay in it
// (ext0 192.0.2.1/24 with a default route via 192.0.2.254, ext1 up without an address): pasta copies
// the addresses and routes of the interface with the default route and refuses to start without one,
// and the kernel here has no dummy interfaces. Nothing answers at 192.0.2.254, and a veth pair inside
// one namespace leads nowhere else, so traffic stays inside the namespaces the benchmark owns.
// net.ipv4.ping_group_range is opened in the host namespace (it is per namespace; the default "1 0"
// allows nobody) so the daemons can forward pings with unprivileged ICMP sockets as root (gid 0).
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Switchyard.Bench;

/// <summary>The guest's NAT-facing interface once a daemon configured it.</summary>
internal sealed record GuestLink(string Name, string Address, int Mtu, int QueueLength)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} {Address} mtu {Mtu} qlen {QueueLength}");
}

internal sealed partial class NatNamespaces(string prefix) : IRunNamespaces
{
    /// <summary>The host namespace's own non-loopback address (TEST-NET-1), the ping target.</summary>
    public const string HostAddress = "192.0.2.1";

    /// <summary>The gateway address every tool gives the guest; it stands for the host's loopback.</summary>
    public const string Gateway = "10.0.2.2";

    public string Host { get; } = prefix + "-host";

    public string Guest { get; } = prefix + "-guest";

    public IReadOnlyDictionary<string, string> Aliases => new Dictionary<string, string> { [Host] = "HOST", [Guest] = "GUEST" };

    /// <summary>The guest namespace as a path (what pasta --netns and slirp4netns --netns-type=path take).</summary>
    public string GuestPath => "/run/netns/" + Guest;

    /// <summary>The `ip` commands that build the host namespace, for the report (NAME for the names).</summary>
    public static IReadOnlyList<string> SetupCommands { get; } =
    [
        "ip netns add HOST; ip netns add GUEST",
        "ip -n HOST link set lo up; ip -n GUEST link set lo up",
        "ip -n HOST link add ext0 type veth peer name ext1; ip -n HOST link set ext1 up",
        $"ip -n HOST addr add {HostAddress}/24 dev ext0; ip -n HOST link set ext0 up",
        "ip -n HOST route add default via 192.0.2.254 dev ext0",
        "ip netns exec HOST sysctl -w net.ipv4.ping_group_range='0 2147483647'",
    ];

    /// <summary>Creates both namespaces (deleting leftovers with the same names first).</summary>
    public void Create()
    {
        Delete();
        Ip("netns", "add", Host);
        Ip("netns", "add", Guest);
        Ip("-n", Host, "link", "set", "lo", "up");
        Ip("-n", Guest, "link", "set", "lo", "up");
        Ip("-n", Host, "link", "add", "ext0", "type", "veth", "peer", "name", "ext1");
        Ip("-n", Host, "link", "set", "ext1", "up");
        Ip("-n", Host, "addr", "add", HostAddress + "/24", "dev", "ext0");
        Ip("-n", Host, "link", "set", "ext0", "up");
        Ip("-n", Host, "route", "add", "default", "via", "192.0.2.254", "dev", "ext0");
        Check("ip", "netns", "exec", Host, "sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647");
    }

    /// <summary>Deletes both namespaces if they exist; never throws (it runs in finally blocks).</summary>
    public void Delete()
    {
        foreach (string ns in new[] { Guest, Host })
        {
            if (File.Exists("/run/netns/" + ns))
            {
                (int exit, _, string err) = Exec("ip", "netns", "del", ns);
                if (exit != 0)
                {
                    Console.Error.WriteLine($"switchyard-bench nat: ip netns del {ns}: {err.Trim()}");
                }
            }
        }
    }

    /// <summary>Runs `ip ARGS` and throws with its error output if it fails.</summary>
    public static void Ip(params string[] args) => Check("ip", args);

    /// <summary>Runs a short command (30 s at most) and throws with its output if it fails.</summary>
    public static string Check(string file, params string[] args)
    {
        (int exit, string output, string error) = Exec(file, args);
        return exit == 0
            ? output
            : throw new BenchException($"`{VhostSwitch.Render(null, file, args)}` failed ({exit}): {(error + output).Trim()}");
    }

    /// <summary>Runs a short command (30 s at most): exit status, stdout, stderr.</summary>
    public static (int Exit, string Output, string Error) Exec(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        try
        {
            using Process p = Process.Start(psi)!;
            Task<string> output = p.StandardOutput.ReadToEndAsync();
            Task<string> error = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(30_000))
            {
                p.Kill();
                p.WaitForExit(5000);
                return (-1, output.IsCompleted ? output.Result : string.Empty, "timed out after 30 s");
            }

            p.WaitForExit();
            return (p.ExitCode, output.Result, error.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, string.Empty, $"cannot run {file}: {e.Message}");
        }
    }

    /// <summary>Waits until the guest namespace has an IPv4 default route via the gateway on an interface
    /// that is up with a carrier (LOWER_UP: the daemon holds the tap) and has an IPv4 address; returns that interface, or throws after <paramref name="timeout"/>.</summary>
    public GuestLink WaitForGuest(TimeSpan timeout, Func<string>? whyNot = null)
    {
        var clock = Stopwatch.StartNew();
        string last = "no default route yet";
        while (true)
        {
            (int exit, string routes, string error) = Exec("ip", "-n", Guest, "-4", "route", "show", "default");
            Match route = DefaultRoute().Match(routes);
            if (exit != 0)
            {
                last = error.Trim();
            }
            else if (route.Success && route.Groups[1].Value == Gateway)
            {
                string dev = route.Groups[2].Value;
                string link = Exec("ip", "-n", Guest, "-o", "link", "show", "dev", dev).Output;
                string addr = Exec("ip", "-n", Guest, "-o", "-4", "addr", "show", "dev", dev).Output;
                Match mtu = LinkMtu().Match(link);
                Match inet = Inet().Match(addr);
                Match qlen = QueueLength().Match(link);
                if (mtu.Success && inet.Success && link.Contains("LOWER_UP", StringComparison.Ordinal))
                {
                    return new GuestLink(dev, inet.Groups[1].Value, int.Parse(mtu.Groups[1].Value, CultureInfo.InvariantCulture),
                        qlen.Success ? int.Parse(qlen.Groups[1].Value, CultureInfo.InvariantCulture) : -1);
                }

                last = $"{dev}: {link.Trim()} {addr.Trim()}";
            }
            else if (route.Success)
            {
                last = $"default route via {route.Groups[1].Value}, not {Gateway}";
            }

            if (clock.Elapsed > timeout)
            {
                string extra = whyNot?.Invoke() is { Length: > 0 } w ? $"\n{w}" : string.Empty;
                throw new BenchException($"the guest namespace got no working default route via {Gateway} within {timeout.TotalSeconds:F0} s ({last}){extra}");
            }

            Thread.Sleep(100);
        }
    }

    [GeneratedRegex(@"default via (\S+) dev (\S+)")]
    private static partial Regex DefaultRoute();

    [GeneratedRegex(@"\bmtu (\d+)")]
    private static partial Regex LinkMtu();

    /// <summary>Gives the guest's interface a transmit queue of <paramref name="frames"/> (the tap's ring
    /// towards the daemon) and returns the link as it is now.</summary>
    public GuestLink SetQueueLength(GuestLink link, int frames)
    {
        Ip("-n", Guest, "link", "set", link.Name, "txqueuelen", frames.ToString(CultureInfo.InvariantCulture));
        string shown = Exec("ip", "-n", Guest, "-o", "link", "show", "dev", link.Name).Output;
        Match qlen = QueueLength().Match(shown);
        return link with { QueueLength = qlen.Success ? int.Parse(qlen.Groups[1].Value, CultureInfo.InvariantCulture) : -1 };
    }

    /// <summary>The frames the guest's interface dropped on transmit so far (a full tap ring: the daemon
    /// did not read in time), or -1 if `ip -s` does not say.</summary>
    public long TxDropped(GuestLink link)
    {
        Match m = TxCounters().Match(Exec("ip", "-n", Guest, "-s", "-o", "link", "show", "dev", link.Name).Output);
        return m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
    }

    // `ip -s -o link`: "TX: bytes packets errors dropped carrier collsns \    B P E D C C".
    [GeneratedRegex(@"TX:[^\\]*\\\s+\d+\s+\d+\s+\d+\s+(\d+)")]
    private static partial Regex TxCounters();

    [GeneratedRegex(@"\bqlen (\d+)")]
    private static partial Regex QueueLength();

    [GeneratedRegex(@"\binet (\S+)")]
    private static partial Regex Inet();
}
