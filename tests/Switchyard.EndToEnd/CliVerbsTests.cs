// Every control verb of the published CLI against a running daemon with real guests, in both output
// forms (the table for people and --json): show, fdb, leases, flows, forward add/list/del, port
// add/set/del, events, taps. Two QEMU guests on the default network (an e1000 on the stream socket
// and a virtio-net over vhost-user) take DHCP leases from the gateway and ping it; the test watches
// their ports come up in the event stream, sets a port's link down and up, moves the other to VLAN 7
// and back, and forwards a host port to a web server in one guest.
using System.Diagnostics;
using System.Net.Http;
using System.Text.Json;
using Switchyard.TestKit;
using Switchyard.TestKit.Qemu;
using Xunit.Abstractions;
using static Switchyard.TestKit.Qemu.VhostUserGuests;
using static Switchyard.TestKit.Qemu.GuestScripts;

namespace Switchyard.EndToEnd;

public sealed class CliVerbsTests(ITestOutputHelper output)
{
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(240);

    [RequiresGuestFact]
    public async Task EveryVerb_AgainstGuests_TablesAndJson_AgreeWithWhatTheGuestsDid()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        using Process events = StartEvents(sy);
        var eventLines = new List<string>();
        var subscribed = new TaskCompletionSource();
        events.OutputDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) { lock (eventLines) { eventLines.Add(line); } } };
        events.ErrorDataReceived += (_, e) => { if (e.Data?.Contains("following", StringComparison.Ordinal) == true) { subscribed.TrySetResult(); } };
        events.BeginOutputReadLine();
        events.BeginErrorReadLine();
        await subscribed.Task.WaitAsync(TimeSpan.FromSeconds(60)); // subscribed before the guests connect

        // Each guest takes a lease, serves a page (s) and pings the gateway's DNS address every 0.2 s until told to stop.
        string Script(string name) => Shebang + Dhcp() + $$"""
            mkdir -p /www && echo "hello-from-{{name}}" > /www/index.html
            httpd -p 8080 -h /www
            echo "{{name}}-READY"
            ping -i 0.2 -W 1 10.0.2.3 >/dev/null 2>&1 &
            sleep 150

            """;
        await using QemuGuest s = QemuGuest.Start(StreamGuest("s", sy.StreamSocket, 1, Script("s"), output.WriteLine));
        await using QemuGuest v = QemuGuest.Start(Guest("v", Socket(sy), 2, Script("v"), output.WriteLine));
        await s.WaitForLineAsync("s-READY", GuestTimeout);
        await v.WaitForLineAsync("v-READY", GuestTimeout);

        // show: both guests' ports, link up, with traffic.
        (int code, string text) = await sy.CliAsync("show");
        Assert.Equal(0, code);
        Assert.Contains("stream.1", text, StringComparison.Ordinal);
        Assert.Contains("vhost-user.1", text, StringComparison.Ordinal);
        Assert.Contains("LINK", text, StringComparison.Ordinal);
        JsonElement show = await sy.ShowAsync();
        Assert.All(SwitchyardProcess.Ports(show), p => Assert.True(p.GetProperty("linkUp").GetBoolean()));

        // fdb: both guest MACs.
        (code, text) = await sy.CliAsync("fdb");
        Assert.Equal(0, code);
        Assert.Contains(QemuGuest.Mac(1), text, StringComparison.Ordinal);
        JsonElement fdb = Json(await sy.CliAsync("fdb", "--json"));
        Assert.Contains(fdb.GetProperty("fdb").EnumerateArray(), r => r.GetProperty("mac").GetString() == QemuGuest.Mac(2) && r.GetProperty("port").GetString() == "vhost-user.1");

        // leases: one active lease per guest.
        (code, text) = await sy.CliAsync("leases");
        Assert.Equal(0, code);
        Assert.Contains(QemuGuest.Mac(1), text, StringComparison.Ordinal);
        JsonElement leases = Json(await sy.CliAsync("leases", "--json"));
        string[] leased = [.. leases.GetProperty("leases").EnumerateArray().Where(l => l.GetProperty("active").GetBoolean()).Select(l => l.GetProperty("mac").GetString()!)];
        Assert.Contains(QemuGuest.Mac(1), leased);
        Assert.Contains(QemuGuest.Mac(2), leased);
        string sAddress = leases.GetProperty("leases").EnumerateArray().First(l => l.GetProperty("mac").GetString() == QemuGuest.Mac(1)).GetProperty("address").GetString()!;

        // forward add/list/del, used for real in between; flows shows the forwarded connection's flow while it lives.
        int hostPort = LoopbackPorts.GetFreeTcpPort();
        string rule = $"tcp:127.0.0.1:{hostPort}-{sAddress}:8080";
        JsonElement added = Json(await sy.CliAsync("forward", "add", rule, "--json"));
        Assert.Equal(hostPort, added.GetProperty("forwards")[0].GetProperty("hostPort").GetInt32());
        (code, text) = await sy.CliAsync("forward", "list");
        Assert.Equal(0, code);
        Assert.Contains(rule, text, StringComparison.Ordinal);
        using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) })
        {
            Assert.Equal("hello-from-s\n", await http.GetStringAsync(new Uri($"http://127.0.0.1:{hostPort}/")));
        }

        (code, text) = await sy.CliAsync("flows");
        Assert.Equal(0, code);
        JsonElement flows = Json(await sy.CliAsync("flows", "--json"));
        Assert.True(flows.TryGetProperty("flows", out _), flows.ToString());
        JsonElement listed = Json(await sy.CliAsync("forward", "list", "--json"));
        Assert.Single(listed.GetProperty("forwards").EnumerateArray());
        (code, text) = await sy.CliAsync("forward", "del", $"tcp:{hostPort}");
        Assert.True(code == 0, text);
        Assert.False(LoopbackPorts.IsTcpListening(hostPort), "the forward's listener is closed");

        // port set --link down: the stream guest's pings stop reaching anything and are counted as rx_admin_down.
        JsonElement setDown = Json(await sy.CliAsync("port", "set", "default", "stream.1", "--link", "down", "--json"));
        Assert.Contains("link down", setDown.GetProperty("message").GetString(), StringComparison.Ordinal);
        await sy.WaitForShowAsync(
            sh => Drop(sh, "stream.1", "rx_admin_down") >= 5,
            TimeSpan.FromSeconds(30),
            "the down port's frames to be dropped and counted");
        (code, text) = await sy.CliAsync("show");
        Assert.Contains("DOWN", text, StringComparison.Ordinal);
        (code, text) = await sy.CliAsync("port", "set", "default", "stream.1", "--link", "up");
        Assert.True(code == 0, text);
        long droppedWhileDown = Drop(await sy.ShowAsync(), "stream.1", "rx_admin_down");
        await Task.Delay(2000);
        Assert.Equal(droppedWhileDown, Drop(await sy.ShowAsync(), "stream.1", "rx_admin_down"));

        // port set --vlan: the vhost-user guest moves to VLAN 7 (its pings of the gateway on VLAN 1 go unanswered), then back.
        (code, text) = await sy.CliAsync("port", "set", "default", "vhost-user.1", "--vlan", "7");
        Assert.True(code == 0, text);
        Assert.Contains("access vlan 7", text, StringComparison.Ordinal);
        Assert.Equal("access vlan 7", SwitchyardProcess.Ports(await sy.ShowAsync()).Single(p => p.GetProperty("name").GetString() == "vhost-user.1").GetProperty("vlan").GetString());
        (code, text) = await sy.CliAsync("port", "set", "default", "vhost-user.1", "--vlan", "1");
        Assert.True(code == 0, text);
        (code, text) = await sy.CliAsync("port", "set", "default", "vhost-user.1", "--link", "sideways");
        Assert.NotEqual(0, code);
        Assert.Contains("sideways", text, StringComparison.Ordinal);

        // port add / del --json.
        string extra = Path.Combine(sy.RunDirectory, "extra.sock");
        JsonElement portAdded = Json(await sy.CliAsync("port", "add", "default", "extra", $"stream,addr.type=unix,addr.path={extra},server=on", "--vlan", "3", "--json"));
        Assert.Contains("-netdev stream", portAdded.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.True(File.Exists(extra));
        JsonElement portDeleted = Json(await sy.CliAsync("port", "del", "default", "extra", "--json"));
        Assert.True(portDeleted.GetProperty("ok").GetBoolean());
        Assert.False(File.Exists(extra));

        // taps: the table and valid JSON, whatever taps this host has.
        (code, _) = await sy.CliAsync("taps");
        Assert.Equal(0, code);
        JsonElement taps = Json(await sy.CliAsync("taps", "--json"));
        Assert.True(taps.ValueKind is JsonValueKind.Array or JsonValueKind.Object, taps.ToString());

        // events: the guests' ports arrived, leases were granted, the link and VLAN changes were seen.
        await WaitForAsync(() => Types(eventLines).Count(t => t == "vlan-changed") >= 2, TimeSpan.FromSeconds(10));
        List<JsonElement> seen;
        lock (eventLines)
        {
            seen = [.. eventLines.Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        }

        output.WriteLine(string.Join('\n', seen));
        Assert.Contains(seen, e => Type(e) == "port-added" && e.GetProperty("port").GetString() == "stream.1" && e.GetProperty("kind").GetString() == "stream");
        Assert.Contains(seen, e => Type(e) == "port-added" && e.GetProperty("port").GetString() == "vhost-user.1");
        Assert.Contains(seen, e => Type(e) == "lease-granted" && e.GetProperty("mac").GetString() == QemuGuest.Mac(1) && e.GetProperty("address").GetString() == sAddress);
        Assert.Contains(seen, e => Type(e) == "lease-granted" && e.GetProperty("mac").GetString() == QemuGuest.Mac(2));
        Assert.Contains(seen, e => Type(e) == "link-down" && e.GetProperty("port").GetString() == "stream.1");
        Assert.Contains(seen, e => Type(e) == "link-up" && e.GetProperty("port").GetString() == "stream.1");
        Assert.Contains(seen, e => Type(e) == "vlan-changed" && e.GetProperty("vlan").GetString() == "access vlan 7");
        Assert.All(seen, e => Assert.True(e.TryGetProperty("time", out _)));

        // The table form of events prints one readable line per event.
        using (Process table = StartEvents(sy, "default", "--count", "1", "--timeout", "60"))
        {
            var tableSubscribed = new TaskCompletionSource();
            table.ErrorDataReceived += (_, e) => { if (e.Data?.Contains("following", StringComparison.Ordinal) == true) { tableSubscribed.TrySetResult(); } };
            table.BeginErrorReadLine();
            Task<string> tableOut = table.StandardOutput.ReadToEndAsync();
            await tableSubscribed.Task.WaitAsync(TimeSpan.FromSeconds(60));
            (code, text) = await sy.CliAsync("port", "set", "default", "vhost-user.1", "--link", "down");
            Assert.True(code == 0, text);
            string line = (await tableOut.WaitAsync(TimeSpan.FromSeconds(60))).Trim();
            await table.WaitForExitAsync();
            Assert.Equal(0, table.ExitCode);
            Assert.Matches(@"^\d\d:\d\d:\d\d\.\d{3}\s+default\s+link-down\s+vhost-user\.1 \(vhost-user ", line);
        }

        (code, text) = await sy.CliAsync("port", "set", "default", "vhost-user.1", "--link", "up");
        Assert.True(code == 0, text);
        events.Kill();
    }

    private static Process StartEvents(SwitchyardProcess sy, params string[] args)
    {
        var psi = new ProcessStartInfo(SwitchyardProcess.Binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in (string[])["events", .. (args.Length == 0 ? ["default", "--json", "--timeout", "200"] : args), "--run-dir", sy.RunDirectory])
        {
            psi.ArgumentList.Add(a);
        }

        return Process.Start(psi)!;
    }

    private static JsonElement Json((int Code, string Output) result)
    {
        Assert.True(result.Code == 0, result.Output);
        return JsonDocument.Parse(result.Output).RootElement.Clone();
    }

    private static long Drop(JsonElement show, string port, string reason) =>
        SwitchyardProcess.Ports(show).Single(p => p.GetProperty("name").GetString() == port).GetProperty("drops") is { } drops
            && drops.TryGetProperty(reason, out JsonElement n) ? n.GetInt64() : 0;

    private static string? Type(JsonElement e) => e.GetProperty("type").GetString();

    private static List<string?> Types(List<string> lines)
    {
        lock (lines)
        {
            return [.. lines.Select(l => Type(JsonDocument.Parse(l).RootElement))];
        }
    }

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (!condition() && DateTime.UtcNow < until)
        {
            await Task.Delay(100);
        }
    }
}
