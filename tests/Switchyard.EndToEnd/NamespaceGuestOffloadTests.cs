// A network namespace and QEMU guests on one network (issue 5, "What must be shown"): a namespace
// reaches a QEMU guest, and a TSO-capable vhost-user guest's GSO frames cross to the namespace's
// vnet_hdr tap whole, while the same guest's traffic to a stream (e1000) guest is segmented by the
// switch and arrives intact.
//
// v: virtio-net over vhost-user (10.0.0.1), serves a random 4 MiB file over HTTP and two iperf3 tests.
// s: e1000 over -netdev stream (10.0.0.2), runs iperf3 -R against v (v sends) and fetches the file.
// n: a namespace attached with `switchyard attach` (10.0.0.50 on eth0), driven from the host once s is
//    done, so the switch counters of the two phases can be told apart. Needs root and the guest image.
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Switchyard.TestKit;
using Switchyard.TestKit.Netns;
using Switchyard.TestKit.Qemu;
using Xunit.Abstractions;
using static Switchyard.TestKit.Qemu.VhostUserGuests;
using static Switchyard.TestKit.Qemu.GuestScripts;

namespace Switchyard.EndToEnd;

public sealed partial class NamespaceGuestOffloadTests(ITestOutputHelper output)
{
    private const string NamespaceAddress = "10.0.0.50";
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(300);

    [RequiresGuestAndRootFact]
    public async Task TsoVhostUserGuest_ToNamespaceTap_GsoPassesWhole_ToStreamGuest_SegmentedAndIntact()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        using TestNamespace n = TestNamespace.Create("nsguest");
        (int code, string text) = await sy.CliAsync("attach", "default", "--netns", n.Name, "--name", "ns");
        Assert.True(code == 0, text);
        Assert.Equal(0, n.Exec("ip", ["addr", "add", $"{NamespaceAddress}/24", "dev", "eth0"]).ExitCode);

        string v = TestAddress(1);
        await using QemuGuest vGuest = QemuGuest.Start(Guest(
            "v",
            Socket(sy),
            1,
            Shebang + StaticIPv4(1) + PrintVirtioFeatures + """
                mkdir -p /www
                dd if=/dev/urandom of=/www/blob bs=1024 count=4096 2>/dev/null
                echo "BLOB-MD5 $(md5sum /www/blob | cut -d ' ' -f 1)"
                httpd -p 8080 -h /www

                """
                + IperfServer(timeoutSeconds: 240) + IperfServer(timeoutSeconds: 240) + "sleep 60\n",
            output.WriteLine));
        await using QemuGuest sGuest = QemuGuest.Start(StreamGuest(
            "s",
            sy.StreamSocket,
            2,
            Shebang + StaticIPv4(2) + WaitForPing(v, attempts: 120) + IperfClient(v, seconds: 3, extraArgs: "-R", attempts: 30)
                + $"wget -q -O /tmp/blob http://{v}:8080/blob && echo \"S-BLOB-MD5 $(md5sum /tmp/blob | cut -d ' ' -f 1)\"\n"
                + "echo S-DONE\nsleep 30\n",
            output.WriteLine));

        // Phase 1, v -> s: the stream port takes no GSO, so v's TSO frames are segmented in software.
        await sGuest.WaitForLineAsync("S-DONE", GuestTimeout);
        JsonElement show = await sy.ShowAsync();
        long segmented = SwitchCounter(show, "software_segmented_frames");
        long passed = SwitchCounter(show, "gso_frames_passed");
        output.WriteLine($"after v -> s: software_segmented_frames={segmented} software_segments={SwitchCounter(show, "software_segments")} gso_frames_passed={passed}");
        Assert.True(GuestHasFeature(vGuest.Output, 11), vGuest.Describe("guest v did not negotiate VIRTIO_NET_F_HOST_TSO4"));
        Assert.True(IperfResults(sGuest.Output) is [{ Receiver: > 0 }], sGuest.Describe("iperf3 v -> s moved nothing"));
        Assert.True(segmented > 0, $"v sent TCP to a stream port, yet the switch segmented nothing: {show}");
        string blobMd5 = Md5Line().Match(vGuest.Output).Groups[1].Value;
        Assert.Matches("^[0-9a-f]{32}$", blobMd5);
        Assert.Contains($"S-BLOB-MD5 {blobMd5}", sGuest.Output, StringComparison.Ordinal);

        // Phase 2, the namespace reaches v, and v -> n moves GSO frames whole onto the vnet_hdr tap.
        (int pingCode, string ping) = n.Exec("busybox", ["ping", "-c", "3", "-W", "2", v]);
        output.WriteLine(ping);
        Assert.True(pingCode == 0, ping);
        string toNamespace = IperfFromNamespace(n, v);
        (int wgetCode, string wget) = n.Shell($"busybox wget -q -O - http://{v}:8080/blob | md5sum", TimeSpan.FromSeconds(120));
        Assert.True(wgetCode == 0, wget);
        Assert.StartsWith(blobMd5, wget.Trim(), StringComparison.Ordinal);

        show = await sy.ShowAsync();
        long passedAfter = SwitchCounter(show, "gso_frames_passed");
        long segmentedAfter = SwitchCounter(show, "software_segmented_frames");
        output.WriteLine($"v -> n: {toNamespace}\nafter v -> n: gso_frames_passed={passedAfter} software_segmented_frames={segmentedAfter}");
        Assert.True(passedAfter > passed, $"no GSO frame crossed whole from the vhost-user guest to the namespace tap: {show}");
        Assert.Equal(segmented, segmentedAfter);
        Assert.Contains(SwitchyardProcess.Ports(show), p => p.GetProperty("name").GetString() == "ns" && p.GetProperty("txFrames").GetInt64() > 100);
    }

    /// <summary>iperf3 -R (the server, guest v, sends) from the namespace; the receiver summary line.</summary>
    private static string IperfFromNamespace(TestNamespace n, string server)
    {
        string last = string.Empty;
        for (int attempt = 0; attempt < 20; attempt++)
        {
            (int code, string text) = n.Exec("iperf3", ["-c", server, "-R", "-t", "3", "-f", "m"], TimeSpan.FromSeconds(60));
            if (code == 0)
                return text.Split('\n').FirstOrDefault(l => l.Contains("receiver", StringComparison.Ordinal)) ?? text;
            last = text;
            Thread.Sleep(1000);
        }

        throw new InvalidOperationException($"iperf3 -R from the namespace to {server} failed: {last}");
    }

    [GeneratedRegex(@"BLOB-MD5 ([0-9a-f]{32})")]
    private static partial Regex Md5Line();
}
