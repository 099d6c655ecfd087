// The tap netdev spec: QEMU's `tap,ifname=NAME[,queues=N][,vnet_hdr=on|off]`, the interface-name rules, and
// the topology rule that one tap interface backs one port.
using Switchyard.Core.Config;
using Switchyard.Engine.Config;
using Switchyard.Ports;
using Switchyard.Ports.Tap;

namespace Switchyard.Engine.Tests.Config;

public sealed class TapSpecTests
{
    [Fact]
    public void Parse_IfNameOnly_VnetHeaderOnByDefault()
    {
        var spec = Assert.IsType<TapSpec>(NetdevSpec.Parse("tap,ifname=tap0"));

        Assert.Equal("tap0", spec.IfName);
        Assert.Equal(Defaults.TapVnetHeader, spec.VnetHeader);
        Assert.Equal("tap", spec.Kind);
    }

    [Fact]
    public void Parse_VnetHeaderOff_Accepted()
    {
        Assert.False(Assert.IsType<TapSpec>(NetdevSpec.Parse("tap,id=n0,ifname=sy-lab.1,vnet_hdr=off")).VnetHeader);
    }

    [Theory]
    [InlineData("tap,ifname=tap0,vnet_hdr=on")]
    [InlineData("tap,ifname=t_1,vnet_hdr=off")]
    [InlineData("tap,ifname=tap0,queues=4,vnet_hdr=on")]
    public void ToString_ParsesBackToEqualSpec(string text)
    {
        NetdevSpec spec = NetdevSpec.Parse(text);

        Assert.Equal(text, spec.ToString());
        Assert.Equal(spec, NetdevSpec.Parse(spec.ToString()));
    }

    [Fact]
    public void Queues_Omitted_One()
    {
        Assert.Equal(1, Assert.IsType<TapSpec>(NetdevSpec.Parse("tap,ifname=tap0")).Queues);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    public void Queues_OneToSixteen_Accepted(int queues)
    {
        Assert.Equal(queues, Assert.IsType<TapSpec>(NetdevSpec.Parse($"tap,ifname=tap0,queues={queues}")).Queues);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("17")]
    public void Queues_OutOfRange_Rejected(string queues)
    {
        Assert.Contains("out of range (a tap port opens 1..16 queues)", Assert.Single(Errors($"tap,ifname=tap0,queues={queues}")), StringComparison.Ordinal);
    }

    [Fact]
    public void Queues_OutOfRange_ConstructorThrows()
    {
        Assert.Throws<ConfigException>(() => new TapSpec("tap0", queues: 17));
    }

    [Fact]
    public void IfName_Missing_Rejected()
    {
        Assert.Contains("missing option 'ifname' in tap spec", Assert.Single(Errors("tap,vnet_hdr=on")), StringComparison.Ordinal);
    }

    [Fact]
    public void IfName_LongerThan15_Rejected()
    {
        Assert.Contains("is 16 characters long", Assert.Single(Errors("tap,ifname=abcdefghijklmnop")), StringComparison.Ordinal);
    }

    [Fact]
    public void IfName_Exactly15_Accepted()
    {
        Assert.Equal("abcdefghijklmno", Assert.IsType<TapSpec>(NetdevSpec.Parse("tap,ifname=abcdefghijklmno")).IfName);
    }

    [Theory]
    [InlineData("tap/0")]
    [InlineData("tap:0")]
    [InlineData("tap 0")]
    [InlineData("tap%d")]
    public void IfName_InvalidCharacter_Rejected(string name)
    {
        Assert.Contains("contains", Assert.Single(Errors("tap,ifname=" + name)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(".")]
    [InlineData("..")]
    public void IfName_DotOrDotDot_Rejected(string name)
    {
        Assert.Contains("not a valid interface name", Assert.Single(Errors("tap,ifname=" + name)), StringComparison.Ordinal);
    }

    [Fact]
    public void IfName_Empty_Rejected()
    {
        Assert.Contains("ifname is empty", Assert.Single(Errors("tap,ifname=")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("script=/etc/qemu-ifup", "runs no scripts")]
    [InlineData("br=br0", "does not add the tap to a bridge")]
    [InlineData("vhost=on", "vhost-net")]
    [InlineData("fd=3", "opens the tap itself")]
    public void QemuTapOption_NotTaken_SaysWhatToDo(string option, string hint)
    {
        Assert.Contains(hint, Assert.Single(Errors("tap,ifname=tap0," + option)), StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_BadName_Throws()
    {
        Assert.Throws<ConfigException>(() => new TapSpec("this-name-is-too-long"));
    }

    [Fact]
    public void Topology_TwoPortsOneIfName_Rejected()
    {
        IReadOnlyList<string> errors = TopologyConfig.Validate(
        [
            new NetworkConfig("a", [new PortConfig("t1", new TapSpec("tap0"))]),
            new NetworkConfig("b", [new PortConfig("t2", new TapSpec("tap0", vnetHeader: false))]),
        ]);

        Assert.Contains("networks[1].ports[0].netdev: tap interface 'tap0' is already used by networks[0].ports[0]", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Topology_TwoDifferentIfNames_Accepted()
    {
        Assert.Empty(TopologyConfig.Validate([new NetworkConfig("a", [new PortConfig("t1", new TapSpec("tap0")), new PortConfig("t2", new TapSpec("tap1"))])]));
    }

    [Fact]
    public void Yaml_DuplicateTap_ReportedWithLine()
    {
        var ex = Assert.Throws<ConfigException>(() => TopologyLoader.Load("""
            networks:
              - name: lab
                ports:
                  - name: t1
                    netdev: tap,ifname=tap0
                  - name: t2
                    netdev: tap,ifname=tap0
            """));

        Assert.StartsWith("line 7: networks[0].ports[1].netdev: tap interface 'tap0' is already used by networks[0].ports[0] (line 4)", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    private static IReadOnlyList<string> Errors(string text)
    {
        Assert.False(NetdevSpec.TryParse(text, out NetdevSpec? spec, out IReadOnlyList<string> errors), $"'{text}' parsed as {spec}");
        return errors;
    }
}
