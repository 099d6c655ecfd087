// Forward rules in QEMU's hostfwd syntax: every accepted form, the round trip through
// ForwardRule.ToString(), and each rejection with its hint.
using Switchyard.Engine.Config;
using Switchyard.Protocols;
using Switchyard.UserNet;

namespace Switchyard.Engine.Tests.Config;

public sealed class ForwardRuleParserTests
{
    [Fact]
    public void Parse_FullTcpRule_AllFields()
    {
        ForwardRule rule = ForwardRuleParser.Parse("tcp:127.0.0.1:2222-10.0.2.15:22");

        Assert.Equal(new ForwardRule(ForwardProtocol.Tcp, Ip("127.0.0.1"), 2222, Ip("10.0.2.15"), 22), rule);
    }

    [Theory]
    [InlineData("tcp::2222-:22")]
    [InlineData("::2222-:22")]
    [InlineData(":2222-:22")]
    public void Parse_EmptyProtocolAndAddresses_TcpOnEveryAddressToFirstDhcpAddress(string text)
    {
        ForwardRule rule = ForwardRuleParser.Parse(text);

        Assert.Equal(new ForwardRule(ForwardProtocol.Tcp, IpAddr.None, 2222, IpAddr.None, 22), rule);
    }

    [Fact]
    public void Parse_ProtocolLeftOut_DefaultsToTcp()
    {
        Assert.Equal(ForwardProtocol.Tcp, ForwardRuleParser.Parse("127.0.0.1:8080-10.0.2.15:80").Protocol);
    }

    [Fact]
    public void Parse_Udp_Accepted()
    {
        Assert.Equal(ForwardProtocol.Udp, ForwardRuleParser.Parse("udp::5353-:53").Protocol);
    }

    [Fact]
    public void Parse_Ipv6InBrackets_BothSides()
    {
        ForwardRule rule = ForwardRuleParser.Parse("tcp:[::1]:2222-[fd00::15]:22");

        Assert.Equal(Ip("::1"), rule.HostAddress);
        Assert.Equal(Ip("fd00::15"), rule.GuestAddress);
    }

    [Theory]
    [InlineData("tcp:127.0.0.1:2222-10.0.2.15:22")]
    [InlineData("udp:[::1]:53-:53")]
    [InlineData("tcp::2222-:22")]
    [InlineData("tcp:0.0.0.0:80-[fd00::20]:8080")]
    [InlineData("udp:192.168.1.10:65535-10.0.2.200:1")]
    public void ToString_ParsesBackToEqualRule(string text)
    {
        ForwardRule rule = ForwardRuleParser.Parse(text);

        Assert.Equal(text, rule.ToString());
        Assert.Equal(rule, ForwardRuleParser.Parse(rule.ToString()));
    }

    [Fact]
    public void NoDash_Rejected_WithSyntax()
    {
        Assert.Contains("no '-' between the host side and the guest side", Error("tcp:127.0.0.1:2222"), StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownProtocol_Rejected()
    {
        Assert.Contains("unknown protocol 'sctp' (tcp or udp", Error("sctp::2222-:22"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tcp::0-:22", "host port '0'")]
    [InlineData("tcp::65536-:22", "host port '65536'")]
    [InlineData("tcp::2222-:0", "guest port '0'")]
    [InlineData("tcp::ssh-:22", "host port 'ssh'")]
    public void Port_Outside1To65535_Rejected(string text, string expected)
    {
        string error = Error(text);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Contains("1 to 65535", error, StringComparison.Ordinal);
    }

    [Fact]
    public void HostAddress_NotAnAddress_Rejected()
    {
        Assert.Contains("host address 'localhost' is not an IPv4 or IPv6 address", Error("tcp:localhost:2222-:22"), StringComparison.Ordinal);
    }

    [Fact]
    public void Ipv6WithoutBrackets_Rejected()
    {
        Assert.Contains("write an IPv6 address in brackets", Error("tcp:::1:2222-:22"), StringComparison.Ordinal);
    }

    [Fact]
    public void GuestAddress_Multicast_Rejected()
    {
        Assert.Contains("is not a guest's unicast address", Error("tcp::2222-224.0.0.1:22"), StringComparison.Ordinal);
    }

    [Fact]
    public void BothSidesBad_BothReportedInOneMessage()
    {
        string error = Error("tcp:1.2.3:0-x:y");

        Assert.Contains("host address", error, StringComparison.Ordinal);
        Assert.Contains("guest port", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_GuestOutsideGatewayNetworks_Rejected()
    {
        string? problem = ForwardRuleParser.Check(ForwardRuleParser.Parse("tcp::2222-10.0.3.15:22"), GatewayOptions.Default);

        Assert.Contains("give an address in 10.0.2.0/24 or fd00::/64", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_GuestLeftOut_Accepted()
    {
        Assert.Null(ForwardRuleParser.Check(ForwardRuleParser.Parse("tcp::2222-:22"), GatewayOptions.Default));
    }

    [Fact]
    public void Check_GuestBroadcastOfNetwork_Rejected()
    {
        Assert.Contains("network or broadcast address", ForwardRuleParser.Check(ForwardRuleParser.Parse("tcp::2222-10.0.2.255:22"), GatewayOptions.Default), StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_RandomText_NeverThrows()
    {
        string[] pieces = ["tcp", "udp", ":", "::", "-", "[", "]", "127.0.0.1", "::1", "22", "65536", "0", "x", "10.0.2.15"];
        var random = new Random(42);
        for (int i = 0; i < 5000; i++)
        {
            var text = new System.Text.StringBuilder();
            for (int j = random.Next(1, 10); j > 0; j--)
            {
                text.Append(pieces[random.Next(pieces.Length)]);
            }

            bool ok = ForwardRuleParser.TryParse(text.ToString(), out ForwardRule? rule, out string? error);
            Assert.Equal(ok, rule is not null);
            Assert.Equal(ok, error is null);
            if (ok)
            {
                Assert.Equal(rule, ForwardRuleParser.Parse(rule!.ToString()));
            }
        }
    }

    private static IpAddr Ip(string text) => GatewaySpecTests.Ip(text);

    private static string Error(string text)
    {
        Assert.False(ForwardRuleParser.TryParse(text, out ForwardRule? rule, out string? error), $"'{text}' parsed as {rule}");
        return error;
    }
}
