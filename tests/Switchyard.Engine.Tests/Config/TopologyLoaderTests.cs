// YAML loading: the schema, defaults, and errors that carry their line and path.
using Switchyard.Core.Config;
using Switchyard.Engine.Config;
using Switchyard.Ports;
using Switchyard.Ports.Stream;

namespace Switchyard.Engine.Tests.Config;

public sealed class TopologyLoaderTests
{
    private const string Example = """
        networks:
          - name: lab
            hub: false
            mac-ageing: 300
            max-macs: 8192
            ports:
              - name: g1
                netdev: "stream,addr.type=unix,addr.path=/tmp/g1.sock,server=on"
                vlan: 10
              - name: up
                netdev: "socket,connect=127.0.0.1:5000"
                trunk: [10, 20]
                native-vlan: 1
        """;

    [Fact]
    public void Load_MaxMacsPerPort_ReadAndDefaulted()
    {
        TopologyConfig given = TopologyLoader.Load("networks:\n  - name: lab\n    max-macs-per-port: 16\n    ports: []\n");
        TopologyConfig defaulted = TopologyLoader.Load("networks:\n  - name: lab\n    ports: []\n");

        Assert.Equal(16, given.Networks[0].MaxMacsPerPort);
        Assert.Equal(Defaults.MaxMacsPerPort, defaulted.Networks[0].MaxMacsPerPort);
        Assert.Throws<ConfigException>(() => TopologyLoader.Load("networks:\n  - name: lab\n    max-macs-per-port: 0\n    ports: []\n"));
    }

    [Fact]
    public void Load_DocumentedExample_GivesTypedTopology()
    {
        TopologyConfig topology = TopologyLoader.Load(Example);

        var expected = new TopologyConfig(
        [
            new NetworkConfig("lab", Hub: false, TimeSpan.FromSeconds(300), 8192,
            [
                new PortConfig("g1", new StreamSpec(new UnixSocketAddress("/tmp/g1.sock"), server: true), new AccessVlan(10)),
                new PortConfig("up", new StreamSpec(new InetSocketAddress("127.0.0.1", 5000)), new TrunkVlans([10, 20], 1)),
            ]),
        ]);
        Assert.Equal(expected, topology);
    }

    [Fact]
    public void Load_OptionalKeysLeftOut_TakesDefaults()
    {
        TopologyConfig topology = TopologyLoader.Load("""
            networks:
              - name: n
                ports:
                  - name: p
                    netdev: vhost-user,path=/tmp/vu.sock
            """);

        NetworkConfig network = Assert.Single(topology.Networks);
        Assert.Equal(Defaults.Hub, network.Hub);
        Assert.Equal(Defaults.MacAgeing, network.MacAgeing);
        Assert.Equal(Defaults.MaxMacs, network.MaxMacs);
        Assert.Equal(VlanConfig.Default, Assert.Single(network.Ports).Vlan);
    }

    [Fact]
    public void Load_NetworkWithoutPorts_Allowed()
    {
        Assert.Empty(Assert.Single(TopologyLoader.Load("networks:\n  - name: empty\n").Networks).Ports);
    }

    [Theory]
    [InlineData("300", 300)]
    [InlineData("\"300\"", 300)]
    [InlineData("\"45s\"", 45)]
    [InlineData("5m", 300)]
    [InlineData("\"1h\"", 3600)]
    public void Load_MacAgeingForms_Accepted(string yaml, int seconds)
    {
        TopologyConfig topology = TopologyLoader.Load($"networks:\n  - name: n\n    mac-ageing: {yaml}\n");

        Assert.Equal(TimeSpan.FromSeconds(seconds), topology.Networks[0].MacAgeing);
    }

    [Theory]
    [InlineData("\"10,20-22\"")]
    [InlineData("[10, \"20-22\"]")]
    [InlineData("[22, 21, 20, 10]")]
    public void Load_TrunkForms_GiveSameSet(string yaml)
    {
        TopologyConfig topology = TopologyLoader.Load($"networks:\n  - name: n\n    ports:\n      - name: p\n        netdev: socket,connect=h:1\n        trunk: {yaml}\n");

        Assert.Equal(new TrunkVlans([10, 20, 21, 22]), topology.Networks[0].Ports[0].Vlan);
    }

    [Fact]
    public void Load_HubTrue_SetsHub()
    {
        Assert.True(TopologyLoader.Load("networks:\n  - name: n\n    hub: true\n").Networks[0].Hub);
    }

    [Fact]
    public void Load_UnknownKey_ReportsLineAndSuggestion()
    {
        string error = Assert.Single(Errors("""
            networks:
              - name: lab
                mac-aging: 300
            """));

        Assert.Equal("line 3: networks[0]: unknown key 'mac-aging' (did you mean 'mac-ageing'? valid keys here: name, hub, mac-ageing, max-macs, max-macs-per-port, gateway, ports)", error);
    }

    [Fact]
    public void Load_UnknownTopLevelKey_ReportsLine()
    {
        IReadOnlyList<string> errors = Errors("network:\n  - name: lab\n");

        Assert.Contains("line 1: unknown key 'network' (did you mean 'networks'?", errors[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BadNetdev_ReportsLinePathAndSpecError()
    {
        string error = Assert.Single(Errors("""
            networks:
              - name: lab
                ports:
                  - name: g1
                    netdev: "stream,addr.type=unix,addr.path=/tmp/g1.sock,server=on"
                  - name: g2
                    netdev: "stream,addr.type=unix,adr.path=/tmp/g2.sock,addr.path=/tmp/g2.sock"
            """));

        Assert.Equal("line 7: networks[0].ports[1].netdev: unknown option 'adr.path' in stream spec (did you mean 'addr.path'?)", error);
    }

    [Fact]
    public void Load_DuplicatePortNames_ReportsBothLines()
    {
        string error = Assert.Single(Errors("""
            networks:
              - name: lab
                ports:
                  - name: g1
                    netdev: "stream,addr.type=unix,addr.path=/tmp/a.sock,server=on"
                  - name: g1
                    netdev: "stream,addr.type=unix,addr.path=/tmp/b.sock,server=on"
            """));

        Assert.Equal(
            "line 6: networks[0].ports[1].name: duplicate port name 'g1' (also used by networks[0].ports[0].name (line 4); port names must be unique within a network)",
            error);
    }

    [Fact]
    public void Load_DuplicateListenerAcrossNetworks_ReportsNetdevLine()
    {
        string error = Assert.Single(Errors("""
            networks:
              - name: a
                ports:
                  - name: g1
                    netdev: "socket,listen=:5000"
              - name: b
                ports:
                  - name: g1
                    netdev: "socket,listen=127.0.0.1:5000"
            """));

        Assert.StartsWith("line 9: networks[1].ports[0].netdev: tcp 127.0.0.1:5000 is already used by networks[0].ports[0] (line 4)", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ManyProblems_AllReportedSortedByLine()
    {
        var ex = Assert.Throws<ConfigException>(() => TopologyLoader.Load("""
            networks:
              - name: Lab
                hub: maybe
                max-macs: lots
                ports:
                  - name: g1
                    netdev: "stream,addr.type=unix,addr.path=/tmp/a.sock,server=on"
                    vlan: 5000
                    colour: red
                  - name: g2
                    netdev: "socket,connect=127.0.0.1:0"
                    vlan: 10
                    trunk: "10"
                  - name: g3
            """));

        string[] expectedPrefixes =
        [
            "line 2: networks[0].name: network name 'Lab' is not valid",
            "line 3: networks[0].hub: expected true or false",
            "line 4: networks[0].max-macs: expected a whole number",
            "line 8: networks[0].ports[0].vlan: vlan 5000 is out of range",
            "line 9: networks[0].ports[0]: unknown key 'colour'",
            "line 11: networks[0].ports[1].netdev: port 0",
            "line 12: networks[0].ports[1].vlan: vlan and trunk cannot be used together",
            "line 14: networks[0].ports[2]: missing key 'netdev'",
        ];
        Assert.Equal(expectedPrefixes.Length, ex.Errors.Count);
        for (int i = 0; i < expectedPrefixes.Length; i++)
        {
            Assert.StartsWith(expectedPrefixes[i], ex.Errors[i], StringComparison.Ordinal);
        }

        Assert.Equal(string.Join('\n', ex.Errors), ex.Message);
    }

    [Theory]
    [InlineData("networks: []\n", "line 1: networks: at least one network is required")]
    [InlineData("networks:\n", "line 1: networks: at least one network is required")]
    [InlineData("", "the configuration is empty")]
    [InlineData("# only a comment\n", "the configuration is empty")]
    [InlineData("- a\n", "line 1: the top level must be a mapping")]
    [InlineData("hub: true\n", "line 1: unknown key 'hub'")]
    [InlineData("networks: lab\n", "line 1: networks: expected a list of networks")]
    [InlineData("networks:\n  - lab\n", "line 2: networks[0]: expected a network")]
    [InlineData("networks:\n  - name: a\n    ports: x\n", "line 3: networks[0].ports: expected a list of ports")]
    [InlineData("networks:\n  - name: a\n    ports: [x]\n", "line 3: networks[0].ports[0]: expected a port")]
    [InlineData("networks:\n  - name: [a]\n", "line 2: networks[0].name: expected a string")]
    [InlineData("networks:\n  - ports: []\n", "line 2: networks[0].name: network a name is required")]
    [InlineData("networks:\n  - name: a\n    mac-ageing: 5 minutes\n", "line 3: networks[0].mac-ageing: expected a whole number of seconds")]
    [InlineData("networks:\n  - name: a\n    mac-ageing: 0\n", "line 3: networks[0].mac-ageing: MAC ageing time 0 s is out of range")]
    [InlineData("networks:\n  - name: a\n    ports:\n      - name: p\n        netdev: socket,connect=h:1\n        trunk: []\n", "line 6: networks[0].ports[0].trunk: trunk is empty")]
    [InlineData("networks:\n  - name: a\n    ports:\n      - name: p\n        netdev: socket,connect=h:1\n        trunk: [10, x]\n", "line 6: networks[0].ports[0].trunk[1]: trunk item 'x' is not a VLAN id")]
    [InlineData("networks:\n  - name: a\n    ports:\n      - name: p\n        netdev: socket,connect=h:1\n        native-vlan: 2\n", "line 6: networks[0].ports[0].native-vlan: a native VLAN applies only to a trunk")]
    [InlineData("networks:\n  - name: a\n    hub: true\n    ports:\n      - name: p\n        netdev: socket,connect=h:1\n        vlan: 2\n", "line 7: networks[0].ports[0].vlan: network 'a' is a hub")]
    [InlineData("networks:\n  - name: a\n  - name: a\n", "line 3: networks[1].name: duplicate network name 'a' (also used by networks[0].name (line 2)")]
    [InlineData("networks:\n  - name: a\n    name: b\n", "line 3: YAML syntax error: Duplicate key")]
    [InlineData("networks: [\n", "line 2: YAML syntax error:")]
    [InlineData("networks:\n  - name: a\n---\nnetworks: []\n", "line 4: only one YAML document is allowed")]
    [InlineData("        native-vlan: 1\n...\n: b\n", "YAML syntax error: malformed document structure")]
    public void Load_BadDocument_ReportsLocatedError(string yaml, string expectedPrefix)
    {
        IReadOnlyList<string> errors = Errors(yaml);

        Assert.StartsWith(expectedPrefix, errors[0], StringComparison.Ordinal);
    }

    [Fact]
    public void LoadFile_ValidFile_Loads()
    {
        string path = Path.Combine(Path.GetTempPath(), $"switchyard-config-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, Example);
        try
        {
            Assert.Equal(TopologyLoader.Load(Example), TopologyLoader.LoadFile(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void LoadFile_BadFile_PrefixesErrorsWithFileName()
    {
        string path = Path.Combine(Path.GetTempPath(), $"switchyard-config-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, "networks: []\n");
        try
        {
            var ex = Assert.Throws<ConfigException>(() => TopologyLoader.LoadFile(path));

            Assert.Equal($"{path}: line 1: networks: at least one network is required", Assert.Single(ex.Errors));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void LoadFile_MissingFile_ThrowsConfigException()
    {
        var ex = Assert.Throws<ConfigException>(() => TopologyLoader.LoadFile("/nonexistent/switchyard.yaml"));

        Assert.StartsWith("/nonexistent/switchyard.yaml: cannot read the configuration file", ex.Message, StringComparison.Ordinal);
    }

    private static IReadOnlyList<string> Errors(string yaml) =>
        Assert.Throws<ConfigException>(() => TopologyLoader.Load(yaml)).Errors;
}
