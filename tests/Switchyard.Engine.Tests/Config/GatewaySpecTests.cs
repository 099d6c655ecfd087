// Gateway options in QEMU's user vocabulary: accepted forms, derivation, the canonical text, and one
// test per validation rule, named after the rule. Rejections check that the message names the
// problem and says what to write, because the message is the whole interface of a config error.
using Switchyard.Engine.Config;
using Switchyard.Protocols;
using Switchyard.UserNet;

namespace Switchyard.Engine.Tests.Config;

public sealed class GatewaySpecTests
{
    private static readonly GatewayOptions D = GatewayOptions.Default;

    // ---- Accepted forms ----

    [Theory]
    [InlineData("user")]
    [InlineData("")]
    [InlineData("type=user")]
    [InlineData("user,id=n0")]
    public void Parse_NoOptions_GivesQemuDefaults(string text)
    {
        Assert.Equal(D, GatewaySpec.Parse(text));
    }

    [Fact]
    public void Parse_LeadingUserOptional_SameOptions()
    {
        Assert.Equal(GatewaySpec.Parse("user,mtu=9000"), GatewaySpec.Parse("mtu=9000"));
    }

    [Fact]
    public void Parse_NetOnly_DerivesHostDnsDhcpStartLikeQemu()
    {
        GatewayOptions o = GatewaySpec.Parse("user,net=192.168.76.0/24");

        Assert.Equal(new IpPrefix(Ip("192.168.76.0"), 24), o.Network);
        Assert.Equal(Ip("192.168.76.2"), o.Host);
        Assert.Equal(Ip("192.168.76.3"), o.Dns);
        Assert.Equal(Ip("192.168.76.15"), o.DhcpStart);
    }

    [Fact]
    public void Parse_NetWithHostGiven_DerivesOnlyWhatIsMissing()
    {
        GatewayOptions o = GatewaySpec.Parse("net=10.9.0.0/16,host=10.9.0.1");

        Assert.Equal(Ip("10.9.0.1"), o.Host);
        Assert.Equal(Ip("10.9.0.3"), o.Dns);
        Assert.Equal(Ip("10.9.0.15"), o.DhcpStart);
    }

    [Fact]
    public void Parse_NetWithDottedMask_AcceptedAsPrefixLength()
    {
        Assert.Equal(24, GatewaySpec.Parse("net=10.0.2.0/255.255.255.0").Network.Length);
    }

    [Fact]
    public void Parse_Ipv6PrefixAndPrefixLen_SameAsIpv6Net()
    {
        GatewayOptions a = GatewaySpec.Parse("ipv6-prefix=fd42::,ipv6-prefixlen=64");
        GatewayOptions b = GatewaySpec.Parse("ipv6-net=fd42::/64");

        Assert.Equal(a, b);
        Assert.Equal(Ip("fd42::2"), a.Host6);
        Assert.Equal(Ip("fd42::3"), a.Dns6);
    }

    [Fact]
    public void Parse_EveryOption_TypedValues()
    {
        GatewayOptions o = GatewaySpec.Parse(
            "user,net=10.1.0.0/24,host=10.1.0.1,dns=10.1.0.53,dhcpstart=10.1.0.100,ipv6=on,ipv6-net=fd01::/64,ipv6-host=fd01::1,"
            + "ipv6-dns=fd01::53,hostname=vm1,domainname=lab.example,dnssearch=a.example,dnssearch=b.example,mtu=9000,restrict=on,"
            + "host-loopback=off,dns-upstream=9.9.9.9,dns-upstream=[2620:fe::fe]:5353,hostfwd=tcp:127.0.0.1:2222-:22,"
            + "hostfwd=udp::5353-10.1.0.100:53,lease-time=2h,max-flows=1000,max-flows-per-guest=100");

        Assert.Equal(Ip("10.1.0.53"), o.Dns);
        Assert.Equal(Ip("10.1.0.100"), o.DhcpStart);
        Assert.Equal(Ip("fd01::53"), o.Dns6);
        Assert.Equal("vm1", o.Hostname);
        Assert.Equal("lab.example", o.DomainName);
        Assert.Equal(["a.example", "b.example"], o.DnsSearch.ToArray());
        Assert.Equal(9000, o.Mtu);
        Assert.True(o.Restrict);
        Assert.False(o.HostLoopback);
        Assert.Equal([new DnsUpstream(Ip("9.9.9.9")), new DnsUpstream(Ip("2620:fe::fe"), 5353)], o.DnsUpstreams.ToArray());
        Assert.Equal(2, o.Forwards.Length);
        Assert.Equal(ForwardProtocol.Udp, o.Forwards[1].Protocol);
        Assert.Equal(TimeSpan.FromHours(2), o.LeaseTime);
        Assert.Equal(1000, o.MaxFlows);
        Assert.Equal(100, o.MaxFlowsPerGuest);
    }

    [Theory]
    [InlineData("3600", 3600)]
    [InlineData("90s", 90)]
    [InlineData("30m", 1800)]
    [InlineData("12h", 43200)]
    [InlineData("1d", 86400)]
    public void Parse_LeaseTimeForms_Accepted(string text, int seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), GatewaySpec.Parse("lease-time=" + text).LeaseTime);
    }

    [Theory]
    [InlineData("9.9.9.9", "9.9.9.9", 53)]
    [InlineData("9.9.9.9:5353", "9.9.9.9", 5353)]
    [InlineData("[2620:fe::fe]", "2620:fe::fe", 53)]
    [InlineData("[::1]:53", "::1", 53)]
    public void Parse_DnsUpstreamForms_Accepted(string text, string address, int port)
    {
        Assert.Equal(new DnsUpstream(Ip(address), (ushort)port), Assert.Single(GatewaySpec.Parse("dns-upstream=" + text).DnsUpstreams));
    }

    // ---- Canonical text ----

    [Fact]
    public void Format_Default_RoundTrips()
    {
        string text = GatewaySpec.Format(D);

        Assert.StartsWith("user,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,dhcpstart=10.0.2.15,ipv6=on,ipv6-net=fd00::/64", text, StringComparison.Ordinal);
        Assert.Equal(D, GatewaySpec.Parse(text));
    }

    [Fact]
    public void Format_EveryOption_RoundTrips()
    {
        GatewayOptions o = GatewaySpec.Parse(
            "net=10.1.0.0/24,dhcpstart=10.1.0.100,ipv6-net=fd01::/64,hostname=vm1,domainname=lab.example,dnssearch=a.example,"
            + "mtu=9000,restrict=on,host-loopback=off,dns-upstream=[::1]:53,hostfwd=tcp:[::1]:2222-[fd01::15]:22,lease-time=600,max-flows=10,max-flows-per-guest=5");

        Assert.Equal(o, GatewaySpec.Parse(GatewaySpec.Format(o)));
    }

    [Fact]
    public void Format_Ipv6Off_OmitsIpv6AddressesAndRoundTrips()
    {
        GatewayOptions o = GatewaySpec.Parse("ipv6=off,mtu=576");

        Assert.DoesNotContain("ipv6-net", GatewaySpec.Format(o), StringComparison.Ordinal);
        Assert.Equal(o, GatewaySpec.Parse(GatewaySpec.Format(o)));
    }

    // ---- Syntax rules ----

    [Fact]
    public void UnknownOption_Rejected_WithSpellingSuggestion()
    {
        Assert.Contains("did you mean 'dhcpstart'?", Assert.Single(Errors("dhcpstrat=10.0.2.20")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("smb=/srv", "SMB")]
    [InlineData("tftp=/srv", "TFTP")]
    [InlineData("guestfwd=tcp:10.0.2.100:80-cmd:nc x 80", "guest forwards")]
    [InlineData("ipv4=off", "always on")]
    public void UnsupportedQemuOption_Rejected_SayingWhy(string text, string why)
    {
        string error = Assert.Single(Errors(text));
        Assert.Contains("not supported", error, StringComparison.Ordinal);
        Assert.Contains(why, error, StringComparison.Ordinal);
    }

    [Fact]
    public void SingleValuedOption_GivenTwice_Rejected()
    {
        Assert.Contains("more than once", Assert.Single(Errors("mtu=1500,mtu=9000")), StringComparison.Ordinal);
    }

    [Fact]
    public void Option_WithoutValue_Rejected()
    {
        Assert.Contains("has no value (write mtu=VALUE)", Assert.Single(Errors("user,mtu")), StringComparison.Ordinal);
    }

    [Fact]
    public void FirstWord_NotUser_Rejected()
    {
        Assert.Contains("starts with 'user'", Assert.Single(Errors("slirp,mtu=1500")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("restrict=maybe")]
    [InlineData("ipv6=1")]
    [InlineData("host-loopback=ON")]
    public void Boolean_NotOnOff_Rejected(string text)
    {
        Assert.Contains("expected on or off", Assert.Single(Errors(text)), StringComparison.Ordinal);
    }

    [Fact]
    public void Errors_AllReportedAtOnce()
    {
        IReadOnlyList<string> errors = Errors("net=10.0.2.0/33,mtu=abc,restrict=maybe,lease-time=10,hostfwd=tcp::0-:22,bogus=1");

        Assert.Equal(6, errors.Count);
    }

    // ---- net= ----

    [Fact]
    public void Net_WithoutPrefixLength_Rejected()
    {
        Assert.Contains("give the prefix length too (e.g. net=10.0.2.0/24)", Assert.Single(Errors("net=10.0.2.0")), StringComparison.Ordinal);
    }

    [Fact]
    public void Net_NotIpv4_Rejected()
    {
        Assert.Contains("is not an IPv4 address", Assert.Single(Errors("net=fd00::/64")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("net=10.0.0.0/7")]
    [InlineData("net=10.0.2.0/31")]
    public void Net_PrefixLengthOutside8To30_Rejected(string text)
    {
        Assert.Contains("/8 to /30", Assert.Single(Errors(text)), StringComparison.Ordinal);
    }

    [Fact]
    public void Net_HostBitsSet_Rejected()
    {
        Assert.Contains("host bits set; write net=10.0.2.0/24", Assert.Single(Errors("net=10.0.2.5/24,host=10.0.2.2,dns=10.0.2.3,dhcpstart=10.0.2.15")), StringComparison.Ordinal);
    }

    // ---- host=, dns=, dhcpstart= ----

    [Fact]
    public void Host_OutsideNet_Rejected()
    {
        Assert.Contains("host 10.0.3.2 is outside net 10.0.2.0/24", Assert.Single(Errors("host=10.0.3.2")), StringComparison.Ordinal);
    }

    [Fact]
    public void Host_NetworkAddress_Rejected()
    {
        Assert.Contains("host 10.0.2.0 is the network address", Assert.Single(Errors("host=10.0.2.0")), StringComparison.Ordinal);
    }

    [Fact]
    public void Host_BroadcastAddress_Rejected()
    {
        Assert.Contains("host 10.0.2.255 is the broadcast address", Assert.Single(Errors("host=10.0.2.255")), StringComparison.Ordinal);
    }

    [Fact]
    public void Host_NotAnAddress_Rejected()
    {
        Assert.Contains("expected an IP address", Assert.Single(Errors("host=10.2")), StringComparison.Ordinal);
    }

    [Fact]
    public void Dns_OutsideNet_Rejected()
    {
        Assert.Contains("dns 192.168.1.1 is outside net", Assert.Single(Errors("dns=192.168.1.1")), StringComparison.Ordinal);
    }

    [Fact]
    public void Dns_NetworkOrBroadcastAddress_Rejected()
    {
        Assert.Contains("dns 10.0.2.255 is the broadcast address", Assert.Single(Errors("dns=10.0.2.255")), StringComparison.Ordinal);
    }

    [Fact]
    public void Dns_SameAsHost_Rejected()
    {
        Assert.Contains("dns 10.0.2.2 is the same as host", Assert.Single(Errors("dns=10.0.2.2")), StringComparison.Ordinal);
    }

    [Fact]
    public void DhcpStart_OutsideNet_Rejected()
    {
        Assert.Contains("dhcpstart 10.0.3.15 is outside net", Assert.Single(Errors("dhcpstart=10.0.3.15")), StringComparison.Ordinal);
    }

    [Fact]
    public void DhcpStart_NetworkOrBroadcastAddress_Rejected()
    {
        Assert.Contains("dhcpstart 10.0.2.0 is the network address", Assert.Single(Errors("dhcpstart=10.0.2.0")), StringComparison.Ordinal);
    }

    [Fact]
    public void DhcpStart_SameAsHost_Rejected()
    {
        Assert.Contains("dhcpstart 10.0.2.2 is the gateway's address", Assert.Single(Errors("dhcpstart=10.0.2.2")), StringComparison.Ordinal);
    }

    [Fact]
    public void DhcpStart_SameAsDns_Rejected()
    {
        Assert.Contains("dhcpstart 10.0.2.3 is the DNS address", Assert.Single(Errors("dhcpstart=10.0.2.3")), StringComparison.Ordinal);
    }

    [Fact]
    public void DerivedDhcpStart_OutsideSmallNet_SaysItWasDerived()
    {
        string error = Assert.Single(Errors("net=10.0.2.0/29"));

        Assert.Contains("dhcpstart 10.0.2.15 is outside net 10.0.2.0/29 (derived from net=10.0.2.0/29; set dhcpstart= to choose another)", error, StringComparison.Ordinal);
    }

    // ---- IPv6 ----

    [Theory]
    [InlineData("ipv6-net=fd00::/48")]
    [InlineData("ipv6-prefix=fd00::,ipv6-prefixlen=56")]
    [InlineData("ipv6-prefixlen=80")]
    public void Ipv6PrefixLength_Not64_Rejected(string text)
    {
        Assert.Contains("SLAAC needs exactly /64", Assert.Single(Errors(text)), StringComparison.Ordinal);
    }

    [Fact]
    public void Ipv6Net_AndIpv6Prefix_BothGiven_Rejected()
    {
        Assert.Contains("not both", Assert.Single(Errors("ipv6-net=fd00::/64,ipv6-prefix=fd00::")), StringComparison.Ordinal);
    }

    [Fact]
    public void Ipv6Net_NotIpv6_Rejected()
    {
        Assert.Contains("is not an IPv6 address", Assert.Single(Errors("ipv6-net=10.0.0.0/64")), StringComparison.Ordinal);
    }

    [Fact]
    public void Ipv6Net_LinkLocal_Rejected()
    {
        Assert.Contains("not a global or unique-local prefix", Assert.Single(Errors("ipv6-net=fe80::/64")), StringComparison.Ordinal);
    }

    [Fact]
    public void Ipv6Host_OutsidePrefix_Rejected()
    {
        Assert.Contains("ipv6-host fd01::2 is outside the IPv6 prefix fd00::/64", Assert.Single(Errors("ipv6-host=fd01::2")), StringComparison.Ordinal);
    }

    [Fact]
    public void Ipv6Dns_PrefixAddress_Rejected()
    {
        Assert.Contains("subnet-router anycast", Assert.Single(Errors("ipv6-dns=fd00::")), StringComparison.Ordinal);
    }

    [Fact]
    public void Ipv6Dns_SameAsIpv6Host_Rejected()
    {
        Assert.Contains("is the same as ipv6-host", Assert.Single(Errors("ipv6-dns=fd00::2")), StringComparison.Ordinal);
    }

    [Fact]
    public void Ipv6Options_WithIpv6Off_Rejected()
    {
        Assert.Contains("'ipv6-host' is set but ipv6=off", Assert.Single(Errors("ipv6=off,ipv6-host=fd00::2")), StringComparison.Ordinal);
    }

    // ---- MTU ----

    [Fact]
    public void Mtu_Below576_Rejected()
    {
        Assert.Contains("mtu 575 is out of range (576 to 65520", Assert.Single(Errors("ipv6=off,mtu=575")), StringComparison.Ordinal);
    }

    [Fact]
    public void Mtu_Above65520_Rejected()
    {
        Assert.Contains("mtu 65521 is out of range", Assert.Single(Errors("mtu=65521")), StringComparison.Ordinal);
    }

    [Fact]
    public void Mtu_Below1280WithIpv6On_Rejected()
    {
        Assert.Contains("IPv6 needs at least 1280, or set ipv6=off", Assert.Single(Errors("mtu=1000")), StringComparison.Ordinal);
    }

    [Fact]
    public void Mtu_576WithIpv6Off_Accepted()
    {
        Assert.Equal(576, GatewaySpec.Parse("ipv6=off,mtu=576").Mtu);
    }

    // ---- Lease time and flow limits ----

    [Fact]
    public void LeaseTime_Below60Seconds_Rejected()
    {
        Assert.Contains("lease-time 59 s is out of range (at least 60 s", Assert.Single(Errors("lease-time=59")), StringComparison.Ordinal);
    }

    [Fact]
    public void LeaseTime_NotANumber_Rejected()
    {
        Assert.Contains("expected whole seconds", Assert.Single(Errors("lease-time=soon")), StringComparison.Ordinal);
    }

    [Fact]
    public void MaxFlows_Zero_Rejected()
    {
        Assert.Contains("max-flows 0 is out of range", Assert.Single(Errors("max-flows=0")), StringComparison.Ordinal);
    }

    [Fact]
    public void MaxFlowsPerGuest_AboveMaxFlows_Rejected()
    {
        Assert.Contains("max-flows-per-guest 200 is out of range (1 to max-flows, 100", Assert.Single(Errors("max-flows=100,max-flows-per-guest=200")), StringComparison.Ordinal);
    }

    [Fact]
    public void RelayBuffer_GivenParsed_PerPortAboveGlobalRejected()
    {
        Assert.True(GatewaySpec.TryParse("relay-buffer=1048576,relay-buffer-per-port=131072", out GatewayOptions? o, out _));
        Assert.Equal(1048576, o!.RelayBufferBytes);
        Assert.Equal(131072, o.RelayBufferBytesPerPort);
        Assert.Contains("relay-buffer-per-port 2097152 is out of range", Assert.Single(Errors("relay-buffer=1048576,relay-buffer-per-port=2097152")), StringComparison.Ordinal);
        Assert.Contains("relay-buffer 100 is out of range", Assert.Single(Errors("relay-buffer=100")), StringComparison.Ordinal);
    }

    [Fact]
    public void MaxLeasesPerPort_GivenOrDefaulted_ZeroRejected()
    {
        Assert.True(GatewaySpec.TryParse("max-leases-per-port=5", out GatewayOptions? o, out _));
        Assert.Equal(5, o!.MaxLeasesPerPort);
        Assert.Equal(32, GatewayOptions.Default.MaxLeasesPerPort);
        Assert.Contains("max-leases-per-port 0 is out of range", Assert.Single(Errors("max-leases-per-port=0")), StringComparison.Ordinal);
    }

    // ---- Names and upstreams ----

    [Fact]
    public void DnsSearch_InvalidName_Rejected()
    {
        Assert.Contains("dnssearch 'bad_name.example': not a valid DNS name", Assert.Single(Errors("dnssearch=ok.example,dnssearch=bad_name.example")), StringComparison.Ordinal);
    }

    [Fact]
    public void Hostname_InvalidName_Rejected()
    {
        Assert.Contains("hostname '-vm': not a valid DNS name", Assert.Single(Errors("hostname=-vm")), StringComparison.Ordinal);
    }

    [Fact]
    public void DnsUpstream_Ipv6WithoutBrackets_Rejected()
    {
        Assert.Contains("write an IPv6 server in brackets", Assert.Single(Errors("dns-upstream=2620:fe::fe")), StringComparison.Ordinal);
    }

    [Fact]
    public void DnsUpstream_BadPort_Rejected()
    {
        Assert.Contains("is not 1 to 65535", Assert.Single(Errors("dns-upstream=9.9.9.9:0")), StringComparison.Ordinal);
    }

    [Fact]
    public void DnsUpstream_Unspecified_Rejected()
    {
        Assert.Contains("is not a unicast DNS server", Assert.Single(Errors("dns-upstream=0.0.0.0")), StringComparison.Ordinal);
    }

    // ---- Forwards ----

    [Fact]
    public void Hostfwd_GuestOutsideNetworks_Rejected()
    {
        Assert.Contains("guest address 192.168.1.5 is not on the guests' network", Assert.Single(Errors("hostfwd=tcp::2222-192.168.1.5:22")), StringComparison.Ordinal);
    }

    [Fact]
    public void Hostfwd_GuestIpv6WithIpv6Off_Rejected()
    {
        Assert.Contains("IPv6 is off", Assert.Single(Errors("ipv6=off,hostfwd=tcp::2222-[fd00::15]:22")), StringComparison.Ordinal);
    }

    [Fact]
    public void Hostfwd_GuestIsGatewayAddress_Rejected()
    {
        Assert.Contains("is the gateway's own address", Assert.Single(Errors("hostfwd=tcp::2222-10.0.2.2:22")), StringComparison.Ordinal);
    }

    [Fact]
    public void Hostfwd_SameHostSideTwice_Rejected()
    {
        Assert.Contains("use the same host address and port", Assert.Single(Errors("hostfwd=tcp::2222-:22,hostfwd=tcp::2222-10.0.2.16:22")), StringComparison.Ordinal);
    }

    [Fact]
    public void Hostfwd_SamePortOtherProtocol_Accepted()
    {
        Assert.Equal(2, GatewaySpec.Parse("hostfwd=tcp::5353-:53,hostfwd=udp::5353-:53").Forwards.Length);
    }

    [Fact]
    public void Hostfwd_BadRule_ReportedWithSyntax()
    {
        Assert.Contains("expected [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT", Assert.Single(Errors("hostfwd=tcp:2222:22")), StringComparison.Ordinal);
    }

    // ---- Options built in code ----

    [Fact]
    public void Validate_OptionsBuiltInCode_ReportsEveryBrokenRule()
    {
        GatewayOptions o = D with { Mtu = 100, Host = Ip("10.0.9.2"), MaxFlows = 0 };

        Assert.Equal(3, GatewaySpec.Validate(o).Count);
    }

    [Fact]
    public void Validate_Default_HasNoProblems()
    {
        Assert.Empty(GatewaySpec.Validate(D));
    }

    // ---- Robustness ----

    [Fact]
    public void TryParse_RandomText_NeverThrows()
    {
        string[] pieces = ["user", ",", ",,", "=", "net", "10.0.2.0/24", "/", "hostfwd", "tcp:", "::", "-", ":22", "[", "]", "mtu", "99999999999", "ipv6-net", "fd00::", "%", "lease-time", "1d", "dns-upstream", "ipv6-prefixlen"];
        var random = new Random(1234);
        for (int i = 0; i < 5000; i++)
        {
            var text = new System.Text.StringBuilder();
            int n = random.Next(1, 12);
            for (int j = 0; j < n; j++)
            {
                text.Append(pieces[random.Next(pieces.Length)]);
            }

            bool ok = GatewaySpec.TryParse(text.ToString(), out GatewayOptions? options, out IReadOnlyList<string> errors);
            Assert.Equal(ok, options is not null);
            Assert.Equal(ok, errors.Count == 0);
        }
    }

    internal static IpAddr Ip(string text) => IpAddr.From(System.Net.IPAddress.Parse(text));

    private static IReadOnlyList<string> Errors(string text)
    {
        Assert.False(GatewaySpec.TryParse(text, out GatewayOptions? options, out IReadOnlyList<string> errors), $"'{text}' parsed");
        Assert.Null(options);
        return errors;
    }
}
