// The `capture` verb in-process (Program.RunAsync with captured writers): how a command line becomes a
// request, usage errors (exit 2), a daemon error (exit 1), --help, and `-w FILE --count N` against a
// daemon with a stream peer, which writes a valid pcap and reports "N frames captured (M dropped)".
// Not run in parallel with other classes: the CLI's option objects are shared statics.
using System.Buffers.Binary;
using System.CommandLine;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Cli;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.TestKit;
using Switchyard.TestKit.Streams;

namespace Switchyard.Engine.Tests.Cli;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CaptureCliCollection
{
    public const string Name = "capture CLI";
}

[Collection(CaptureCliCollection.Name)]
public sealed class CaptureCliTests : IAsyncLifetime
{
    private readonly string runDir = Directory.CreateTempSubdirectory("sy-capcli-").FullName;
    private Daemon? daemon;

    public async Task InitializeAsync()
    {
        TopologyConfig topology = TopologyConfig.Default(runDir);
        daemon = await Daemon.StartAsync(new DaemonOptions(runDir, new TopologyConfig([.. topology.Networks.Select(n => n with { Gateway = null })]), NullLoggerFactory.Instance));
    }

    public async Task DisposeAsync()
    {
        await daemon!.DisposeAsync();
        Directory.Delete(runDir, recursive: true);
    }

    [Theory]
    [InlineData("vhost-user.1", null, null, "vhost-user.1", null, null)] // positional: the daemon decides port or network
    [InlineData("stream.1", "lab", null, null, "stream.1", "lab")]        // positional with --network: that network's port
    [InlineData(null, null, "gateway", null, "gateway", null)]            // --port: a port on whichever network has it
    [InlineData(null, "lab", "gateway", null, "gateway", "lab")]
    [InlineData(null, "default", null, null, null, "default")]            // --network alone: the network
    public void CaptureRequest_ArgumentForms(string? positional, string? network, string? port, string? target, string? name, string? requestNetwork)
    {
        CaptureCommand r = Program.CaptureRequest(new Program.CaptureArguments(positional, network, port, null, 5, 1.5, 128), out string? error);

        Assert.Null(error);
        Assert.Equal(("capture", target, name, requestNetwork), (r.Command, r.Target, r.Name, r.Network));
        Assert.Equal((5L, 1.5, 128), (r.Count, r.Duration, r.Snaplen));
    }

    [Theory]
    [InlineData(new string[0], "give a port or a network to capture")]
    [InlineData(new[] { "stream.1", "--port", "stream.2" }, "give the port either as PORT or as --port PORT, not both")]
    [InlineData(new[] { "stream.1", "--count", "0" }, "--count must be 1 or more")]
    [InlineData(new[] { "stream.1", "--duration", "0" }, "--duration must be more than 0 seconds")]
    [InlineData(new[] { "stream.1", "--snaplen", "300000" }, "--snaplen must be 1 to 262144")]
    [InlineData(new[] { "stream.1", "--count", "ten" }, "--count takes a whole number of frames, e.g. --count 100; 'ten' is not one")]
    [InlineData(new[] { "stream.1", "--duration", "1,5" }, "--duration takes seconds, e.g. --duration 10 or --duration 0.5; '1,5' is not one")]
    [InlineData(new[] { "stream.1", "stream.2" }, "unexpected argument 'stream.2'")]
    [InlineData(new[] { "stream.1", "--bogus" }, "unexpected argument '--bogus'")]
    public async Task Capture_UsageError_Exit2WithTheRule(string[] args, string message)
    {
        (int code, _, string error) = await Run(["capture", .. args, "-w", Path.Combine(runDir, "x.pcap")]);

        Assert.Equal(2, code);
        Assert.Contains($"switchyard: error: {message}", error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(runDir, "x.pcap")));
    }

    [Fact]
    public async Task Capture_Help_ExplainsEachOptionWithAnExample()
    {
        (int code, string output, _) = await Run("capture", "--help");

        Assert.Equal(0, code);
        foreach (string text in new[] { "PORT|NETWORK", "-w, --write <FILE>", "-c, --count <N>", "-d, --duration <S>", "-s, --snaplen <BYTES>", "-n, --network <NETWORK>", "-p, --port <PORT>", "tshark -r -", "--count 100", "--duration 10" })
        {
            Assert.Contains(text, output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Capture_UnknownPort_Exit1WithTheDaemonsList()
    {
        (int code, _, string error) = await Run("capture", "vhost-user.1", "-w", Path.Combine(runDir, "x.pcap"));

        Assert.Equal(1, code);
        Assert.Contains("switchyard: error: no port or network named 'vhost-user.1' (ports: none; networks: default)", error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(runDir, "x.pcap")));
    }

    [Fact]
    public async Task Capture_WriteFileWithCount_ValidPcapOfThoseFrames_ReportsCountAndDrops()
    {
        string file = Path.Combine(runDir, "guest.pcap");
        using Socket a = await ConnectAsync(1);
        using Socket b = await ConnectAsync(2);
        Task<(int, string, string)> capture = Run("capture", "stream.1", "-w", file, "--count", "2");
        await WaitForFileAsync(file, 24, capture);

        byte[] fromA = StreamWire.Frame(0xFF_FF_FF_FF_FF_FF, 0x02_00_00_00_00_0A, 70);
        byte[] toA = StreamWire.Frame(0x02_00_00_00_00_0A, 0x02_00_00_00_00_0B, 90);
        await StreamWire.SendFrameAsync(a, fromA);
        await Task.Delay(50);
        await StreamWire.SendFrameAsync(b, toA);
        await StreamWire.SendFrameAsync(b, StreamWire.Frame(0x02_00_00_00_00_0A, 0x02_00_00_00_00_0B, 91)); // after --count: not in the file

        (int code, _, string error) = await capture.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(code == 0, error);
        Assert.Contains("switchyard: capture 1: port stream.1 on network default, both directions (snap length 262144)", error, StringComparison.Ordinal);
        Assert.EndsWith("2 frames captured (0 dropped)\n", error, StringComparison.Ordinal);
        Assert.Equal([fromA, toA], PcapFile.Parse(await File.ReadAllBytesAsync(file)).Records.Select(r => r.Data));
    }

    private static async Task WaitForFileAsync(string path, int length, Task running)
    {
        for (int i = 0; i < 500 && !running.IsCompleted; i++)
        {
            if (File.Exists(path) && new FileInfo(path).Length >= length)
            {
                return;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"{path} never had {length} bytes (capture finished: {running.IsCompleted})");
    }

    private async Task<Socket> ConnectAsync(int ports)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(Path.Combine(runDir, Defaults.StreamSocketFileName)));
        for (int i = 0; i < 250; i++)
        {
            ControlResponse show = await ControlClient.SendAsync(Path.Combine(runDir, Defaults.ControlSocketFileName), new ShowCommand());
            if (show.Show!.Networks[0].Ports.Count == ports)
            {
                return s;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"{ports} ports never appeared");
    }

    private async Task<(int Code, string Output, string Error)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await Program.RunAsync([.. args, "--run-dir", runDir], new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }
}
