// The netns netdev spec: `netns,name=NAME | netns,pid=PID [,ifname=eth0]`, one rule per test.
using Switchyard.Core.Config;
using Switchyard.Engine.Config;
using Switchyard.Engine.Host;
using Switchyard.Ports;
using Switchyard.Ports.Netns;

namespace Switchyard.Engine.Tests.Config;

public sealed class NetnsSpecTests
{
    [Fact]
    public void Parse_NameOnly_IfNameDefaultsToEth0()
    {
        var spec = Assert.IsType<NetnsSpec>(NetdevSpec.Parse("netns,name=blue"));
        Assert.Equal("blue", spec.Name);
        Assert.Null(spec.Pid);
        Assert.Equal(Defaults.NetnsIfName, spec.IfName);
        Assert.Equal("eth0", spec.IfName);
        Assert.Equal("netns", spec.Kind);
    }

    [Fact]
    public void Parse_PidAndIfName_Kept()
    {
        var spec = Assert.IsType<NetnsSpec>(NetdevSpec.Parse("netns,id=c1,pid=4242,ifname=net1"));
        Assert.Null(spec.Name);
        Assert.Equal(4242, spec.Pid);
        Assert.Equal("net1", spec.IfName);
    }

    [Theory]
    [InlineData("netns,name=blue")]
    [InlineData("netns,pid=1,ifname=veth.1")]
    public void ToString_ParsesBackToAnEqualSpec(string text)
    {
        NetdevSpec spec = NetdevSpec.Parse(text);
        Assert.Equal(spec, NetdevSpec.Parse(spec.ToString()));
    }

    [Fact]
    public void NeitherNameNorPid_Rejected_SaysGiveOne()
    {
        var ex = Assert.Throws<ConfigException>(() => NetdevSpec.Parse("netns,ifname=eth0"));
        Assert.Contains("name=NAME", ex.Message, StringComparison.Ordinal);
        Assert.Contains("pid=PID", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BothNameAndPid_Rejected()
    {
        var ex = Assert.Throws<ConfigException>(() => NetdevSpec.Parse("netns,name=blue,pid=12"));
        Assert.Contains("not both", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("has space")]
    public void BadNamespaceName_Rejected(string name)
    {
        Assert.False(NetdevSpec.TryParse($"netns,name={name}", out _, out IReadOnlyList<string> errors));
        Assert.Contains(errors, e => e.Contains("namespace name", StringComparison.Ordinal));
    }

    [Fact]
    public void NamespaceNameTooLong_Rejected()
    {
        Assert.False(NetdevSpec.TryParse("netns,name=" + new string('n', Defaults.MaxNetnsNameLength + 1), out _, out _));
        Assert.True(NetdevSpec.TryParse("netns,name=" + new string('n', Defaults.MaxNetnsNameLength), out _, out _));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    [InlineData("abc")]
    public void PidNotAPositiveNumber_Rejected(string pid)
    {
        Assert.False(NetdevSpec.TryParse($"netns,pid={pid}", out _, out IReadOnlyList<string> errors));
        Assert.NotEmpty(errors);
    }

    [Fact]
    public void BadIfName_Rejected_WithTheInterfaceNameRule()
    {
        Assert.False(NetdevSpec.TryParse("netns,name=blue,ifname=this-name-is-too-long", out _, out IReadOnlyList<string> errors));
        Assert.Contains(errors, e => e.Contains("15", StringComparison.Ordinal));
    }

    [Fact]
    public void UnknownOption_Rejected_WithSuggestion()
    {
        Assert.False(NetdevSpec.TryParse("netns,name=blue,ifnam=eth1", out _, out IReadOnlyList<string> errors));
        Assert.Contains(errors, e => e.Contains("ifname", StringComparison.Ordinal));
    }

    [Fact]
    public void Constructor_BreakingARule_Throws()
    {
        Assert.Throws<ConfigException>(() => new NetnsSpec(null, null));
        Assert.Throws<ConfigException>(() => new NetnsSpec("a", 3));
        Assert.Equal("netns,pid=7,ifname=eth0", new NetnsSpec(null, 7).ToString());
    }

    [Fact]
    public void TapInventory_FdinfoIffLine_Found()
    {
        Assert.Equal("tap0", TapInventory.FindIff("pos:\t0\nflags:\t02004002\nmnt_id:\t25\nino:\t1051\niff:\ttap0\n"));
        Assert.Null(TapInventory.FindIff("pos:\t0\nflags:\t02\n"));
    }

    [Theory]
    [InlineData("qemu-system-x86", "", "qemu")]
    [InlineData("switchyard", "", "switchyard")]
    [InlineData("dotnet", "dotnet\0/src/Switchyard.Cli.dll\0up\0", "switchyard")]
    [InlineData("pasta", "pasta\0", "other")]
    public void TapInventory_Holder_RoleFromProcess(string comm, string cmdline, string role) =>
        Assert.Equal(role, TapInventory.RoleOf(comm, cmdline));

    [Fact]
    public void TapInventory_FakeTree_ListsTapsAndHolders()
    {
        string root = Path.Combine(Path.GetTempPath(), $"sy-taps-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "net", "tap9"));
            File.WriteAllText(Path.Combine(root, "net", "tap9", "tun_flags"), "0x1002\n");
            Directory.CreateDirectory(Path.Combine(root, "net", "lo"));
            Directory.CreateDirectory(Path.Combine(root, "proc", "77", "fdinfo"));
            File.WriteAllText(Path.Combine(root, "proc", "77", "comm"), "qemu-system-x86\n");
            File.WriteAllText(Path.Combine(root, "proc", "77", "fdinfo", "12"), "pos:\t0\niff:\ttap9\n");
            Directory.CreateDirectory(Path.Combine(root, "proc", "88", "fdinfo"));
            File.WriteAllText(Path.Combine(root, "proc", "88", "comm"), "switchyard\n");
            File.WriteAllText(Path.Combine(root, "proc", "88", "fdinfo", "30"), "pos:\t0\niff:\teth0\n");

            IReadOnlyList<TapRow> rows = TapInventory.Scan(Path.Combine(root, "net"), Path.Combine(root, "proc"));

            Assert.Equal(2, rows.Count);
            TapRow eth0 = rows[0];
            Assert.Equal("eth0", eth0.Interface);
            Assert.False(eth0.InThisNamespace);
            Assert.Equal(new TapHolder(88, "switchyard", 30, "switchyard"), Assert.Single(eth0.Holders));
            TapRow tap9 = rows[1];
            Assert.Equal("tap", tap9.Mode);
            Assert.True(tap9.InThisNamespace);
            Assert.Equal(new TapHolder(77, "qemu-system-x86", 12, "qemu"), Assert.Single(tap9.Holders));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}

public sealed class NetnsTopologyTests
{
    [Fact]
    public void SameNamespaceAndIfName_Twice_Reported()
    {
        IReadOnlyList<string> errors = TopologyConfig.Validate([
            new NetworkConfig("a", [new PortConfig("p1", new NetnsSpec("blue", null))]),
            new NetworkConfig("b", [new PortConfig("p2", new NetnsSpec("blue", null))]),
        ]);
        Assert.Contains("networks[1].ports[0].netdev: interface 'eth0' in netns blue is already used by networks[0].ports[0]", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void SameNamespace_OtherIfName_Accepted() =>
        Assert.Empty(TopologyConfig.Validate([new NetworkConfig("a", [
            new PortConfig("p1", new NetnsSpec("blue", null)),
            new PortConfig("p2", new NetnsSpec("blue", null, "eth1")),
        ])]));
}
