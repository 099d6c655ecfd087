// Theory of operation: test scripts are busybox sh run by the guest's /init. These snippets are the
// pieces most tests need, each self-contained (its variables start with sy_), each bounded in time
// (retries times a per-try timeout), and each printing one recognisable line the host can wait for
// or parse: PING-OK/PING-FAIL, DHCP-BOUND (from the udhcpc script), IPERF-RESULT/IPERF-FAIL,
// IPERF-SERVER. Snippets that can fail end the script with a distinct exit code, which /init reports
// as GUEST-DONE rc=N, so a test's assertion message can say which step failed.
using System.Globalization;
using System.Text.RegularExpressions;

namespace Switchyard.TestKit.Qemu;

/// <summary>Reusable busybox sh snippets for guest test scripts.</summary>
public static partial class GuestScripts
{
    /// <summary>Exit code of a script whose <see cref="WaitForPing"/> gave up.</summary>
    public const int PingFailedExitCode = 10;

    /// <summary>Exit code of a script whose <see cref="IperfClient"/> failed.</summary>
    public const int IperfFailedExitCode = 11;

    /// <summary>Exit code of a script whose <see cref="Dhcp"/> got no lease.</summary>
    public const int DhcpFailedExitCode = 12;

    /// <summary>The default iperf3 port.</summary>
    public const int IperfPort = 5201;

    /// <summary>First line of every script.</summary>
    public const string Shebang = "#!/bin/sh\n";

    /// <summary>Waits for every background job the script started (e.g. a background iperf3 server).</summary>
    public const string WaitForBackgroundJobs = "wait\n";

    /// <summary><c>ip addr add ADDRESS dev DEVICE; ip link set DEVICE up</c>; <paramref name="cidr"/> like <c>10.0.0.1/24</c>.</summary>
    public static string StaticIPv4(string cidr, string device = "eth0") =>
        $"ip addr add {cidr} dev {device}\nip link set {device} up\n";

    /// <summary>Static <c>10.0.0.<paramref name="host"/>/24</c> on <paramref name="device"/>.</summary>
    public static string StaticIPv4(int host, string device = "eth0") => StaticIPv4(TestAddress(host) + "/24", device);

    /// <summary><c>10.0.0.<paramref name="host"/></c>, the test subnet's addresses.</summary>
    public static string TestAddress(int host)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(host, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(host, 254);
        return string.Create(CultureInfo.InvariantCulture, $"10.0.0.{host}");
    }

    /// <summary>
    /// Adds VLAN <paramref name="vlanId"/> on <paramref name="device"/> as <c>DEVICE.ID</c> (needs 8021q, in the image),
    /// brings it up and, when <paramref name="cidr"/> is given, assigns it.
    /// </summary>
    public static string Vlan(int vlanId, string? cidr = null, string device = "eth0")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vlanId, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(vlanId, 4094);
        string sub = string.Create(CultureInfo.InvariantCulture, $"{device}.{vlanId}");
        string text = string.Create(CultureInfo.InvariantCulture, $"ip link set {device} up\nvconfig add {device} {vlanId} >/dev/null\nip link set {sub} up\n");
        return cidr is null ? text : text + $"ip addr add {cidr} dev {sub}\n";
    }

    /// <summary>
    /// Runs udhcpc on <paramref name="device"/> (the image's script applies the lease and prints
    /// DHCP-BOUND); exits with <see cref="DhcpFailedExitCode"/> when no lease came within about <paramref name="seconds"/> s.
    /// </summary>
    public static string Dhcp(string device = "eth0", int seconds = 15) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"timeout {seconds + 5} udhcpc -i {device} -n -q -t {seconds} -T 1 || {{ echo \"DHCP-FAIL {device}\"; exit {DhcpFailedExitCode}; }}\n");

    /// <summary>
    /// Pings <paramref name="address"/> once per try, up to <paramref name="attempts"/> tries of at most a second each,
    /// prints <c>PING-OK ADDRESS tries=N</c> or <c>PING-FAIL ADDRESS</c>, and on failure exits with <see cref="PingFailedExitCode"/>.
    /// </summary>
    public static string WaitForPing(string address, int attempts = 30) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $$"""
            sy_ok=0
            sy_try=0
            while [ "$sy_try" -lt {{attempts}} ]; do
                sy_try=$((sy_try + 1))
                if ping -c 1 -W 1 {{address}} >/dev/null 2>&1; then sy_ok=1; break; fi
            done
            if [ "$sy_ok" = 1 ]; then echo "PING-OK {{address}} tries=$sy_try"; else echo "PING-FAIL {{address}}"; exit {{PingFailedExitCode}}; fi

            """);

    /// <summary>
    /// Sends <paramref name="count"/> pings and prints busybox's summary
    /// (<c>N packets transmitted, M packets received, P% packet loss</c>) and <c>PING-RC rc</c>; never fails the script.
    /// </summary>
    public static string Ping(string address, int count = 5) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"timeout {count * 2 + 5} ping -c {count} -W 2 {address}; echo \"PING-RC $?\"\n");

    /// <summary>
    /// Serves exactly one iperf3 test (<c>iperf3 -s -1</c>), giving up after <paramref name="timeoutSeconds"/>;
    /// prints <c>IPERF-SERVER rc=N</c>. With <paramref name="background"/> the script continues
    /// (end it with <see cref="WaitForBackgroundJobs"/>).
    /// </summary>
    public static string IperfServer(int timeoutSeconds = 60, bool background = false, int port = IperfPort)
    {
        string run = string.Create(
            CultureInfo.InvariantCulture,
            $"timeout {timeoutSeconds} iperf3 -s -1 -p {port}; echo \"IPERF-SERVER rc=$?\"");
        return background ? $"( {run} ) &\nsleep 0.5\n" : run + "\n";
    }

    /// <summary>
    /// Runs <c>iperf3 -c ADDRESS -t SECONDS -f m</c>, retrying up to <paramref name="attempts"/> times a second
    /// apart while the server is not listening yet, then prints
    /// <c>IPERF-RESULT sender_mbps=X receiver_mbps=Y</c> (or <c>IPERF-FAIL</c> and exits with <see cref="IperfFailedExitCode"/>).
    /// </summary>
    /// <param name="address">Server address.</param>
    /// <param name="seconds">Test length (<c>-t</c>).</param>
    /// <param name="extraArgs">More iperf3 options, e.g. <c>-R</c>, <c>-u -b 100M</c>, <c>-P 2</c>.</param>
    /// <param name="attempts">Connection attempts.</param>
    /// <param name="port">Server port.</param>
    public static string IperfClient(string address, int seconds = 3, string extraArgs = "", int attempts = 10, int port = IperfPort) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $$"""
            sy_ok=0
            sy_try=0
            while [ "$sy_try" -lt {{attempts}} ]; do
                sy_try=$((sy_try + 1))
                if timeout {{seconds + 30}} iperf3 -c {{address}} -p {{port}} -t {{seconds}} -f m {{extraArgs}} >/tmp/iperf3-client.log 2>&1; then sy_ok=1; break; fi
                tail -n 3 /tmp/iperf3-client.log
                sleep 1
            done
            cat /tmp/iperf3-client.log
            if [ "$sy_ok" = 1 ]; then
                awk '/sender/ { for (i = 2; i <= NF; i++) if ($i == "Mbits/sec") s = $(i - 1) }
                     /receiver/ { for (i = 2; i <= NF; i++) if ($i == "Mbits/sec") r = $(i - 1) }
                     END { print "IPERF-RESULT sender_mbps=" (s == "" ? 0 : s) " receiver_mbps=" (r == "" ? 0 : r) }' /tmp/iperf3-client.log
            else
                echo "IPERF-FAIL {{address}}"
                exit {{IperfFailedExitCode}}
            fi

            """);

    /// <summary>Parses the last <c>IPERF-RESULT</c> line of a console; the receiver's rate in Mbit/s.</summary>
    public static bool TryParseIperfResult(string console, out double senderMbps, out double receiverMbps)
    {
        ArgumentNullException.ThrowIfNull(console);
        senderMbps = 0;
        receiverMbps = 0;
        Match? last = null;
        foreach (Match m in IperfResult().Matches(console))
            last = m;
        if (last is null)
            return false;

        senderMbps = double.Parse(last.Groups[1].ValueSpan, CultureInfo.InvariantCulture);
        receiverMbps = double.Parse(last.Groups[2].ValueSpan, CultureInfo.InvariantCulture);
        return true;
    }

    [GeneratedRegex(@"IPERF-RESULT sender_mbps=([0-9.]+) receiver_mbps=([0-9.]+)")]
    private static partial Regex IperfResult();
}
