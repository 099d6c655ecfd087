// `switchyard check`, `reload` and `qemu-args`, run in-process (Program.RunAsync with captured writers)
// against a daemon started in-process from a topology file, with synthetic stream peers standing in
// for guests. A collection of its own that runs alone: the CLI's shared option objects are not used
// by two tests at once (see GatewayCliTests).
using System.Buffers.Binary;
using System.CommandLine;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Cli;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Engine.Networks;
using Switchyard.TestKit.Streams;

namespace Switchyard.Engine.Tests.Cli;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CliCollection
{
    public const string Name = "topology CLI";
}

[Collection(CliCollection.Name)]
public sealed class TopologyCliTests : IAsyncLifetime
{
    private readonly string dir = Directory.CreateTempSubdirectory("sy-topo-").FullName;
    private readonly List<Socket> peers = [];
    private Daemon? daemon;

    private string TopologyFile => Path.Combine(dir, "topology.yaml");

    private string ControlSocket => Path.Combine(dir, Defaults.ControlSocketFileName);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (Socket s in peers)
        {
            s.Dispose();
        }

        if (daemon is not null)
        {
            await daemon.DisposeAsync();
        }

        Directory.Delete(dir, recursive: true);
    }

    // ---- check ----

    [Fact]
    public async Task Check_FileWithThreeMistakes_ReportsAllThreeWithTheirLines()
    {
        await File.WriteAllTextAsync(TopologyFile, $"""
            networks:
              - name: lab
                colour: blue
                ports:
                  - name: p1
                    netdev: "stream,addr.type=unix,addr.path={dir}/p1.sock,server=on"
                    vlan: 5000
                  - name: p1
                    netdev: "stream,addr.type=unix,addr.path={dir}/p2.sock,server=on"
            """);

        (int code, string output, string error) = await Run("check", "-c", TopologyFile);

        Assert.Equal(1, code);
        Assert.Equal(string.Empty, output);
        string[] lines = error.TrimEnd('\n').Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.StartsWith($"{TopologyFile}:3: networks[0]: unknown key 'colour'", lines[0], StringComparison.Ordinal);
        Assert.StartsWith($"{TopologyFile}:7: networks[0].ports[0].vlan: ", lines[1], StringComparison.Ordinal);
        Assert.Contains("5000", lines[1], StringComparison.Ordinal);
        Assert.StartsWith($"{TopologyFile}:8: networks[0].ports[1].name: duplicate port name 'p1'", lines[2], StringComparison.Ordinal);
        Assert.Equal($"{TopologyFile}: 3 errors", lines[3]);
    }

    [Fact]
    public async Task CheckJson_ThreeMistakes_ErrorsWithLinePathAndMessage_ValidFileHasTheSummary()
    {
        await File.WriteAllTextAsync(TopologyFile, """
            networks:
              - name: lab
                colour: blue
                ports:
                  - name: p1
                    netdev: "stream,addr.type=unix,addr.path=/tmp/sy-p1.sock,server=on"
                    vlan: 5000
                  - name: p1
                    netdev: "stream,addr.type=unix,addr.path=/tmp/sy-p2.sock,server=on"
            """);

        (int code, string output, _) = await Run("check", "-c", TopologyFile, "--json");

        Assert.Equal(1, code);
        using (var doc = System.Text.Json.JsonDocument.Parse(output))
        {
            Assert.False(doc.RootElement.GetProperty("ok").GetBoolean());
            Assert.Equal([3, 7, 8], doc.RootElement.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("line").GetInt32()));
            Assert.Equal("networks[0].ports[0].vlan", doc.RootElement.GetProperty("errors")[1].GetProperty("path").GetString());
        }

        await WriteTopology(extraPorts: "", gateway: string.Empty);
        (code, output, _) = await Run("check", "-c", TopologyFile, "--json");
        Assert.Equal(0, code);
        using var valid = System.Text.Json.JsonDocument.Parse(output);
        Assert.True(valid.RootElement.GetProperty("ok").GetBoolean());
        Assert.StartsWith($"{TopologyFile} is valid", valid.RootElement.GetProperty("summary").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_ValidFile_PrintsOneParagraphSummaryAndExitsZero()
    {
        await WriteTopology(extraPorts: "", gateway: "    gateway: \"user,hostfwd=tcp:127.0.0.1:2222-:22\"\n");

        (int code, string output, string error) = await Run("check", "-c", TopologyFile);

        Assert.True(code == 0, error);
        Assert.Equal(
            $"{TopologyFile} is valid: 1 network, 1 port, 1 gateway, 1 forward. Network lab: 1 port (guests: stream listener on {dir}/guests.sock); gateway 10.0.2.2 on 10.0.2.0/24 forwarding tcp:127.0.0.1:2222-:22.\n",
            output);
    }

    [Fact]
    public async Task Check_HostProblems_ReportedWithoutCreatingAnything()
    {
        await File.WriteAllTextAsync(Path.Combine(dir, "not-a-socket"), "x");
        await File.WriteAllTextAsync(TopologyFile, $"""
            networks:
              - name: a
                gateway: "user,hostfwd=tcp::2222-:22"
                ports:
                  - name: nodir
                    netdev: "vhost-user,path={dir}/missing/vm.sock,server=on"
                  - name: file
                    netdev: "stream,addr.type=unix,addr.path={dir}/not-a-socket,server=on"
                  - name: c1
                    netdev: "vhost-user,path={dir}/qemu.sock,server=off"
                  - name: c2
                    netdev: "vhost-user,path={dir}/qemu.sock,server=off"
              - name: b
                gateway: "user,hostfwd=tcp:127.0.0.1:2222-:80"
            """);

        (int code, _, string error) = await Run("check", "-c", TopologyFile);

        Assert.Equal(1, code);
        Assert.Contains($"{TopologyFile}:6: networks[0].ports[0].netdev: the directory of socket {dir}/missing/vm.sock does not exist", error, StringComparison.Ordinal);
        Assert.Contains($"{TopologyFile}:8: networks[0].ports[1].netdev: {dir}/not-a-socket exists and is not a socket", error, StringComparison.Ordinal);
        Assert.Contains($"{TopologyFile}:12: networks[0].ports[3].netdev: {dir}/qemu.sock is already dialled by networks[0].ports[2]", error, StringComparison.Ordinal);
        Assert.Contains($"{TopologyFile}:14: networks[1].gateway.hostfwd: forward tcp:127.0.0.1:2222-:80 needs host tcp port 127.0.0.1:2222 which forward tcp::2222-:22", error, StringComparison.Ordinal);
        Assert.Contains("4 errors", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir, "missing")));
    }

    [Fact]
    public async Task Check_UnreadableFile_OneErrorExitOne()
    {
        (int code, _, string error) = await Run("check", "-c", Path.Combine(dir, "nope.yaml"));

        Assert.Equal(1, code);
        Assert.Contains("nope.yaml: cannot read the configuration file", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_TapNameOfAnInterfaceThatIsNotATap_AndForwardOnAListenersPort_Reported()
    {
        await File.WriteAllTextAsync(TopologyFile, """
            networks:
              - name: lab
                gateway: "user,hostfwd=tcp:127.0.0.1:5555-:22"
                ports:
                  - name: up
                    netdev: "tap,ifname=lo"
                  - name: tcp
                    netdev: "socket,listen=127.0.0.1:5555"
            """);

        (int code, _, string error) = await Run("check", "-c", TopologyFile);

        Assert.Equal(1, code);
        Assert.Contains($"{TopologyFile}:6: networks[0].ports[0].netdev: interface 'lo' exists on this host and is not a tap", error, StringComparison.Ordinal);
        Assert.Contains($"{TopologyFile}:3: networks[0].gateway.hostfwd: forward tcp:127.0.0.1:5555-:22 needs host tcp port 127.0.0.1:5555 which stream listener 127.0.0.1:5555", error, StringComparison.Ordinal);
    }

    // ---- reload ----

    [Fact]
    public async Task Reload_PortAdded_NewPortListensAndConnectedPeersKeepTheirPorts()
    {
        await StartAsync();
        Socket a = await ConnectAsync("guests.sock");
        Socket b = await ConnectAsync("guests.sock");
        await WaitForPortsAsync("guests.1", "guests.2");

        await WriteTopology(extraPorts: Port("extra"));
        (int code, string output, string error) = await Run("reload");

        Assert.True(code == 0, error);
        Assert.Contains("network lab: added port extra", output, StringComparison.Ordinal);
        Socket c = await ConnectAsync("extra.sock");
        await WaitForPortsAsync("guests.1", "guests.2", "extra.1");

        // The first two connections were not touched: frames still cross between them, and to the new port.
        await StreamWire.SendFrameAsync(a, StreamWire.Frame(destination: 0xFFFFFFFFFFFF, source: 0x02_00_00_00_00_0A));
        Assert.Equal(0x02_00_00_00_00_0AUL, Source(await StreamWire.ReceiveFrameAsync(b)));
        Assert.Equal(0x02_00_00_00_00_0AUL, Source(await StreamWire.ReceiveFrameAsync(c)));
        ControlResponse show = await ControlClient.SendAsync(ControlSocket, new ShowCommand());
        Assert.Equal(0, show.Show!.Networks[0].Counters["ports_closed_by_peer"]);
    }

    [Fact]
    public async Task Reload_NetdevChanged_RecreatesOnlyThatPort()
    {
        await StartAsync(extraPorts: Port("extra"));
        Socket a = await ConnectAsync("guests.sock");
        Socket old = await ConnectAsync("extra.sock");
        await WaitForPortsAsync("guests.1", "extra.1");

        await WriteTopology(extraPorts: Port("extra", "moved.sock"));
        (int code, string output, string error) = await Run("reload");

        Assert.True(code == 0, error);
        Assert.Contains("network lab: recreated port extra (netdev ", output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "extra.sock")));
        Socket moved = await ConnectAsync("moved.sock");
        await WaitForPortsAsync("guests.1", "extra.1");
        await StreamWire.SendFrameAsync(a, StreamWire.Frame(destination: 0xFFFFFFFFFFFF, source: 0x02_00_00_00_00_0A));
        Assert.Equal(0x02_00_00_00_00_0AUL, Source(await StreamWire.ReceiveFrameAsync(moved)));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        Assert.Equal(0, await old.ReceiveAsync(new byte[16], SocketFlags.None, timeout.Token)); // Closed with its port.
    }

    [Fact]
    public async Task Reload_BrokenFile_ChangesNothingAndListsEveryErrorWithItsLine()
    {
        await StartAsync();
        await WriteTopology(extraPorts: Port("extra") + "        vlan: 0\n" + "        colour: red\n");

        (int code, _, string error) = await Run("reload");

        Assert.Equal(1, code);
        Assert.Contains($"{TopologyFile} has 2 errors; nothing was changed", error, StringComparison.Ordinal);
        Assert.Contains($"{TopologyFile}:8: networks[0].ports[1].vlan:", error, StringComparison.Ordinal);
        Assert.Contains($"{TopologyFile}:9: networks[0].ports[1]: unknown key 'colour'", error, StringComparison.Ordinal);
        ControlResponse show = await ControlClient.SendAsync(ControlSocket, new ShowCommand());
        Assert.Equal(new[] { "guests" }, show.Show!.Networks[0].Attachments.Select(x => x.Name));
    }

    [Fact]
    public async Task Reload_Unchanged_SaysNoChanges()
    {
        await StartAsync();

        (int code, string output, _) = await Run("reload");

        Assert.Equal(0, code);
        Assert.Equal($"reloaded {TopologyFile}: no changes\n", output);
    }

    [Fact]
    public async Task Reload_RunTimePort_KeptAndReported_PortDeletedAtRunTimeComesBack()
    {
        await StartAsync(extraPorts: Port("extra"));
        Assert.Equal(0, (await Run("port", "add", "lab", "mine", $"stream,addr.type=unix,addr.path={dir}/mine.sock,server=on")).Code);
        Assert.Equal(0, (await Run("port", "del", "lab", "extra")).Code);

        (int code, string output, string error) = await Run("reload");

        Assert.True(code == 0, error);
        Assert.Contains("network lab: added port extra", output, StringComparison.Ordinal);
        Assert.Contains("network lab: kept port mine (added at run time, not in the file)", output, StringComparison.Ordinal);
        ControlResponse show = await ControlClient.SendAsync(ControlSocket, new ShowCommand());
        Assert.Equal(new[] { "extra", "guests", "mine" }, show.Show!.Networks[0].Attachments.Select(x => x.Name).Order());
    }

    [Fact]
    public async Task Reload_FileNowNamesARunTimePortDifferently_RefusedBeforeAnyChange()
    {
        await StartAsync();
        Assert.Equal(0, (await Run("port", "add", "lab", "extra", $"stream,addr.type=unix,addr.path={dir}/other.sock,server=on")).Code);
        await WriteTopology(extraPorts: Port("extra") + Port("more"));

        (int code, _, string error) = await Run("reload");

        Assert.Equal(1, code);
        Assert.Contains("nothing was changed", error, StringComparison.Ordinal);
        Assert.Contains("the file declares port extra, but a different port extra was added at run time", error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "more.sock")));
    }

    [Fact]
    public async Task Reload_GatewayForwardAddedAndNetworkAdded_OpenedAtRunTime()
    {
        int port = FreeTcpPort();
        await StartAsync(gateway: "    gateway: true\n");
        await WriteTopology(
            extraPorts: string.Empty,
            gateway: $"    gateway: \"user,hostfwd=tcp:127.0.0.1:{port}-:22\"\n",
            extraNetworks: $"  - name: second\n    ports:\n{Port("s1")}");

        (int code, string output, string error) = await Run("reload");

        Assert.True(code == 0, error);
        Assert.Contains($"network lab: forward tcp:127.0.0.1:{port}-:22 added", output, StringComparison.Ordinal);
        Assert.Contains("network second: added (1 port)", output, StringComparison.Ordinal);
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await probe.ConnectAsync(System.Net.IPAddress.Loopback, port); // The forward listens.
        }

        Assert.True(File.Exists(Path.Combine(dir, "s1.sock")));

        await WriteTopology(extraPorts: string.Empty, gateway: "    gateway: \"user,mtu=1400\"\n");
        (code, output, error) = await Run("reload");
        Assert.True(code == 0, error);
        Assert.Contains("network second: removed", output, StringComparison.Ordinal);
        Assert.Contains("network lab: recreated gateway (options mtu 1500 -> 1400", output, StringComparison.Ordinal);
        ControlResponse show = await ControlClient.SendAsync(ControlSocket, new ShowCommand());
        Assert.Equal(1400, Assert.Single(show.Show!.Networks).Gateway!.Mtu);
    }

    [Fact]
    public async Task Reload_HubChanged_RecreatesTheNetworkAndKeepsRunTimePorts()
    {
        await StartAsync();
        Assert.Equal(0, (await Run("port", "add", "lab", "mine", $"stream,addr.type=unix,addr.path={dir}/mine.sock,server=on")).Code);
        Socket a = await ConnectAsync("guests.sock");
        await WaitForPortsAsync("guests.1");
        await File.WriteAllTextAsync(TopologyFile, (await File.ReadAllTextAsync(TopologyFile)).Replace("  - name: lab\n", "  - name: lab\n    hub: true\n", StringComparison.Ordinal));

        (int code, string output, string error) = await Run("reload");

        Assert.True(code == 0, error);
        Assert.Contains("network lab: recreated (hub off -> on; its ports were reopened and their guests must reconnect)", output, StringComparison.Ordinal);
        Assert.Contains("network lab: kept port mine (added at run time, not in the file)", output, StringComparison.Ordinal);
        ControlResponse show = await ControlClient.SendAsync(ControlSocket, new ShowCommand());
        NetworkInfo lab = Assert.Single(show.Show!.Networks);
        Assert.True(lab.Hub);
        Assert.Equal(new[] { "guests", "mine" }, lab.Attachments.Select(x => x.Name).Order());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        Assert.Equal(0, await a.ReceiveAsync(new byte[16], SocketFlags.None, timeout.Token)); // Its guest must reconnect.
    }

    [Fact]
    public async Task Reload_DaemonWithoutFile_SaysThereIsNoFileToReload()
    {
        TopologyConfig builtIn = TopologyConfig.Default(dir);
        daemon = await Daemon.StartAsync(new DaemonOptions(dir, new TopologyConfig([.. builtIn.Networks.Select(n => n with { Gateway = null })]), NullLoggerFactory.Instance));

        (int code, _, string error) = await Run("reload");

        Assert.Equal(1, code);
        Assert.Contains("there is no file to reload", error, StringComparison.Ordinal);
    }

    // ---- qemu-args ----

    [Fact]
    public async Task QemuArgs_VhostUserWithNameAndMemory_PrintsTheWholeCommandFragment()
    {
        await StartAsync(extraPorts: $"      - name: vm\n        netdev: \"vhost-user,path={dir}/vm.sock,server=on,queues=2\"\n");

        (int code, string output, string error) = await Run("qemu-args", "lab", "--kind", "vhost-user", "--name", "web1", "--memory", "1G", "--queues", "2");

        Assert.True(code == 0, error);
        string mac = QemuArgsBuilder.Mac("web1");
        Assert.Equal(
            $"-object memory-backend-memfd,id=mem-web1,size=1G,share=on -numa node,memdev=mem-web1 -chardev socket,id=chr-web1,path={dir}/vm.sock,reconnect=1 -netdev vhost-user,id=net-web1,chardev=chr-web1,queues=2 -device virtio-net-pci,netdev=net-web1,mac={mac},mq=on,vectors=0\n",
            output);
        Assert.Equal(string.Empty, error);
    }

    [Fact]
    public async Task QemuArgs_DefaultKindAndNoName_StreamListenerAndNotes()
    {
        await StartAsync();

        (int code, string output, string error) = await Run("qemu-args");

        Assert.Equal(0, code);
        Assert.Equal($"-netdev stream,id=n0,server=off,addr.type=unix,addr.path={dir}/guests.sock -device virtio-net-pci,netdev=n0\n", output);
        Assert.Contains("--name VM", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QemuArgs_KindTheNetworkLacks_NamesWhatItHas()
    {
        await StartAsync();

        (int code, _, string error) = await Run("qemu-args", "lab", "--kind", "vhost-user");

        Assert.Equal(1, code);
        Assert.Contains("network lab has no vhost-user port; it has: guests (stream listener)", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QemuArgs_Json_HasOneWordPerArgument()
    {
        await StartAsync();

        (int code, string output, _) = await Run("qemu-args", "lab", "--name", "a", "--json");

        Assert.Equal(0, code);
        using JsonDocument doc = JsonDocument.Parse(output);
        string[] args = [.. doc.RootElement.GetProperty("qemuArgs").EnumerateArray().Select(e => e.GetString()!)];
        Assert.Equal(new[] { "-netdev", $"stream,id=net-a,server=off,addr.type=unix,addr.path={dir}/guests.sock", "-device", $"virtio-net-pci,netdev=net-a,mac={QemuArgsBuilder.Mac("a")}" }, args);
    }

    [Fact]
    public void QemuArgsMac_DifferentNames_DifferentLocallyAdministeredUnicastMacs()
    {
        string a = QemuArgsBuilder.Mac("vm1");
        string b = QemuArgsBuilder.Mac("vm2");

        Assert.NotEqual(a, b);
        Assert.Equal(a, QemuArgsBuilder.Mac("vm1"));
        byte first = Convert.ToByte(a[..2], 16);
        Assert.Equal(0x02, first & 0x03); // Locally administered (bit 1), unicast (bit 0 clear).
    }

    // ---- helpers ----

    private static string Port(string name, string? socket = null) =>
        $"      - name: {name}\n        netdev: \"stream,addr.type=unix,addr.path={{DIR}}/{socket ?? name + ".sock"},server=on\"\n";

    private async Task WriteTopology(string extraPorts = "", string gateway = "", string extraNetworks = "")
    {
        string text = "networks:\n  - name: lab\n" + gateway + "    ports:\n" + Port("guests") + extraPorts + extraNetworks;
        await File.WriteAllTextAsync(TopologyFile, text.Replace("{DIR}", dir, StringComparison.Ordinal));
    }

    private async Task StartAsync(string extraPorts = "", string gateway = "")
    {
        await WriteTopology(extraPorts, gateway);
        daemon = await Daemon.StartAsync(new DaemonOptions(dir, TopologyLoader.LoadFile(TopologyFile), NullLoggerFactory.Instance, ConfigPath: TopologyFile));
    }

    private async Task<(int Code, string Output, string Error)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await Program.RunAsync([.. args, "--run-dir", dir], new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    private async Task<Socket> ConnectAsync(string socketName)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        peers.Add(s);
        await s.ConnectAsync(new UnixDomainSocketEndPoint(Path.Combine(dir, socketName)));
        return s;
    }

    private async Task WaitForPortsAsync(params string[] names)
    {
        for (int i = 0; i < 250; i++)
        {
            ControlResponse show = await ControlClient.SendAsync(ControlSocket, new ShowCommand());
            var ports = show.Show!.Networks[0].Ports.Where(p => p.Kind != "gateway").Select(p => p.Name).Order().ToList();
            if (ports.SequenceEqual(names.Order()))
            {
                return;
            }

            await Task.Delay(20);
        }

        Assert.Fail($"ports {string.Join(", ", names)} did not appear");
    }

    private static int FreeTcpPort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }

    private static ulong Source(byte[] frame) => Core.Frames.Ethernet.Source(frame);

}
