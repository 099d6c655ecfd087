// Where the HTTP listener may listen: the address syntax, the loopback rule (no authentication, so
// nothing else without --http-allow-remote), `http:` in a topology file, and how `up` combines them.
using System.Net;
using Switchyard.Cli;
using Switchyard.Core.Config;
using Switchyard.Engine.Config;

namespace Switchyard.Web.Tests;

public sealed class HttpListenTests
{
    [Theory]
    [InlineData("127.0.0.1:9100", "127.0.0.1", 9100)]
    [InlineData("[::1]:9100", "::1", 9100)]
    [InlineData("localhost:0", "127.0.0.1", 0)]
    [InlineData("0.0.0.0:80", "0.0.0.0", 80)]
    [InlineData(" 127.0.0.2:65535 ", "127.0.0.2", 65535)]
    public void Parse_HostAndPort_GivesTheEndpoint(string text, string address, int port)
    {
        Assert.True(HttpListen.TryParse(text, out IPEndPoint? endpoint, out string? error), error);
        Assert.Equal(new IPEndPoint(IPAddress.Parse(address), port), endpoint);
    }

    [Theory]
    [InlineData("127.0.0.1", "not an HTTP listen address")]
    [InlineData("9100", "not an HTTP listen address")]
    [InlineData(":9100", "not an HTTP listen address")]
    [InlineData("127.0.0.1:", "not an HTTP listen address")]
    [InlineData("127.0.0.1:70000", "not a port number")]
    [InlineData("127.0.0.1:-1", "not a port number")]
    [InlineData("example.com:80", "names are not resolved")]
    [InlineData("::1:9100", "not an IP address")]
    [InlineData("[127.0.0.1]:9100", "not an IP address")]
    public void Parse_Malformed_SaysWhatToWrite(string text, string why)
    {
        Assert.False(HttpListen.TryParse(text, out _, out string? error));
        Assert.Contains(why, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:9100")]
    [InlineData("127.8.9.10:9100")]
    [InlineData("[::1]:9100")]
    public void Check_Loopback_IsAllowed(string text)
    {
        Assert.True(HttpListen.TryParse(text, out IPEndPoint? endpoint, out _));
        Assert.Null(HttpListen.Check(endpoint!, allowRemote: false));
    }

    [Theory]
    [InlineData("0.0.0.0:9100")]
    [InlineData("192.168.1.10:9100")]
    [InlineData("[::]:9100")]
    public void Check_NonLoopback_IsRefusedUnlessAllowed_BecauseThereIsNoAuthentication(string text)
    {
        Assert.True(HttpListen.TryParse(text, out IPEndPoint? endpoint, out _));
        string? refused = HttpListen.Check(endpoint!, allowRemote: false);
        Assert.NotNull(refused);
        Assert.Contains("no authentication", refused, StringComparison.Ordinal);
        Assert.Contains("--http-allow-remote", refused, StringComparison.Ordinal);
        Assert.Null(HttpListen.Check(endpoint!, allowRemote: true));
    }

    [Fact]
    public void Topology_HttpKey_IsReadAsTheListenAddress()
    {
        TopologyConfig topology = TopologyLoader.Load("""
            http: 127.0.0.1:9100
            networks:
              - name: lab
            """);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9100), topology.Http);
    }

    [Fact]
    public void Topology_WithoutHttpKey_ServesNoHttp()
    {
        Assert.Null(TopologyLoader.Load("networks:\n  - name: lab\n").Http);
    }

    [Fact]
    public void Topology_MalformedHttp_IsAnErrorWithItsLine()
    {
        ConfigException ex = Assert.Throws<ConfigException>(() => TopologyLoader.Load("networks:\n  - name: lab\nhttp: nowhere\n"));
        Assert.Equal("line 3: http: 'nowhere' is not an HTTP listen address; expected " + HttpListen.Syntax, Assert.Single(ex.Errors));
    }

    [Fact]
    public void Topology_UnknownTopLevelKey_IsStillAnError()
    {
        ConfigException ex = Assert.Throws<ConfigException>(() => TopologyLoader.Load("htp: 127.0.0.1:9100\nnetworks:\n  - name: lab\n"));
        Assert.Contains("unknown key 'htp' (did you mean 'http'?", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Up_FlagOverridesTheFile()
    {
        TopologyConfig topology = TopologyLoader.Load("http: 127.0.0.1:9100\nnetworks:\n  - name: lab\n");
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9200), Program.HttpEndpoint("127.0.0.1:9200", allowRemote: false, topology));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9100), Program.HttpEndpoint(null, allowRemote: false, topology));
    }

    [Fact]
    public void Up_WithoutHttp_ServesNothing()
    {
        Assert.Null(Program.HttpEndpoint(null, allowRemote: false, TopologyConfig.Default("/tmp/sy")));
    }

    [Fact]
    public void Up_RemoteAddressInTheFile_IsRefusedWithoutTheFlag()
    {
        TopologyConfig topology = TopologyLoader.Load("http: 0.0.0.0:9100\nnetworks:\n  - name: lab\n");
        ConfigException ex = Assert.Throws<ConfigException>(() => Program.HttpEndpoint(null, allowRemote: false, topology));
        Assert.Contains("refusing to serve HTTP on 0.0.0.0:9100", ex.Message, StringComparison.Ordinal);
        Assert.Equal(new IPEndPoint(IPAddress.Any, 9100), Program.HttpEndpoint(null, allowRemote: true, topology));
    }

    [Fact]
    public void Up_AllowRemoteWithoutHttp_IsAnError()
    {
        ConfigException ex = Assert.Throws<ConfigException>(() => Program.HttpEndpoint(null, allowRemote: true, TopologyConfig.Default("/tmp/sy")));
        Assert.Contains("needs --http", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpVerb_NonLoopbackHttp_ExitsWithUsageErrorBeforeStarting()
    {
        string runDir = Directory.CreateTempSubdirectory("sy-web-cli-").FullName;
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int code = await Program.RunAsync(
                ["up", "--run-dir", runDir, "--http", "0.0.0.0:9100"],
                new System.CommandLine.InvocationConfiguration { Output = output, Error = error });
            Assert.Equal(2, code);
            Assert.Contains("switchyard: error: refusing to serve HTTP on 0.0.0.0:9100", error.ToString(), StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(runDir, Defaults.ControlSocketFileName)));
        }
        finally
        {
            Directory.Delete(runDir, recursive: true);
        }
    }
}
