// Namespaces on one Switchyard network through tap ports added with the CLI, against the published
// daemon (issue 5, "What must be shown": two namespaces ping and run iperf3 to each other).
//
// Three namespaces with static addresses on the default network (10.0.2.0/24, away from the
// gateway's DHCP pool): A on `tap,ifname=..,queues=2` (vnet_hdr on by default, two queues), B on a
// vnet_hdr tap, C on `vnet_hdr=off`. A to B must move the namespaces' TSO frames whole
// (gso_frames_passed grows, software_segmented_frames stays 0); A to C must be segmented by the
// switch and still run. Needs root (taps, namespaces); all traffic stays inside these namespaces.
using System.Globalization;
using System.Text.Json;
using Switchyard.TestKit;
using Switchyard.TestKit.Netns;
using Switchyard.TestKit.Qemu;
using Xunit.Abstractions;

namespace Switchyard.EndToEnd;

public sealed class TapOffloadNamespaceTests(ITestOutputHelper output)
{
    [RequiresRootFact]
    public async Task NamespacesOnVnetHeaderTaps_PingAndIperf3_GsoPassesWhole_AndToAVnetHeaderOffTapIsSegmented()
    {
        string tag = (Environment.ProcessId % 100000).ToString(CultureInfo.InvariantCulture);
        (string Port, string IfName, string Spec, string Address)[] guests =
        [
            ("nsa", $"sy{tag}ta", $"tap,ifname=sy{tag}ta,queues=2", "10.0.2.201"),
            ("nsb", $"sy{tag}tb", $"tap,ifname=sy{tag}tb", "10.0.2.202"),
            ("nsc", $"sy{tag}tc", $"tap,ifname=sy{tag}tc,vnet_hdr=off", "10.0.2.203"),
        ];
        var namespaces = new List<TestNamespace>();
        try
        {
            await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
            foreach ((string port, string ifname, string spec, string address) in guests)
            {
                (int code, string text) = await sy.CliAsync("port", "add", "default", port, spec);
                Assert.True(code == 0, text);
                TestNamespace ns = TestNamespace.Create("tapoff");
                namespaces.Add(ns);
                ns.Adopt(ifname);
                Assert.Equal(0, ns.Exec("ip", ["addr", "add", $"{address}/24", "dev", ifname]).ExitCode);
            }

            TestNamespace a = namespaces[0];
            foreach (string peer in new[] { "10.0.2.202", "10.0.2.203" })
            {
                (int code, string ping) = a.Exec("busybox", ["ping", "-c", "3", "-W", "2", peer]);
                output.WriteLine(ping);
                Assert.True(code == 0, ping);
            }

            long segmentedBefore = VhostUserGuests.SwitchCounter(await sy.ShowAsync(), "software_segmented_frames");
            string toB = await Iperf3(a, namespaces[1], "10.0.2.202");
            JsonElement show = await sy.ShowAsync();
            long passed = VhostUserGuests.SwitchCounter(show, "gso_frames_passed");
            long segmented = VhostUserGuests.SwitchCounter(show, "software_segmented_frames");
            output.WriteLine($"A->B: {toB}\ngso_frames_passed={passed} software_segmented_frames={segmented}");
            Assert.True(passed > 0, "no GSO frame crossed the switch whole between two vnet_hdr taps");
            Assert.Equal(segmentedBefore, segmented);

            string toC = await Iperf3(a, namespaces[2], "10.0.2.203");
            show = await sy.ShowAsync();
            long segmentedAfter = VhostUserGuests.SwitchCounter(show, "software_segmented_frames");
            output.WriteLine($"A->C: {toC}\nsoftware_segmented_frames={segmentedAfter} software_segments={VhostUserGuests.SwitchCounter(show, "software_segments")}");
            Assert.True(segmentedAfter > segmented, "the switch segmented nothing for the vnet_hdr=off tap");
            Assert.Contains("\"kind\":\"tap\"", show.ToString().Replace(" ", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
        }
        finally
        {
            foreach (TestNamespace ns in namespaces)
            {
                ns.Dispose();
            }
        }
    }

    /// <summary>2 s of iperf3 TCP from <paramref name="client"/> to a one-shot server in <paramref name="server"/>;
    /// the client's receiver summary line.</summary>
    private static async Task<string> Iperf3(TestNamespace client, TestNamespace server, string serverAddress)
    {
        Task<(int ExitCode, string Output)> serving = Task.Run(() => server.Exec("iperf3", ["-s", "-1", "-B", serverAddress], TimeSpan.FromSeconds(40)));
        string last = string.Empty;
        for (int attempt = 0; attempt < 25; attempt++)
        {
            (int code, string text) = client.Exec("iperf3", ["-c", serverAddress, "-t", "2", "-f", "m"], TimeSpan.FromSeconds(30));
            if (code == 0)
            {
                (int serverCode, string serverText) = await serving;
                Assert.True(serverCode == 0, serverText);
                return text.Split('\n').FirstOrDefault(l => l.Contains("receiver", StringComparison.Ordinal)) ?? text;
            }

            last = text;
            await Task.Delay(200);
        }

        throw new InvalidOperationException($"iperf3 to {serverAddress} failed: {last}");
    }
}
