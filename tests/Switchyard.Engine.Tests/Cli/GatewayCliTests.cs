// The gateway verbs of the switchyard CLI, run in-process (Program.RunAsync with captured writers):
// help, the --json shapes, tables, friendly errors, and the `up` flags that shape the topology.
// One class, so the CLI's shared option objects are never used by two tests at once.
using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Cli;
using Switchyard.Core.Config;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Ports.VhostUser;
using Switchyard.UserNet;

namespace Switchyard.Engine.Tests.Cli;

public sealed class GatewayCliTests : IAsyncLifetime
{
    private readonly string runDir = Directory.CreateTempSubdirectory("sy-cli-").FullName;
    private Daemon? daemon;

    public async Task InitializeAsync()
    {
        TopologyConfig topology = TopologyConfig.Default(runDir);
        topology = new TopologyConfig(topology.Networks.Add(new NetworkConfig("lab", [])));
        daemon = await Daemon.StartAsync(new DaemonOptions(runDir, topology, NullLoggerFactory.Instance));
    }

    public async Task DisposeAsync()
    {
        await daemon!.DisposeAsync();
        Directory.Delete(runDir, recursive: true);
    }

    [Theory]
    [InlineData("leases")]
    [InlineData("flows")]
    [InlineData("forward", "add")]
    [InlineData("forward", "del")]
    [InlineData("forward", "list")]
    public async Task NewVerb_Help_ShowsUsageAndJson(params string[] verb)
    {
        (int code, string output, _) = await Run([.. verb, "--help"]);

        Assert.Equal(0, code);
        Assert.Contains("Usage:", output, StringComparison.Ordinal);
        Assert.Contains("--json", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forward_Help_ListsItsVerbs()
    {
        (int code, string output, _) = await Run("forward", "--help");

        Assert.Equal(0, code);
        Assert.Contains("add <network> <rule>", output, StringComparison.Ordinal);
        Assert.Contains("del <network> <rule>", output, StringComparison.Ordinal);
        Assert.Contains("list", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Up_Help_ShowsGatewayFlags()
    {
        (int code, string output, _) = await Run("up", "--help");

        Assert.Equal(0, code);
        Assert.Contains("--gateway <SPEC>", output, StringComparison.Ordinal);
        Assert.Contains("--no-gateway", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Leases_Json_OkWithEmptyList()
    {
        using JsonDocument doc = await Json("leases");

        Assert.True(doc.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal(0, doc.RootElement.GetProperty("leases").GetArrayLength());
    }

    [Fact]
    public async Task Flows_Json_OkWithEmptyList()
    {
        using JsonDocument doc = await Json("flows", "default");

        Assert.Equal(0, doc.RootElement.GetProperty("flows").GetArrayLength());
    }

    [Fact]
    public async Task ForwardList_Json_OkWithEmptyList()
    {
        using JsonDocument doc = await Json("forward", "list");

        Assert.Equal(0, doc.RootElement.GetProperty("forwards").GetArrayLength());
    }

    [Fact]
    public async Task Show_Json_GatewayObjectShape()
    {
        using JsonDocument doc = await Json("show");

        JsonElement gateway = doc.RootElement.GetProperty("show").GetProperty("networks")[0].GetProperty("gateway");
        foreach (string key in new[] { "network", "host", "dns", "dhcpStart", "ipv6", "network6", "host6", "dns6", "mtu", "restrict", "forwards", "drops", "events" })
        {
            Assert.True(gateway.TryGetProperty(key, out _), $"show.networks[0].gateway has no '{key}': {gateway}");
        }
    }

    [Fact]
    public async Task Leases_Json_NetworkWithoutGateway_OkFalseAndExitCode1()
    {
        (int code, string output, _) = await Run("leases", "lab", "--json");

        Assert.Equal(1, code);
        using JsonDocument doc = JsonDocument.Parse(output);
        Assert.False(doc.RootElement.GetProperty("ok").GetBoolean());
        Assert.Contains("network lab has no gateway", doc.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForwardList_Table_HeaderAndHint()
    {
        (int code, string output, _) = await Run("forward", "list");

        Assert.Equal(0, code);
        Assert.StartsWith("NETWORK  PROTO  HOST  GUEST  RULE\n", output, StringComparison.Ordinal);
        Assert.Contains("no forwards", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Leases_Table_HeaderAndNote()
    {
        (int code, string output, _) = await Run("leases");

        Assert.Equal(0, code);
        Assert.StartsWith("NETWORK  MAC  ADDRESS  HOSTNAME  EXPIRES IN  STATE\n", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForwardAdd_BadRule_ErrorOnStderrExit1()
    {
        (int code, _, string error) = await Run("forward", "add", "default", "tcp::2222-192.168.9.9:22");

        Assert.Equal(1, code);
        Assert.StartsWith("switchyard: error: forward tcp::2222-192.168.9.9:22: guest address 192.168.9.9", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--network")]
    [InlineData("-n")]
    public async Task ForwardAdd_DeprecatedNetworkOption_StillWorks_AndSaysSoOnStderr(string option)
    {
        (int code, _, string error) = await Run("forward", "add", option, "default", "tcp::2222-192.168.9.9:22");

        Assert.Equal(1, code);
        string[] lines = error.ReplaceLineEndings("\n").Split('\n');
        Assert.Equal("switchyard: warning: -n/--network is deprecated; give the network first: switchyard forward add NETWORK RULE", lines[0]);
        Assert.StartsWith("switchyard: error: forward tcp::2222-192.168.9.9:22: guest address 192.168.9.9", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForwardList_NetworkTwice_Differently_IsAUsageError()
    {
        (int code, _, string error) = await Run("forward", "list", "lab", "-n", "default");

        Assert.Equal(2, code);
        Assert.Contains("two networks given (lab and --network default)", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fdb_NetworkFirst_AndTheDeprecatedOption_BothAnswer()
    {
        (int code, string positional, string none) = await Run("fdb", "default", "--json");
        (int oldCode, string old, string warning) = await Run("fdb", "-n", "default", "--json");

        Assert.Equal((0, 0), (code, oldCode));
        Assert.StartsWith("{\"ok\":true", positional, StringComparison.Ordinal);
        Assert.StartsWith("{\"ok\":true", old, StringComparison.Ordinal);
        Assert.Empty(none);
        Assert.Contains("deprecated", warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForwardDel_Json_ErrorShape()
    {
        (int code, string output, _) = await Run("forward", "del", "tcp:2222", "--json");

        Assert.Equal(1, code);
        Assert.Contains("\"ok\":false", output, StringComparison.Ordinal);
        Assert.Contains("no forward for tcp host port 2222", output, StringComparison.Ordinal);
    }

    // Needs host sockets (the merged implementation).
    [Fact]
    public async Task ForwardAdd_ThenList_ShowsTheRuleThenDelRemovesIt()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        int port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        string rule = $"tcp:127.0.0.1:{port}-:22";

        (int added, _, string addError) = await Run("forward", "add", rule);
        Assert.True(added == 0, addError);
        (_, string list, _) = await Run("forward", "list");
        Assert.Contains($"127.0.0.1:{port}", list, StringComparison.Ordinal);
        Assert.Contains("10.0.2.15:22", list, StringComparison.Ordinal);
        (int removed, _, string delError) = await Run("forward", "del", $"tcp:{port}");
        Assert.True(removed == 0, delError);
    }

    [Fact]
    public async Task Verb_NoDaemon_FriendlyErrorExit1()
    {
        string empty = Directory.CreateTempSubdirectory("sy-cli-none-").FullName;
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int code = await Program.RunAsync(["leases", "--run-dir", empty], new InvocationConfiguration { Output = output, Error = error });

            Assert.Equal(1, code);
            Assert.Contains("no switchyard daemon answers", error.ToString(), StringComparison.Ordinal);
            Assert.Contains("start one with 'switchyard up'", error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    // ---- `up` flags ----

    [Fact]
    public void BuildTopology_NoFlags_DefaultNetworkHasDefaultGateway()
    {
        Assert.Equal(GatewayOptions.Default, Program.BuildTopology("/tmp/sy", null, null, noGateway: false).Networks[0].Gateway);
    }

    [Fact]
    public void BuildTopology_GatewaySpec_AppliedToDefaultNetwork()
    {
        TopologyConfig t = Program.BuildTopology("/tmp/sy", null, "user,net=10.0.5.0/24", noGateway: false);

        Assert.Equal("10.0.5.2", t.Networks[0].Gateway!.Host.ToString());
    }

    [Fact]
    public void BuildTopology_VhostUserMemoryTrusted_AppliedToTheDefaultVhostUserPort()
    {
        TopologyConfig t = Program.BuildTopology("/tmp/sy", null, null, noGateway: false, Switchyard.Native.MemoryFilePolicy.Trusted);

        var spec = Assert.IsType<VhostUserSpec>(Assert.Single(t.Networks[0].Ports, p => p.Netdev is VhostUserSpec).Netdev);
        Assert.Equal(Switchyard.Native.MemoryFilePolicy.Trusted, spec.Memory);
    }

    [Fact]
    public void BuildTopology_VhostUserMemoryWithConfig_PointsAtTheNetdevOption()
    {
        var e = Assert.Throws<ConfigException>(() => Program.BuildTopology("/tmp/sy", "/tmp/t.yaml", null, noGateway: false, Switchyard.Native.MemoryFilePolicy.Trusted));

        Assert.Contains("memory=trusted", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BuildTopology_NoGateway_DefaultNetworkHasNone()
    {
        Assert.Null(Program.BuildTopology("/tmp/sy", null, null, noGateway: true).Networks[0].Gateway);
    }

    [Fact]
    public void BuildTopology_BothFlags_Rejected()
    {
        Assert.Contains("not both", Assert.Throws<ConfigException>(() => Program.BuildTopology("/tmp/sy", null, "user", noGateway: true)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BuildTopology_FlagWithConfigFile_Rejected()
    {
        var ex = Assert.Throws<ConfigException>(() => Program.BuildTopology("/tmp/sy", "/tmp/t.yaml", "user", noGateway: false));

        Assert.Contains("set `gateway:` on the network in the file", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BuildTopology_BadSpec_EveryErrorPrefixed()
    {
        var ex = Assert.Throws<ConfigException>(() => Program.BuildTopology("/tmp/sy", null, "mtu=1,bogus=2", noGateway: false));

        Assert.Equal(2, ex.Errors.Count);
        Assert.All(ex.Errors, e => Assert.StartsWith("--gateway: ", e, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Up_BadGatewaySpec_Exit2WithErrors()
    {
        (int code, _, string error) = await Run("up", "--gateway", "user,mtu=1");

        Assert.Equal(2, code);
        Assert.Contains("switchyard: error: --gateway: mtu 1 is out of range", error, StringComparison.Ordinal);
    }

    // ---- `forward del` argument forms ----

    [Theory]
    [InlineData("tcp:2222", null, "tcp", 2222)]
    [InlineData("udp:5353", null, "udp", 5353)]
    [InlineData("2222", null, "tcp", 2222)]
    [InlineData("tcp:127.0.0.1:2222-:22", "tcp:127.0.0.1:2222-:22", null, null)]
    [InlineData("tcp:127.0.0.1:2222", "tcp:127.0.0.1:2222-:1", null, null)]
    public void ForwardDelRequest_ArgumentForms(string text, string? rule, string? protocol, int? port)
    {
        ForwardDelCommand r = Program.ForwardDelRequest("default", text);

        Assert.Equal("forward-del", r.Command);
        Assert.Equal(rule, r.Rule);
        Assert.Equal(protocol, r.Protocol);
        Assert.Equal(port, r.HostPort);
    }

    private async Task<JsonDocument> Json(params string[] args)
    {
        (int code, string output, string error) = await Run([.. args, "--json"]);
        Assert.True(code == 0, error + output);
        return JsonDocument.Parse(output);
    }

    private async Task<(int Code, string Output, string Error)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await Program.RunAsync([.. args, "--run-dir", runDir], new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }
}
