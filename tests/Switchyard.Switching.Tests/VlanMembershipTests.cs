// Validation and value semantics of VlanMembership.
namespace Switchyard.Switching.Tests;

public sealed class VlanMembershipTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(4095)]
    public void AccessVlan_ReservedVid_Throws(ushort vid) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new AccessVlan(vid));

    [Theory]
    [InlineData(0)]
    [InlineData(4095)]
    public void TrunkVlans_ReservedAllowedOrNativeVid_Throws(ushort vid)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrunkVlans([10, vid]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrunkVlans([10], vid));
    }

    [Fact]
    public void TrunkVlans_SameSetInAnyOrder_EqualAndSorted()
    {
        var a = new TrunkVlans([30, 10, 20, 10], 1);
        var b = new TrunkVlans([10, 20, 30], 1);

        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal([10, 20, 30], a.AllowedVids);
        Assert.NotEqual(a, new TrunkVlans([10, 20, 30]));
        Assert.Equal("trunk vlans [10,20,30] native 1", a.ToString());
    }

    [Fact]
    public void TrunkVlans_NativeVid_IsMemberAndUntagged()
    {
        var trunk = new TrunkVlans([10], 5);

        Assert.True(trunk.IsMember(5));
        Assert.True(trunk.IsMember(10));
        Assert.False(trunk.IsMember(6));
        Assert.False(trunk.IsMember(4095));
        Assert.Equal(5, trunk.UntaggedVid);
        Assert.Equal(0, new TrunkVlans([10]).UntaggedVid);
    }
}
