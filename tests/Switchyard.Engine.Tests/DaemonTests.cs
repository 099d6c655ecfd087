// The daemon in-process with synthetic stream peers: the whole path from socket to switch to socket,
// plus the control API, without QEMU.
using System.Buffers.Binary;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.TestKit.Streams;

namespace Switchyard.Engine.Tests;

public sealed class DaemonTests : IAsyncLifetime
{
    private readonly string runDir = Directory.CreateTempSubdirectory("sy-daemon-").FullName;
    private Daemon? daemon;

    private Daemon Sy => daemon!;

    private string ControlSocket => Path.Combine(runDir, Defaults.ControlSocketFileName);

    // The switch's own behaviour, so the default network without its gateway port.
    public async Task InitializeAsync() =>
        daemon = await Daemon.StartAsync(new DaemonOptions(runDir, WithoutGateway(TopologyConfig.Default(runDir)), NullLoggerFactory.Instance));

    private static TopologyConfig WithoutGateway(TopologyConfig topology) =>
        new([.. topology.Networks.Select(n => n with { Gateway = null })]);

    public async Task DisposeAsync()
    {
        await Sy.DisposeAsync();
        Directory.Delete(runDir, recursive: true);
    }

    [Fact]
    public async Task TwoStreamPeers_UnicastAfterLearning_ReachesOnlyTheLearnedPort()
    {
        using Socket a = Connect();
        using Socket b = Connect();
        using Socket c = Connect();
        await WaitForPorts(3);

        // b announces itself (broadcast); everyone else hears it.
        await StreamWire.SendFrameAsync(b, StreamWire.Frame(destination: 0xFFFFFFFFFFFF, source: 0x02_00_00_00_00_0B));
        Assert.Equal(0x02_00_00_00_00_0BUL, Source(await StreamWire.ReceiveFrameAsync(a)));
        Assert.Equal(0x02_00_00_00_00_0BUL, Source(await StreamWire.ReceiveFrameAsync(c)));

        // a to b is now known unicast: b gets it, c does not.
        await StreamWire.SendFrameAsync(a, StreamWire.Frame(destination: 0x02_00_00_00_00_0B, source: 0x02_00_00_00_00_0A));
        Assert.Equal(0x02_00_00_00_00_0AUL, Source(await StreamWire.ReceiveFrameAsync(b)));
        c.ReceiveTimeout = 300;
        Assert.Throws<SocketException>(() => c.Receive(new byte[4]));

        ControlResponse fdb = await ControlClient.SendAsync(ControlSocket, new FdbCommand());
        Assert.True(fdb.Ok);
        Assert.Contains(fdb.Fdb!, r => r.Mac == "02:00:00:00:00:0b" && r.Vlan == 1);
        Assert.Contains(fdb.Fdb!, r => r.Mac == "02:00:00:00:00:0a");
    }

    [Fact]
    public async Task Control_PortAddThenDel_ChangesTheRunningNetwork()
    {
        string path = Path.Combine(runDir, "extra.sock");
        ControlResponse added = await ControlClient.SendAsync(ControlSocket, new PortAddCommand("default", "extra", $"stream,addr.type=unix,addr.path={path},server=on", Vlan: 7));
        Assert.True(added.Ok, added.Error);
        Assert.Contains("-netdev stream", added.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(path));

        ControlResponse show = await ControlClient.SendAsync(ControlSocket, new ShowCommand());
        Assert.Contains(show.Show!.Networks[0].Attachments, x => x.Name == "extra");

        ControlResponse removed = await ControlClient.SendAsync(ControlSocket, new PortDelCommand("default", "extra"));
        Assert.True(removed.Ok, removed.Error);
        Assert.False(File.Exists(path), "the listener's socket file goes with it");
    }

    [Theory]
    [InlineData("port-add", "default", "x", "stream,adr.path=/tmp/x", "unknown option 'adr.path'")]
    [InlineData("port-add", "nosuch", "x", "socket,listen=127.0.0.1:0", "no network named 'nosuch'")]
    [InlineData("port-add", "default", "stream", "socket,listen=127.0.0.1:0", "already has a port named stream")]
    [InlineData("port-del", "default", "ghost", null, "no port named 'ghost'")]
    [InlineData("frobnicate", null, null, null, "unknown command 'frobnicate'")]
    public async Task Control_BadRequest_GetsAnActionableError(string command, string? network, string? name, string? netdev, string expected)
    {
        ControlRequest? request = command switch
        {
            "port-add" => new PortAddCommand(network, name, netdev),
            "port-del" => new PortDelCommand(network, name),
            _ => null,
        };
        ControlResponse r = request is not null
            ? await ControlClient.SendAsync(ControlSocket, request)
            : await ControlWire.SendLineAsync(ControlSocket, $"{{\"command\":\"{command}\"}}"); // No record for an unknown command: the raw line.
        Assert.False(r.Ok);
        Assert.Contains(expected, r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Control_MalformedOrUnknownFieldJson_GetsAnErrorAndTheServerStaysUp()
    {
        foreach (string line in new[] { "{not json", "{\"command\":\"show\",\"bogus\":1}", "[]" })
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await s.ConnectAsync(new UnixDomainSocketEndPoint(ControlSocket));
            await s.SendAsync(System.Text.Encoding.UTF8.GetBytes(line + "\n"));
            byte[] buffer = new byte[4096];
            int n = await s.ReceiveAsync(buffer);
            string reply = System.Text.Encoding.UTF8.GetString(buffer, 0, n);
            Assert.Contains("\"ok\":false", reply, StringComparison.Ordinal);
        }

        Assert.True((await ControlClient.SendAsync(ControlSocket, new ShowCommand())).Ok);
    }

    [Fact]
    public async Task Events_PeerConnectsLinkChangesAndPeerLeaves_OneJsonLineEach_InOrder()
    {
        await using ControlStreamSession events = await ControlClient.OpenStreamAsync(ControlSocket, new EventsCommand("default"));
        Assert.True(events.Response.Ok, events.Response.Error);
        using var lines = new StreamReader(events.Body);

        Socket a = Connect();
        await WaitForPorts(1);
        ControlResponse down = await ControlClient.SendAsync(ControlSocket, new PortSetCommand("default", "stream.1", Link: "down"));
        Assert.True(down.Ok, down.Error);
        ControlResponse moved = await ControlClient.SendAsync(ControlSocket, new PortSetCommand("default", "stream.1", Vlan: 5));
        Assert.True(moved.Ok, moved.Error);
        a.Dispose();

        string[] expected = ["port-added", "link-down", "vlan-changed", "port-removed"];
        var seen = new List<System.Text.Json.JsonElement>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (seen.Count < expected.Length)
        {
            string line = await lines.ReadLineAsync(timeout.Token) ?? throw new IOException("event stream ended");
            seen.Add(System.Text.Json.JsonDocument.Parse(line).RootElement.Clone());
        }

        Assert.Equal(expected, seen.Select(e => e.GetProperty("type").GetString()));
        Assert.All(seen, e => Assert.Equal("stream.1", e.GetProperty("port").GetString()));
        Assert.All(seen, e => Assert.Equal("default", e.GetProperty("network").GetString()));
        Assert.Equal("stream", seen[0].GetProperty("kind").GetString());
        Assert.Equal("access vlan 5", seen[2].GetProperty("vlan").GetString());
        Assert.True(seen[3].TryGetProperty("reason", out _));
    }

    [Fact]
    public async Task PortSet_LinkDown_PeerFramesDroppedAndCounted_ShowSaysDown_UpAgainForwards()
    {
        using Socket a = Connect();
        using Socket b = Connect();
        await WaitForPorts(2);

        ControlResponse r = await ControlClient.SendAsync(ControlSocket, new PortSetCommand("default", "stream.1", Link: "down"));
        Assert.True(r.Ok, r.Error);
        Assert.Contains("link down", r.Message, StringComparison.Ordinal);
        await StreamWire.SendFrameAsync(a, StreamWire.Frame(destination: 0xFFFFFFFFFFFF, source: 0x02_00_00_00_00_0A));
        b.ReceiveTimeout = 300;
        Assert.Throws<SocketException>(() => b.Receive(new byte[4]));

        ControlResponse show = await ControlClient.SendAsync(ControlSocket, new ShowCommand());
        PortInfo port = show.Show!.Networks[0].Ports.Single(p => p.Name == "stream.1");
        Assert.False(port.LinkUp);
        Assert.Equal(1, port.Drops.GetValueOrDefault("rx_admin_down"));

        r = await ControlClient.SendAsync(ControlSocket, new PortSetCommand("default", "stream.1", Link: "up"));
        Assert.True(r.Ok, r.Error);
        await StreamWire.SendFrameAsync(a, StreamWire.Frame(destination: 0xFFFFFFFFFFFF, source: 0x02_00_00_00_00_0A));
        b.ReceiveTimeout = 0;
        Assert.Equal(0x02_00_00_00_00_0AUL, Source(await StreamWire.ReceiveFrameAsync(b)));
    }

    [Theory]
    [InlineData("default", "ghost", "down", null, "no port named 'ghost'")]
    [InlineData("default", "stream.1", "sideways", null, "link must be 'up' or 'down'")]
    [InlineData("default", "stream.1", null, null, "needs something to change")]
    [InlineData("default", "stream.1", null, 5000, "VLAN")]
    [InlineData("nosuch", "stream.1", "down", null, "no network named 'nosuch'")]
    public async Task PortSet_BadRequest_GetsAnActionableError_AndChangesNothing(string network, string name, string? link, int? vlan, string expected)
    {
        using Socket a = Connect();
        await WaitForPorts(1);
        ControlResponse r = await ControlClient.SendAsync(ControlSocket, new PortSetCommand(network, name, Vlan: vlan, Link: link));
        Assert.False(r.Ok);
        Assert.Contains(expected, r.Error, StringComparison.Ordinal);
        PortInfo port = (await ControlClient.SendAsync(ControlSocket, new ShowCommand())).Show!.Networks[0].Ports.Single();
        Assert.True(port.LinkUp);
        Assert.Equal("access vlan 1", port.Vlan);
    }

    private static ulong Source(byte[] frame) => Core.Frames.Ethernet.Source(frame);

    private Socket Connect()
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(Path.Combine(runDir, Defaults.StreamSocketFileName)));
        return s;
    }

    private async Task WaitForPorts(int count)
    {
        for (int i = 0; i < 200; i++)
        {
            ControlResponse show = await ControlClient.SendAsync(ControlSocket, new ShowCommand());
            if (show.Show!.Networks[0].Ports.Count == count)
            {
                return;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"{count} ports never appeared");
    }
}
