// Guests on QEMU's legacy socket netdev (TCP) and on the dgram netdev (UDP) share a switch with a
// stream guest; the topology comes from a YAML file, as a user would write it.
using Switchyard.TestKit;
using Switchyard.TestKit.Qemu;
using Xunit.Abstractions;
using static Switchyard.TestKit.Qemu.GuestScripts;

namespace Switchyard.EndToEnd;

public sealed class LegacyTransportTests(ITestOutputHelper output)
{
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(240);

    [RequiresGuestFact]
    public async Task SocketTcpGuestAndDgramUdpGuest_ReachTheStreamGuest()
    {
        string runDir = Directory.CreateTempSubdirectory("sy-e2e-").FullName;
        int tcpPort = LoopbackPorts.GetFreeTcpPort();
        int ourUdp = LoopbackPorts.GetFreeUdpPort();
        int guestUdp = LoopbackPorts.GetFreeUdpPort();
        string yaml = Path.Combine(runDir, "topology.yaml");
        await File.WriteAllTextAsync(yaml, $"""
            networks:
              - name: default
                ports:
                  - name: stream
                    netdev: "stream,addr.type=unix,addr.path={runDir}/stream.sock,server=on"
                  - name: tcp
                    netdev: "socket,listen=127.0.0.1:{tcpPort}"
                  - name: udp
                    netdev: "dgram,local.type=inet,local.host=127.0.0.1,local.port={ourUdp},remote.type=inet,remote.host=127.0.0.1,remote.port={guestUdp}"
            """);
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(runDir, ["-c", yaml], output.WriteLine);

        await using QemuGuest server = QemuGuest.Start(new QemuGuestOptions
        {
            Name = "stream",
            TestScript = Shebang + StaticIPv4(1) + "sleep 90\n",
            ExtraArgs = ["-netdev", $"stream,id=n0,server=off,addr.type=unix,addr.path={sy.StreamSocket}", "-device", $"virtio-net-pci,netdev=n0,romfile=,mac={QemuGuest.Mac(1)}"],
            Log = output.WriteLine,
        });
        await using QemuGuest tcp = QemuGuest.Start(new QemuGuestOptions
        {
            Name = "tcp",
            TestScript = Shebang + StaticIPv4(2) + WaitForPing(TestAddress(1), attempts: 90) + Ping(TestAddress(1), 3),
            ExtraArgs = ["-netdev", $"socket,id=n0,connect=127.0.0.1:{tcpPort}", "-device", $"e1000,netdev=n0,romfile=,mac={QemuGuest.Mac(2)}"],
            Log = output.WriteLine,
        });
        await using QemuGuest udp = QemuGuest.Start(new QemuGuestOptions
        {
            Name = "udp",
            TestScript = Shebang + StaticIPv4(3) + WaitForPing(TestAddress(1), attempts: 90) + WaitForPing(TestAddress(2), attempts: 30),
            ExtraArgs =
            [
                "-netdev", $"dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port={guestUdp},remote.type=inet,remote.host=127.0.0.1,remote.port={ourUdp}",
                "-device", $"rtl8139,netdev=n0,romfile=,mac={QemuGuest.Mac(3)}",
            ],
            Log = output.WriteLine,
        });

        GuestResult tcpDone = await tcp.RunToCompletionAsync(GuestTimeout);
        Assert.True(tcpDone.Succeeded, tcp.Describe($"socket (TCP) guest could not reach the stream guest, rc={tcpDone.ExitCode}"));
        Assert.Contains("PING-OK " + TestAddress(1), tcpDone.Console, StringComparison.Ordinal);

        GuestResult udpDone = await udp.RunToCompletionAsync(GuestTimeout);
        Assert.True(udpDone.Succeeded, udp.Describe($"dgram (UDP) guest could not reach the others, rc={udpDone.ExitCode}"));
        Assert.Contains("PING-OK " + TestAddress(1), udpDone.Console, StringComparison.Ordinal);
        Assert.Contains("PING-OK " + TestAddress(2), udpDone.Console, StringComparison.Ordinal);

        var show = await sy.ShowAsync();
        var names = SwitchyardProcess.Ports(show).Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Contains("udp", names);
        Assert.Contains("stream.1", names);
    }
}
