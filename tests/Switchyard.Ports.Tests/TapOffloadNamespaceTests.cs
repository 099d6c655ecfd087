// Two network namespaces joined by one learning switch through two tap ports, against the real kernel.
//
// Each namespace gets a uniquely named tap (moved in after the port opened it) with an address on
// 10.213.<n>.0/24, so every frame stays inside the namespaces this test creates and our switch. With
// vnet_hdr on at both ends the namespaces' TCP stacks send 64 KiB TSO frames (the tap advertises TSO
// once TUNSETOFFLOAD accepted it); they must cross the switch whole (gso_frames_passed) and never be
// segmented in software. With vnet_hdr off at the receiving end the switch must segment them instead,
// and iperf3 still completes (the kernel drops any segment with a wrong checksum).
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Core.Ports;
using Switchyard.Ports.Tap;
using Switchyard.Switching;
using Switchyard.TestKit;
using Xunit.Abstractions;

namespace Switchyard.Ports.Tests;

public sealed class TapOffloadNamespaceTests(ITestOutputHelper output) : IDisposable
{
    private static int counter;

    private readonly LoopFixture fixture = new();

    public void Dispose() => fixture.Dispose();

    [RequiresRootFact]
    public async Task VnetHeaderBothEnds_PingAndIperf3_GsoFramesPassWholeAndNothingIsSegmented()
    {
        SwitchCounters counters = await RunPair(senderVnet: true, receiverVnet: true, queues: 1);

        Assert.True(counters.GsoFramesPassed > 0, "no GSO frame crossed the switch whole");
        Assert.Equal(0, counters.SoftwareSegmentedFrames);
    }

    [RequiresRootFact]
    public async Task VnetHeaderBothEnds_TwoQueuesEach_GsoFramesPassWhole()
    {
        SwitchCounters counters = await RunPair(senderVnet: true, receiverVnet: true, queues: 2);

        Assert.True(counters.GsoFramesPassed > 0, "no GSO frame crossed the switch whole");
        Assert.Equal(0, counters.SoftwareSegmentedFrames);
    }

    [RequiresRootFact]
    public async Task VnetHeaderToVnetHeaderOff_PingAndIperf3_SwitchSegmentsInSoftware()
    {
        SwitchCounters counters = await RunPair(senderVnet: true, receiverVnet: false, queues: 1);

        Assert.True(counters.SoftwareSegmentedFrames > 0, "the switch segmented nothing for the vnet_hdr=off tap");
        Assert.True(counters.SoftwareSegments > counters.SoftwareSegmentedFrames);
        Assert.Equal(0, counters.GsoFramesPassed);
    }

    [RequiresRootFact]
    public async Task VnetHeaderBothEnds_UdpSegmentSocket_UsoFramePassesWholeWhereTheKernelOffersUso()
    {
        long before = 0;
        SwitchCounters counters = await RunPair(senderVnet: true, receiverVnet: true, queues: 1, afterIperf: (sw, nsA, nsB, ipB) =>
        {
            before = sw.Counters.GsoFramesPassed;
            return UdpSegmentRoundTrip(nsA, nsB, ipB);
        });

        // Linux before 6.2 refuses TUN_F_USO4/6 and the tap then sends UDP_SEGMENT datagrams already cut.
        if (File.Exists("/proc/version") && Version.TryParse(File.ReadAllText("/proc/version").Split(' ')[2].Split('-')[0], out Version? kernel) && kernel >= new Version(6, 2))
        {
            Assert.True(counters.GsoFramesPassed > before, "the UDP_L4 GSO frame did not cross whole");
        }

        Assert.Equal(0, counters.SoftwareSegmentedFrames);
    }

    /// <summary>One 8400-byte UDP_SEGMENT (gso_size 1400) send from A; B must receive all 8400 bytes.</summary>
    private static async Task UdpSegmentRoundTrip(string nsA, string nsB, string ipB)
    {
        const string receiver = "import socket,sys;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind((sys.argv[1],9999));s.settimeout(10);n=0\nwhile n<8400:\n n+=len(s.recv(65535))\nprint('UDP-RECEIVED',n)";
        const string sender = "import socket,sys,time;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.setsockopt(17,103,1400);time.sleep(0.5);s.sendto(bytes(8400),(sys.argv[1],9999));print('UDP-SENT')";
        Task<(int Code, string Text)> receiving = Task.Run(() => TryRun("ip", $"netns exec {nsB} python3 -c \"{receiver}\" {ipB}"));
        (int code, string text) = TryRun("ip", $"netns exec {nsA} python3 -c \"{sender}\" {ipB}");
        Assert.True(code == 0, text);
        (int receiverCode, string received) = await receiving;
        Assert.True(receiverCode == 0, received);
        Assert.Contains("UDP-RECEIVED 8400", received, StringComparison.Ordinal);
    }

    /// <summary>Namespace A (the iperf3 client, on a tap with <paramref name="senderVnet"/>) and namespace B (the
    /// server, <paramref name="receiverVnet"/>) on one switch: ping both ways, then 2 s of iperf3 A to B.</summary>
    private async Task<SwitchCounters> RunPair(bool senderVnet, bool receiverVnet, int queues, Func<LearningSwitch, string, string, string, Task>? afterIperf = null)
    {
        int id = Interlocked.Increment(ref counter);
        int subnet = 20 + ((Environment.ProcessId + id) % 200);
        string tag = $"{Environment.ProcessId % 10000}x{id}";
        string ifA = $"syoa{tag}";
        string ifB = $"syob{tag}";
        string nsA = $"sy-tapoff-a-{tag}";
        string nsB = $"sy-tapoff-b-{tag}";
        string ipA = $"10.213.{subnet}.1";
        string ipB = $"10.213.{subnet}.2";

        var sw = new LearningSwitch("tapoff", fixture.Loop.Clock, SwitchOptions.Default);
        TapPort? a = null;
        TapPort? b = null;
        Process? server = null;
        var namespaces = new List<string>();
        try
        {
            (a, b) = await fixture.Loop.InvokeAsync(() =>
            {
                TapPort pa = TapPort.Open("a", ifA, fixture.Loop, NullLogger.Instance, senderVnet, queues);
                TapPort pb;
                try
                {
                    pb = TapPort.Open("b", ifB, fixture.Loop, NullLogger.Instance, receiverVnet, queues);
                }
                catch
                {
                    pa.Stop();
                    throw;
                }

                sw.AddPort(pa, new AccessVlan(1));
                sw.AddPort(pb, new AccessVlan(1));
                pa.Start();
                pb.Start();
                return (pa, pb);
            });
            Assert.Equal(senderVnet ? PortOffloads.PartialChecksum | PortOffloads.TcpSegmentation : PortOffloads.None, a.Offloads & ~PortOffloads.UdpSegmentation);
            Assert.Equal(queues, a.QueueCount);

            foreach ((string ns, string ifname, string ip) in new[] { (nsA, ifA, ipA), (nsB, ifB, ipB) })
            {
                Run("ip", $"netns add {ns}");
                namespaces.Add(ns);
                Run("ip", $"link set {ifname} netns {ns}");
                Run("ip", $"-n {ns} addr add {ip}/24 dev {ifname}");
                Run("ip", $"-n {ns} link set {ifname} up");
                Run("ip", $"-n {ns} link set lo up");
            }

            // Diagnostics only: the offload state as the kernel reports it. A host without ethtool prints why instead.
            (int ethtoolCode, string ethtool) = TryRun("ip", $"netns exec {nsA} ethtool -k {ifA}");
            output.WriteLine(ethtoolCode == 0
                ? ethtool.Split('\n').FirstOrDefault(l => l.Contains("tcp-segmentation-offload", StringComparison.Ordinal))
                : $"(ethtool -k unavailable, exit {ethtoolCode}: {ethtool.Trim()})");
            output.WriteLine(Run("ip", $"netns exec {nsA} busybox ping -c 3 -W 2 {ipB}"));
            output.WriteLine(Run("ip", $"netns exec {nsB} busybox ping -c 3 -W 2 {ipA}"));

            server = Process.Start(new ProcessStartInfo("ip", $"netns exec {nsB} iperf3 -s -1 -B {ipB}")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            }) ?? throw new InvalidOperationException("cannot start the iperf3 server");
            string client = await RunIperf3Client(nsA, ipB);
            output.WriteLine(client);
            Assert.Contains("receiver", client, StringComparison.Ordinal);
            if (afterIperf is not null)
            {
                await afterIperf(sw, nsA, nsB, ipB);
            }

            SwitchCounters c = sw.Counters;
            output.WriteLine($"gso_frames_passed={c.GsoFramesPassed} software_segmented_frames={c.SoftwareSegmentedFrames} " +
                $"software_segments={c.SoftwareSegments} software_checksums={c.SoftwareChecksums} " +
                $"a: rx={a.Counters.RxFrames} tx={a.Counters.TxFrames} drops={a.Counters.TotalDrops} " +
                $"b: rx={b.Counters.RxFrames} tx={b.Counters.TxFrames} drops={b.Counters.TotalDrops}");
            Assert.Equal(0, a.Counters.Drops(DropReason.RxBadVnetHeader));
            Assert.Equal(0, b.Counters.Drops(DropReason.RxBadVnetHeader));
            Assert.Equal(0, b.Counters.Drops(DropReason.TxOffloadMalformed));
            return c;
        }
        finally
        {
            if (server is not null)
            {
                if (!server.HasExited)
                {
                    server.Kill(entireProcessTree: true);
                }

                server.Dispose();
            }

            await fixture.Loop.InvokeAsync(() =>
            {
                a?.Stop();
                b?.Stop();
                return true;
            });
            foreach (string ns in namespaces)
            {
                _ = TryRun("ip", $"netns del {ns}");
            }
        }
    }

    /// <summary>Runs the iperf3 client, retrying while the server is still starting to listen.</summary>
    private static async Task<string> RunIperf3Client(string ns, string serverIp)
    {
        string last = string.Empty;
        for (int attempt = 0; attempt < 20; attempt++)
        {
            (int code, string text) = TryRun("ip", $"netns exec {ns} iperf3 -c {serverIp} -t 2 -f m");
            if (code == 0)
            {
                return text;
            }

            last = text;
            await Task.Delay(200);
        }

        throw new InvalidOperationException($"iperf3 client failed: {last}");
    }

    private static string Run(string file, string arguments)
    {
        (int code, string text) = TryRun(file, arguments);
        return code == 0 ? text : throw new InvalidOperationException($"{file} {arguments} failed ({code}): {text}");
    }

    private static (int Code, string Text) TryRun(string file, string arguments)
    {
        var info = new ProcessStartInfo(file, arguments) { RedirectStandardError = true, RedirectStandardOutput = true };
        using Process process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(30_000))
        {
            process.Kill(entireProcessTree: true);
            return (-1, stdout + stderr.Result);
        }

        return (process.ExitCode, stdout + stderr.Result);
    }
}
