// The `gateway:` key of a network in a topology file: its three forms, the default when it is left
// out, and errors that carry the line of the option they concern.
using Switchyard.Core.Config;
using Switchyard.Engine.Config;
using Switchyard.UserNet;

namespace Switchyard.Engine.Tests.Config;

public sealed class GatewayYamlTests
{
    [Fact]
    public void Gateway_LeftOut_NetworkInFileHasNone()
    {
        Assert.Null(Single("networks:\n  - name: lab\n").Gateway);
        Assert.False(Defaults.GatewayInFile);
    }

    [Fact]
    public void DefaultTopology_HasDefaultGateway()
    {
        Assert.Equal(GatewayOptions.Default, Assert.Single(TopologyConfig.Default("/tmp/sy").Networks).Gateway);
    }

    [Theory]
    [InlineData("true")]
    [InlineData("True")]
    [InlineData("on")]
    [InlineData("yes")]
    public void Gateway_True_GivesDefaults(string yaml)
    {
        Assert.Equal(GatewayOptions.Default, Single($"networks:\n  - name: lab\n    gateway: {yaml}\n").Gateway);
    }

    [Fact]
    public void Gateway_False_GivesNone()
    {
        Assert.Null(Single("networks:\n  - name: lab\n    gateway: false\n").Gateway);
    }

    [Fact]
    public void Gateway_String_ParsedAsUserSpec()
    {
        NetworkConfig network = Single("""
            networks:
              - name: lab
                gateway: "user,net=10.0.3.0/24,hostfwd=tcp:127.0.0.1:2222-:22"
            """);

        Assert.Equal(GatewaySpec.Parse("net=10.0.3.0/24,hostfwd=tcp:127.0.0.1:2222-:22"), network.Gateway);
    }

    [Fact]
    public void Gateway_Mapping_SameAsString()
    {
        NetworkConfig network = Single("""
            networks:
              - name: lab
                gateway:
                  net: 10.0.3.0/24
                  ipv6: false
                  mtu: 1400
                  restrict: off
                  lease-time: 30m
                  dnssearch: [a.example, b.example]
                  dns-upstream:
                    - 9.9.9.9
                    - "[2620:fe::fe]:53"
                  hostfwd:
                    - tcp:127.0.0.1:2222-:22
                    - udp::5353-10.0.3.20:53
            """);

        GatewayOptions expected = GatewaySpec.Parse(
            "net=10.0.3.0/24,ipv6=off,mtu=1400,restrict=off,lease-time=1800,dnssearch=a.example,dnssearch=b.example,"
            + "dns-upstream=9.9.9.9,dns-upstream=[2620:fe::fe]:53,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp::5353-10.0.3.20:53");
        Assert.Equal(expected, network.Gateway);
    }

    [Fact]
    public void Gateway_ListKeyAsSingleString_Accepted()
    {
        Assert.Single(Single("networks:\n  - name: lab\n    gateway:\n      hostfwd: tcp::2222-:22\n").Gateway!.Forwards);
    }

    [Fact]
    public void Gateway_EmptyMapping_GivesDefaults()
    {
        Assert.Equal(GatewayOptions.Default, Single("networks:\n  - name: lab\n    gateway: {}\n").Gateway);
    }

    [Fact]
    public void Gateway_UnknownKey_ErrorWithLineAndSuggestion()
    {
        var ex = Assert.Throws<ConfigException>(() => TopologyLoader.Load("""
            networks:
              - name: lab
                gateway:
                  net: 10.0.3.0/24
                  dhcp-start: 10.0.3.50
            """));

        string error = Assert.Single(ex.Errors);
        Assert.StartsWith("line 5: networks[0].gateway.dhcp-start: unknown gateway option 'dhcp-start' (did you mean 'dhcpstart'?", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Gateway_EveryErrorReported_EachAtItsOwnLine()
    {
        var ex = Assert.Throws<ConfigException>(() => TopologyLoader.Load("""
            networks:
              - name: lab
                gateway:
                  net: 10.0.3.0/24
                  host: 10.0.4.2
                  mtu: 100
                  hostfwd:
                    - tcp::2222-:22
                    - tcp::notaport-:22
            """));

        Assert.Equal(3, ex.Errors.Count);
        Assert.StartsWith("line 5: networks[0].gateway.host: host 10.0.4.2 is outside net 10.0.3.0/24", ex.Errors[0], StringComparison.Ordinal);
        Assert.StartsWith("line 6: networks[0].gateway.mtu: mtu 100 is out of range", ex.Errors[1], StringComparison.Ordinal);
        Assert.StartsWith("line 7: networks[0].gateway.hostfwd: bad forward rule 'tcp::notaport-:22'", ex.Errors[2], StringComparison.Ordinal);
    }

    [Fact]
    public void Gateway_DerivedAddressProblem_PointsAtNet()
    {
        var ex = Assert.Throws<ConfigException>(() => TopologyLoader.Load("networks:\n  - name: lab\n    gateway:\n      mtu: 1500\n      net: 10.0.3.0/29\n"));

        Assert.StartsWith("line 5: networks[0].gateway.net: dhcpstart 10.0.3.15 is outside net 10.0.3.0/29 (derived", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Gateway_StringWithErrors_ReportedAtTheGatewayLine()
    {
        var ex = Assert.Throws<ConfigException>(() => TopologyLoader.Load("networks:\n  - name: lab\n    gateway: \"user,mtu=1,bogus=2\"\n"));

        Assert.Equal(2, ex.Errors.Count);
        Assert.All(ex.Errors, e => Assert.StartsWith("line 3: networks[0].gateway: ", e, StringComparison.Ordinal));
    }

    [Fact]
    public void Gateway_ListForSingleValuedKey_Rejected()
    {
        var ex = Assert.Throws<ConfigException>(() => TopologyLoader.Load("networks:\n  - name: lab\n    gateway:\n      mtu: [1500]\n"));

        Assert.Contains("expected a single value, not a list", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Gateway_WrongShape_Rejected()
    {
        var ex = Assert.Throws<ConfigException>(() => TopologyLoader.Load("networks:\n  - name: lab\n    gateway: [1, 2]\n"));

        Assert.Contains("expected true, false, a string", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void PortNamedGateway_InNetworkWithGateway_Rejected()
    {
        var ex = Assert.Throws<ConfigException>(() => TopologyLoader.Load("""
            networks:
              - name: lab
                gateway: true
                ports:
                  - name: gateway
                    netdev: tap,ifname=tap0
            """));

        Assert.StartsWith("line 5: networks[0].ports[0].name: port name 'gateway' is taken by the network's NAT gateway", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void PortNamedGateway_InNetworkWithoutGateway_Accepted()
    {
        Assert.Single(Single("networks:\n  - name: lab\n    ports:\n      - name: gateway\n        netdev: tap,ifname=tap0\n").Ports);
    }

    [Fact]
    public void TopologyConfig_InvalidGatewayBuiltInCode_Rejected()
    {
        var network = new NetworkConfig("lab", []) { Gateway = GatewayOptions.Default with { Mtu = 10 } };

        var ex = Assert.Throws<ConfigException>(() => new TopologyConfig([network]));
        Assert.StartsWith("networks[0].gateway.mtu: mtu 10 is out of range", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    private static NetworkConfig Single(string yaml) => Assert.Single(TopologyLoader.Load(yaml).Networks);
}
