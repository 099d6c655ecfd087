// Every example in docs/metrics.md and docs/web.md, run: the documented metric families are exactly
// the ones served, the sample output is valid exposition text with the real label sets, the scrape
// config points at what the listener serves, and the commands and the topology snippet parse to
// what the pages say. (The E2E WebViewTests check the `up` banner line and the screenshot's page.)
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Cli;
using Switchyard.Core.Config;
using Switchyard.Engine;
using Switchyard.Engine.Config;
using Switchyard.TestKit.Qemu;
using Switchyard.TestKit.VhostUser;
using YamlDotNet.RepresentationModel;

namespace Switchyard.Web.Tests;

public sealed partial class DocsTests : IAsyncLifetime
{
    private readonly string runDir = Directory.CreateTempSubdirectory("sy-webdoc-").FullName;
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(20) };
    private Daemon? daemon;
    private WebServer? web;

    public async Task InitializeAsync()
    {
        daemon = await Daemon.StartAsync(new DaemonOptions(runDir, TopologyConfig.Default(runDir), NullLoggerFactory.Instance));
        web = await WebServer.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), daemon.SnapshotAsync, NullLoggerFactory.Instance);
    }

    public async Task DisposeAsync()
    {
        http.Dispose();
        await web!.DisposeAsync();
        await daemon!.DisposeAsync();
        Directory.Delete(runDir, recursive: true);
    }

    [Fact]
    public async Task MetricsDoc_Table_ListsExactlyTheFamiliesServed()
    {
        PrometheusText served = await ScrapeWithVhostUserGuestAsync();
        string doc = Doc("metrics.md");
        var documented = TableRow().Matches(doc).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(served.Types.Keys.Order(StringComparer.Ordinal), documented.Order(StringComparer.Ordinal));
        foreach (Match row in TableRow().Matches(doc))
        {
            string name = row.Groups[1].Value;
            Assert.Equal(served.Types[name], row.Groups[2].Value);
            var labels = row.Groups[3].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal);
            foreach (PrometheusSample s in served.Named(name))
            {
                Assert.Equal(labels, s.Labels.Keys.Order(StringComparer.Ordinal));
            }
        }
    }

    [Fact]
    public async Task MetricsDoc_DropReasonsInTheTable_AreEveryReasonServed()
    {
        PrometheusText served = await ScrapeWithVhostUserGuestAsync();
        Match row = Assert.Single(TableRow().Matches(Doc("metrics.md")), m => m.Groups[1].Value == "switchyard_port_drops_total");
        var documented = DropReasonList().Matches(row.Value).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        string port = served.Named("switchyard_port_drops_total").First().Label("port");
        Assert.Equal(
            served.Named("switchyard_port_drops_total").Where(s => s.Label("port") == port).Select(s => s.Label("reason")).Order(StringComparer.Ordinal),
            documented.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task MetricsDoc_SampleOutput_IsValidAndUsesTheServedLabelSets()
    {
        PrometheusText served = await ScrapeWithVhostUserGuestAsync();
        string sample = Blocks(Doc("metrics.md"), string.Empty).First(b => b.StartsWith("# HELP", StringComparison.Ordinal));
        PrometheusText documented = PrometheusText.Parse(sample);
        Assert.NotEmpty(documented.Samples);
        foreach (PrometheusSample s in documented.Samples)
        {
            Assert.Equal(served.Help[s.Name], documented.Help[s.Name]);
            PrometheusSample live = Assert.Single(served.Named(s.Name), l => l.Label("port") == s.Label("port") && l.Label("reason") == s.Label("reason"));
            Assert.Equal(live.Labels.Keys.Order(StringComparer.Ordinal), s.Labels.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(live.Label("kind"), s.Label("kind"));
        }
    }

    [Fact]
    public async Task MetricsDoc_ScrapeConfig_TargetsWhatTheListenerServes()
    {
        string yaml = Assert.Single(Blocks(Doc("metrics.md"), "yaml"));
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var job = (YamlMappingNode)((YamlSequenceNode)((YamlMappingNode)stream.Documents[0].RootNode)["scrape_configs"]).Children[0];
        Assert.Equal("switchyard", job["job_name"].ToString());
        Assert.False(job.Children.ContainsKey("metrics_path")); // Prometheus's default, /metrics.
        string target = ((YamlSequenceNode)((YamlMappingNode)((YamlSequenceNode)job["static_configs"]).Children[0])["targets"]).Children[0].ToString();
        Assert.True(HttpListen.TryParse(target, out IPEndPoint? endpoint, out string? error), error);
        Assert.Null(HttpListen.Check(endpoint!, allowRemote: false));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9100), endpoint);

        // The scrape Prometheus makes, against the live listener (its port instead of 9100).
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(web!.Url, "/metrics"));
        request.Headers.TryAddWithoutValidation("Accept", "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2");
        using HttpResponseMessage response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("0.0.4", response.Content.Headers.ContentType?.Parameters.Single(p => p.Name == "version").Value);
        PrometheusText.Parse(await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task MetricsDoc_CommandsAndQueries_NameWhatExists()
    {
        string shell = Assert.Single(Blocks(Doc("metrics.md"), "sh"));
        string[] lines = shell.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("./switchyard up --http 127.0.0.1:9100", lines[0]);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9100), Program.HttpEndpoint("127.0.0.1:9100", allowRemote: false, TopologyConfig.Default(runDir)));
        Assert.Equal("curl -s http://127.0.0.1:9100/metrics | grep switchyard_port_rx_bytes_total", lines[1]);
        string text = await http.GetStringAsync(new Uri(web!.Url, "/metrics"));
        Assert.Contains(text.Split('\n'), l => l.StartsWith("switchyard_port_rx_bytes_total{", StringComparison.Ordinal));

        PrometheusText served = PrometheusText.Parse(text);
        string queries = Blocks(Doc("metrics.md"), string.Empty).Single(b => b.StartsWith("rate(", StringComparison.Ordinal));
        foreach (Match m in MetricReference().Matches(queries))
        {
            Assert.True(served.Types.ContainsKey(m.Value), $"{m.Value} in a documented query is not served");
            Assert.Equal("counter", served.Types[m.Value]); // rate() wants counters.
        }
    }

    [Fact]
    public void WebDoc_TopologySnippet_LoadsWithItsHttpAddress()
    {
        TopologyConfig topology = TopologyLoader.Load(Assert.Single(Blocks(Doc("web.md"), "yaml")));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 8080), topology.Http);
        Assert.Equal("lab", Assert.Single(topology.Networks).Name);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 8080), Program.HttpEndpoint(null, allowRemote: false, topology));
    }

    [Fact]
    public void WebDoc_Commands_ParseAsThePageSays()
    {
        List<string> commands = [.. Blocks(Doc("web.md"), "sh")];
        Assert.Equal("./switchyard up --http 127.0.0.1:8080", commands[0].Trim());
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 8080), Program.HttpEndpoint("127.0.0.1:8080", allowRemote: false, TopologyConfig.Default(runDir)));

        Assert.Equal("./switchyard up --http 0.0.0.0:8080 --http-allow-remote", commands[1].Trim());
        Assert.Throws<ConfigException>(() => Program.HttpEndpoint("0.0.0.0:8080", allowRemote: false, TopologyConfig.Default(runDir)));
        Assert.Equal(new IPEndPoint(IPAddress.Any, 8080), Program.HttpEndpoint("0.0.0.0:8080", allowRemote: true, TopologyConfig.Default(runDir)));
    }

    [Fact]
    public async Task WebDoc_ApiState_HasWhatThePageDescribes()
    {
        string state = await http.GetStringAsync(new Uri(web!.Url, "/api/state"));
        foreach (string key in (string[])["\"networks\"", "\"ports\"", "\"macs\"", "\"addresses\"", "\"gateway\"", "\"leases\"", "\"forwards\"", "\"flows\""])
        {
            Assert.Contains(key, state, StringComparison.Ordinal);
        }
    }

    internal static string Doc(string name)
    {
        string root = GuestImage.FindRepositoryRoot(AppContext.BaseDirectory) ?? throw new InvalidOperationException("no repository root");
        return File.ReadAllText(Path.Combine(root, "docs", name));
    }

    /// <summary>The fenced code blocks of <paramref name="markdown"/> whose info string is <paramref name="language"/>.</summary>
    internal static IEnumerable<string> Blocks(string markdown, string language) =>
        FencedBlock().Matches(markdown).Where(m => m.Groups[1].Value == language).Select(m => m.Groups[2].Value);

    // A scrape with a stream peer and a vhost-user front-end attached, so every family has samples
    // (the queue ones too) and the documented sample's ports exist.
    private async Task<PrometheusText> ScrapeWithVhostUserGuestAsync()
    {
        using var stream = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        stream.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(Path.Combine(runDir, Defaults.StreamSocketFileName)));
        using VhostUserFrontEnd frontEnd = VhostUserFrontEnd.Connect(Path.Combine(runDir, Defaults.VhostUserSocketFileName));
        using var driver = new VirtioNetDriver(frontEnd);
        driver.Start();
        for (int i = 0; i < 500; i++)
        {
            Engine.Metrics.NetworkSnapshot network = (await daemon!.SnapshotAsync()).Networks[0];
            if (network.Ports.Any(p => p.Queues is { Count: > 0 }) && network.Ports.Any(p => p.Kind == "stream"))
            {
                break;
            }

            await Task.Delay(20);
        }

        PrometheusText served = PrometheusText.Parse(await http.GetStringAsync(new Uri(web!.Url, "/metrics")));
        Assert.NotEmpty(served.Named("switchyard_vhost_user_queue_size"));
        return served;
    }

    [GeneratedRegex(@"^\| `([a-z_:]+)` \| (counter|gauge) \|([a-z0-9_, ]*)\|[^\n]*$", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    [GeneratedRegex(@"`((?:rx|tx|vhost)_[a-z_]+|call_signal_failed)`")]
    private static partial Regex DropReasonList();

    [GeneratedRegex(@"\b(?:switchyard|process)_[a-z_]+\b")]
    private static partial Regex MetricReference();

    [GeneratedRegex(@"^```([a-z]*)\n(.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex FencedBlock();
}
