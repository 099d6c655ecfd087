// Proves the QEMU guest harness without Switchyard: two guests wired to each other by QEMU's own
// socket netdev (one listens on a loopback TCP port, the other connects), booted in parallel, one
// serving iperf3 and the other pinging it and measuring. If this fails, no end-to-end test that
// puts Switchyard between guests can be trusted, so it names the harness layer that broke.
using System.Diagnostics;
using System.Text;
using Switchyard.TestKit;
using Switchyard.TestKit.Qemu;
using Xunit.Abstractions;
using static Switchyard.TestKit.Qemu.GuestScripts;

namespace Switchyard.EndToEnd;

public sealed class HarnessTests(ITestOutputHelper output)
{
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(150);

    [RequiresGuestFact]
    public async Task TwoGuests_QemuSocketNetdev_PingAndIperf3Succeed()
    {
        int port = LoopbackPorts.GetFreeTcpPort();
        string server = TestAddress(1);
        var clock = Stopwatch.StartNew();

        await using QemuGuest a = QemuGuest.Start(new QemuGuestOptions
        {
            Name = "a",
            ExtraKernelArgs = "sy.hostname=a",
            TestScript = Shebang + StaticIPv4(1) + IperfServer(timeoutSeconds: 120),
            ExtraArgs =
            [
                "-netdev", $"socket,id=n0,listen=127.0.0.1:{port}",
                "-device", $"virtio-net-pci,netdev=n0,romfile=,mac={QemuGuest.Mac(1)}",
            ],
            Log = output.WriteLine,
        });

        // QEMU's socket netdev connects once at start-up, so B may start only once A listens.
        Assert.True(
            await LoopbackPorts.WaitForTcpListenerAsync(port, TimeSpan.FromSeconds(20)),
            a.Describe($"QEMU did not listen on 127.0.0.1:{port}"));

        await using QemuGuest b = QemuGuest.Start(new QemuGuestOptions
        {
            Name = "b",
            ExtraKernelArgs = "sy.hostname=b",
            TestScript = Shebang + StaticIPv4(2) + WaitForPing(server) + IperfClient(server, seconds: 3),
            ExtraArgs =
            [
                "-netdev", $"socket,id=n0,connect=127.0.0.1:{port}",
                "-device", $"e1000,netdev=n0,romfile=,mac={QemuGuest.Mac(2)}",
            ],
            Log = output.WriteLine,
        });

        // Both boot at once: B is started right after A's QEMU opened its socket, long before A's kernel is up.
        Task<string> aBooted = a.WaitForBootAsync(GuestTimeout);
        Task<string> bBooted = b.WaitForBootAsync(GuestTimeout);
        await Task.WhenAll(aBooted, bBooted);
        output.WriteLine($"both guests booted after {clock.Elapsed.TotalSeconds:0.0} s");

        GuestResult client = await b.RunToCompletionAsync(GuestTimeout);
        GuestResult serverResult = await a.RunToCompletionAsync(TimeSpan.FromSeconds(30));
        output.WriteLine($"both guests done after {clock.Elapsed.TotalSeconds:0.0} s");

        Assert.True(client.LastLineContaining("PING-OK " + server) is not null, b.Describe("ping to A never succeeded"));
        Assert.True(client.Succeeded, b.Describe($"test.sh failed with rc={client.ExitCode}"));
        Assert.True(TryParseIperfResult(client.Console, out double sent, out double received), b.Describe("no IPERF-RESULT line"));
        output.WriteLine($"iperf3 B -> A: sender {sent} Mbit/s, receiver {received} Mbit/s");
        Assert.True(received > 0, b.Describe($"iperf3 receiver throughput was {received} Mbit/s"));
        Assert.True(serverResult.Succeeded, a.Describe($"server test.sh failed with rc={serverResult.ExitCode}"));
        Assert.Contains("IPERF-SERVER rc=0", serverResult.Console, StringComparison.Ordinal);
    }

    [Fact]
    public void GuestInitrd_NewcArchive_IsReadByGnuCpio()
    {
        string? cpio = GuestImage.FindOnPath("cpio");
        if (cpio is null)
        {
            output.WriteLine("cpio not installed; archive checked by length only");
        }

        using var archive = new MemoryStream();
        GuestInitrd.WriteNewcArchive(
            archive,
            [GuestFile.Script("/test.sh", "#!/bin/sh\r\necho hi\r\n"), GuestFile.Text("etc/sy/a.conf", "x=1\n")]);
        Assert.Equal(0, archive.Length % 4);
        if (cpio is null)
            return;

        var psi = new ProcessStartInfo(cpio, "-itv --quiet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process process = Process.Start(psi)!;
        process.StandardInput.BaseStream.Write(archive.ToArray());
        process.StandardInput.Close();
        string listing = process.StandardOutput.ReadToEnd();
        string errors = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(10_000), "cpio hung");
        output.WriteLine(listing + errors);
        Assert.Equal(0, process.ExitCode);

        string[] lines = listing.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("-rwxr-xr-x", lines[0], StringComparison.Ordinal);
        Assert.EndsWith(" test.sh", lines[0], StringComparison.Ordinal);
        Assert.Contains(" 18 ", lines[0], StringComparison.Ordinal); // "#!/bin/sh\necho hi\n" is 18 bytes once CRLF became LF
        Assert.StartsWith("drwxr-xr-x", lines[1], StringComparison.Ordinal);
        Assert.EndsWith(" etc", lines[1], StringComparison.Ordinal);
        Assert.EndsWith(" etc/sy", lines[2], StringComparison.Ordinal);
        Assert.StartsWith("-rw-r--r--", lines[3], StringComparison.Ordinal);
        Assert.EndsWith(" etc/sy/a.conf", lines[3], StringComparison.Ordinal);
        Assert.Equal(Encoding.ASCII.GetBytes("070701"), archive.ToArray()[..6]);
    }
}
