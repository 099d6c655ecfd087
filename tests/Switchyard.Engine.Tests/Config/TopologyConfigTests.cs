// Topology rules shared by the YAML file, the CLI and the API: names, ranges, listener conflicts.
using System.Collections.Immutable;
using Switchyard.Core.Config;
using Switchyard.Engine.Config;
using Switchyard.Ports;
using Switchyard.Ports.Stream;
using Switchyard.Ports.VhostUser;

namespace Switchyard.Engine.Tests.Config;

public sealed class TopologyConfigTests
{
    [Fact]
    public void Default_RunDirectory_GivesStreamAndVhostUserListeners()
    {
        TopologyConfig topology = TopologyConfig.Default("/run/sy");

        NetworkConfig network = Assert.Single(topology.Networks);
        Assert.Equal("default", network.Name);
        Assert.False(network.Hub);
        Assert.Equal(Defaults.MacAgeing, network.MacAgeing);
        Assert.Equal(Defaults.MaxMacs, network.MaxMacs);
        Assert.Equal(2, network.Ports.Length);
        PortConfig port = network.Ports[0];
        Assert.Equal("stream", port.Name);
        Assert.Equal("stream,addr.type=unix,addr.path=/run/sy/stream.sock,server=on", port.Netdev.ToString());
        Assert.Equal(VlanConfig.Default, port.Vlan);
        PortConfig vhost = network.Ports[1];
        Assert.Equal("vhost-user", vhost.Name);
        Assert.Equal(new VhostUserSpec("/run/sy/vhost-user.sock", server: true, queues: Defaults.MaxVhostUserQueues), vhost.Netdev);
    }

    [Fact]
    public void Equals_SameContentDifferentArrays_Equal()
    {
        Assert.Equal(TopologyConfig.Default("/run/sy"), TopologyConfig.Default("/run/sy"));
        Assert.Equal(TopologyConfig.Default("/run/sy").GetHashCode(), TopologyConfig.Default("/run/sy").GetHashCode());
        Assert.NotEqual(TopologyConfig.Default("/run/sy"), TopologyConfig.Default("/run/other"));
    }

    [Fact]
    public void Constructor_NoNetworks_Rejected()
    {
        var ex = Assert.Throws<ConfigException>(() => new TopologyConfig([]));

        Assert.Equal("networks: at least one network is required", Assert.Single(ex.Errors));
    }

    [Fact]
    public void Constructor_DuplicateNetworkNames_Rejected()
    {
        var ex = Assert.Throws<ConfigException>(() => new TopologyConfig([Network("lab"), Network("lab")]));

        Assert.Equal(
            "networks[1].name: duplicate network name 'lab' (also used by networks[0].name; network names must be unique within the topology)",
            Assert.Single(ex.Errors));
    }

    [Fact]
    public void Constructor_DuplicatePortNamesInOneNetwork_Rejected()
    {
        var ex = Assert.Throws<ConfigException>(() => new TopologyConfig([Network("lab", Port("g1", "/tmp/a"), Port("g1", "/tmp/b"))]));

        Assert.Contains("networks[0].ports[1].name: duplicate port name 'g1'", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_SamePortNameInTwoNetworks_Allowed()
    {
        _ = new TopologyConfig([Network("a", Port("g1", "/tmp/a")), Network("b", Port("g1", "/tmp/b"))]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Lab")]
    [InlineData("-lab")]
    [InlineData("lab net")]
    [InlineData("a23456789012345678901234567890123")]
    public void Constructor_BadNetworkName_Rejected(string name)
    {
        var ex = Assert.Throws<ConfigException>(() => new TopologyConfig([Network(name)]));

        Assert.StartsWith("networks[0].name: network ", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("0")]
    [InlineData("lab-1_b.c")]
    [InlineData("a2345678901234567890123456789012")]
    public void Constructor_GoodNames_Accepted(string name)
    {
        _ = new TopologyConfig([Network(name, Port(name, "/tmp/x"))]);
    }

    [Fact]
    public void Constructor_UppercaseName_SuggestsLowercase()
    {
        var ex = Assert.Throws<ConfigException>(() => new TopologyConfig([Network("Lab")]));

        Assert.Contains("did you mean 'lab'?", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_TwoListenersOnOneUnixPath_Rejected()
    {
        var ex = Assert.Throws<ConfigException>(() => new TopologyConfig([Network("a", Port("g1", "/tmp/same")), Network("b", Port("g2", "/tmp/same"))]));

        Assert.Equal(
            "networks[1].ports[0].netdev: unix socket /tmp/same is already used by networks[0].ports[0]; two ports cannot bind the same socket address",
            Assert.Single(ex.Errors));
    }

    [Fact]
    public void Constructor_StreamListenerAndVhostUserOnOnePath_Rejected()
    {
        var vhost = new PortConfig("v", new VhostUserSpec("/tmp/same"));

        Assert.Throws<ConfigException>(() => new TopologyConfig([Network("a", Port("g1", "/tmp/same"), vhost)]));
    }

    [Fact]
    public void Constructor_ClientsOfOnePath_Allowed()
    {
        var client = new PortConfig("c", new StreamSpec(new UnixSocketAddress("/tmp/same"), server: false));

        _ = new TopologyConfig([Network("a", Port("g1", "/tmp/same"), client)]);
    }

    [Theory]
    [InlineData("socket,listen=127.0.0.1:5000", "socket,listen=127.0.0.1:5000", true)]
    [InlineData("socket,listen=:5000", "socket,listen=127.0.0.1:5000", true)]
    [InlineData("socket,listen=[::]:5000", "socket,listen=127.0.0.1:5000", true)]
    [InlineData("socket,listen=localhost:5000", "socket,listen=127.0.0.1:5000", true)]
    [InlineData("socket,listen=127.0.0.1:5000", "socket,listen=127.0.0.2:5000", false)]
    [InlineData("socket,listen=127.0.0.1:5000", "socket,listen=127.0.0.1:5001", false)]
    [InlineData("socket,listen=:0", "socket,listen=:0", false)]
    [InlineData("socket,listen=:5000", "socket,udp=127.0.0.1:6000,localaddr=:5000", false)]
    [InlineData("socket,udp=127.0.0.1:6000,localaddr=:5000", "socket,udp=127.0.0.1:6001,localaddr=127.0.0.1:5000", true)]
    [InlineData("socket,listen=:5000", "socket,connect=127.0.0.1:5000", false)]
    public void Constructor_InetListeners_ConflictWhenTheyBindTheSameAddress(string a, string b, bool conflict)
    {
        PortConfig p1 = PortConfig.Create("p1", a);
        PortConfig p2 = PortConfig.Create("p2", b);

        bool threw = Record.Exception(() => new TopologyConfig([Network("n", p1, p2)])) is ConfigException;

        Assert.Equal(conflict, threw);
    }

    [Fact]
    public void Constructor_HubWithVlanPort_Rejected()
    {
        NetworkConfig hub = Network("h", Port("g1", "/tmp/a") with { Vlan = new AccessVlan(10) }) with { Hub = true };

        var ex = Assert.Throws<ConfigException>(() => new TopologyConfig([hub]));

        Assert.Contains("a hub has no VLANs", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(86401)]
    public void Constructor_MacAgeingOutOfRange_Rejected(int seconds)
    {
        NetworkConfig network = Network("n") with { MacAgeing = TimeSpan.FromSeconds(seconds) };

        Assert.Contains("mac-ageing", Assert.Throws<ConfigException>(() => new TopologyConfig([network])).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData((1 << 20) + 1)]
    public void Constructor_MaxMacsOutOfRange_Rejected(int maxMacs)
    {
        NetworkConfig network = Network("n") with { MaxMacs = maxMacs };

        Assert.Contains("max-macs", Assert.Throws<ConfigException>(() => new TopologyConfig([network])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_SeveralProblems_ReportsAllAtOnce()
    {
        NetworkConfig bad = Network("Bad", Port("x", "/tmp/a"), Port("x", "/tmp/a")) with { MaxMacs = 0 };

        var ex = Assert.Throws<ConfigException>(() => new TopologyConfig([bad, Network("Bad")]));

        // Bad name twice, max-macs, duplicate port name, duplicate listener.
        Assert.Equal(5, ex.Errors.Count);
    }

    [Fact]
    public void Validate_ValidNetworks_ReturnsNoErrors()
    {
        Assert.Empty(TopologyConfig.Validate([Network("n", Port("a", "/tmp/a"))]));
    }

    [Fact]
    public void WithPort_NewPort_AddsIt()
    {
        TopologyConfig topology = TopologyConfig.Default("/run/sy").WithPort("default", Port("g2", "/run/sy/g2.sock"));

        Assert.Equal(["stream", "vhost-user", "g2"], topology.Networks[0].Ports.Select(p => p.Name));
    }

    [Fact]
    public void WithPort_DuplicateNameOrUnknownNetwork_Rejected()
    {
        TopologyConfig topology = TopologyConfig.Default("/run/sy");

        Assert.Throws<ConfigException>(() => topology.WithPort("default", Port("stream", "/run/sy/x.sock")));
        Assert.Throws<ConfigException>(() => topology.WithPort("lab", Port("g2", "/run/sy/x.sock")));
    }

    [Fact]
    public void PortConfigCreate_BadNameAndBadSpec_ReportsBoth()
    {
        var ex = Assert.Throws<ConfigException>(() => PortConfig.Create("G 1", "stream,addr.type=unix"));

        Assert.Equal(2, ex.Errors.Count);
    }

    private static NetworkConfig Network(string name, params PortConfig[] ports) => new(name, [.. ports]);

    private static PortConfig Port(string name, string listenPath) =>
        new(name, new StreamSpec(new UnixSocketAddress(listenPath), server: true));
}
