// A guest that powers off loses its port (and its FDB entries); a new guest on the same socket gets a
// fresh port and talks at once.
using System.Text.Json;
using Switchyard.TestKit;
using Switchyard.TestKit.Qemu;
using Xunit.Abstractions;
using static Switchyard.TestKit.Qemu.GuestScripts;

namespace Switchyard.EndToEnd;

public sealed class PortLifecycleTests(ITestOutputHelper output)
{
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(180);

    [RequiresGuestFact]
    public async Task GuestPowersOff_PortAndMacRemoved_NewGuestOnSameSocketWorks()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        string netdev = $"stream,id=n0,server=off,addr.type=unix,addr.path={sy.StreamSocket}";

        await using QemuGuest anchor = QemuGuest.Start(new QemuGuestOptions
        {
            Name = "anchor",
            TestScript = Shebang + StaticIPv4(1) + "sleep 150\n",
            ExtraArgs = ["-netdev", netdev, "-device", $"virtio-net-pci,netdev=n0,romfile=,mac={QemuGuest.Mac(1)}"],
            Log = output.WriteLine,
        });

        // The anchor's QEMU connects first, so it is stream.1 and the visitors are stream.2 and stream.3.
        await sy.WaitForShowAsync(s => SwitchyardProcess.Ports(s).Count() == 1, TimeSpan.FromSeconds(30), "the anchor's port");

        // First visitor: reaches the anchor, then powers off.
        await using (QemuGuest first = QemuGuest.Start(new QemuGuestOptions
        {
            Name = "first",
            TestScript = Shebang + StaticIPv4(2) + WaitForPing(TestAddress(1), attempts: 90),
            ExtraArgs = ["-netdev", netdev, "-device", $"e1000,netdev=n0,romfile=,mac={QemuGuest.Mac(2)}"],
            Log = output.WriteLine,
        }))
        {
            GuestResult done = await first.RunToCompletionAsync(GuestTimeout);
            Assert.True(done.Succeeded, first.Describe("first guest could not reach the anchor"));
            await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }

        // Its port goes, with its MAC; the anchor's port stays.
        JsonElement show = await sy.WaitForShowAsync(s => SwitchyardProcess.Ports(s).Count() == 1, TimeSpan.FromSeconds(20), "the powered-off guest's port to go");
        Assert.Equal("stream.1", SwitchyardProcess.Ports(show).Single().GetProperty("name").GetString());
        string fdb = (await sy.FdbAsync()).ToString();
        Assert.DoesNotContain(QemuGuest.Mac(2), fdb, StringComparison.Ordinal);
        Assert.Contains("\"ports_closed_by_peer\":1", show.ToString(), StringComparison.Ordinal);
        Assert.Contains("port stream.2 removed", sy.Output, StringComparison.Ordinal);

        // A new guest connects to the same socket and works.
        await using QemuGuest second = QemuGuest.Start(new QemuGuestOptions
        {
            Name = "second",
            TestScript = Shebang + StaticIPv4(3) + WaitForPing(TestAddress(1), attempts: 90),
            ExtraArgs = ["-netdev", netdev, "-device", $"virtio-net-pci,netdev=n0,romfile=,mac={QemuGuest.Mac(3)}"],
            Log = output.WriteLine,
        });
        GuestResult secondDone = await second.RunToCompletionAsync(GuestTimeout);
        Assert.True(secondDone.Succeeded, second.Describe("a guest reconnecting on the same socket could not reach the anchor"));
        Assert.Contains("port stream.3 connected", sy.Output, StringComparison.Ordinal);
    }
}
