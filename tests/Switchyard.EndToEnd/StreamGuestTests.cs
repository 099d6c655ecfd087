// Real QEMU guests on Switchyard's default stream socket: two NIC models (virtio-net and e1000) on the
// same switch ping each other and run iperf3, and the CLI shows both ports and their MACs.
using System.Text.Json;
using Switchyard.TestKit;
using Switchyard.TestKit.Qemu;
using Xunit.Abstractions;
using static Switchyard.TestKit.Qemu.GuestScripts;

namespace Switchyard.EndToEnd;

public sealed class StreamGuestTests(ITestOutputHelper output)
{
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(180);

    [RequiresGuestFact]
    public async Task VirtioAndE1000Guests_OnStreamSocket_PingAndIperf3_ShowAndFdbListBoth()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        await using GuestPair guests = GuestPair.OnStream(
            sy.StreamSocket,
            Shebang + StaticIPv4(1) + IperfServer(timeoutSeconds: 150) + "sleep 5\n",
            Shebang + StaticIPv4(2) + WaitForPing(TestAddress(1), attempts: 60) + IperfClient(TestAddress(1), seconds: 3) + "echo B-MEASURED\nsleep 10\n",
            output.WriteLine,
            modelA: "virtio-net-pci",
            modelB: "e1000");
        QemuGuest a = guests.A;
        QemuGuest b = guests.B;

        await b.WaitForLineAsync("B-MEASURED", GuestTimeout);
        Assert.True(TryParseIperfResult(b.Output, out _, out double mbps), b.Describe("no iperf3 result"));
        output.WriteLine($"iperf3 e1000 -> virtio through the switch: {mbps} Mbit/s");
        Assert.True(mbps > 0, b.Describe("iperf3 moved nothing"));

        // While both guests still run: two ports with traffic both ways, and both MACs learned.
        JsonElement show = await sy.ShowAsync();
        List<JsonElement> ports = SwitchyardProcess.Ports(show).ToList();
        Assert.Equal(2, ports.Count);
        foreach (JsonElement p in ports)
        {
            Assert.StartsWith("stream.", p.GetProperty("name").GetString(), StringComparison.Ordinal);
            Assert.True(p.GetProperty("rxFrames").GetInt64() > 100, $"port {p} received too little");
            Assert.True(p.GetProperty("txFrames").GetInt64() > 100, $"port {p} sent too little");
        }

        string fdb = (await sy.FdbAsync()).ToString();
        Assert.Contains(QemuGuest.Mac(1), fdb, StringComparison.Ordinal);
        Assert.Contains(QemuGuest.Mac(2), fdb, StringComparison.Ordinal);

        (int code, string table) = await sy.CliAsync("show");
        Assert.Equal(0, code);
        Assert.Contains("stream.1", table, StringComparison.Ordinal);
        Assert.Contains("stream.2", table, StringComparison.Ordinal);

        GuestResult bDone = await b.RunToCompletionAsync(GuestTimeout);
        Assert.True(bDone.Succeeded, b.Describe($"guest b failed rc={bDone.ExitCode}"));
        GuestResult aDone = await a.RunToCompletionAsync(GuestTimeout);
        Assert.Contains("IPERF-SERVER rc=0", aDone.Console, StringComparison.Ordinal);

        // Clean stop: exit code 0 and no socket files left behind.
        Assert.Equal(0, await sy.StopAsync());
        Assert.False(File.Exists(sy.StreamSocket), "stream.sock removed on stop");
        Assert.False(File.Exists(Path.Combine(sy.RunDirectory, "control.sock")), "control.sock removed on stop");
    }
}
