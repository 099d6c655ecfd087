// vhost-user guests whose virtio-net devices negotiate less than Switchyard offers, or more queues:
// every variant must still carry pings and TCP both ways. One pair turns features off (one guest
// mrg_rxbuf=off,event_idx=off, the other indirect_desc=off,csum=off); the other pair has two queue
// pairs each (mq=on, queues=2, two vCPUs so the guest driver enables both) and runs iperf3 -P 2.
using System.Globalization;
using System.Text.Json;
using Switchyard.TestKit;
using Switchyard.TestKit.Qemu;
using Xunit.Abstractions;
using static Switchyard.TestKit.Qemu.VhostUserGuests;
using static Switchyard.TestKit.Qemu.GuestScripts;

namespace Switchyard.EndToEnd;

public sealed class VhostUserVariantTests(ITestOutputHelper output)
{
    // virtio-net feature bits (virtio 1.2 §5.1.3), as positions in the guest's sysfs feature string.
    private const int Csum = 0;
    private const int GuestCsum = 1;
    private const int MrgRxbuf = 15;
    private const int Mq = 22;
    private const int IndirectDesc = 28;
    private const int EventIdx = 29;

    private static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(300);

    [RequiresGuestFact]
    public async Task FeaturesTurnedOff_MrgRxbufEventIdxOff_And_IndirectCsumOff_PingAndIperf3BothWays()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        string socket = Socket(sy);

        await using QemuGuest a = QemuGuest.Start(Guest(
            "a",
            socket,
            1,
            Shebang + StaticIPv4(1) + PrintVirtioFeatures + WaitForPing(TestAddress(2), attempts: 90) + Ping(TestAddress(2), 10)
                + IperfServer(timeoutSeconds: 150) + IperfServer(timeoutSeconds: 60) + "sleep 5\n",
            output.WriteLine,
            new VhostUserNic { MergeableRxBuffers = false, EventIdx = false }));
        await using QemuGuest b = QemuGuest.Start(Guest(
            "b",
            socket,
            2,
            Shebang + StaticIPv4(2) + PrintVirtioFeatures + WaitForPing(TestAddress(1), attempts: 90) + Ping(TestAddress(1), 10)
                + IperfClient(TestAddress(1), seconds: 3) + IperfClient(TestAddress(1), seconds: 3, extraArgs: "-R", attempts: 20) + "echo B-MEASURED\nsleep 10\n",
            output.WriteLine,
            new VhostUserNic { IndirectDescriptors = false, Checksum = false }));

        await b.WaitForLineAsync("B-MEASURED", GuestTimeout);

        // The devices really negotiated what the variants say.
        Assert.False(GuestHasFeature(a.Output, MrgRxbuf), a.Describe("mrg_rxbuf=off, yet MRG_RXBUF negotiated"));
        Assert.False(GuestHasFeature(a.Output, EventIdx), a.Describe("event_idx=off, yet EVENT_IDX negotiated"));
        Assert.True(GuestHasFeature(a.Output, IndirectDesc), a.Describe("guest a should keep INDIRECT_DESC"));
        Assert.True(GuestHasFeature(a.Output, Csum), a.Describe("guest a should keep CSUM"));
        Assert.False(GuestHasFeature(b.Output, IndirectDesc), b.Describe("indirect_desc=off, yet INDIRECT_DESC negotiated"));
        Assert.False(GuestHasFeature(b.Output, Csum), b.Describe("csum=off, yet CSUM negotiated"));
        Assert.True(GuestHasFeature(b.Output, MrgRxbuf), b.Describe("guest b should keep MRG_RXBUF"));
        Assert.True(GuestHasFeature(b.Output, GuestCsum), b.Describe("guest b should keep GUEST_CSUM"));

        List<(double Sender, double Receiver)> results = IperfResults(b.Output);
        Assert.True(results.Count == 2, b.Describe($"expected two iperf3 results, got {results.Count}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"iperf3 b(indirect_desc=off,csum=off) -> a(mrg_rxbuf=off,event_idx=off): {results[0].Receiver} Mbit/s; a -> b (-R): {results[1].Receiver} Mbit/s"));
        Assert.True(results[0].Receiver > 0, b.Describe("iperf3 b -> a moved nothing"));
        Assert.True(results[1].Receiver > 0, b.Describe("iperf3 a -> b moved nothing"));

        JsonElement show = await sy.ShowAsync();
        output.WriteLine(DescribePorts(show));
        Assert.Equal(2, VhostUserPorts(show).Count);

        GuestResult bDone = await b.RunToCompletionAsync(GuestTimeout);
        Assert.True(bDone.Succeeded, b.Describe($"guest b failed rc={bDone.ExitCode}"));
        Assert.Equal((10, 10), PingSummary(bDone.Console));
        GuestResult aDone = await a.RunToCompletionAsync(GuestTimeout);
        Assert.True(aDone.Succeeded, a.Describe($"guest a failed rc={aDone.ExitCode}"));
        Assert.Equal((10, 10), PingSummary(aDone.Console));
    }

    [RequiresGuestFact]
    public async Task TwoQueuePairs_MqOn_BothGuestsUseTwoQueues_PingAndIperf3Parallel2()
    {
        // -v: the back-end logs each ring it starts, so the test can see rings 2 and 3 come up.
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(extraArgs: ["-v"], log: output.WriteLine);
        string socket = Socket(sy);
        var mq = new VhostUserNic { Queues = 2 };

        // Two vCPUs: Linux's virtio-net enables min(queue pairs, online CPUs) pairs at probe.
        const string queues = "echo \"QUEUES $(ls /sys/class/net/eth0/queues | tr '\\n' ' ')\"\n";

        // Per-queue packet counts, when the host has ethtool to lend the guest (the base image has none): printed, not asserted,
        // because which RX ring a flow lands on depends on a hash of its addresses and ports.
        IReadOnlyList<GuestFile> ethtool = HostProgram("/usr/sbin/ethtool") ?? HostProgram("/sbin/ethtool") ?? [];
        string queueStats = ethtool.Count > 0 ? "ethtool -S eth0 | grep -E 'queue_[0-9]+_packets' | sed 's/^ */QSTAT /'\n" : string.Empty;
        await using QemuGuest a = QemuGuest.Start(Guest(
            "a",
            socket,
            1,
            Shebang + StaticIPv4(1) + PrintVirtioFeatures + queues + WaitForPing(TestAddress(2), attempts: 120) + Ping(TestAddress(2), 10)
                + IperfServer(timeoutSeconds: 180) + IperfServer(timeoutSeconds: 60) + queueStats + "sleep 5\n",
            output.WriteLine,
            mq) with { ExtraArgs = [.. Args(socket, 1, mq), "-smp", "2"], ExtraFiles = ethtool });
        await using QemuGuest b = QemuGuest.Start(Guest(
            "b",
            socket,
            2,
            Shebang + StaticIPv4(2) + PrintVirtioFeatures + queues + WaitForPing(TestAddress(1), attempts: 120) + Ping(TestAddress(1), 10)
                + IperfClient(TestAddress(1), seconds: 3, extraArgs: "-P 2") + IperfClient(TestAddress(1), seconds: 3, extraArgs: "-P 2 -R", attempts: 20)
                + queueStats + "echo B-MEASURED\nsleep 10\n",
            output.WriteLine,
            mq) with { ExtraArgs = [.. Args(socket, 2, mq), "-smp", "2"], ExtraFiles = ethtool });

        await b.WaitForLineAsync("B-MEASURED", GuestTimeout);
        foreach (QemuGuest g in new[] { a, b })
        {
            Assert.True(GuestHasFeature(g.Output, Mq), g.Describe("mq=on, yet VIRTIO_NET_F_MQ was not negotiated"));
            string line = await g.WaitForLineAsync("QUEUES ", TimeSpan.FromSeconds(1));
            Assert.True(line.Contains("rx-1", StringComparison.Ordinal) && line.Contains("tx-1", StringComparison.Ordinal), g.Describe("the guest did not enable a second queue pair"));
        }

        List<(double Sender, double Receiver)> results = IperfResults(b.Output);
        Assert.True(results.Count == 2, b.Describe($"expected two iperf3 results, got {results.Count}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"iperf3 -P 2 over 2 queue pairs b -> a: {results[0].Receiver} Mbit/s; a -> b (-R): {results[1].Receiver} Mbit/s"));
        Assert.True(results[0].Receiver > 0, b.Describe("iperf3 -P 2 b -> a moved nothing"));
        Assert.True(results[1].Receiver > 0, b.Describe("iperf3 -P 2 a -> b moved nothing"));

        // Both ports started rings 0-3 (two RX, two TX).
        foreach (string port in new[] { "vhost-user.1", "vhost-user.2" })
        {
            for (int ring = 0; ring < 4; ring++)
                Assert.Contains($"port {port}: ring {ring} started", sy.Output, StringComparison.Ordinal);
        }

        JsonElement show = await sy.ShowAsync();
        output.WriteLine(DescribePorts(show));
        Assert.Equal(2, VhostUserPorts(show).Count);

        GuestResult bDone = await b.RunToCompletionAsync(GuestTimeout);
        Assert.True(bDone.Succeeded, b.Describe($"guest b failed rc={bDone.ExitCode}"));
        Assert.Equal((10, 10), PingSummary(bDone.Console));
        GuestResult aDone = await a.RunToCompletionAsync(GuestTimeout);
        Assert.True(aDone.Succeeded, a.Describe($"guest a failed rc={aDone.ExitCode}"));
        Assert.Equal((10, 10), PingSummary(aDone.Console));
        if (ethtool.Count > 0)
        {
            foreach ((string name, string console) in new[] { ("a", aDone.Console), ("b", bDone.Console) })
            {
                string stats = string.Join(", ", console.Split('\n').Where(l => l.StartsWith("QSTAT ", StringComparison.Ordinal)).Select(l => l[6..].Trim()));
                output.WriteLine($"guest {name} per-queue packets: {stats}");
                Assert.Contains("rx_queue_1_packets", stats, StringComparison.Ordinal);
            }
        }
    }
}
