// Either side of a vhost-user connection going away and coming back:
//   - a guest's QEMU is killed and started again with the same MAC: its old port goes (with the MAC it
//     had learned), a new port appears, and the guest talks at once;
//   - Switchyard is stopped and started again on the same run directory under two running guests: QEMU
//     (chardev reconnect=1) redials, renegotiates and restarts its rings from where the guest is, and a
//     ping that ran all along resumes without a guest reboot. The outage is measured from the gap in ping
//     sequence numbers and from the host clock, and reported.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Switchyard.TestKit;
using Switchyard.TestKit.Qemu;
using Xunit.Abstractions;
using static Switchyard.TestKit.Qemu.VhostUserGuests;
using static Switchyard.TestKit.Qemu.GuestScripts;

namespace Switchyard.EndToEnd;

public sealed partial class VhostUserRestartTests(ITestOutputHelper output)
{
    private const double PingInterval = 0.2;
    private const int PingCount = 300;
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(240);

    [RequiresGuestFact]
    public async Task GuestQemuKilledAndRestartedWithSameMac_OldPortRemoved_NewPortAppears_PingWorksAgain()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        string socket = Socket(sy);

        await using QemuGuest anchor = QemuGuest.Start(Guest("anchor", socket, 1, Shebang + StaticIPv4(1) + "sleep 400\n", output.WriteLine));
        string firstPort;
        await using (QemuGuest first = QemuGuest.Start(Guest(
            "first",
            socket,
            2,
            Shebang + StaticIPv4(2) + WaitForPing(TestAddress(1), attempts: 120) + Ping(TestAddress(1), 3) + "echo FIRST-UP\nsleep 400\n",
            output.WriteLine)))
        {
            await first.WaitForLineAsync("FIRST-UP", GuestTimeout);
            Assert.Contains("3 packets transmitted, 3 packets received", first.Output, StringComparison.Ordinal);
            firstPort = PortOfMac(await sy.FdbAsync(), QemuGuest.Mac(2));
            output.WriteLine($"the first incarnation is on {firstPort}");
            Assert.Equal(2, VhostUserPorts(await sy.ShowAsync()).Count);

            // Killed, not powered off: QEMU dies with the connection open (SIGKILL through the guest's own Process).
        }

        JsonElement show = await sy.WaitForShowAsync(
            s => VhostUserPorts(s).Count == 1,
            TimeSpan.FromSeconds(20),
            "the killed guest's port to go");
        Assert.DoesNotContain(VhostUserPorts(show), p => p.GetProperty("name").GetString() == firstPort);
        Assert.Contains($"port {firstPort} removed", sy.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(QemuGuest.Mac(2), (await sy.FdbAsync()).ToString(), StringComparison.Ordinal);

        // The same guest (same MAC, same address) again.
        await using QemuGuest second = QemuGuest.Start(Guest(
            "second",
            socket,
            2,
            Shebang + StaticIPv4(2) + WaitForPing(TestAddress(1), attempts: 120) + Ping(TestAddress(1), 5),
            output.WriteLine));
        GuestResult done = await second.RunToCompletionAsync(GuestTimeout);
        Assert.True(done.Succeeded, second.Describe($"the restarted guest failed rc={done.ExitCode}"));
        Assert.Equal((5, 5), PingSummary(done.Console));

        // While it ran it had a new port, on which its MAC was learned; now powered off, that port went too.
        string secondPort = Regex.Match(sy.Output, @"port (vhost-user\.\d+) connected", RegexOptions.RightToLeft).Groups[1].Value;
        output.WriteLine($"the second incarnation was on {secondPort}");
        Assert.NotEqual(firstPort, secondPort);
        Assert.Contains($"port {secondPort} removed", sy.Output, StringComparison.Ordinal);
        JsonElement after = await sy.WaitForShowAsync(s => VhostUserPorts(s).Count == 1, TimeSpan.FromSeconds(20), "the second incarnation's port to go");
        Assert.Equal(2, SwitchCounter(after, "ports_closed_by_peer"));
    }

    [RequiresGuestFact]
    public async Task SwitchyardRestartedUnderRunningGuests_QemuReconnects_PingResumesWithoutGuestReboot()
    {
        string runDir = Directory.CreateTempSubdirectory("sy-e2e-restart-").FullName;
        await using SwitchyardProcess first = await SwitchyardProcess.StartAsync(runDir, ["-v"], output.WriteLine);
        string socket = Socket(first);

        await using QemuGuest a = QemuGuest.Start(Guest("a", socket, 1, Shebang + StaticIPv4(1) + "sleep 400\n", output.WriteLine));
        await using QemuGuest b = QemuGuest.Start(Guest(
            "b",
            socket,
            2,
            Shebang + StaticIPv4(2) + WaitForPing(TestAddress(1), attempts: 120) + "echo PINGING\n"
                + string.Create(CultureInfo.InvariantCulture, $"timeout {(int)(PingCount * PingInterval) + 60} ping -i {PingInterval} -c {PingCount} -W 2 {TestAddress(1)}; echo \"PING-RC $?\"\n"),
            output.WriteLine));

        // Restart 1: stop, start again at once. Restart 2: the daemon stays away for 3 s (QEMU redials every second).
        await b.WaitForLineAsync(ReplyWithSeqAtLeast(25), GuestTimeout);
        (SwitchyardProcess second, Restart one) = await RestartAsync(first, b, TimeSpan.Zero, runDir);
        await using SwitchyardProcess secondOwned = second;
        await b.WaitForLineAsync(ReplyWithSeqAtLeast(Math.Max(one.FirstSeqAfter + 10, 100)), GuestTimeout);
        (SwitchyardProcess third, Restart two) = await RestartAsync(second, b, TimeSpan.FromSeconds(3), runDir);
        await using SwitchyardProcess thirdOwned = third;

        // While the ping runs on: the newest daemon's ports carry both guests, and it learned both MACs again.
        await b.WaitForLineAsync(ReplyWithSeqAtLeast(two.FirstSeqAfter + 10), TimeSpan.FromSeconds(30));
        JsonElement show = await third.ShowAsync();
        output.WriteLine(DescribePorts(show));
        Assert.Equal(2, VhostUserPorts(show).Count);
        Assert.All(VhostUserPorts(show), p => Assert.True(p.GetProperty("rxFrames").GetInt64() > 0 && p.GetProperty("txFrames").GetInt64() > 0, $"no traffic on {p}"));
        string fdb = (await third.FdbAsync()).ToString();
        Assert.Contains(QemuGuest.Mac(1), fdb, StringComparison.Ordinal);
        Assert.Contains(QemuGuest.Mac(2), fdb, StringComparison.Ordinal);

        // Read the whole ping. Frames the guest queued while the back-end was away wait in its TX ring and go out once
        // the rings restart, so an outage shows as the round trip time of the pings sent while it lasted, and as lost
        // pings (missing seq) when a queue overflowed or a reply was dropped.
        GuestResult done = await b.RunToCompletionAsync(GuestTimeout);
        List<(int Seq, double Ms)> replies = Replies(done.Console);
        (int transmitted, int received) = PingSummary(done.Console) ?? (0, 0);
        foreach ((string label, Restart r, int until) in new[] { ("immediate restart", one, two.LastSeqBefore), ("restart after 3 s down", two, PingCount) })
        {
            List<(int Seq, double Ms)> window = replies.Where(x => x.Seq > r.LastSeqBefore && x.Seq <= until).ToList();
            int missing = (until - r.LastSeqBefore) - window.Count;
            double worstRtt = window.Select(x => x.Ms / 1000).DefaultIfEmpty(0).Max();
            double outage = Math.Max(missing * PingInterval, worstRtt);
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{label}: stop took {r.Stop.TotalSeconds:0.00} s; new daemon ready {r.Ready.TotalSeconds:0.00} s, both QEMUs reconnected {r.Reconnected.TotalSeconds:0.00} s, first reply past the stop (seq={r.FirstSeqAfter}) {r.Resumed.TotalSeconds:0.00} s after the stop began"));
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"OUTAGE ({label}): about {outage:0.00} s without traffic (worst round trip of a ping sent after the stop: {worstRtt:0.000} s; pings lost: {missing})"));
            Assert.True(r.Resumed.TotalSeconds < 20, $"{label}: traffic resumed only {r.Resumed.TotalSeconds:0.0} s after the stop");
        }

        output.WriteLine($"ping overall: {received}/{transmitted} replies");

        // No guest reboot: each booted once, and b's single ping process saw replies on both sides of both restarts.
        Assert.Equal(1, Regex.Count(a.Output, QemuGuest.BootedMarker));
        Assert.Equal(1, Regex.Count(done.Console, QemuGuest.BootedMarker));
        Assert.Equal(PingCount, transmitted);
        Assert.True(replies.Max(r => r.Seq) >= PingCount - 5, b.Describe("ping did not run on to its end"));
        Assert.True(received >= PingCount - 50, b.Describe($"too many pings lost: {received}/{transmitted}"));
    }

    [RequiresGuestFact]
    public async Task ClientModePort_QemuListens_SwitchyardRestarted_RedialsAndPingResumes()
    {
        // Switchyard as the vhost-user client (spec server=off) of a QEMU that listens (chardev server=on), as OVS's
        // dpdkvhostuserclient ports work: a restarted Switchyard dials QEMU again and the guest never notices.
        string runDir = Directory.CreateTempSubdirectory("sy-e2e-client-").FullName;
        string qemuSocket = Path.Combine(runDir, "qemu-b.sock");
        string yaml = Path.Combine(runDir, "topology.yaml");
        await File.WriteAllTextAsync(yaml, $"""
            networks:
              - name: default
                ports:
                  - name: vhost-user
                    netdev: "vhost-user,path={runDir}/vhost-user.sock,server=on"
                  - name: vm-b
                    netdev: "vhost-user,path={qemuSocket},server=off"
            """);
        await using SwitchyardProcess first = await SwitchyardProcess.StartAsync(runDir, ["-c", yaml, "-v"], output.WriteLine);

        await using QemuGuest a = QemuGuest.Start(Guest("a", Socket(first), 1, Shebang + StaticIPv4(1) + "sleep 300\n", output.WriteLine));
        List<string> bArgs = [.. Args(qemuSocket, 2)];
        bArgs[bArgs.IndexOf("-chardev") + 1] = $"socket,id=c0,path={qemuSocket},server=on,wait=off";
        await using QemuGuest b = QemuGuest.Start(new QemuGuestOptions
        {
            Name = "b",
            MemoryMiB = MemoryMiB,
            TestScript = Shebang + StaticIPv4(2) + WaitForPing(TestAddress(1), attempts: 120) + "echo PINGING\n"
                + "timeout 120 ping -i 0.2 -c 400 -W 2 " + TestAddress(1) + "; echo \"PING-RC $?\"\n",
            ExtraArgs = bArgs,
            Log = output.WriteLine,
        });

        await b.WaitForLineAsync(ReplyWithSeqAtLeast(20), GuestTimeout);
        JsonElement show = await first.ShowAsync();
        Assert.Contains(SwitchyardProcess.Ports(show), p => p.GetProperty("name").GetString() == "vm-b");

        int lastBefore = MaxSeq(b.Output);
        var clock = Stopwatch.StartNew();
        Assert.Equal(0, await first.StopAsync());
        await using SwitchyardProcess second = await SwitchyardProcess.StartAsync(runDir, ["-c", yaml, "-v"], output.WriteLine);
        await b.WaitForLineAsync(ReplyWithSeqAtLeast(lastBefore + 10), TimeSpan.FromSeconds(60));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"OUTAGE (client mode, immediate restart): replies resumed {clock.Elapsed.TotalSeconds:0.00} s after the stop began"));
        Assert.Contains("port vm-b connected to", second.Output, StringComparison.Ordinal);
        Assert.Equal(1, Regex.Count(b.Output, QemuGuest.BootedMarker));
    }

    /// <summary>Stops <paramref name="current"/> (SIGTERM), waits <paramref name="downtime"/>, starts a new daemon on the
    /// same run directory and waits until both guests have reconnected and <paramref name="pinger"/>'s ping has a reply
    /// past the stop. Times are from the moment the stop began.</summary>
    private async Task<(SwitchyardProcess Next, Restart Restart)> RestartAsync(SwitchyardProcess current, QemuGuest pinger, TimeSpan downtime, string runDir)
    {
        int lastBefore = MaxSeq(pinger.Output);
        output.WriteLine($"stopping switchyard after reply seq={lastBefore}, down for {downtime.TotalSeconds} s");
        var clock = Stopwatch.StartNew();
        Assert.Equal(0, await current.StopAsync());
        TimeSpan stopped = clock.Elapsed;
        Assert.False(File.Exists(Socket(current)), "the stopped daemon removed its vhost-user socket");
        await Task.Delay(downtime);

        SwitchyardProcess next = await SwitchyardProcess.StartAsync(runDir, ["-v"], output.WriteLine);
        TimeSpan ready = clock.Elapsed;
        try
        {
            // QEMU redials (chardev reconnect=1); both guests get a port on the new daemon.
            await next.WaitForShowAsync(s => VhostUserPorts(s).Count == 2, TimeSpan.FromSeconds(30), "both guests to reconnect");
            TimeSpan reconnected = clock.Elapsed;

            // The same ping process goes on: a reply with a sequence number past the stop.
            string resumedLine;
            try
            {
                resumedLine = await pinger.WaitForLineAsync(ReplyWithSeqAtLeast(lastBefore + 1), TimeSpan.FromSeconds(60));
            }
            catch (QemuGuestException ex)
            {
                output.WriteLine("show: " + await next.ShowAsync());
                throw new Xunit.Sdk.XunitException("ping did not resume after the restart: " + ex.Message);
            }

            return (next, new Restart(lastBefore, SeqOf(resumedLine), stopped, ready, reconnected, clock.Elapsed));
        }
        catch
        {
            await next.DisposeAsync();
            throw;
        }
    }

    private sealed record Restart(int LastSeqBefore, int FirstSeqAfter, TimeSpan Stop, TimeSpan Ready, TimeSpan Reconnected, TimeSpan Resumed);

    private static string PortOfMac(JsonElement fdb, string mac)
    {
        foreach (JsonElement row in fdb.EnumerateArray())
        {
            if (row.ToString().Contains(mac, StringComparison.Ordinal))
                return row.GetProperty("port").GetString()!;
        }

        throw new Xunit.Sdk.XunitException($"MAC {mac} not learned: {fdb}");
    }

    private static Func<string, bool> ReplyWithSeqAtLeast(int seq) => line => ReplySeq().Match(line) is { Success: true } m
        && int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture) >= seq;

    private static int SeqOf(string line) => int.Parse(ReplySeq().Match(line).Groups[1].ValueSpan, CultureInfo.InvariantCulture);

    /// <summary>Every echo reply busybox ping printed: its sequence number and round trip time in ms.</summary>
    private static List<(int Seq, double Ms)> Replies(string console) =>
        ReplySeq().Matches(console)
            .Select(m => (int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture), double.Parse(m.Groups[2].ValueSpan, CultureInfo.InvariantCulture)))
            .ToList();

    private static int MaxSeq(string console) => Replies(console).Select(r => r.Seq).DefaultIfEmpty(-1).Max();

    [GeneratedRegex(@"bytes from [0-9.]+: seq=(\d+) ttl=\d+ time=([0-9.]+) ms")]
    private static partial Regex ReplySeq();
}
