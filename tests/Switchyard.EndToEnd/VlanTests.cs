// 802.1Q on real guests: two guests on different access VLANs (same IP subnet) cannot reach each
// other; a guest on a trunk port, with a tagged sub-interface per VLAN, reaches the guests of both.
using Switchyard.TestKit;
using Switchyard.TestKit.Qemu;
using Xunit.Abstractions;
using static Switchyard.TestKit.Qemu.GuestScripts;

namespace Switchyard.EndToEnd;

public sealed class VlanTests(ITestOutputHelper output)
{
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(240);

    [RequiresGuestFact]
    public async Task AccessVlansIsolate_TrunkGuestReachesTaggedVlan()
    {
        string runDir = Directory.CreateTempSubdirectory("sy-e2e-").FullName;
        string yaml = Path.Combine(runDir, "topology.yaml");
        await File.WriteAllTextAsync(yaml, $"""
            networks:
              - name: lab
                ports:
                  - name: v10
                    netdev: "stream,addr.type=unix,addr.path={runDir}/v10.sock,server=on"
                    vlan: 10
                  - name: v20
                    netdev: "stream,addr.type=unix,addr.path={runDir}/v20.sock,server=on"
                    vlan: 20
                  - name: trunk
                    netdev: "stream,addr.type=unix,addr.path={runDir}/trunk.sock,server=on"
                    trunk: [10, 20]
            """);
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(runDir, ["-c", yaml], output.WriteLine);

        string Netdev(string sock) => $"stream,id=n0,server=off,addr.type=unix,addr.path={runDir}/{sock}.sock";

        await using QemuGuest g10 = QemuGuest.Start(new QemuGuestOptions
        {
            Name = "g10",
            TestScript = Shebang + StaticIPv4(1) + "sleep 120\n",
            ExtraArgs = ["-netdev", Netdev("v10"), "-device", $"virtio-net-pci,netdev=n0,romfile=,mac={QemuGuest.Mac(1)}"],
            Log = output.WriteLine,
        });

        // The trunk guest speaks VLAN 10 tagged; its success also proves g10 is up before g20 tries.
        await using QemuGuest trunk = QemuGuest.Start(new QemuGuestOptions
        {
            Name = "trunk",
            TestScript = Shebang + Vlan(10, TestAddress(3) + "/24") + Vlan(20, "10.0.20.4/24")
                + WaitForPing(TestAddress(1), attempts: 90) + "echo TRUNK-OK\nsleep 90\n",
            ExtraArgs = ["-netdev", Netdev("trunk"), "-device", $"e1000,netdev=n0,romfile=,mac={QemuGuest.Mac(3)}"],
            Log = output.WriteLine,
        });
        await trunk.WaitForLineAsync("TRUNK-OK", GuestTimeout);

        // Same subnet, other VLAN: must not get through; VLAN 20 across the trunk must.
        await using QemuGuest g20 = QemuGuest.Start(new QemuGuestOptions
        {
            Name = "g20",
            TestScript = Shebang + StaticIPv4(2) + "ip addr add 10.0.20.2/24 dev eth0\n"
                + Ping(TestAddress(1), 5) + Ping(TestAddress(3), 3) + WaitForPing("10.0.20.4", attempts: 30) + "echo G20-DONE\nsleep 60\n",
            ExtraArgs = ["-netdev", Netdev("v20"), "-device", $"virtio-net-pci,netdev=n0,romfile=,mac={QemuGuest.Mac(2)}"],
            Log = output.WriteLine,
        });
        await g20.WaitForLineAsync("G20-DONE", GuestTimeout);
        Assert.Contains("5 packets transmitted, 0 packets received", g20.Output, StringComparison.Ordinal);
        Assert.Contains("3 packets transmitted, 0 packets received", g20.Output, StringComparison.Ordinal);
        Assert.Contains("PING-OK 10.0.20.4", g20.Output, StringComparison.Ordinal);

        // The FDB keeps the VLANs apart: g10's MAC learned in VLAN 10, g20's in VLAN 20, the trunk guest's in both.
        string fdb = (await sy.FdbAsync()).ToString();
        Assert.Contains($"\"vlan\":10,\"mac\":\"{QemuGuest.Mac(1)}\"", fdb, StringComparison.Ordinal);
        Assert.Contains($"\"vlan\":20,\"mac\":\"{QemuGuest.Mac(2)}\"", fdb, StringComparison.Ordinal);
        Assert.Contains($"\"vlan\":10,\"mac\":\"{QemuGuest.Mac(3)}\"", fdb, StringComparison.Ordinal);
        Assert.Contains($"\"vlan\":20,\"mac\":\"{QemuGuest.Mac(3)}\"", fdb, StringComparison.Ordinal);
    }
}
