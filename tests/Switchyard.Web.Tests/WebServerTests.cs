// The HTTP listener in-process against a real daemon and real sockets: stream peers and a
// vhost-user front-end (TestKit's guest-side driver on memfd memory) exchange frames through the
// switch, then /metrics, /api/state and the page are read over a real loopback TCP connection.
using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Core.Frames;
using Switchyard.Engine.Commands;
using Switchyard.Engine;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.TestKit.VhostUser;
using Switchyard.TestKit.Streams;

namespace Switchyard.Web.Tests;

public sealed class WebServerTests : IAsyncLifetime
{
    private const ulong MacA = 0x02_00_00_00_00_0A;
    private const ulong MacB = 0x02_00_00_00_00_0B;
    private const ulong MacV = 0x02_00_00_00_00_0C;

    private readonly string runDir = Directory.CreateTempSubdirectory("sy-web-").FullName;
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(20) };
    private Daemon? daemon;
    private WebServer? web;

    private Daemon Sy => daemon!;

    private Uri Url => web!.Url;

    public async Task InitializeAsync()
    {
        daemon = await Daemon.StartAsync(new DaemonOptions(runDir, TopologyConfig.Default(runDir), NullLoggerFactory.Instance));
        web = await WebServer.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), Sy.SnapshotAsync, NullLoggerFactory.Instance);
    }

    public async Task DisposeAsync()
    {
        http.Dispose();
        await web!.DisposeAsync();
        await Sy.DisposeAsync();
        Directory.Delete(runDir, recursive: true);
    }

    [Fact]
    public async Task Metrics_AfterPeersExchangeFrames_AreStrictlyWellFormedAndCountTheFrames()
    {
        using Socket a = ConnectStream();
        using Socket b = ConnectStream();
        await WaitForPortsAsync(3); // The gateway and two stream peers.
        await StreamWire.SendFrameAsync(a, StreamWire.Frame(0xFFFF_FFFF_FFFF, MacA, 100, etherType: 0x88B5));
        await StreamWire.SendFrameAsync(b, StreamWire.Frame(MacA, MacB, 200, etherType: 0x88B5));
        await StreamWire.SendFrameAsync(b, StreamWire.Frame(MacA, MacB, 300, etherType: 0x88B5));
        await WaitAsync(async () => (await Sy.SnapshotAsync()).Networks[0].Ports.Count(p => p.Macs.Count > 0 && p.Kind == "stream") == 2, "both MACs learned");

        using HttpResponseMessage response = await http.GetAsync(new Uri(Url, "metrics"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        PrometheusText metrics = PrometheusText.Parse(await response.Content.ReadAsStringAsync());

        ControlResponse show = await Sy.HandleAsync(new ShowCommand());
        foreach (PortInfo port in show.Show!.Networks[0].Ports)
        {
            Assert.Equal(port.RxFrames, Value(metrics, "switchyard_port_rx_frames_total", port.Name));
            Assert.Equal(port.TxBytes, Value(metrics, "switchyard_port_tx_bytes_total", port.Name));
            Assert.Equal(Core.Ports.DropReasons.Count, metrics.Named("switchyard_port_drops_total").Count(s => s.Label("port") == port.Name));
            Assert.Equal(port.Kind, Assert.Single(metrics.Named("switchyard_port_info"), s => s.Label("port") == port.Name).Label("kind"));
        }

        PrometheusSample streamB = Assert.Single(metrics.Named("switchyard_port_rx_bytes_total"), s => s.Label("port") == "stream.2");
        Assert.Equal(500, streamB.Value);
        Assert.Equal("stream", streamB.Label("kind"));
        Assert.Equal("default", streamB.Label("network"));
        Assert.Equal(2, Assert.Single(metrics.Named("switchyard_ports"), s => s.Label("kind") == "stream").Value);
        // The gateway's own MAC is learned too once it sends (router advertisements), so two or three.
        Assert.InRange(Assert.Single(metrics.Named("switchyard_fdb_entries")).Value, 2, 3);
        Assert.True(Assert.Single(metrics.Named("switchyard_switch_unicast_forwarded_frames_total")).Value >= 2);
        Assert.True(Assert.Single(metrics.Named("switchyard_switch_flooded_frames_total")).Value >= 1);
        Assert.Equal(["icmp", "tcp", "udp"], metrics.Named("switchyard_gateway_flows").Select(s => s.Label("protocol")).Order(StringComparer.Ordinal));
        Assert.Equal(0, Assert.Single(metrics.Named("switchyard_gateway_leases"), s => s.Label("state") == "active").Value);
        Assert.Contains(metrics.Named("switchyard_gateway_drops_total"), s => s.Label("reason") == "ip_checksum_bad");
        Assert.Contains(metrics.Named("switchyard_gateway_events_total"), s => s.Label("event") == "dhcp_acks");
        Assert.Equal("10.0.2.2", Assert.Single(metrics.Named("switchyard_gateway_info")).Label("router"));
        Assert.True(Assert.Single(metrics.Named("switchyard_uptime_seconds")).Value >= 0);
        double start = Assert.Single(metrics.Named("process_start_time_seconds")).Value;
        Assert.InRange(start, DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
    }

    [Fact]
    public async Task Metrics_VhostUserFrontEnd_ExposesItsStartedQueuesAndFeatures()
    {
        using VhostUserFrontEnd frontEnd = VhostUserFrontEnd.Connect(Path.Combine(runDir, Defaults.VhostUserSocketFileName));
        using var driver = new VirtioNetDriver(frontEnd);
        driver.Start();
        driver.SendFrame(StreamWire.Frame(0xFFFF_FFFF_FFFF, MacV, 60, etherType: 0x88B5));
        await WaitAsync(
            async () => (await Sy.SnapshotAsync()).Networks[0].Ports.Any(p => p.Kind == "vhost-user" && p.RxFrames == 1 && p.Queues is { Count: 2 } q && q.All(r => r.Enabled)),
            "the vhost-user port to start both rings and receive the frame");

        PrometheusText metrics = PrometheusText.Parse(await http.GetStringAsync(new Uri(Url, "metrics")));
        List<PrometheusSample> sizes = [.. metrics.Named("switchyard_vhost_user_queue_size")];
        Assert.Equal(["0/rx", "1/tx"], sizes.Select(s => $"{s.Label("queue")}/{s.Label("direction")}"));
        Assert.All(sizes, s => Assert.Equal(256, s.Value));
        Assert.All(metrics.Named("switchyard_vhost_user_queue_enabled"), s => Assert.Equal(1, s.Value));
        Assert.All(metrics.Named("switchyard_vhost_user_queue_broken"), s => Assert.Equal(0, s.Value));
        Assert.Equal(1, Assert.Single(metrics.Named("switchyard_vhost_user_queue_used_idx"), s => s.Label("direction") == "tx").Value);
        Assert.Equal((double)driver.Features, Assert.Single(metrics.Named("switchyard_vhost_user_features")).Value);
        Assert.Equal(1, Assert.Single(metrics.Named("switchyard_port_rx_frames_total"), s => s.Label("kind") == "vhost-user").Value);
    }

    // A switch or network counter is one enum member (SwitchCounter, NetworkCounter): `show` and /metrics both
    // enumerate the enums, so every counter in `show` has its switchyard_switch_*_total family.
    [Fact]
    public async Task Metrics_EverySwitchAndNetworkCounterInShow_HasItsOwnFamily()
    {
        ControlResponse show = await Sy.HandleAsync(new ShowCommand());
        PrometheusText metrics = PrometheusText.Parse(await http.GetStringAsync(new Uri(Url, "metrics")));
        IReadOnlyDictionary<string, long> counters = show.Show!.Networks[0].Counters;
        Assert.True(counters.Count >= 20, $"only {counters.Count} counters in show");
        foreach (string name in counters.Keys)
        {
            if (name == "fdb_entries")
            {
                continue; // A gauge, with its own family (switchyard_fdb_entries).
            }

            string family = Assert.Single(
                metrics.Types.Keys,
                k => k == $"switchyard_switch_{name}_total" || k == $"switchyard_switch_{name}_frames_total");
            Assert.Equal("counter", metrics.Types[family]);
            Assert.Single(metrics.Named(family)); // One network; its value may have moved since `show`.
        }
    }

    // Every failure branch has its own counter (issue 11): a guest's zero-length TX buffer (QueueError), a TX frame
    // shorter than an Ethernet header (NetTxError) and a SET_VRING_NUM of 3 (a vhost-user protocol violation) each
    // count under their own name, in `show` and in /metrics; rx_bad_descriptor stays their sum for the chains.
    [Fact]
    public async Task RuleCounters_QueueErrorNetTxErrorAndRejection_EachCountUnderItsOwnNameInShowAndMetrics()
    {
        using VhostUserFrontEnd frontEnd = VhostUserFrontEnd.Connect(Path.Combine(runDir, Defaults.VhostUserSocketFileName));
        using var driver = new VirtioNetDriver(frontEnd);
        driver.Start();
        GuestSplitRing tx = driver.TxRing();
        ushort empty = tx.AllocateDescriptor();
        tx.WriteDescriptor(empty, tx.DescriptorTable, 0, 0);
        tx.Post(empty);
        driver.Kick(tx.Index);
        driver.SendFrame(new byte[10]);
        await WaitAsync(
            async () => (await Sy.SnapshotAsync()).Networks[0].Ports.Any(p => p.Kind == "vhost-user" && p.Drops["rx_bad_descriptor"] == 2),
            "both bad chains to be counted");

        ControlResponse show = await Sy.HandleAsync(new ShowCommand());
        PortInfo port = Assert.Single(show.Show!.Networks[0].Ports, p => p.Kind == "vhost-user");
        Assert.Equal(1, port.Rules!["virtqueue"]["zero_length_buffer"]);
        Assert.Equal(1, port.Rules["net_tx"]["frame_too_short"]);
        Assert.Equal(2, port.Drops["rx_bad_descriptor"]);
        Assert.DoesNotContain("descriptor_loop", port.Rules["virtqueue"].Keys); // show lists what happened; zeros are left out.

        PrometheusText metrics = PrometheusText.Parse(await http.GetStringAsync(new Uri(Url, "metrics")));
        List<PrometheusSample> rules = [.. metrics.Named("switchyard_port_rule_violations_total").Where(s => s.Label("port") == port.Name)];
        Assert.Equal(1, Assert.Single(rules, s => s.Label("set") == "virtqueue" && s.Label("rule") == "zero_length_buffer").Value);
        Assert.Equal(1, Assert.Single(rules, s => s.Label("set") == "net_tx" && s.Label("rule") == "frame_too_short").Value);
        Assert.Equal(0, Assert.Single(rules, s => s.Label("set") == "virtqueue" && s.Label("rule") == "descriptor_loop").Value);
        Assert.DoesNotContain(rules, s => s.Label("rule") is "ok" or "none_available" or "none");
        Assert.Equal(19 + 13, rules.Count(s => s.Label("set") is "virtqueue" or "net_tx"));

        // A protocol violation closes the connection; the port goes, and its counts stay with the network.
        byte[] vringNum = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(vringNum.AsSpan(4), 3);
        frontEnd.SendRaw((uint)FrontEndRequest.SetVringNum, VhostUserFrontEnd.Version, 8, vringNum);
        Assert.True(frontEnd.WaitForClose(TimeSpan.FromSeconds(10)), "the back-end closes the connection");
        await WaitAsync(async () => !(await Sy.SnapshotAsync()).Networks[0].Ports.Any(p => p.Kind == "vhost-user"), "the vhost-user port to go");

        NetworkInfo network = (await Sy.HandleAsync(new ShowCommand())).Show!.Networks[0];
        Assert.Equal(1, network.ClosedPortRules!["vhost_user"]["queue_size_invalid"]);
        Assert.Equal(1, network.ClosedPortRules["virtqueue"]["zero_length_buffer"]);
        Assert.Equal(1, network.Counters["ports_closed_by_peer"]);

        metrics = PrometheusText.Parse(await http.GetStringAsync(new Uri(Url, "metrics")));
        List<PrometheusSample> closed = [.. metrics.Named("switchyard_closed_port_rule_violations_total")];
        Assert.Equal(1, Assert.Single(closed, s => s.Label("set") == "vhost_user" && s.Label("rule") == "queue_size_invalid").Value);
        Assert.Equal(0, Assert.Single(closed, s => s.Label("set") == "vhost_user" && s.Label("rule") == "version_unsupported").Value);
        Assert.Equal(1, Assert.Single(closed, s => s.Label("set") == "net_tx" && s.Label("rule") == "frame_too_short").Value);
    }

    [Fact]
    public async Task ApiState_ShowsPortsWithTheirLearnedMacsAndTheGateway()
    {
        using Socket a = ConnectStream();
        await WaitForPortsAsync(2);
        await StreamWire.SendFrameAsync(a, StreamWire.Frame(0xFFFF_FFFF_FFFF, MacA, 80, etherType: 0x88B5));
        await WaitAsync(async () => (await Sy.SnapshotAsync()).Networks[0].Ports.Any(p => p.Macs.Contains(Ethernet.FormatMac(MacA))), "the MAC learned");

        using HttpResponseMessage response = await http.GetAsync(new Uri(Url, "api/state"));
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        using JsonDocument doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        JsonElement network = Assert.Single(doc.RootElement.GetProperty("networks").EnumerateArray().ToList());
        Assert.Equal("default", network.GetProperty("name").GetString());
        JsonElement[] ports = [.. network.GetProperty("ports").EnumerateArray()];
        JsonElement stream = Assert.Single(ports, p => p.GetProperty("kind").GetString() == "stream");
        Assert.Equal("stream.1", stream.GetProperty("name").GetString());
        Assert.Equal(Ethernet.FormatMac(MacA), Assert.Single(stream.GetProperty("macs").EnumerateArray().ToList()).GetString());
        Assert.Equal(1, stream.GetProperty("rxFrames").GetInt64());
        JsonElement gatewayPort = Assert.Single(ports, p => p.GetProperty("kind").GetString() == "gateway");
        Assert.Contains("10.0.2.2", gatewayPort.GetProperty("addresses").EnumerateArray().Select(x => x.GetString()));
        JsonElement gateway = network.GetProperty("gateway");
        Assert.Equal("10.0.2.3", gateway.GetProperty("dns").GetString());
        Assert.Equal("10.0.2.15", gateway.GetProperty("dhcpStart").GetString());
        Assert.Equal(0, gateway.GetProperty("leases").GetArrayLength());
        Assert.True(doc.RootElement.GetProperty("uptimeSeconds").GetDouble() >= 0);
        Assert.Equal(runDir, doc.RootElement.GetProperty("runDirectory").GetString());
    }

    [Fact]
    public async Task ApiState_PortThatDisconnects_IsGoneFromTheNextAnswer()
    {
        Socket a = ConnectStream();
        await WaitForPortsAsync(2);
        Assert.Contains("stream.1", await http.GetStringAsync(new Uri(Url, "api/state")), StringComparison.Ordinal);

        a.Dispose();
        await WaitForPortsAsync(1);
        Assert.DoesNotContain("stream.1", await http.GetStringAsync(new Uri(Url, "api/state")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PortSetLinkDown_ShowsInMetricsAndState_AndUpAgain()
    {
        using Socket a = ConnectStream();
        await WaitForPortsAsync(2);
        ControlResponse down = await Sy.HandleAsync(new PortSetCommand("default", "stream.1", Link: "down"));
        Assert.True(down.Ok, down.Error);

        PrometheusText metrics = PrometheusText.Parse(await http.GetStringAsync(new Uri(Url, "metrics")));
        Assert.Equal(0, Value(metrics, "switchyard_port_link_up", "stream.1"));
        Assert.Equal(1, Value(metrics, "switchyard_port_link_up", "gateway"));
        using (JsonDocument state = JsonDocument.Parse(await http.GetStringAsync(new Uri(Url, "api/state"))))
        {
            JsonElement port = state.RootElement.GetProperty("networks")[0].GetProperty("ports").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "stream.1");
            Assert.False(port.GetProperty("linkUp").GetBoolean());
        }

        Assert.True((await Sy.HandleAsync(new PortSetCommand("default", "stream.1", Link: "up"))).Ok);
        metrics = PrometheusText.Parse(await http.GetStringAsync(new Uri(Url, "metrics")));
        Assert.Equal(1, Value(metrics, "switchyard_port_link_up", "stream.1"));
    }

    [Fact]
    public async Task Page_IsSelfContained_WithItsScriptAndStyleFromTheSameListener()
    {
        using HttpResponseMessage page = await http.GetAsync(Url);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        string html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<script src=\"app.js\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org/2000/svg", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        string csp = string.Join(';', page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", csp, StringComparison.Ordinal);

        string script = await http.GetStringAsync(new Uri(Url, "app.js"));
        Assert.Contains("api/state", script, StringComparison.Ordinal);
        Assert.DoesNotContain("innerHTML", script, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", script, StringComparison.Ordinal);
        Assert.Contains(".network", await http.GetStringAsync(new Uri(Url, "app.css")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_ForANonLoopbackHost_IsRefused_SoDnsRebindingCannotReadIt()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Url, "api/state"));
        request.Headers.Host = "attacker.example";
        using HttpResponseMessage response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.MisdirectedRequest, response.StatusCode);

        using var local = new HttpRequestMessage(HttpMethod.Get, new Uri(Url, "api/state"));
        local.Headers.Host = $"localhost:{Url.Port}";
        using HttpResponseMessage ok = await http.SendAsync(local);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task Post_IsRefused_TheListenerIsReadOnly()
    {
        using var body = new StringContent("{}", new MediaTypeHeaderValue("application/json"));
        using HttpResponseMessage response = await http.PostAsync(new Uri(Url, "api/state"), body);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
    }

    [Fact]
    public async Task Start_OnAPortInUse_FailsWithAnIOExceptionNamingTheAddress()
    {
        var endpoint = new IPEndPoint(IPAddress.Loopback, Url.Port);
        IOException ex = await Assert.ThrowsAsync<IOException>(() => WebServer.StartAsync(endpoint, Sy.SnapshotAsync, NullLoggerFactory.Instance));
        Assert.Contains($"127.0.0.1:{Url.Port}", ex.Message, StringComparison.Ordinal);
    }

    private static double Value(PrometheusText metrics, string name, string port) =>
        Assert.Single(metrics.Named(name), s => s.Label("port") == port).Value;

    private Socket ConnectStream()
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(Path.Combine(runDir, Defaults.StreamSocketFileName)));
        return s;
    }

    private async Task WaitForPortsAsync(int count) =>
        await WaitAsync(async () => (await Sy.SnapshotAsync()).Networks[0].Ports.Count == count, $"{count} ports");

    private static async Task WaitAsync(Func<Task<bool>> condition, string what)
    {
        for (int i = 0; i < 500; i++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(20);
        }

        Assert.Fail($"timed out waiting for {what}");
    }
}
