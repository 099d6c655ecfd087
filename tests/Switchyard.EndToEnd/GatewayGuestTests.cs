// Real QEMU guests behind the NAT gateway of the default network: DHCP, SLAAC, DNS through the
// forwarder to a test server on host loopback, a byte-identical HTTP download from host loopback via
// 10.0.2.2 (IPv4) and fd00::2 (IPv6), iperf3 to the host both ways, pings of the host's loopback
// (10.0.2.2, fd00::2, through ping sockets) and of the gateway itself (10.0.2.3); then host
// forwards into a guest (IPv4 and IPv6 on the host side, one added and removed at run time) while
// restrict=on keeps that guest from connecting out.
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Switchyard.TestKit;
using Switchyard.TestKit.Qemu;
using Switchyard.TestKit.Servers;
using Xunit.Abstractions;
using static Switchyard.TestKit.Qemu.VhostUserGuests;
using static Switchyard.TestKit.Qemu.GuestScripts;

namespace Switchyard.EndToEnd;

public sealed class GatewayGuestTests(ITestOutputHelper output)
{
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(240);
    private static readonly IPAddress TestNameV4 = IPAddress.Parse("192.0.2.77");

    [RequiresGuestFact]
    public async Task DefaultNetworkGuest_DhcpSlaacDnsHttpIperfPing_AllThroughTheGateway()
    {
        using var ping = new PingGroupRange();
        using var dns = new TestDnsServer(new Dictionary<string, IPAddress[]> { ["test.switchyard.example"] = [TestNameV4] });
        using var http = new TestHttpServer(TestHttpServer.RandomBody(3 * 1024 * 1024 + 17));
        int iperfPort = LoopbackPorts.GetFreeTcpPort();
        using var iperf = new HostIperfServer(iperfPort);
        await LoopbackPorts.WaitForTcpListenerAsync(iperfPort, TimeSpan.FromSeconds(10));

        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(
            extraArgs: ["--gateway", $"dns-upstream=127.0.0.1:{dns.Port}"], log: output.WriteLine);

        string script = Shebang + Dhcp() + WaitForSlaac() + $$"""
            echo "RESOLV $(cat /etc/resolv.conf | tr '\n' ' ')"
            nslookup test.switchyard.example 2>&1 | sed 's/^/NSLOOKUP /'
            wget -q -O /tmp/v4 http://10.0.2.2:{{http.Port}}/file && echo "WGET4-MD5 $(md5sum /tmp/v4)"
            rm -f /tmp/v4
            wget -q -O /tmp/v6 http://[fd00::2]:{{http.Port}}/file && echo "WGET6-MD5 $(md5sum /tmp/v6)"
            rm -f /tmp/v6

            """ + Ping("10.0.2.2", 3) + "ping6 -c 3 -W 2 fd00::2; echo \"PING6-RC $?\"\n" + WaitForPing("10.0.2.3", attempts: 5)
            + IperfClient("10.0.2.2", seconds: 3, port: iperfPort) + IperfClient("10.0.2.2", seconds: 3, extraArgs: "-R", port: iperfPort);

        await using QemuGuest guest = QemuGuest.Start(Guest("nat", Socket(sy), 1, script, output.WriteLine));
        GuestResult done = await guest.RunToCompletionAsync(GuestTimeout);
        output.WriteLine((await sy.CliAsync("leases")).Output);
        JsonElement show = await sy.ShowAsync();
        output.WriteLine(show.ToString());
        Assert.True(done.Succeeded, guest.Describe($"guest failed rc={done.ExitCode}"));

        // Pings of 10.0.2.2 and fd00::2 went to the host's loopback through ping sockets; 10.0.2.3 is the gateway itself.
        JsonElement events = show.GetProperty("networks")[0].GetProperty("gateway").GetProperty("events");
        Assert.True(events.GetProperty("pings_forwarded").GetInt64() >= 6, events.ToString());
        Assert.True(events.GetProperty("echo_replies_from_gateway").GetInt64() >= 1, events.ToString());

        Assert.Contains("DHCP-BOUND eth0 10.0.2.15/24 router=10.0.2.2 dns=10.0.2.3", done.Console, StringComparison.Ordinal);
        Assert.Contains("SLAAC fd00::", done.Console, StringComparison.Ordinal);
        Assert.Contains("test.switchyard.example", dns.Queries);
        Assert.Contains(TestNameV4.ToString(), done.LastLineContaining("NSLOOKUP Address") ?? string.Empty, StringComparison.Ordinal);
        Assert.Contains($"WGET4-MD5 {http.BodyMd5}", done.Console, StringComparison.Ordinal);
        Assert.Contains($"WGET6-MD5 {http.BodyMd5}", done.Console, StringComparison.Ordinal);
        (int sent, int received) = PingSummary(done.Console) ?? (0, 0);
        Assert.True(sent == 3 && received == 3, guest.Describe("ping 10.0.2.2"));
        Assert.Contains("PING6-RC 0", done.Console, StringComparison.Ordinal);
        Assert.Contains("PING-OK 10.0.2.3", done.Console, StringComparison.Ordinal);

        List<(double Sender, double Receiver)> iperfRuns = IperfResults(done.Console);
        Assert.Equal(2, iperfRuns.Count);
        output.WriteLine($"iperf3 guest -> host {iperfRuns[0].Receiver} Mbit/s, host -> guest {iperfRuns[1].Receiver} Mbit/s");
        Assert.All(iperfRuns, r => Assert.True(r.Receiver > 1, "iperf3 moved data"));

        JsonElement leases = JsonDocument.Parse((await sy.CliAsync("leases", "--json")).Output).RootElement;
        Assert.Contains("10.0.2.15", leases.ToString(), StringComparison.Ordinal);
        Assert.Contains(QemuGuest.Mac(1), leases.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [RequiresGuestFact]
    public async Task RestrictedGuest_ForwardsReachItsServer_OverIPv4AndIPv6_AndAtRunTime_ButItCannotConnectOut()
    {
        using var http = new TestHttpServer(TestHttpServer.RandomBody(4096));
        int v4Port = LoopbackPorts.GetFreeTcpPort();
        int v6Port = LoopbackPorts.GetFreeTcpPort();
        int runtimePort = LoopbackPorts.GetFreeTcpPort();
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(
            extraArgs: ["--gateway", $"restrict=on,hostfwd=tcp:127.0.0.1:{v4Port}-:8080,hostfwd=tcp:[::1]:{v6Port}-:8080"], log: output.WriteLine);

        // The guest serves a page on :8080, proves it cannot reach the host, then waits to be fetched from.
        string script = Shebang + Dhcp() + $$"""
            mkdir -p /www && echo "served-by-the-guest" > /www/index.html
            httpd -p 8080 -h /www
            if wget -q -T 5 -O /tmp/out http://10.0.2.2:{{http.Port}}/file; then echo "RESTRICT-LEAK"; else echo "RESTRICT-BLOCKED"; fi
            echo "GUEST-SERVING"
            sleep 120

            """;
        await using QemuGuest guest = QemuGuest.Start(StreamGuest("fwd", sy.StreamSocket, 2, script, output.WriteLine));
        await guest.WaitForLineAsync("GUEST-SERVING", GuestTimeout);
        Assert.Contains("RESTRICT-BLOCKED", guest.Output, StringComparison.Ordinal);
        Assert.Equal(0, http.Requests);

        Assert.Equal("served-by-the-guest", await FetchAsync(IPAddress.Loopback, v4Port));
        Assert.Equal("served-by-the-guest", await FetchAsync(IPAddress.IPv6Loopback, v6Port));

        string rule = $"tcp:127.0.0.1:{runtimePort}-10.0.2.15:8080";
        (int addCode, string addOut) = await sy.CliAsync("forward", "add", rule);
        Assert.True(addCode == 0, addOut);
        Assert.Equal("served-by-the-guest", await FetchAsync(IPAddress.Loopback, runtimePort));
        (int listCode, string list) = await sy.CliAsync("forward", "list");
        Assert.Equal(0, listCode);
        Assert.Contains(rule, list, StringComparison.Ordinal);
        Assert.Contains($"{v6Port}", list, StringComparison.Ordinal);

        (int delCode, string delOut) = await sy.CliAsync("forward", "del", rule);
        Assert.True(delCode == 0, delOut);
        Assert.False(LoopbackPorts.IsTcpListening(runtimePort), "the removed forward's listener is closed");
        Assert.Equal("served-by-the-guest", await FetchAsync(IPAddress.Loopback, v4Port));
    }

    /// <summary>Waits (about 10 s at most) for a global SLAAC address on eth0 and prints it as SLAAC ADDR.</summary>
    private static string WaitForSlaac() => """
        sy_i=0
        while [ "$sy_i" -lt 100 ]; do
            ip -6 addr show dev eth0 scope global | grep -q 'inet6 fd00' && break
            sleep 0.1
            sy_i=$((sy_i + 1))
        done
        ip -6 addr show dev eth0 scope global | awk '/inet6/ { print "SLAAC " $2 }'

        """;

    private static async Task<string> FetchAsync(IPAddress address, int port)
    {
        using var client = new TcpClient(address.AddressFamily);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ConnectAsync(address, port, cts.Token);
        NetworkStream stream = client.GetStream();
        await stream.WriteAsync("GET /index.html HTTP/1.0\r\n\r\n"u8.ToArray(), cts.Token);
        using var reader = new StreamReader(stream);
        string response = await reader.ReadToEndAsync(cts.Token);
        int body = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return body < 0 ? response : response[(body + 4)..].Trim();
    }
}
