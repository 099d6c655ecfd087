// Real QEMU guests whose virtio-net NICs are served by Switchyard's vhost-user back-end
// (DIR/vhost-user.sock): two vhost-user guests talk to each other, and a vhost-user guest talks to a
// stream (e1000) guest, which makes the switch finish the virtio guest's offloaded frames (partial
// checksums, TSO) in software before the stream port can carry them.
using System.Globalization;
using System.Text.Json;
using Switchyard.TestKit;
using Switchyard.TestKit.Qemu;
using Xunit.Abstractions;
using static Switchyard.TestKit.Qemu.VhostUserGuests;
using static Switchyard.TestKit.Qemu.GuestScripts;

namespace Switchyard.EndToEnd;

public sealed class VhostUserGuestTests(ITestOutputHelper output)
{
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(240);

    [RequiresGuestFact]
    public async Task TwoVhostUserGuests_PingAndIperf3BothWays_ShowListsTwoVhostUserPortsWithTraffic()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        string socket = Socket(sy);

        // a serves two iperf3 tests (b -> a, then a -> b with -R) and pings b.
        await using GuestPair guests = GuestPair.OnVhostUser(
            socket,
            Shebang + StaticIPv4(1) + PrintVirtioFeatures + WaitForPing(TestAddress(2), attempts: 90) + Ping(TestAddress(2), 5)
                + IperfServer(timeoutSeconds: 150) + IperfServer(timeoutSeconds: 60) + "sleep 5\n",
            Shebang + StaticIPv4(2) + WaitForPing(TestAddress(1), attempts: 90) + Ping(TestAddress(1), 5)
                + IperfClient(TestAddress(1), seconds: 3) + "echo B-TO-A-DONE\n"
                + IperfClient(TestAddress(1), seconds: 3, extraArgs: "-R", attempts: 20) + "echo B-MEASURED\nsleep 10\n",
            output.WriteLine);
        QemuGuest a = guests.A;
        QemuGuest b = guests.B;

        await b.WaitForLineAsync("B-MEASURED", GuestTimeout);
        List<(double Sender, double Receiver)> results = IperfResults(b.Output);
        Assert.True(results.Count == 2, b.Describe($"expected two iperf3 results, got {results.Count}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"iperf3 vhost-user b -> a: {results[0].Receiver} Mbit/s; a -> b (-R): {results[1].Receiver} Mbit/s"));
        Assert.True(results[0].Receiver > 0, b.Describe("iperf3 b -> a moved nothing"));
        Assert.True(results[1].Receiver > 0, b.Describe("iperf3 a -> b moved nothing"));

        // While both run: two vhost-user ports, both with traffic both ways, both MACs learned.
        JsonElement show = await sy.ShowAsync();
        output.WriteLine(DescribePorts(show));
        List<JsonElement> ports = VhostUserPorts(show);
        Assert.Equal(2, ports.Count);
        Assert.Equal(2, SwitchyardProcess.Ports(show).Count(p => p.GetProperty("name").GetString()!.StartsWith("vhost-user.", StringComparison.Ordinal)));
        foreach (JsonElement p in ports)
        {
            Assert.True(p.GetProperty("rxFrames").GetInt64() > 1000, $"port {p} received too little");
            Assert.True(p.GetProperty("txFrames").GetInt64() > 1000, $"port {p} sent too little");
            Assert.True(p.GetProperty("rxBytes").GetInt64() > 1_000_000 || p.GetProperty("txBytes").GetInt64() > 1_000_000, $"port {p} carried too few bytes");
        }

        string fdb = (await sy.FdbAsync()).ToString();
        Assert.Contains(QemuGuest.Mac(1), fdb, StringComparison.Ordinal);
        Assert.Contains(QemuGuest.Mac(2), fdb, StringComparison.Ordinal);

        GuestResult bDone = await b.RunToCompletionAsync(GuestTimeout);
        Assert.True(bDone.Succeeded, b.Describe($"guest b failed rc={bDone.ExitCode}"));
        Assert.Equal((5, 5), PingSummary(bDone.Console));
        GuestResult aDone = await a.RunToCompletionAsync(GuestTimeout);
        Assert.True(aDone.Succeeded, a.Describe($"guest a failed rc={aDone.ExitCode}"));
        Assert.Equal((5, 5), PingSummary(aDone.Console));
        Assert.Equal(2, CountOccurrences(aDone.Console, "IPERF-SERVER rc=0"));

        // Both guests powered off: their ports go; the daemon stops cleanly and removes its sockets.
        await sy.WaitForShowAsync(s => VhostUserPorts(s).Count == 0, TimeSpan.FromSeconds(20), "the vhost-user ports to go");
        Assert.Equal(0, await sy.StopAsync());
        Assert.False(File.Exists(socket), "vhost-user.sock removed on stop");
    }

    [RequiresGuestFact]
    public async Task VhostUserGuestAndE1000StreamGuest_PingBothWaysAndIperf3_OffloadsCompletedInSoftware()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);

        // v (virtio over vhost-user) serves iperf3 twice: s -> v, then v -> s (-R), where v's TSO/partial-checksum frames must be finished for s.
        await using QemuGuest v = QemuGuest.Start(Guest(
            "v",
            Socket(sy),
            1,
            Shebang + StaticIPv4(1) + PrintVirtioFeatures + WaitForPing(TestAddress(2), attempts: 90) + Ping(TestAddress(2), 5)
                + IperfServer(timeoutSeconds: 150) + IperfServer(timeoutSeconds: 60) + "sleep 5\n",
            output.WriteLine));
        await using QemuGuest s = QemuGuest.Start(StreamGuest(
            "s",
            sy.StreamSocket,
            2,
            Shebang + StaticIPv4(2) + WaitForPing(TestAddress(1), attempts: 90) + Ping(TestAddress(1), 5)
                + IperfClient(TestAddress(1), seconds: 3) + "echo S-TO-V-DONE\n"
                + IperfClient(TestAddress(1), seconds: 3, extraArgs: "-R", attempts: 20) + "echo S-MEASURED\nsleep 10\n",
            output.WriteLine));

        await s.WaitForLineAsync("S-MEASURED", GuestTimeout);
        List<(double Sender, double Receiver)> results = IperfResults(s.Output);
        Assert.True(results.Count == 2, s.Describe($"expected two iperf3 results, got {results.Count}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"iperf3 e1000 stream -> vhost-user: {results[0].Receiver} Mbit/s; vhost-user -> e1000 stream (-R): {results[1].Receiver} Mbit/s"));
        Assert.True(results[0].Receiver > 0, s.Describe("iperf3 stream -> vhost-user moved nothing"));
        Assert.True(results[1].Receiver > 0, s.Describe("iperf3 vhost-user -> stream moved nothing"));

        JsonElement show = await sy.ShowAsync();
        output.WriteLine(DescribePorts(show));
        long checksums = SwitchCounter(show, "software_checksums");
        long segments = SwitchCounter(show, "software_segments");
        long segmentedFrames = SwitchCounter(show, "software_segmented_frames");
        output.WriteLine($"switch: software_checksums={checksums} software_segmented_frames={segmentedFrames} software_segments={segments}");
        Assert.Single(VhostUserPorts(show));
        Assert.Single(SwitchyardProcess.Ports(show), p => p.GetProperty("kind").GetString() == "stream");
        foreach (JsonElement p in SwitchyardProcess.Ports(show))
        {
            Assert.True(p.GetProperty("rxFrames").GetInt64() > 1000, $"port {p} received too little");
            Assert.True(p.GetProperty("txFrames").GetInt64() > 1000, $"port {p} sent too little");
        }

        // Bit 0 is VIRTIO_NET_F_CSUM (the guest may send partial checksums), bit 11 HOST_TSO4 (it may send TSO frames).
        string console = v.Output;
        Assert.Contains("VIRTIO-FEATURES ", console, StringComparison.Ordinal);
        bool csum = GuestHasFeature(console, 0);
        bool tso4 = GuestHasFeature(console, 11);
        output.WriteLine($"guest v negotiated CSUM={csum} HOST_TSO4={tso4}");
        Assert.True(csum, v.Describe("the vhost-user guest did not negotiate VIRTIO_NET_F_CSUM, which Switchyard offers"));
        Assert.True(checksums + segments > 0, $"the virtio guest negotiated CSUM, yet the switch completed nothing in software: {show}");
        if (tso4)
            Assert.True(segments > 0, $"the virtio guest negotiated HOST_TSO4 and sent TCP to a stream port, yet nothing was segmented: {show}");

        GuestResult sDone = await s.RunToCompletionAsync(GuestTimeout);
        Assert.True(sDone.Succeeded, s.Describe($"guest s failed rc={sDone.ExitCode}"));
        Assert.Equal((5, 5), PingSummary(sDone.Console));
        GuestResult vDone = await v.RunToCompletionAsync(GuestTimeout);
        Assert.True(vDone.Succeeded, v.Describe($"guest v failed rc={vDone.ExitCode}"));
        Assert.Equal((5, 5), PingSummary(vDone.Console));
        Assert.Equal(2, CountOccurrences(vDone.Console, "IPERF-SERVER rc=0"));
    }

    private static int CountOccurrences(string text, string what)
    {
        int count = 0;
        for (int at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + what.Length, StringComparison.Ordinal))
            count++;
        return count;
    }
}
