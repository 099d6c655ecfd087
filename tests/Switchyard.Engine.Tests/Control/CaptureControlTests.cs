// The `capture` control command against an in-process daemon with synthetic stream peers (QEMU's
// stream framing: a 4-byte big-endian length, then the frame): the pcap stream a client reads, each way
// a capture ends (count, duration, client hang-up, the port going away, the daemon stopping), two
// clients on one port, network captures, and the errors for targets that do not exist or are ambiguous.
using System.Buffers.Binary;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.TestKit;
using Switchyard.TestKit.Streams;

namespace Switchyard.Engine.Tests.Control;

public sealed class CaptureControlTests : IAsyncLifetime
{
    private const ulong MacA = 0x02_00_00_00_00_0A;
    private const ulong MacB = 0x02_00_00_00_00_0B;
    private const ulong Broadcast = 0xFF_FF_FF_FF_FF_FF;

    private readonly string runDir = Directory.CreateTempSubdirectory("sy-capture-").FullName;
    private Daemon? daemon;

    private string ControlSocket => Path.Combine(runDir, Defaults.ControlSocketFileName);

    // The default network without its gateway (only the test's peers talk), plus an empty network "lab".
    public async Task InitializeAsync()
    {
        TopologyConfig topology = TopologyConfig.Default(runDir);
        topology = new TopologyConfig([.. topology.Networks.Select(n => n with { Gateway = null }), new NetworkConfig("lab", [])]);
        daemon = await Daemon.StartAsync(new DaemonOptions(runDir, topology, NullLoggerFactory.Instance));
    }

    public async Task DisposeAsync()
    {
        if (daemon is not null)
        {
            await daemon.DisposeAsync();
        }

        Directory.Delete(runDir, recursive: true);
    }

    [Fact]
    public async Task PortCapture_BothDirections_StreamsPcapOfIngressAndEgress_EndsAtCount()
    {
        using Socket a = await ConnectAsync(1);
        using Socket b = await ConnectAsync(2);
        await using ControlStreamSession session = await OpenAsync(new CaptureCommand(Target: "stream.1", Count: 2));
        Assert.True(session.Response.Ok, session.Response.Error);
        Assert.Equal("capture 1: port stream.1 on network default, both directions", session.Response.Message);
        byte[] header = await ReadExactlyAsync(session.Body, 24);

        byte[] fromA = StreamWire.Frame(Broadcast, MacA, 64);
        byte[] toA = StreamWire.Frame(MacA, MacB, 100);
        await StreamWire.SendFrameAsync(a, fromA);
        await StreamWire.ReceiveFrameAsync(b);
        await StreamWire.SendFrameAsync(b, toA);
        Assert.Equal(toA, await StreamWire.ReceiveFrameAsync(a));

        PcapFile file = PcapFile.Parse([.. header, .. await ReadToEndAsync(session.Body)]);
        Assert.Equal([fromA, toA], file.Records.Select(r => r.Data));
        Assert.Equal(262144, file.SnapLength);

        CaptureInfo stats = await StatsAsync(session.Response.Capture!.Id, running: false);
        Assert.Equal(("default", "stream.1", 2L, 0L, "count reached"), (stats.Network, stats.Port, stats.Frames, stats.Dropped, stats.EndReason));
    }

    [Fact]
    public async Task NetworkCapture_FramesFromEveryPort_EachRecordedOnce()
    {
        using Socket a = await ConnectAsync(1);
        using Socket b = await ConnectAsync(2);
        await using ControlStreamSession session = await OpenAsync(new CaptureCommand(Target: "default", Count: 2));
        Assert.True(session.Response.Ok, session.Response.Error);
        Assert.Equal("every frame entering network default", session.Response.Message!.Split(": ", 2)[1]);
        byte[] header = await ReadExactlyAsync(session.Body, 24);

        byte[] fromA = StreamWire.Frame(Broadcast, MacA, 64);
        byte[] fromB = StreamWire.Frame(Broadcast, MacB, 80);
        await StreamWire.SendFrameAsync(a, fromA);
        await StreamWire.ReceiveFrameAsync(b);
        await StreamWire.SendFrameAsync(b, fromB);
        await StreamWire.ReceiveFrameAsync(a);

        PcapFile file = PcapFile.Parse([.. header, .. await ReadToEndAsync(session.Body)]);
        Assert.Equal([fromA, fromB], file.Records.Select(r => r.Data));
        Assert.Null((await StatsAsync(session.Response.Capture!.Id, running: false)).Port);
    }

    [Fact]
    public async Task TwoClientsOnOnePort_BothGetEveryFrame_SnapLengthApplied()
    {
        using Socket a = await ConnectAsync(1);
        using Socket b = await ConnectAsync(2);
        await using ControlStreamSession first = await OpenAsync(new CaptureCommand(Name: "stream.2", Count: 3));
        await using ControlStreamSession second = await OpenAsync(new CaptureCommand(Name: "stream.2", Network: "default", Count: 3, Snaplen: 20));
        byte[] firstHeader = await ReadExactlyAsync(first.Body, 24);
        byte[] secondHeader = await ReadExactlyAsync(second.Body, 24);

        var frames = new List<byte[]>();
        for (int i = 0; i < 3; i++)
        {
            byte[] frame = StreamWire.Frame(Broadcast, MacA, 60 + i);
            frames.Add(frame);
            await StreamWire.SendFrameAsync(a, frame);
            await StreamWire.ReceiveFrameAsync(b);
        }

        PcapFile whole = PcapFile.Parse([.. firstHeader, .. await ReadToEndAsync(first.Body)]);
        PcapFile cut = PcapFile.Parse([.. secondHeader, .. await ReadToEndAsync(second.Body)]);
        Assert.Equal(frames, whole.Records.Select(r => r.Data));
        Assert.Equal(20, cut.SnapLength);
        Assert.Equal(frames.Select(f => f[..20]), cut.Records.Select(r => r.Data));
        Assert.Equal(frames.Select(f => f.Length), cut.Records.Select(r => r.OriginalLength));
    }

    [Fact]
    public async Task Capture_ClientHangsUpWhileNoFramesFlow_CaptureEnds()
    {
        using Socket a = await ConnectAsync(1);
        int id;
        await using (ControlStreamSession session = await OpenAsync(new CaptureCommand(Target: "stream.1")))
        {
            await ReadExactlyAsync(session.Body, 24);
            id = session.Response.Capture!.Id;
            Assert.True((await StatsAsync(id, running: true)).Running);
        }

        CaptureInfo stats = await StatsAsync(id, running: false);
        Assert.Equal("client hung up", stats.EndReason);
    }

    [Fact]
    public async Task Capture_PortGoesAway_StreamEndsWithTheReason()
    {
        Socket a = await ConnectAsync(1);
        await using ControlStreamSession session = await OpenAsync(new CaptureCommand(Target: "stream.1"));
        await ReadExactlyAsync(session.Body, 24);

        a.Dispose(); // the peer hangs up: the port leaves the switch

        Assert.Empty(await ReadToEndAsync(session.Body));
        Assert.Equal("port stream.1 left network default", (await StatsAsync(session.Response.Capture!.Id, running: false)).EndReason);
    }

    [Fact]
    public async Task Capture_Duration_EndsWhenItElapses()
    {
        using Socket a = await ConnectAsync(1);
        await using ControlStreamSession session = await OpenAsync(new CaptureCommand(Network: "default", Duration: 0.3));
        await ReadExactlyAsync(session.Body, 24);

        Assert.Empty(await ReadToEndAsync(session.Body));
        Assert.Equal("duration elapsed", (await StatsAsync(session.Response.Capture!.Id, running: false)).EndReason);
    }

    [Fact]
    public async Task Capture_DaemonStops_StreamEnds()
    {
        using Socket a = await ConnectAsync(1);
        await using ControlStreamSession session = await OpenAsync(new CaptureCommand(Target: "stream.1"));
        await ReadExactlyAsync(session.Body, 24);

        await daemon!.DisposeAsync();
        daemon = null;

        Assert.Empty(await ReadToEndAsync(session.Body));
    }

    [Fact]
    public async Task Capture_UnknownTarget_FailsListingPortsAndNetworks()
    {
        using Socket a = await ConnectAsync(1);

        ControlResponse r = await ControlClient.SendAsync(ControlSocket, new CaptureCommand(Target: "vhost-user.9"));

        Assert.False(r.Ok);
        Assert.Equal("no port or network named 'vhost-user.9' (ports: stream.1 on network default; networks: default, lab)", r.Error);
    }

    [Fact]
    public async Task Capture_UnknownPortOnANetwork_FailsListingItsPorts()
    {
        using Socket a = await ConnectAsync(1);

        ControlResponse r = await ControlClient.SendAsync(ControlSocket, new CaptureCommand(Network: "default", Name: "stream.7"));

        Assert.False(r.Ok);
        Assert.Equal("network default has no port named 'stream.7' (ports: stream.1)", r.Error);
    }

    [Fact]
    public async Task Capture_NameOfBothAPortAndANetwork_AsksWhich_ExplicitFormsWork_PortDelEndsIt()
    {
        string spec = $"dgram,local.type=unix,local.path={runDir}/lab-l.sock,remote.type=unix,remote.path={runDir}/lab-r.sock";
        ControlResponse added = await ControlClient.SendAsync(ControlSocket, new PortAddCommand("default", "lab", spec));
        Assert.True(added.Ok, added.Error);

        ControlResponse ambiguous = await ControlClient.SendAsync(ControlSocket, new CaptureCommand(Target: "lab"));
        Assert.False(ambiguous.Ok);
        Assert.Contains("'lab' is both a network and a port on network default; say which: --network lab", ambiguous.Error, StringComparison.Ordinal);

        await using (ControlStreamSession network = await OpenAsync(new CaptureCommand(Network: "lab")))
        {
            Assert.True(network.Response.Ok, network.Response.Error);
            Assert.Null(network.Response.Capture!.Port);
            Assert.Equal("lab", network.Response.Capture.Network);
        }

        await using ControlStreamSession port = await OpenAsync(new CaptureCommand(Name: "lab"));
        Assert.Equal(("default", "lab"), (port.Response.Capture!.Network, port.Response.Capture.Port));
        await ReadExactlyAsync(port.Body, 24);

        // `port del` ends the port's capture.
        Assert.True((await ControlClient.SendAsync(ControlSocket, new PortDelCommand("default", "lab"))).Ok);
        Assert.Empty(await ReadToEndAsync(port.Body));
        Assert.Equal("port lab left network default", (await StatsAsync(port.Response.Capture.Id, running: false)).EndReason);
    }

    [Theory]
    [InlineData(0L, null, null, "capture count must be 1 or more (got 0)")]
    [InlineData(null, -1.0, null, "capture duration must be more than 0")]
    [InlineData(null, null, 0, "capture snaplen must be 1 to 262144 bytes (got 0)")]
    [InlineData(null, null, 262145, "capture snaplen must be 1 to 262144 bytes (got 262145)")]
    public async Task Capture_BadNumbers_RejectedWithTheRule(long? count, double? duration, int? snaplen, string error)
    {
        ControlResponse r = await ControlClient.SendAsync(ControlSocket, new CaptureCommand(Network: "default", Count: count, Duration: duration, Snaplen: snaplen));

        Assert.False(r.Ok);
        Assert.StartsWith(error, r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CaptureStats_UnknownId_SaysWhatRuns()
    {
        ControlResponse r = await ControlClient.SendAsync(ControlSocket, new CaptureStatsCommand(CaptureId: 42));

        Assert.False(r.Ok);
        Assert.Equal("no capture 42 (running: none; the last 32 that ended are kept)", r.Error);
    }

    [Fact]
    public async Task Show_SwitchCounters_IncludeCaptureDropped()
    {
        ControlResponse show = await ControlClient.SendAsync(ControlSocket, new ShowCommand());

        Assert.Equal(0, show.Show!.Networks[0].Counters["capture_dropped"]);
    }

    private async Task<ControlStreamSession> OpenAsync(ControlRequest request) => await ControlClient.OpenStreamAsync(ControlSocket, request);

    /// <summary>Polls capture-stats until the capture runs (or has ended) as asked.</summary>
    private async Task<CaptureInfo> StatsAsync(int id, bool running)
    {
        for (int i = 0; i < 250; i++)
        {
            ControlResponse r = await ControlClient.SendAsync(ControlSocket, new CaptureStatsCommand(CaptureId: id));
            Assert.True(r.Ok, r.Error);
            if (r.Capture!.Running == running)
            {
                return r.Capture;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"capture {id} never had running={running}");
    }

    /// <summary>Connects a stream peer and waits until the switch has <paramref name="ports"/> ports.</summary>
    private async Task<Socket> ConnectAsync(int ports)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(Path.Combine(runDir, Defaults.StreamSocketFileName)));
        for (int i = 0; i < 250; i++)
        {
            ControlResponse show = await ControlClient.SendAsync(ControlSocket, new ShowCommand());
            if (show.Show!.Networks[0].Ports.Count == ports)
            {
                return s;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"{ports} ports never appeared");
    }

    private static async Task<byte[]> ReadExactlyAsync(Stream s, int count)
    {
        byte[] buffer = new byte[count];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await s.ReadExactlyAsync(buffer, timeout.Token);
        return buffer;
    }

    private static async Task<byte[]> ReadToEndAsync(Stream s)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var all = new MemoryStream();
        await s.CopyToAsync(all, timeout.Token);
        return all.ToArray();
    }
}
