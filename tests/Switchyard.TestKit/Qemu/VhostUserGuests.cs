// Shared pieces of the end-to-end tests (moved to the TestKit so every test project can boot them): the QEMU arguments of a guest whose virtio-net
// NIC is served by Switchyard's default vhost-user socket (DIR/vhost-user.sock), the arguments of a
// stream guest for mixed tests, and small readers of `switchyard show --json` and guest consoles.
//
// Every vhost-user NIC gets `vectors=0` (INTx): QEMU 7.2 under TCG segfaults in
// msix_set_vector_notifiers when a vhost-user virtio-net device enables MSI-X. The guest RAM is a
// shared memfd backend of exactly -m bytes (256 MiB), which vhost-user needs to map it. The chardev
// has reconnect=1, so QEMU redials the back-end every second if it goes away.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;
using Switchyard.TestKit;

namespace Switchyard.TestKit.Qemu;

/// <summary>Device options of one vhost-user virtio-net NIC; null leaves QEMU's default (on).</summary>
public sealed record VhostUserNic
{
    /// <summary>Queue pairs (<c>-netdev vhost-user,queues=N</c>); above 1 also sets <c>mq=on</c>.</summary>
    public int Queues { get; init; } = 1;

    public bool? MergeableRxBuffers { get; init; }

    public bool? EventIdx { get; init; }

    public bool? IndirectDescriptors { get; init; }

    /// <summary><c>csum=off</c> also takes away every host offload that depends on it (TSO, ...).</summary>
    public bool? Checksum { get; init; }

    /// <summary>The <c>-device</c> suffix these options give, e.g. <c>,mq=on,mrg_rxbuf=off</c>.</summary>
    public string DeviceSuffix()
    {
        var text = new StringBuilder();
        if (Queues > 1)
            text.Append(",mq=on");
        Append(text, "mrg_rxbuf", MergeableRxBuffers);
        Append(text, "event_idx", EventIdx);
        Append(text, "indirect_desc", IndirectDescriptors);
        Append(text, "csum", Checksum);
        return text.ToString();
    }

    private static void Append(StringBuilder text, string name, bool? value)
    {
        if (value is bool on)
            text.Append(',').Append(name).Append('=').Append(on ? "on" : "off");
    }
}

/// <summary>Builders for vhost-user and stream test guests, and readers of their results.</summary>
public static partial class VhostUserGuests
{
    /// <summary>Guest RAM in MiB; the memfd backend has the same size.</summary>
    public const int MemoryMiB = 256;

    /// <summary>The shell line that prints the virtio feature bits the guest driver negotiated (VIRTIO-FEATURES 0101...).</summary>
    public const string PrintVirtioFeatures = "echo \"VIRTIO-FEATURES $(cat /sys/class/net/eth0/device/features 2>/dev/null)\"\n";

    /// <summary>The default network's vhost-user socket of <paramref name="sy"/>.</summary>
    public static string Socket(SwitchyardProcess sy)
    {
        ArgumentNullException.ThrowIfNull(sy);
        return Path.Combine(sy.RunDirectory, "vhost-user.sock");
    }

    /// <summary>The QEMU arguments of a virtio-net NIC on the vhost-user socket <paramref name="socket"/>.</summary>
    public static IReadOnlyList<string> Args(string socket, int macIndex, VhostUserNic? nic = null)
    {
        nic ??= new VhostUserNic();
        string queues = nic.Queues > 1 ? string.Create(CultureInfo.InvariantCulture, $",queues={nic.Queues}") : string.Empty;
        return
        [
            "-object", string.Create(CultureInfo.InvariantCulture, $"memory-backend-memfd,id=mem,size={MemoryMiB}M,share=on"),
            "-numa", "node,memdev=mem",
            "-chardev", $"socket,id=c0,path={socket},reconnect=1",
            "-netdev", $"vhost-user,id=n0,chardev=c0{queues}",
            "-device", $"virtio-net-pci,netdev=n0,romfile=,vectors=0,mac={QemuGuest.Mac(macIndex)}{nic.DeviceSuffix()}",
        ];
    }

    /// <summary>A guest whose only NIC is a vhost-user virtio-net on <paramref name="socket"/>, address 10.0.0.<paramref name="macIndex"/> by convention.</summary>
    public static QemuGuestOptions Guest(string name, string socket, int macIndex, string script, Action<string>? log, VhostUserNic? nic = null) => new()
    {
        Name = name,
        MemoryMiB = MemoryMiB,
        TestScript = script,
        ExtraArgs = Args(socket, macIndex, nic),
        Log = log,
    };

    /// <summary>A guest on the stream socket <paramref name="streamSocket"/> with NIC <paramref name="model"/> (e1000, virtio-net-pci, rtl8139).</summary>
    public static QemuGuestOptions StreamGuest(string name, string streamSocket, int macIndex, string script, Action<string>? log, string model = "e1000") => new()
    {
        Name = name,
        TestScript = script,
        ExtraArgs =
        [
            "-netdev", $"stream,id=n0,server=off,addr.type=unix,addr.path={streamSocket}",
            "-device", $"{model},netdev=n0,romfile=,mac={QemuGuest.Mac(macIndex)}",
        ],
        Log = log,
    };

    /// <summary>
    /// A host program with the shared libraries <c>ldd</c> lists, as guest files at the same paths (as the image
    /// builder adds iperf3), or null when the host does not have it. Used for optional in-guest diagnostics such as
    /// <c>ethtool -S</c> (per-queue counters), which the base image lacks.
    /// </summary>
    public static IReadOnlyList<GuestFile>? HostProgram(string path)
    {
        if (!File.Exists(path))
            return null;

        var psi = new ProcessStartInfo("ldd", [path]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string listing;
        try
        {
            using Process ldd = Process.Start(psi)!;
            listing = ldd.StandardOutput.ReadToEnd();
            ldd.StandardError.ReadToEnd();
            if (!ldd.WaitForExit(10_000) || ldd.ExitCode != 0)
                return null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no ldd
        }

        // ldd lines: "libx.so => /path (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)", "linux-vdso.so.1 (0x...)".
        var files = new List<GuestFile> { new(path, File.ReadAllBytes(path), GuestFile.Executable) };
        foreach (string word in listing.Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries).Where(w => w.StartsWith('/')).Distinct(StringComparer.Ordinal))
            files.Add(new GuestFile(word, File.ReadAllBytes(word), GuestFile.Executable));
        return files;
    }

    /// <summary>The ports of the default network whose kind is vhost-user.</summary>
    public static List<JsonElement> VhostUserPorts(JsonElement show) =>
        SwitchyardProcess.Ports(show).Where(p => p.GetProperty("kind").GetString() == "vhost-user").ToList();

    /// <summary>A switch counter of the default network (e.g. software_checksums).</summary>
    public static long SwitchCounter(JsonElement show, string name)
    {
        foreach (JsonElement n in show.GetProperty("networks").EnumerateArray())
        {
            if (n.GetProperty("name").GetString() == "default")
                return n.GetProperty("counters").GetProperty(name).GetInt64();
        }

        throw new InvalidOperationException("no default network in " + show);
    }

    /// <summary>One line per port: name, kind, frames and bytes both ways, drops.</summary>
    public static string DescribePorts(JsonElement show) =>
        string.Join('\n', SwitchyardProcess.Ports(show).Select(p => string.Create(
            CultureInfo.InvariantCulture,
            $"{p.GetProperty("name").GetString()} ({p.GetProperty("kind").GetString()}): rx {p.GetProperty("rxFrames").GetInt64()} frames / {p.GetProperty("rxBytes").GetInt64()} B, tx {p.GetProperty("txFrames").GetInt64()} frames / {p.GetProperty("txBytes").GetInt64()} B, drops {p.GetProperty("drops")}")));

    /// <summary>
    /// True when the guest's printed virtio feature string (<see cref="PrintVirtioFeatures"/>) has bit
    /// <paramref name="bit"/> set; false when it is clear or was not printed.
    /// </summary>
    public static bool GuestHasFeature(string console, int bit)
    {
        Match m = FeatureLine().Match(console);
        return m.Success && m.Groups[1].Value.Length > bit && m.Groups[1].Value[bit] == '1';
    }

    /// <summary>The received/transmitted counts of busybox ping's summary line (the last one), or null.</summary>
    public static (int Transmitted, int Received)? PingSummary(string console)
    {
        Match? last = null;
        foreach (Match m in PingSummaryLine().Matches(console))
            last = m;
        return last is null
            ? null
            : (int.Parse(last.Groups[1].ValueSpan, CultureInfo.InvariantCulture), int.Parse(last.Groups[2].ValueSpan, CultureInfo.InvariantCulture));
    }

    /// <summary>The receiver Mbit/s of the last IPERF-RESULT line of <paramref name="guest"/>; fails the test without one.</summary>
    public static double IperfMbps(QemuGuest guest)
    {
        ArgumentNullException.ThrowIfNull(guest);
        Assert.True(GuestScripts.TryParseIperfResult(guest.Output, out _, out double mbps), guest.Describe("no iperf3 result"));
        return mbps;
    }

    /// <summary>Every IPERF-RESULT line of <paramref name="console"/> in order: (sender, receiver) Mbit/s.</summary>
    public static List<(double Sender, double Receiver)> IperfResults(string console) =>
        IperfResultLine().Matches(console)
            .Select(m => (double.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture), double.Parse(m.Groups[2].ValueSpan, CultureInfo.InvariantCulture)))
            .ToList();

    [GeneratedRegex(@"IPERF-RESULT sender_mbps=([0-9.]+) receiver_mbps=([0-9.]+)")]
    private static partial Regex IperfResultLine();

    [GeneratedRegex(@"VIRTIO-FEATURES ([01]+)")]
    private static partial Regex FeatureLine();

    [GeneratedRegex(@"(\d+) packets transmitted, (\d+) packets received")]
    private static partial Regex PingSummaryLine();
}
