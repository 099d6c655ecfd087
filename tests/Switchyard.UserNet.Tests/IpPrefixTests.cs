using FsCheck;
using FsCheck.Fluent;
using Switchyard.Protocols;
using Switchyard.UserNet;

namespace Switchyard.UserNet.Tests;

public class IpPrefixTests
{
    [Theory]
    [InlineData(0, 0x0000_0000u)]
    [InlineData(1, 0x8000_0000u)]
    [InlineData(24, 0xFFFF_FF00u)]
    [InlineData(31, 0xFFFF_FFFEu)]
    [InlineData(32, 0xFFFF_FFFFu)]
    public void V4Mask_EdgesDoNotWrap(int length, uint mask)
    {
        Assert.Equal(mask, IpPrefix.V4Mask(length));
        Assert.Equal(length, IpPrefix.V4LengthOf(mask));
    }

    [Fact]
    public void V4LengthOf_NonContiguousMask_IsNull() => Assert.Null(IpPrefix.V4LengthOf(0xFFFF_00FF));

    [Fact]
    public void NetworkAndBroadcast_OfSlirpDefault()
    {
        var prefix = new IpPrefix(IpAddr.FromV4(0x0A00_0263), 24);
        Assert.Equal("10.0.2.0", prefix.NetworkAddress.ToString());
        Assert.Equal("10.0.2.255", prefix.BroadcastAddress.ToString());
    }

    [Fact]
    public void Contains_EveryLength_AgreesWithNetworkAddress() =>
        Prop.ForAll<uint, uint, byte>((network, address, raw) =>
        {
            int length = raw % 33;
            var prefix = new IpPrefix(IpAddr.FromV4(network), length);
            var other = new IpPrefix(IpAddr.FromV4(address), length);
            return prefix.Contains(IpAddr.FromV4(address)) == (prefix.NetworkAddress == other.NetworkAddress);
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void Contains_V6_ZeroAndFullLengths()
    {
        var any = new IpPrefix(new IpAddr(0xfd00_0000_0000_0000UL, 0), 0);
        var host = new IpPrefix(new IpAddr(0xfd00_0000_0000_0000UL, 2), 128);
        var sixtyFour = new IpPrefix(new IpAddr(0xfd00_0000_0000_0000UL, 0), 64);
        Assert.True(any.Contains(new IpAddr(0x2001_0db8_0000_0000UL, 7)));
        Assert.True(host.Contains(new IpAddr(0xfd00_0000_0000_0000UL, 2)));
        Assert.False(host.Contains(new IpAddr(0xfd00_0000_0000_0000UL, 3)));
        Assert.True(sixtyFour.Contains(new IpAddr(0xfd00_0000_0000_0000UL, 12345)));
        Assert.False(sixtyFour.Contains(new IpAddr(0xfd00_0000_0000_0001UL, 0)));
        Assert.False(sixtyFour.Contains(IpAddr.FromV4(0x0A00_0202)));
    }
}
