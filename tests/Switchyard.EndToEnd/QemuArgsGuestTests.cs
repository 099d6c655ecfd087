// `switchyard qemu-args` used for real: two guests booted with exactly the arguments it printed (only
// QemuGuest's own kernel, initrd and -m are added), one over vhost-user, one over a stream socket,
// each named, so each gets its own MAC; both take a DHCP lease from the network's gateway and ping its DNS address (answered by the gateway itself).
using System.Text.Json;
using System.Text.RegularExpressions;
using Switchyard.TestKit;
using Switchyard.TestKit.Qemu;
using Xunit.Abstractions;
using static Switchyard.TestKit.Qemu.GuestScripts;

namespace Switchyard.EndToEnd;

public sealed partial class QemuArgsGuestTests(ITestOutputHelper output)
{
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(240);

    [RequiresGuestFact]
    public async Task QemuArgs_PrintedArguments_BootGuestsThatGetLeasesFromTheGateway()
    {
        string dir = Directory.CreateTempSubdirectory("sy-qargs-").FullName;
        string file = Path.Combine(dir, "topology.yaml");
        await File.WriteAllTextAsync(file, $"""
            networks:
              - name: lab
                gateway: true
                ports:
                  - name: vms
                    netdev: "vhost-user,path={dir}/vms.sock,server=on"
                  - name: guests
                    netdev: "stream,addr.type=unix,addr.path={dir}/guests.sock,server=on"
            """);
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(runDir: dir, extraArgs: ["-c", file], log: output.WriteLine);

        (int vhostCode, string vhostArgs) = await sy.CliAsync("qemu-args", "lab", "--kind", "vhost-user", "--name", "vm1", "--memory", "256M");
        Assert.True(vhostCode == 0, vhostArgs);
        (int streamCode, string streamArgs) = await sy.CliAsync("qemu-args", "lab", "--kind", "stream", "--name", "vm2");
        Assert.True(streamCode == 0, streamArgs);
        Assert.Contains("memory-backend-memfd", vhostArgs, StringComparison.Ordinal);
        Assert.Contains($"addr.path={dir}/guests.sock", streamArgs, StringComparison.Ordinal);

        string mac1 = MacOf(vhostArgs);
        string mac2 = MacOf(streamArgs);
        Assert.NotEqual(mac1, mac2);

        string script = Shebang + Dhcp() + WaitForPing("10.0.2.3", attempts: 10) + "echo \"GUEST-MAC $(cat /sys/class/net/eth0/address)\"\n";
        await using QemuGuest vm1 = QemuGuest.Start(new QemuGuestOptions { Name = "vm1", MemoryMiB = 256, ExtraArgs = Split(vhostArgs), TestScript = script, Log = output.WriteLine });
        await using QemuGuest vm2 = QemuGuest.Start(new QemuGuestOptions { Name = "vm2", ExtraArgs = Split(streamArgs), TestScript = script, Log = output.WriteLine });

        GuestResult done1 = await vm1.RunToCompletionAsync(GuestTimeout);
        GuestResult done2 = await vm2.RunToCompletionAsync(GuestTimeout);
        Assert.True(done1.Succeeded, vm1.Describe($"vhost-user guest failed rc={done1.ExitCode}"));
        Assert.True(done2.Succeeded, vm2.Describe($"stream guest failed rc={done2.ExitCode}"));
        Assert.Contains($"GUEST-MAC {mac1}", done1.Console, StringComparison.Ordinal);
        Assert.Contains($"GUEST-MAC {mac2}", done2.Console, StringComparison.Ordinal);
        Assert.Contains("DHCP-BOUND eth0 10.0.2.", done1.Console, StringComparison.Ordinal);
        Assert.Contains("DHCP-BOUND eth0 10.0.2.", done2.Console, StringComparison.Ordinal);

        (int leasesCode, string leases) = await sy.CliAsync("leases", "lab", "--json");
        Assert.Equal(0, leasesCode);
        using JsonDocument doc = JsonDocument.Parse(leases);
        string[] macs = [.. doc.RootElement.GetProperty("leases").EnumerateArray().Select(l => l.GetProperty("mac").GetString()!)];
        Assert.Contains(mac1, macs);
        Assert.Contains(mac2, macs);
    }

    // The printed line holds no quoted words here (temp paths are plain), so splitting on spaces is what a shell does.
    private static string[] Split(string printed) => printed.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static string MacOf(string printed)
    {
        Match m = MacPattern().Match(printed);
        Assert.True(m.Success, "no mac= in " + printed);
        return m.Groups[1].Value;
    }

    [GeneratedRegex(@",mac=([0-9a-f:]{17})")]
    private static partial Regex MacPattern();
}
