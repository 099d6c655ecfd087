// VLAN configuration: the CLI-flag parser, the record rules and set equality.
using System.Collections.Immutable;
using Switchyard.Core.Config;
using Switchyard.Engine.Config;

namespace Switchyard.Engine.Tests.Config;

public sealed class VlanConfigTests
{
    [Fact]
    public void FromFlags_Nothing_GivesDefaultAccessVlan1()
    {
        VlanConfig vlan = VlanConfig.FromFlags(null, null, null);

        Assert.Same(VlanConfig.Default, vlan);
        Assert.Equal(new AccessVlan(1), vlan);
    }

    [Fact]
    public void FromFlags_Vlan_GivesAccessVlan()
    {
        Assert.Equal(new AccessVlan(10), VlanConfig.FromFlags(10, null, null));
    }

    [Fact]
    public void FromFlags_TrunkWithRanges_GivesSortedSet()
    {
        var trunk = Assert.IsType<TrunkVlans>(VlanConfig.FromFlags(null, "30-33, 10,20,10", 1));

        Assert.Equal([10, 20, 30, 31, 32, 33], trunk.Vids);
        Assert.Equal((ushort)1, trunk.Native);
    }

    [Fact]
    public void FromFlags_FullRange_Accepted()
    {
        var trunk = Assert.IsType<TrunkVlans>(VlanConfig.FromFlags(null, "1-4094", null));

        Assert.Equal(4094, trunk.Vids.Count);
    }

    [Fact]
    public void FromFlags_VlanAndTrunk_Rejected()
    {
        var ex = Assert.Throws<ConfigException>(() => VlanConfig.FromFlags(10, "20", null));

        Assert.Contains("vlan and trunk cannot be used together", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void FromFlags_NativeWithoutTrunk_Rejected()
    {
        var ex = Assert.Throws<ConfigException>(() => VlanConfig.FromFlags(null, null, 5));

        Assert.Contains("native VLAN applies only to a trunk", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4095)]
    [InlineData(-3)]
    public void FromFlags_VlanOutOfRange_Rejected(int vid)
    {
        var ex = Assert.Throws<ConfigException>(() => VlanConfig.FromFlags(vid, null, null));

        Assert.Contains("out of range (VLAN ids are 1..4094", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10,5000", "5000 is out of range")]
    [InlineData("0", "0 is out of range")]
    [InlineData("10,,20", "empty item")]
    [InlineData("40-30", "runs backwards")]
    [InlineData("ten", "not a VLAN id or range")]
    [InlineData("1-2-3", "not a VLAN id or range")]
    [InlineData("", "is empty")]
    public void FromFlags_BadTrunk_Rejected(string trunk, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => VlanConfig.FromFlags(null, trunk, null));

        Assert.Contains(expected, Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void FromFlags_SeveralProblems_ReportsAllAtOnce()
    {
        var ex = Assert.Throws<ConfigException>(() => VlanConfig.FromFlags(5000, "x,9999", 0));

        // vlan+trunk, native range, vlan range, and both bad trunk items.
        Assert.Equal(5, ex.Errors.Count);
    }

    [Fact]
    public void TrunkVlans_SameSetBuiltDifferently_AreEqual()
    {
        var a = new TrunkVlans(ImmutableSortedSet.Create<ushort>(30, 10, 20), 1);
        var b = new TrunkVlans(ImmutableSortedSet.Create(Comparer<ushort>.Create((x, y) => y.CompareTo(x)), (ushort)10, (ushort)20, (ushort)30), 1);
        var c = VlanConfig.FromFlags(null, "10,20,30", 1);

        Assert.Equal(a, b);
        Assert.Equal<VlanConfig>(a, c);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal(a.GetHashCode(), c.GetHashCode());
        Assert.NotEqual<VlanConfig>(a, new TrunkVlans(a.Vids, 2));
        Assert.NotEqual<VlanConfig>(a, new TrunkVlans(a.Vids.Add(40), 1));
    }

    [Fact]
    public void TrunkVlans_EmptySet_Throws()
    {
        Assert.Throws<ConfigException>(() => new TrunkVlans([], 1));
    }

    [Fact]
    public void AccessVlan_Zero_Throws()
    {
        Assert.Throws<ConfigException>(() => new AccessVlan(0));
    }

    [Fact]
    public void Carries_TrunkNativeNotListed_StillMember()
    {
        var trunk = new TrunkVlans([10, 20], 1);

        Assert.True(trunk.Carries(1));
        Assert.True(trunk.Carries(20));
        Assert.False(trunk.Carries(30));
    }

    [Fact]
    public void ToString_Configs_GiveCompactDisplay()
    {
        Assert.Equal("access 10", new AccessVlan(10).ToString());
        Assert.Equal("trunk 1,2,10-12 native 5", VlanConfig.FromFlags(null, "1,2,10,11,12", 5).ToString());
    }
}
