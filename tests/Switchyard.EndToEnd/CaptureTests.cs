// `switchyard capture` end to end, read by a reader no one here wrote (tshark): real QEMU guests take a
// DHCP lease from the default network's gateway and ping the gateway's own address (10.0.2.3, answered
// by the gateway itself, so the host needs no ping sockets) while captures run on their ports.
//   - stream guest: three captures at once: the port to a file with --count, the port live into
//     `tshark -r -` with --duration, and the whole network to a file with --duration; tshark shows the
//     echo requests and replies with the right addresses in all three, the network capture has each
//     frame once, and the --count file holds exactly that many frames;
//   - vhost-user guest: `switchyard capture vhost-user.1 | tshark -r -` and `-w FILE`, both stopped by
//     SIGINT (Ctrl-C), leave tshark a valid stream and file;
//   - without a guest: an unknown port fails with the list of ports and networks, and a terminal on
//     stdout is refused.
// Every command in docs/capture.md is run here.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Switchyard.TestKit;
using Switchyard.TestKit.Qemu;
using Xunit.Abstractions;
using static Switchyard.TestKit.Qemu.VhostUserGuests;
using static Switchyard.TestKit.Qemu.GuestScripts;

namespace Switchyard.EndToEnd;

public sealed partial class CaptureTests(ITestOutputHelper output)
{
    private const string GatewayAddress = "10.0.2.3";
    private const string GuestAddress = "10.0.2.15";
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(240);
    private static readonly string[] IcmpFields = ["-Y", "icmp", "-T", "fields", "-e", "ip.src", "-e", "ip.dst", "-e", "icmp.type"];

    /// <summary>DHCP, a marker the test waits for, then a ping of the gateway every 0.2 s for a minute.</summary>
    private static string PingingGuest => Shebang + Dhcp() + "echo CAPTURE-GO\n"
        + $"ping -c 300 -i 0.2 -W 2 {GatewayAddress} >/dev/null; echo PINGS-DONE\n";

    [RequiresGuestFact]
    public async Task Capture_StreamGuestPingsGateway_FileLiveAndNetworkCapturesAtOnce_TsharkShowsRequestsAndReplies()
    {
        string tshark = RequireTshark();
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        await using QemuGuest guest = QemuGuest.Start(StreamGuest("cap-stream", sy.StreamSocket, 3, PingingGuest, output.WriteLine));
        await guest.WaitForLineAsync("CAPTURE-GO", GuestTimeout);
        string port = Assert.Single(SwitchyardProcess.Ports(await sy.ShowAsync())).GetProperty("name").GetString()!;
        Assert.Equal("stream.1", port);

        string file = Path.Combine(sy.RunDirectory, "guest.pcap");
        string networkFile = Path.Combine(sy.RunDirectory, "net.pcap");
        Task<Run> toFile = RunAsync(Binary, ["capture", "stream.1", "-w", file, "--count", "20", "--run-dir", sy.RunDirectory]);
        Task<Run> live = RunAsync("sh", ["-c", $"'{Binary}' capture stream.1 --duration 4 --run-dir '{sy.RunDirectory}' | {tshark} -r - {string.Join(' ', IcmpFields)}"]);
        Task<Run> network = RunAsync(Binary, ["capture", "default", "-w", networkFile, "--duration", "4", "--run-dir", sy.RunDirectory]);
        Run[] runs = await Task.WhenAll(toFile, live, network);
        foreach (Run run in runs)
        {
            output.WriteLine(run.ToString());
        }

        // The --count file: exactly 20 frames, whole (tshark reads it without complaint), with pings both ways.
        Assert.True(runs[0].ExitCode == 0, runs[0].ToString());
        Assert.Contains(": port stream.1 on network default, both directions (snap length 262144)", runs[0].Error, StringComparison.Ordinal);
        Assert.EndsWith("20 frames captured (0 dropped)\n", runs[0].Error, StringComparison.Ordinal);
        Run frames = await RunAsync(tshark, ["-r", file, "-T", "fields", "-e", "frame.number"]);
        Assert.True(frames.ExitCode == 0, frames.ToString());
        Assert.Equal(20, Lines(frames.Output).Count);
        AssertEchoBothWays(await RunAsync(tshark, ["-r", file, .. IcmpFields]));

        // Live through a pipe into tshark.
        Assert.True(runs[1].ExitCode == 0, runs[1].ToString());
        AssertEchoBothWays(runs[1]);
        Assert.Matches(FramesCaptured(), runs[1].Error);

        // The network: every frame entering the switch once, so each echo (type, id, seq) appears once.
        Assert.True(runs[2].ExitCode == 0, runs[2].ToString());
        AssertEchoBothWays(await RunAsync(tshark, ["-r", networkFile, .. IcmpFields]));
        Run echoes = await RunAsync(tshark, ["-r", networkFile, "-Y", "icmp", "-T", "fields", "-e", "icmp.type", "-e", "icmp.ident", "-e", "icmp.seq"]);
        List<string> keys = Lines(echoes.Output);
        Assert.True(keys.Count >= 4, echoes.ToString());
        Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());

        // What `show` counts about captures: none dropped.
        Assert.Equal(0, SwitchCounter(await sy.ShowAsync(), "capture_dropped"));
    }

    [RequiresGuestFact]
    public async Task Capture_VhostUserGuest_StoppedByCtrlC_TsharkReadsTheLiveStreamAndTheFile()
    {
        string tshark = RequireTshark();
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        await using QemuGuest guest = QemuGuest.Start(Guest("cap-vhost", Socket(sy), 4, PingingGuest, output.WriteLine));
        await guest.WaitForLineAsync("CAPTURE-GO", GuestTimeout);
        Assert.Equal("vhost-user.1", Assert.Single(SwitchyardProcess.Ports(await sy.ShowAsync())).GetProperty("name").GetString());

        // switchyard capture vhost-user.1 | tshark -r -   (the pipe is ours, so we know whom to Ctrl-C)
        using Process capture = Start(Binary, ["capture", "vhost-user.1", "--run-dir", sy.RunDirectory], stdin: false);
        using Process reader = Start(tshark, ["-r", "-"], stdin: true);
        Task pipe = PipeAsync(capture.StandardOutput.BaseStream, reader.StandardInput.BaseStream);
        Task<string> captureErrors = capture.StandardError.ReadToEndAsync();
        Task<string> tsharkOutput = reader.StandardOutput.ReadToEndAsync();
        Task<string> tsharkErrors = reader.StandardError.ReadToEndAsync();

        string file = Path.Combine(sy.RunDirectory, "vhost.pcap");
        using Process toFile = Start(Binary, ["capture", "vhost-user.1", "-w", file, "--run-dir", sy.RunDirectory], stdin: false);
        Task<string> toFileErrors = toFile.StandardError.ReadToEndAsync();

        await Task.Delay(TimeSpan.FromSeconds(5)); // about 25 pings
        Assert.Equal(0, Kill(capture.Id, 2)); // SIGINT, as Ctrl-C
        Assert.Equal(0, Kill(toFile.Id, 2));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await capture.WaitForExitAsync(timeout.Token);
        await toFile.WaitForExitAsync(timeout.Token);
        await pipe;
        await reader.WaitForExitAsync(timeout.Token);

        var liveRun = new Run(capture.ExitCode, await tsharkOutput, await captureErrors + await tsharkErrors);
        output.WriteLine(liveRun.ToString());
        Assert.Equal(0, capture.ExitCode);
        Assert.Equal(0, reader.ExitCode);
        List<string> summary = Lines(liveRun.Output); // tshark's default one line per frame
        Assert.Contains(summary, l => l.Contains($"{GuestAddress} → {GatewayAddress}", StringComparison.Ordinal) && l.Contains("Echo (ping) request", StringComparison.Ordinal));
        Assert.Contains(summary, l => l.Contains($"{GatewayAddress} → {GuestAddress}", StringComparison.Ordinal) && l.Contains("Echo (ping) reply", StringComparison.Ordinal));
        Assert.Matches(FramesCaptured(), liveRun.Error);

        string fileErrors = await toFileErrors;
        output.WriteLine(fileErrors);
        Assert.Equal(0, toFile.ExitCode);
        Run frames = await RunAsync(tshark, ["-r", file, "-T", "fields", "-e", "frame.number"]);
        Assert.True(frames.ExitCode == 0, frames.ToString()); // whole records: tshark finds no cut-short frame
        Assert.Contains($"\n{Lines(frames.Output).Count} frames captured (0 dropped)\n", "\n" + fileErrors, StringComparison.Ordinal);
        AssertEchoBothWays(await RunAsync(tshark, ["-r", file, .. IcmpFields]));
    }

    [Fact]
    public async Task Capture_UnknownPort_FailsListingPortsAndNetworks()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);

        (int code, string text) = await sy.CliAsync("capture", "vhost-user.9", "-w", Path.Combine(sy.RunDirectory, "x.pcap"));

        Assert.Equal(1, code);
        Assert.Contains("switchyard: error: no port or network named 'vhost-user.9' (ports: gateway on network default; networks: default)", text, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(sy.RunDirectory, "x.pcap")));
    }

    [Fact]
    public async Task Capture_StdoutIsATerminal_Refused()
    {
        string? script = GuestImage.FindOnPath("script");
        Assert.True(script is not null, "util-linux's script(1) is needed to give the CLI a terminal (apt-get install util-linux)");

        // script(1) runs the command on a new pseudo-terminal; -e returns its exit code.
        Run run = await RunAsync(script!, ["-qec", $"'{Binary}' capture gateway --run-dir /nonexistent", "/dev/null"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("switchyard: error: refusing to write binary pcap to a terminal; use -w FILE or pipe into 'tshark -r -'", run.Output, StringComparison.Ordinal);
    }

    /// <summary>The switchyard binary the daemon runs from.</summary>
    private static string Binary => SwitchyardProcess.Binary;

    private static string RequireTshark()
    {
        string? tshark = GuestImage.FindOnPath("tshark");
        Assert.True(tshark is not null, "tshark is needed to read the captures (./test installs it; apt-get install tshark)");
        return tshark!;
    }

    /// <summary>tshark's "ip.src ip.dst icmp.type" lines hold the guest's echo requests and the gateway's replies.</summary>
    private static void AssertEchoBothWays(Run run)
    {
        List<string> lines = Lines(run.Output);
        Assert.Contains($"{GuestAddress}\t{GatewayAddress}\t8", lines);
        Assert.Contains($"{GatewayAddress}\t{GuestAddress}\t0", lines);
        Assert.All(lines, l => Assert.True(
            l == $"{GuestAddress}\t{GatewayAddress}\t8" || l == $"{GatewayAddress}\t{GuestAddress}\t0",
            $"unexpected ICMP line '{l}' in:\n{run}"));
    }

    private static List<string> Lines(string text) => [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    private static Process Start(string file, IEnumerable<string> args, bool stdin)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = stdin,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return Process.Start(psi)!;
    }

    private async Task<Run> RunAsync(string file, IEnumerable<string> args)
    {
        using Process p = Start(file, args, stdin: false);
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} ran for more than 60 s");
        }

        var run = new Run(p.ExitCode, await stdout, await stderr);
        output.WriteLine($"$ {file} {string.Join(' ', args)}\n{run}");
        return run;
    }

    private static async Task PipeAsync(Stream from, Stream to)
    {
        try
        {
            await from.CopyToAsync(to);
        }
        finally
        {
            to.Close(); // end of the stream for tshark
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    [System.Text.RegularExpressions.GeneratedRegex(@"\d+ frames captured \(0 dropped\)")]
    private static partial System.Text.RegularExpressions.Regex FramesCaptured();

    private sealed record Run(int ExitCode, string Output, string Error)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"exit {ExitCode}\nstdout:\n{Output}\nstderr:\n{Error}");
    }
}
