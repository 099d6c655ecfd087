// Hostile vhost-user front-ends against a real `switchyard up` (issue 10, holes 1, 2, 3, 5, 6).
//
// Each test attacks from outside the process with the test kit's front-end driver, while two stream guests
// (HealthyStreamPair) keep echoing frames through the same daemon, and asserts three things: the daemon
// survives; the healthy pair saw no gap longer than MaxGap from the moment the attack started; and what the
// attacker got is bounded and counted (a drop reason in `show --json`, or the daemon section's figures).
// None of them needs QEMU or root.
using System.Text.Json;
using Switchyard.Native;
using Switchyard.TestKit;
using Switchyard.TestKit.Hostile;
using Switchyard.TestKit.Memory;
using Switchyard.TestKit.VhostUser;
using Xunit.Abstractions;

namespace Switchyard.EndToEnd;

public sealed class HostileFrontEndTests(ITestOutputHelper output)
{
    private static readonly TimeSpan MaxGap = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ShowTimeout = TimeSpan.FromSeconds(20);

    // A broadcast frame from the vhost-user guest (EtherType 0x88B6, local experimental).
    private static readonly byte[] Broadcast =
    [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x5e, 0x00, 0x00, 0xbb, 0x01, 0x88, 0xb6,
        .. new byte[46],
    ];

    private string VhostSocket(SwitchyardProcess sy) => Path.Combine(sy.RunDirectory, "vhost-user.sock");

    [Fact]
    public async Task MemoryTable_NotSealableMemfd_RefusedAndCounted()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);
        pair.ResetGap();

        using (VhostUserFrontEnd frontEnd = VhostUserFrontEnd.Connect(VhostSocket(sy)))
        using (var driver = new VirtioNetDriver(frontEnd, new VirtioNetDriverOptions { Sealing = MemFdSealing.NotSealable }))
        {
            Assert.ThrowsAny<Exception>(() => driver.Start());
            Assert.True(frontEnd.WaitForClose(TimeSpan.FromSeconds(5)), "the daemon kept the connection");
        }

        await sy.WaitForShowAsync(s => ClosedDrop(s, "vhost_memory_shrinkable") == 1, ShowTimeout, "vhost_memory_shrinkable = 1");
        Assert.Equal(0, Daemon(await sy.ShowAsync(), "guest_mappings"));
        Assert.Contains("memory=trusted", sy.Output, StringComparison.Ordinal);
        await pair.AssertHealthyAsync(MaxGap);
        Assert.False(sy.HasExited);
    }

    [Fact]
    public async Task MemoryTable_SealableMemfd_SealedSoTruncateFailsAndKickIsSafe()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);

        using VhostUserFrontEnd frontEnd = VhostUserFrontEnd.Connect(VhostSocket(sy));
        using var driver = new VirtioNetDriver(frontEnd, new VirtioNetDriverOptions { Sealing = MemFdSealing.Sealable });
        driver.Start();
        pair.ResetGap();

        // The attack of hole 1: shrink the memory under the TX ring, then kick. The daemon sealed it on arrival.
        Assert.NotEqual(0, FileDescriptors.GetSeals(driver.Memory.Fd) & 0x2); // F_SEAL_SHRINK
        Assert.Equal(1, FileDescriptors.Truncate(driver.Memory.Fd, 0)); // EPERM
        driver.SendFrame(Broadcast);
        await sy.WaitForShowAsync(s => VhostRx(s) >= 1, ShowTimeout, "the vhost-user guest's frame");

        await pair.AssertHealthyAsync(MaxGap);
        Assert.False(sy.HasExited);
    }

    [Fact]
    public async Task MemoryTable_SealedMemfd_Works()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);

        using VhostUserFrontEnd frontEnd = VhostUserFrontEnd.Connect(VhostSocket(sy));
        using var driver = new VirtioNetDriver(frontEnd, new VirtioNetDriverOptions { Sealing = MemFdSealing.Sealed });
        driver.Start();
        pair.ResetGap();
        for (int i = 0; i < 5; i++)
        {
            driver.SendFrame(Broadcast);
        }

        await sy.WaitForShowAsync(s => VhostRx(s) >= 5, ShowTimeout, "five frames from the vhost-user guest");
        Assert.True(Daemon(await sy.ShowAsync(), "guest_mappings") >= 1);
        await pair.AssertHealthyAsync(MaxGap);
    }

    [Fact]
    public async Task CallEventFd_SaturatedAndBlocking_SignalCountedLoopNeverBlocks()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);

        using VhostUserFrontEnd frontEnd = VhostUserFrontEnd.Connect(VhostSocket(sy));
        using var driver = new VirtioNetDriver(frontEnd);
        driver.Start();

        // The attack of hole 2: the TX ring's call is a blocking eventfd at 0xfffffffffffffffe; then one frame.
        using EventFd call = HostileDescriptors.SaturatedBlockingEventFd();
        Assert.False(HostileDescriptors.IsNonBlocking(call.Fd));
        frontEnd.Send(FrontEndRequest.SetVringCall, VhostUserPayloads.U64(1), [call.Fd]);
        frontEnd.Sync();
        Assert.True(HostileDescriptors.IsNonBlocking(call.Fd), "the daemon did not make the call eventfd non-blocking");
        pair.ResetGap();
        for (int i = 0; i < 3; i++)
        {
            driver.SendFrame(Broadcast);
            await Task.Delay(50);
        }

        await sy.WaitForShowAsync(s => PortDrop(s, "vhost-user.", "call_signal_failed") >= 1, ShowTimeout, "call_signal_failed");
        await pair.AssertHealthyAsync(MaxGap);

        // The connection itself goes on: its control channel still answers.
        frontEnd.Sync();
        Assert.False(sy.HasExited);
    }

    [Fact]
    public async Task KickFd_Memfd_RefusedWithoutGrowingTheLoop()
    {
        const int attackers = 200;
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);
        long registrationsBefore = Daemon(await sy.ShowAsync(), "loop_registrations");
        pair.ResetGap();

        // The attack of hole 5, many times over: a fully set-up ring whose kick is a memfd (epoll cannot watch it).
        int memFd = FileDescriptors.CreateMemFd("kick", 4096);
        try
        {
            for (int i = 0; i < attackers; i++)
            {
                using VhostUserFrontEnd frontEnd = VhostUserFrontEnd.Connect(VhostSocket(sy));
                frontEnd.Send(FrontEndRequest.SetVringKick, VhostUserPayloads.U64(1), [memFd]);
                Assert.True(frontEnd.WaitForClose(TimeSpan.FromSeconds(5)), $"attacker {i} was not closed");
            }
        }
        finally
        {
            FileDescriptors.Close(memFd);
        }

        JsonElement show = await sy.WaitForShowAsync(s => ClosedDrop(s, "vhost_fd_wrong_type") == attackers, ShowTimeout, $"vhost_fd_wrong_type = {attackers}");
        Assert.Equal(registrationsBefore, Daemon(show, "loop_registrations"));
        await pair.AssertHealthyAsync(MaxGap);
    }

    [Fact]
    public async Task KickFd_SocketWithClosedPeer_RefusedAndCpuStaysLow()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);

        using VhostUserFrontEnd frontEnd = VhostUserFrontEnd.Connect(VhostSocket(sy));
        using var driver = new VirtioNetDriver(frontEnd);
        driver.Start();
        pair.ResetGap();

        // The attack of hole 6: the TX ring's kick becomes a socket whose peer has closed (EPOLLHUP forever).
        int socket = HostileDescriptors.SocketWithClosedPeer();
        try
        {
            frontEnd.Send(FrontEndRequest.SetVringKick, VhostUserPayloads.U64(1), [socket]);
        }
        finally
        {
            FileDescriptors.Close(socket);
        }

        Assert.True(frontEnd.WaitForClose(TimeSpan.FromSeconds(5)), "the socket kick was accepted");
        await sy.WaitForShowAsync(s => ClosedDrop(s, "vhost_fd_wrong_type") == 1, ShowTimeout, "vhost_fd_wrong_type = 1");

        double cpu = CpuSeconds(sy.ProcessId);
        await Task.Delay(TimeSpan.FromSeconds(3));
        double used = CpuSeconds(sy.ProcessId) - cpu;
        Assert.True(used < 0.5, $"the daemon used {used:F2} s of CPU in 3 s");
        JsonElement show = await sy.ShowAsync();
        Assert.Equal(0, Daemon(show, "loop_hangups_dropped"));
        await pair.AssertHealthyAsync(MaxGap);
    }

    [Fact]
    public async Task AddMemReg_PastTheMappingBudget_RefusedAndCountedDaemonSurvives()
    {
        const int budget = 64;
        const int connections = 3;
        const int regionsEach = 40;
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(extraArgs: ["--max-guest-mappings", $"{budget}"], log: output.WriteLine);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);
        Assert.Equal(budget, Daemon(await sy.ShowAsync(), "guest_mappings_limit"));
        pair.ResetGap();

        // The attack of hole 3, scaled to the budget: many connections adding many distinct 4 KiB regions.
        var frontEnds = new List<VhostUserFrontEnd>();
        try
        {
            for (int c = 0; c < connections; c++)
            {
                VhostUserFrontEnd frontEnd = VhostUserFrontEnd.Connect(VhostSocket(sy));
                frontEnds.Add(frontEnd);
                frontEnd.SetProtocolFeatures(frontEnd.GetProtocolFeatures());
                for (int r = 0; r < regionsEach; r++)
                {
                    ulong at = (ulong)((c * regionsEach) + r) * 0x1000;
                    int fd = FileDescriptors.CreateMemFd("region", 4096);
                    try
                    {
                        frontEnd.AddMemReg(new GuestMemoryRegion(0x4000_0000 + at, 4096, 0x7f00_0000_0000 + at, 0), fd);
                    }
                    catch (Exception ex) when (ex is VhostUserFrontEndException or IOException or System.Net.Sockets.SocketException)
                    {
                        break; // Refused: the daemon closed this connection.
                    }
                    finally
                    {
                        FileDescriptors.Close(fd);
                    }
                }
            }

            // 120 regions were offered; the first connection keeps its 40, the second is closed at the budget, the third
            // at its first region.
            JsonElement show = await sy.WaitForShowAsync(s => ClosedDrop(s, "vhost_mapping_budget") == 2, ShowTimeout, "vhost_mapping_budget = 2");
            Assert.Equal(regionsEach, Daemon(show, "guest_mappings"));
            Assert.True(Daemon(show, "guest_mappings_refused") >= 1);
            await pair.AssertHealthyAsync(MaxGap);
        }
        finally
        {
            foreach (VhostUserFrontEnd frontEnd in frontEnds)
            {
                frontEnd.Dispose();
            }
        }

        // Every mapping goes back to the budget when its connection ends.
        await sy.WaitForShowAsync(s => Daemon(s, "guest_mappings") == 0, ShowTimeout, "guest_mappings = 0");
        Assert.False(sy.HasExited);
    }

    private static long Daemon(JsonElement show, string name) =>
        show.GetProperty("daemon").TryGetProperty(name, out JsonElement v) ? v.GetInt64() : 0;

    private static long ClosedDrop(JsonElement show, string reason) =>
        show.GetProperty("networks")[0].GetProperty("closedPortDrops").TryGetProperty(reason, out JsonElement v) ? v.GetInt64() : 0;

    private static long PortDrop(JsonElement show, string portPrefix, string reason) =>
        SwitchyardProcess.Ports(show)
            .Where(p => p.GetProperty("name").GetString()!.StartsWith(portPrefix, StringComparison.Ordinal))
            .Sum(p => p.GetProperty("drops").TryGetProperty(reason, out JsonElement v) ? v.GetInt64() : 0);

    private static long VhostRx(JsonElement show) =>
        SwitchyardProcess.Ports(show)
            .Where(p => p.GetProperty("kind").GetString() == "vhost-user")
            .Sum(p => p.GetProperty("rxFrames").GetInt64());

    /// <summary>utime + stime of <paramref name="pid"/> in seconds (/proc/PID/stat fields 14 and 15, in clock ticks).</summary>
    private static double CpuSeconds(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        const double ticksPerSecond = 100; // USER_HZ on Linux x86_64.
        return (long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture)) / ticksPerSecond;
    }
}
