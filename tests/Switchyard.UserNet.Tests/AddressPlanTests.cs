using FsCheck;
using FsCheck.Fluent;
using Switchyard.Protocols;
using Switchyard.UserNet;

namespace Switchyard.UserNet.Tests;

public class AddressPlanTests
{
    private static readonly AddressPlan Plan = new(GatewayOptions.Default);

    [Fact]
    public void MapOutbound_GatewayAddress_IsHostLoopback()
    {
        Assert.Equal(OutboundVerdict.Carry, Plan.MapOutbound(IpAddr.FromV4(0x0A000202), out IpAddr host));
        Assert.Equal("127.0.0.1", host.ToString());
    }

    [Fact]
    public void MapOutbound_HostLoopbackOff_Refuses()
    {
        var plan = new AddressPlan(GatewayOptions.Default with { HostLoopback = false });
        Assert.Equal(OutboundVerdict.Refuse, plan.MapOutbound(IpAddr.FromV4(0x0A000202), out _));
    }

    [Fact]
    public void MapOutbound_Restricted_RefusesEverythingButDns()
    {
        var plan = new AddressPlan(GatewayOptions.Default with { Restrict = true });
        Assert.Equal(OutboundVerdict.Refuse, plan.MapOutbound(IpAddr.FromV4(0x01020304), out _));
        Assert.Equal(OutboundVerdict.DnsAddress, plan.MapOutbound(IpAddr.FromV4(0x0A000203), out _));
    }

    [Fact]
    public void GuestSourceFor_LoopbackClient_IsGateway()
    {
        IpAddr guest = IpAddr.FromV4(0x0A00020F);
        Assert.Equal(IpAddr.FromV4(0x0A000202), Plan.GuestSourceFor(IpAddr.FromV4(0x7F000001), guest));
        Assert.Equal(IpAddr.FromV4(0xC0A80005), Plan.GuestSourceFor(IpAddr.FromV4(0xC0A80005), guest));
        Assert.Equal(IpAddr.FromV4(0x0A000202), Plan.GuestSourceFor(new IpAddr(0x2001_0db8_0000_0000UL, 5), guest));
    }

    [Fact]
    public void IpAddr_RoundTripsThroughIPAddress() =>
        Prop.ForAll<ulong, ulong, uint>((hi, lo, v4) =>
        {
            var six = new IpAddr(hi, lo);
            var four = IpAddr.FromV4(v4);
            return IpAddr.From(four.ToIPAddress()) == four && (six.IsV4 || IpAddr.From(six.ToIPAddress()) == six);
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void IpPrefix_Contains_MatchesMaskArithmetic() =>
        Prop.ForAll<uint, uint>((network, address) =>
        {
            var prefix = new IpPrefix(IpAddr.FromV4(network), 24);
            return prefix.Contains(IpAddr.FromV4(address)) == ((network & 0xFFFFFF00) == (address & 0xFFFFFF00));
        }).QuickCheckThrowOnFailure();
}
