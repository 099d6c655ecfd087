// `switchyard up -c FILE` with two real QEMU guests on a stream listener running iperf3, while the
// test edits the file and reloads it twice: once with `switchyard reload` (a port and a gateway
// forward added), once with SIGHUP (another port). The guests' ports must not be touched: same names,
// counters still growing, no connection closed, iperf3 finishing with rc=0. A broken file is then
// refused with every error and its line, and nothing changes; `switchyard check` on it exits 1.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Switchyard.TestKit;
using Switchyard.TestKit.Qemu;
using Xunit.Abstractions;
using static Switchyard.TestKit.Qemu.GuestScripts;

namespace Switchyard.EndToEnd;

public sealed class ReloadTests(ITestOutputHelper output)
{
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(240);

    [RequiresGuestFact]
    public async Task Reload_PortsAndForwardAddedDuringIperf3_GuestPortsUntouchedAndNewPortsAppear()
    {
        string dir = Directory.CreateTempSubdirectory("sy-reload-").FullName;
        string file = Path.Combine(dir, "topology.yaml");
        int forwardPort = LoopbackPorts.GetFreeTcpPort();
        string Topology(string gateway, string extraPorts) =>
            $"""
            networks:
              - name: lab
                gateway: {gateway}
                ports:
                  - name: guests
                    netdev: "stream,addr.type=unix,addr.path={dir}/guests.sock,server=on"
            {extraPorts}
            """;
        string Listener(string name) =>
            $"      - name: {name}\n        netdev: \"stream,addr.type=unix,addr.path={dir}/{name}.sock,server=on\"\n";
        await File.WriteAllTextAsync(file, Topology("true", string.Empty));

        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(runDir: dir, extraArgs: ["-c", file], log: output.WriteLine);
        string guests = Path.Combine(dir, "guests.sock");
        await using QemuGuest a = QemuGuest.Start(VhostUserGuests.StreamGuest(
            "a", guests, 1, Shebang + StaticIPv4(1) + IperfServer(timeoutSeconds: 200) + "sleep 5\n", output.WriteLine, model: "virtio-net-pci"));
        await using QemuGuest b = QemuGuest.Start(VhostUserGuests.StreamGuest(
            "b", guests, 2, Shebang + StaticIPv4(2) + WaitForPing(TestAddress(1), attempts: 90) + "echo IPERF-START\n" + IperfClient(TestAddress(1), seconds: 15) + "echo B-MEASURED\n", output.WriteLine, model: "virtio-net-pci"));

        await b.WaitForLineAsync("IPERF-START", GuestTimeout);
        await Task.Delay(TimeSpan.FromSeconds(3));
        JsonElement before = await sy.ShowAsync();
        Dictionary<string, long> bytesBefore = GuestPortBytes(before);
        Assert.Equal(new[] { "guests.1", "guests.2" }, bytesBefore.Keys.Order());

        // 1. `switchyard reload`: a second stream listener and a forward.
        await File.WriteAllTextAsync(file, Topology($"\"user,hostfwd=tcp:127.0.0.1:{forwardPort}-:8080\"", Listener("extra")));
        (int reloadCode, string reloadOut) = await sy.CliAsync("reload");
        Assert.True(reloadCode == 0, reloadOut);
        Assert.Contains($"network lab: added port extra; forward tcp:127.0.0.1:{forwardPort}-:8080 added", reloadOut, StringComparison.Ordinal);
        Assert.True(LoopbackPorts.IsTcpListening(forwardPort), "the forward added by reload listens");

        // 2. SIGHUP: one more listener.
        await Task.Delay(TimeSpan.FromSeconds(2));
        await File.WriteAllTextAsync(file, Topology($"\"user,hostfwd=tcp:127.0.0.1:{forwardPort}-:8080\"", Listener("extra") + Listener("extra2")));
        SendHangup(sy.ProcessId);
        JsonElement after = await sy.WaitForShowAsync(s => Attachments(s).Contains("extra2"), TimeSpan.FromSeconds(20), "extra2 after SIGHUP");
        Assert.Equal(new[] { "extra", "extra2", "guests" }, Attachments(after).Order());
        Assert.True(File.Exists(Path.Combine(dir, "extra2.sock")));

        // The guests' ports were not recreated: same names, still moving bytes, nothing closed.
        await Task.Delay(TimeSpan.FromSeconds(2));
        after = await sy.ShowAsync();
        Dictionary<string, long> bytesAfter = GuestPortBytes(after);
        Assert.Equal(bytesBefore.Keys.Order(), bytesAfter.Keys.Order());
        foreach ((string port, long bytes) in bytesBefore)
        {
            Assert.True(bytesAfter[port] > bytes, $"port {port} kept moving bytes ({bytes} -> {bytesAfter[port]})");
        }

        Assert.Equal(0, Lab(after).GetProperty("counters").GetProperty("ports_closed_by_peer").GetInt64());

        await b.WaitForLineAsync("B-MEASURED", GuestTimeout);
        Assert.True(TryParseIperfResult(b.Output, out _, out double mbps), b.Describe("no iperf3 result"));
        output.WriteLine($"iperf3 across two reloads: {mbps} Mbit/s");
        Assert.True(mbps > 1, b.Describe($"iperf3 rate {mbps} Mbit/s is not sane"));
        GuestResult bDone = await b.RunToCompletionAsync(GuestTimeout);
        Assert.True(bDone.Succeeded, b.Describe($"guest b failed rc={bDone.ExitCode}"));
        Assert.Contains("IPERF-SERVER rc=0", (await a.RunToCompletionAsync(GuestTimeout)).Console, StringComparison.Ordinal);

        // 3. A broken file: refused with every error and its line; nothing changes.
        await File.WriteAllTextAsync(file, Topology("true", Listener("extra") + "        vlan: 9999\n" + "        colour: red\n"));
        (int brokenCode, string brokenOut) = await sy.CliAsync("reload");
        Assert.Equal(1, brokenCode);
        Assert.Contains("has 2 errors; nothing was changed", brokenOut, StringComparison.Ordinal);
        Assert.Contains($"{file}:9: networks[0].ports[1].vlan:", brokenOut, StringComparison.Ordinal);
        Assert.Contains($"{file}:10: networks[0].ports[1]: unknown key 'colour'", brokenOut, StringComparison.Ordinal);
        JsonElement unchanged = await sy.ShowAsync();
        Assert.Equal(new[] { "extra", "extra2", "guests" }, Attachments(unchanged).Order());
        Assert.True(LoopbackPorts.IsTcpListening(forwardPort), "the forward is still open");

        (int checkCode, string checkOut) = await sy.CliAsync("check", "-c", file);
        Assert.Equal(1, checkCode);
        Assert.Contains($"{file}:9: networks[0].ports[1].vlan:", checkOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_ThreeMistakes_PublishedBinaryPrintsEachWithItsLineAndExitsOne()
    {
        string dir = Directory.CreateTempSubdirectory("sy-check-").FullName;
        try
        {
            string file = Path.Combine(dir, "bad.yaml");
            await File.WriteAllTextAsync(file, $"""
                networks:
                  - name: lab
                    colour: blue
                    ports:
                      - name: p1
                        netdev: "stream,addr.type=unix,addr.path={dir}/p1.sock,server=on"
                        vlan: 5000
                      - name: p1
                        netdev: "stream,addr.type=unix,addr.path={dir}/p2.sock,server=on"
                """);
            await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(extraArgs: ["--no-gateway"], log: output.WriteLine);

            (int code, string text) = await sy.CliAsync("check", "-c", file);

            Assert.Equal(1, code);
            Assert.Contains($"{file}:3: networks[0]: unknown key 'colour'", text, StringComparison.Ordinal);
            Assert.Contains($"{file}:7: networks[0].ports[0].vlan:", text, StringComparison.Ordinal);
            Assert.Contains($"{file}:8: networks[0].ports[1].name: duplicate port name 'p1'", text, StringComparison.Ordinal);
            Assert.Contains($"{file}: 3 errors", text, StringComparison.Ordinal);

            await File.WriteAllTextAsync(file, $"networks:\n  - name: lab\n    ports:\n      - name: p1\n        netdev: \"stream,addr.type=unix,addr.path={dir}/p1.sock,server=on\"\n");
            (int okCode, string okText) = await sy.CliAsync("check", "-c", file);
            Assert.True(okCode == 0, okText);
            Assert.StartsWith($"{file} is valid: 1 network, 1 port, 0 gateways, 0 forwards.", okText, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static JsonElement Lab(JsonElement show) =>
        show.GetProperty("networks").EnumerateArray().Single(n => n.GetProperty("name").GetString() == "lab");

    private static List<string> Attachments(JsonElement show) =>
        [.. Lab(show).GetProperty("attachments").EnumerateArray().Select(a => a.GetProperty("name").GetString()!)];

    // rx+tx bytes of each guest connection (the listener's ports guests.N).
    private static Dictionary<string, long> GuestPortBytes(JsonElement show) =>
        SwitchyardProcess.Ports(show, "lab")
            .Where(p => p.GetProperty("name").GetString()!.StartsWith("guests.", StringComparison.Ordinal))
            .ToDictionary(p => p.GetProperty("name").GetString()!, p => p.GetProperty("rxBytes").GetInt64() + p.GetProperty("txBytes").GetInt64());

    private static void SendHangup(int pid)
    {
        using Process kill = Process.Start(new ProcessStartInfo("kill", ["-HUP", pid.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }
}
