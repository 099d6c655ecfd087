// Netdev spec parsing: every accepted form, the canonical text, and every rejection rule.
//
// Each rejection test checks that the message names the problem (and, where there is one, the hint),
// because the message is the whole user interface of a configuration error.
using Switchyard.Core.Config;
using Switchyard.Engine.Config;
using Switchyard.Ports;
using Switchyard.Ports.Dgram;
using Switchyard.Ports.Stream;
using Switchyard.Ports.VhostUser;

namespace Switchyard.Engine.Tests.Config;

public sealed class NetdevSpecParseTests
{
    // ---- Accepted forms ----

    [Fact]
    public void Parse_StreamUnixServer_GivesUnixListener()
    {
        var spec = Assert.IsType<StreamSpec>(NetdevSpec.Parse("stream,addr.type=unix,addr.path=/tmp/g1.sock,server=on"));

        Assert.Equal(new UnixSocketAddress("/tmp/g1.sock"), spec.Address);
        Assert.True(spec.Server);
        Assert.Null(spec.Reconnect);
        Assert.Equal("stream", spec.Kind);
    }

    [Fact]
    public void Parse_StreamWithoutServer_DefaultsToClientLikeQemu()
    {
        var spec = Assert.IsType<StreamSpec>(NetdevSpec.Parse("stream,addr.type=unix,addr.path=/tmp/g1.sock"));

        Assert.False(spec.Server);
    }

    [Fact]
    public void Parse_StreamAbstractUnix_SetsAbstract()
    {
        var spec = Assert.IsType<StreamSpec>(NetdevSpec.Parse("stream,addr.type=unix,addr.path=sw0,addr.abstract=on,addr.tight=on,server=on"));

        Assert.Equal(new UnixSocketAddress("sw0", @abstract: true), spec.Address);
    }

    [Fact]
    public void Parse_StreamInetClient_GivesInetAddress()
    {
        var spec = Assert.IsType<StreamSpec>(NetdevSpec.Parse("stream,id=n0,addr.type=inet,addr.host=127.0.0.1,addr.port=5000,server=off"));

        Assert.Equal(new InetSocketAddress("127.0.0.1", 5000), spec.Address);
        Assert.False(spec.Server);
    }

    [Fact]
    public void Parse_StreamInetIpv6Host_Accepted()
    {
        var spec = Assert.IsType<StreamSpec>(NetdevSpec.Parse("stream,addr.type=inet,addr.host=::1,addr.port=5000"));

        Assert.Equal("::1", ((InetSocketAddress)spec.Address).Host);
    }

    [Fact]
    public void Parse_StreamInetServerPortZero_AllowedForListener()
    {
        var spec = Assert.IsType<StreamSpec>(NetdevSpec.Parse("stream,addr.type=inet,addr.host=0.0.0.0,addr.port=0,server=on"));

        Assert.Equal(0, ((InetSocketAddress)spec.Address).Port);
    }

    [Fact]
    public void Parse_StreamReconnectMs_StoredAsTimeSpan()
    {
        var spec = Assert.IsType<StreamSpec>(NetdevSpec.Parse("stream,addr.type=unix,addr.path=/tmp/a,reconnect-ms=1500"));

        Assert.Equal(TimeSpan.FromMilliseconds(1500), spec.Reconnect);
    }

    [Fact]
    public void Parse_StreamReconnectSeconds_StoredAsTimeSpan()
    {
        var spec = Assert.IsType<StreamSpec>(NetdevSpec.Parse("stream,addr.type=unix,addr.path=/tmp/a,reconnect=2"));

        Assert.Equal(TimeSpan.FromSeconds(2), spec.Reconnect);
    }

    [Fact]
    public void Parse_StreamReconnectZero_MeansNoReconnect()
    {
        var spec = Assert.IsType<StreamSpec>(NetdevSpec.Parse("stream,addr.type=unix,addr.path=/tmp/a,reconnect-ms=0"));

        Assert.Null(spec.Reconnect);
    }

    [Fact]
    public void Parse_TypeKeyInsteadOfTypeWord_Accepted()
    {
        Assert.IsType<StreamSpec>(NetdevSpec.Parse("type=stream,addr.type=unix,addr.path=/tmp/a"));
    }

    [Theory]
    [InlineData("on", true)]
    [InlineData("yes", true)]
    [InlineData("true", true)]
    [InlineData("off", false)]
    [InlineData("no", false)]
    [InlineData("false", false)]
    public void Parse_BooleanSpellings_AcceptedLikeQemu(string text, bool expected)
    {
        var spec = Assert.IsType<StreamSpec>(NetdevSpec.Parse($"stream,addr.type=unix,addr.path=/tmp/a,server={text}"));

        Assert.Equal(expected, spec.Server);
    }

    [Fact]
    public void Parse_DoubledCommaInValue_IsOneComma()
    {
        var spec = Assert.IsType<StreamSpec>(NetdevSpec.Parse("stream,addr.type=unix,addr.path=/tmp/a,,b,,,server=on"));

        Assert.Equal("/tmp/a,b,", ((UnixSocketAddress)spec.Address).Path);
        Assert.True(spec.Server);
    }

    [Fact]
    public void Parse_DgramInet_GivesLocalAndRemote()
    {
        var spec = Assert.IsType<DgramSpec>(NetdevSpec.Parse(
            "dgram,local.type=inet,local.host=127.0.0.1,local.port=6000,remote.type=inet,remote.host=127.0.0.1,remote.port=6001"));

        Assert.Equal(new InetSocketAddress("127.0.0.1", 6000), spec.Local);
        Assert.Equal(new InetSocketAddress("127.0.0.1", 6001), spec.Remote);
        Assert.Equal("dgram", spec.Kind);
    }

    [Fact]
    public void Parse_DgramUnix_GivesLocalAndRemote()
    {
        var spec = Assert.IsType<DgramSpec>(NetdevSpec.Parse("dgram,local.type=unix,local.path=/tmp/sw.sock,remote.type=unix,remote.path=/tmp/qemu.sock"));

        Assert.Equal(new UnixSocketAddress("/tmp/sw.sock"), spec.Local);
        Assert.Equal(new UnixSocketAddress("/tmp/qemu.sock"), spec.Remote);
    }

    [Fact]
    public void Parse_DgramLocalPortZero_AllowedBecauseWeBind()
    {
        var spec = Assert.IsType<DgramSpec>(NetdevSpec.Parse(
            "dgram,local.type=inet,local.host=127.0.0.1,local.port=0,remote.type=inet,remote.host=127.0.0.1,remote.port=6001"));

        Assert.Equal(0, ((InetSocketAddress)spec.Local).Port);
    }

    [Fact]
    public void Parse_SocketListen_GivesInetStreamServer()
    {
        var spec = Assert.IsType<StreamSpec>(NetdevSpec.Parse("socket,listen=127.0.0.1:5000"));

        Assert.Equal(new StreamSpec(new InetSocketAddress("127.0.0.1", 5000), server: true), spec);
    }

    [Fact]
    public void Parse_SocketListenWithoutHost_BindsWildcardLikeQemu()
    {
        var spec = Assert.IsType<StreamSpec>(NetdevSpec.Parse("socket,listen=:5000"));

        Assert.Equal(new InetSocketAddress(Defaults.WildcardHost, 5000), spec.Address);
        Assert.True(spec.Server);
    }

    [Fact]
    public void Parse_SocketListenBracketedIpv6_StripsBrackets()
    {
        var spec = Assert.IsType<StreamSpec>(NetdevSpec.Parse("socket,listen=[::1]:5000"));

        Assert.Equal(new InetSocketAddress("::1", 5000), spec.Address);
    }

    [Fact]
    public void Parse_SocketConnect_GivesInetStreamClient()
    {
        var spec = Assert.IsType<StreamSpec>(NetdevSpec.Parse("socket,id=x,connect=localhost:5000"));

        Assert.Equal(new StreamSpec(new InetSocketAddress("localhost", 5000), server: false), spec);
    }

    [Fact]
    public void Parse_SocketUdp_GivesDgramWithUdpAsRemote()
    {
        var spec = Assert.IsType<DgramSpec>(NetdevSpec.Parse("socket,udp=127.0.0.1:6001,localaddr=127.0.0.1:6000"));

        Assert.Equal(new InetSocketAddress("127.0.0.1", 6000), spec.Local);
        Assert.Equal(new InetSocketAddress("127.0.0.1", 6001), spec.Remote);
    }

    [Fact]
    public void Parse_VhostUserMinimal_DefaultsServerOnOneQueue()
    {
        var spec = Assert.IsType<VhostUserSpec>(NetdevSpec.Parse("vhost-user,path=/tmp/vu.sock"));

        Assert.Equal(new VhostUserSpec("/tmp/vu.sock", server: true, queues: 1), spec);
        Assert.Equal("vhost-user", spec.Kind);
    }

    [Fact]
    public void Parse_VhostUserAllOptions_Read()
    {
        var spec = Assert.IsType<VhostUserSpec>(NetdevSpec.Parse("vhost-user,id=v,path=/tmp/vu.sock,server=off,queues=16"));

        Assert.False(spec.Server);
        Assert.Equal(16, spec.Queues);
    }

    [Fact]
    public void Parse_VhostUserMemoryTrusted_ReadAndWrittenBack()
    {
        var spec = Assert.IsType<VhostUserSpec>(NetdevSpec.Parse("vhost-user,path=/tmp/vu.sock,memory=trusted"));

        Assert.Equal(Switchyard.Native.MemoryFilePolicy.Trusted, spec.Memory);
        Assert.Equal("vhost-user,path=/tmp/vu.sock,server=on,queues=1,memory=trusted", spec.ToString());
        Assert.Equal(spec, NetdevSpec.Parse(spec.ToString()));
    }

    [Fact]
    public void Parse_VhostUserMemoryDefault_IsSealedAndNotWritten()
    {
        var spec = Assert.IsType<VhostUserSpec>(NetdevSpec.Parse("vhost-user,path=/tmp/vu.sock,memory=sealed"));

        Assert.Equal(Switchyard.Native.MemoryFilePolicy.Sealed, spec.Memory);
        Assert.DoesNotContain("memory", spec.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_VhostUserMemoryUnknown_NamesBothValues()
    {
        var e = Assert.Throws<ConfigException>(() => NetdevSpec.Parse("vhost-user,path=/tmp/vu.sock,memory=maybe"));

        Assert.Contains("memory=maybe is neither sealed", e.Message, StringComparison.Ordinal);
        Assert.Contains("trusted", e.Message, StringComparison.Ordinal);
    }

    // ---- Canonical text ----

    [Theory]
    [InlineData("stream,addr.type=unix,addr.path=/tmp/g1.sock,server=on", "stream,addr.type=unix,addr.path=/tmp/g1.sock,server=on")]
    [InlineData("stream,server=yes,id=a,addr.path=/tmp/g1.sock,addr.type=unix", "stream,addr.type=unix,addr.path=/tmp/g1.sock,server=on")]
    [InlineData("stream,addr.type=unix,addr.path=x,addr.abstract=on", "stream,addr.type=unix,addr.path=x,addr.abstract=on,server=off")]
    [InlineData("stream,addr.type=unix,addr.path=/a,,b", "stream,addr.type=unix,addr.path=/a,,b,server=off")]
    [InlineData("stream,addr.type=inet,addr.host=::1,addr.port=1,reconnect=3", "stream,addr.type=inet,addr.host=::1,addr.port=1,server=off,reconnect-ms=3000")]
    [InlineData("socket,listen=:5000", "stream,addr.type=inet,addr.host=0.0.0.0,addr.port=5000,server=on")]
    [InlineData("socket,connect=10.0.0.1:5000", "stream,addr.type=inet,addr.host=10.0.0.1,addr.port=5000,server=off")]
    [InlineData("socket,udp=10.0.0.2:2,localaddr=:1", "dgram,local.type=inet,local.host=0.0.0.0,local.port=1,remote.type=inet,remote.host=10.0.0.2,remote.port=2")]
    [InlineData("dgram,remote.type=unix,remote.path=/r,local.type=unix,local.path=/l", "dgram,local.type=unix,local.path=/l,remote.type=unix,remote.path=/r")]
    [InlineData("vhost-user,path=/tmp/vu.sock", "vhost-user,path=/tmp/vu.sock,server=on,queues=1")]
    public void ToString_AnyForm_GivesCanonicalText(string text, string canonical)
    {
        Assert.Equal(canonical, NetdevSpec.Parse(text).ToString());
    }

    [Theory]
    [InlineData("stream,addr.type=unix,addr.path=/tmp/g1.sock,server=on")]
    [InlineData("stream,addr.type=unix,addr.path=/tmp/a,,b,,,server=off")]
    [InlineData("stream,addr.type=unix,addr.path=name=with=equals,addr.abstract=on")]
    [InlineData("stream,addr.type=inet,addr.host=example.org,addr.port=80,reconnect-ms=250")]
    [InlineData("socket,listen=[::]:5000")]
    [InlineData("socket,udp=[::1]:6001,localaddr=[::1]:6000")]
    [InlineData("dgram,local.type=unix,local.path=/l,,x,remote.type=unix,remote.path=@r,remote.abstract=on")]
    [InlineData("vhost-user,path=/tmp/v,,u.sock,server=off,queues=4")]
    public void Parse_CanonicalText_RoundTripsToEqualSpec(string text)
    {
        NetdevSpec spec = NetdevSpec.Parse(text);
        NetdevSpec again = NetdevSpec.Parse(spec.ToString());

        Assert.Equal(spec, again);
        Assert.Equal(spec.ToString(), again.ToString());
    }

    [Fact]
    public void TryParse_ValidText_ReturnsSpecAndNoErrors()
    {
        bool ok = NetdevSpec.TryParse("vhost-user,path=/x", out NetdevSpec? spec, out IReadOnlyList<string> errors);

        Assert.True(ok);
        Assert.NotNull(spec);
        Assert.Empty(errors);
    }

    // ---- Rejections ----

    [Fact]
    public void Parse_UnknownKey_SuggestsClosestKey()
    {
        string error = Assert.Single(Errors("stream,addr.type=unix,adr.path=/tmp/a,addr.path=/tmp/a"));

        Assert.Equal("unknown option 'adr.path' in stream spec (did you mean 'addr.path'?)", error);
    }

    [Fact]
    public void Parse_UnknownKeyFarFromAny_ListsValidKeys()
    {
        string error = Assert.Single(Errors("vhost-user,path=/x,zzzzzzzz=1"));

        Assert.Contains("unknown option 'zzzzzzzz'", error, StringComparison.Ordinal);
        Assert.Contains("valid options: id, path, server, queues", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_QemuOptionWeDoNotUse_SaysNotSupported()
    {
        string error = Assert.Single(Errors("stream,addr.type=inet,addr.host=h,addr.port=1,addr.ipv4=on"));

        Assert.Contains("'addr.ipv4' is not supported", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_MissingAddrType_HintsTypeFromOtherKeys()
    {
        string error = Assert.Single(Errors("stream,addr.path=/tmp/a"));

        Assert.Equal("missing option 'addr.type' in stream spec (add addr.type=unix)", error);
    }

    [Fact]
    public void Parse_MissingPath_Reported()
    {
        string error = Assert.Single(Errors("stream,addr.type=unix,server=on"));

        Assert.Contains("missing option 'addr.path'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_InetMissingHostAndPort_ReportsBoth()
    {
        IReadOnlyList<string> errors = Errors("stream,addr.type=inet");

        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.Contains("missing option 'addr.host'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("missing option 'addr.port'", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("70000", "out of range")]
    [InlineData("-1", "whole number")]
    [InlineData("http", "whole number")]
    [InlineData("", "whole number")]
    public void Parse_BadPort_Rejected(string port, string expected)
    {
        string error = Assert.Single(Errors($"stream,addr.type=inet,addr.host=127.0.0.1,addr.port={port},server=on"));

        Assert.Contains("'addr.port'", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ClientPortZero_RejectedBecauseOnlyListenersPickAny()
    {
        string error = Assert.Single(Errors("stream,addr.type=inet,addr.host=127.0.0.1,addr.port=0"));

        Assert.Contains("port 0", error, StringComparison.Ordinal);
        Assert.Contains("server=on", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnixPathTooLong_RejectedWithLimit()
    {
        string path = "/tmp/" + new string('p', 103); // 108 bytes: one more than sun_path holds.

        string error = Assert.Single(Errors($"stream,addr.type=unix,addr.path={path}"));

        Assert.Contains("at most 107 bytes", error, StringComparison.Ordinal);
        Assert.Contains("108 bytes", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnixPathOfExactlyMaxLength_Accepted()
    {
        string path = "/tmp/" + new string('p', 102); // 107 bytes.

        Assert.IsType<StreamSpec>(NetdevSpec.Parse($"stream,addr.type=unix,addr.path={path}"));
    }

    [Fact]
    public void Parse_UnixPathLengthCountsUtf8Bytes_NotChars()
    {
        string path = "/" + new string('é', 54); // 55 chars, 109 bytes.

        Assert.Contains(Errors($"stream,addr.type=unix,addr.path={path}"), e => e.Contains("109 bytes", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_EmptyUnixPath_Rejected()
    {
        Assert.Contains("must not be empty", Assert.Single(Errors("stream,addr.type=unix,addr.path=")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BadBoolean_RejectedWithSpellings()
    {
        string error = Assert.Single(Errors("stream,addr.type=unix,addr.path=/a,server=maybe"));

        Assert.Equal("bad value 'maybe' for 'server' in stream spec (expected on or off; yes/no and true/false also work)", error);
    }

    [Fact]
    public void Parse_KeyWithoutValue_AsksForValue()
    {
        Assert.Contains("write server=VALUE", Assert.Single(Errors("stream,addr.type=unix,addr.path=/a,server")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_RepeatedKey_Rejected()
    {
        Assert.Contains("more than once", Assert.Single(Errors("stream,addr.type=unix,addr.path=/a,addr.path=/b")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_TrailingComma_ReportsEmptyOption()
    {
        Assert.Contains("empty option", Assert.Single(Errors("stream,addr.type=unix,addr.path=/a,")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_KeyOfOtherAddressType_Rejected()
    {
        Assert.Contains("does not apply to addr.type=unix", Assert.Single(Errors("stream,addr.type=unix,addr.path=/a,addr.port=1")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_AddrTypeFd_NotSupported()
    {
        Assert.Contains("'addr.type=fd' is not supported", Assert.Single(Errors("stream,addr.type=fd")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BadHost_Rejected()
    {
        Assert.Contains("neither an IP address nor a host name", Assert.Single(Errors("stream,addr.type=inet,addr.host=a b,addr.port=1")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ReconnectOnServer_Rejected()
    {
        Assert.Contains("only to a client", Assert.Single(Errors("stream,addr.type=unix,addr.path=/a,server=on,reconnect-ms=100")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BothReconnectForms_Rejected()
    {
        Assert.Contains("not both", Assert.Single(Errors("stream,addr.type=unix,addr.path=/a,reconnect=1,reconnect-ms=100")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EmptyText_Rejected()
    {
        Assert.Contains("empty", Assert.Single(Errors(string.Empty)), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_MisspeltType_SuggestsType()
    {
        Assert.Contains("did you mean 'stream'?", Assert.Single(Errors("steam,addr.type=unix")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_OtherQemuNetdevType_SaysNotAPortType()
    {
        Assert.Contains("not a Switchyard port type", Assert.Single(Errors("bridge,br=br0")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_OptionBeforeType_Rejected()
    {
        Assert.Contains("starts with its type", Assert.Single(Errors("addr.type=unix,stream")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DgramWithoutRemote_RejectedAsPointToPoint()
    {
        string error = Assert.Single(Errors("dgram,local.type=inet,local.host=127.0.0.1,local.port=1"));

        Assert.Contains("missing option 'remote.type'", error, StringComparison.Ordinal);
        Assert.Contains("point-to-point", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DgramMixedFamilies_Rejected()
    {
        string error = Assert.Single(Errors("dgram,local.type=unix,local.path=/l,remote.type=inet,remote.host=127.0.0.1,remote.port=1"));

        Assert.Contains("same type", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DgramMixedIpVersions_Rejected()
    {
        string error = Assert.Single(Errors("dgram,local.type=inet,local.host=0.0.0.0,local.port=1,remote.type=inet,remote.host=::1,remote.port=2"));

        Assert.Contains("different IP versions", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.0.0.0", "239.1.2.3")]
    [InlineData("::", "ff02::1")]
    public void Parse_DgramMulticastRemote_NotSupported(string local, string group)
    {
        string error = Assert.Single(Errors(
            $"dgram,local.type=inet,local.host={local},local.port=1,remote.type=inet,remote.host={group},remote.port=2"));

        Assert.Contains("multicast dgram is not supported", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DgramRemotePortZero_Rejected()
    {
        Assert.Contains("remote port 0", Assert.Single(Errors("dgram,local.type=inet,local.host=127.0.0.1,local.port=1,remote.type=inet,remote.host=127.0.0.1,remote.port=0")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DgramLocalEqualsRemote_Rejected()
    {
        Assert.Contains("same address", Assert.Single(Errors("dgram,local.type=unix,local.path=/a,remote.type=unix,remote.path=/a")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SocketMcast_NotSupportedWithAlternative()
    {
        string error = Assert.Single(Errors("socket,mcast=230.0.0.1:1234"));

        Assert.Contains("not supported", error, StringComparison.Ordinal);
        Assert.Contains("socket,udp=", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SocketFd_NotSupportedWithAlternative()
    {
        string error = Assert.Single(Errors("socket,fd=3"));

        Assert.Contains("socket,fd= is not supported", error, StringComparison.Ordinal);
        Assert.Contains("listen=", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SocketTwoModes_Rejected()
    {
        Assert.Contains("only one of", Assert.Single(Errors("socket,listen=:1,connect=h:2")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SocketNoMode_Rejected()
    {
        Assert.Contains("needs one of", Assert.Single(Errors("socket,id=x")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SocketUdpWithoutLocaladdr_Rejected()
    {
        Assert.Contains("needs localaddr", Assert.Single(Errors("socket,udp=127.0.0.1:1")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SocketConnectWithoutHost_Rejected()
    {
        Assert.Contains("a host is needed", Assert.Single(Errors("socket,connect=:5000")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SocketUnbracketedIpv6_AsksForBrackets()
    {
        Assert.Contains("in brackets", Assert.Single(Errors("socket,connect=::1:5000")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("17")]
    public void Parse_VhostUserQueuesOutOfRange_Rejected(string queues)
    {
        Assert.Contains("out of range (1..16", Assert.Single(Errors($"vhost-user,path=/x,queues={queues}")), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_VhostUserChardev_PointsToPath()
    {
        IReadOnlyList<string> errors = Errors("vhost-user,chardev=c0");

        Assert.Contains(errors, e => e.Contains("give path=PATH instead", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("missing option 'path'", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_SeveralProblems_ReportsAllAtOnce()
    {
        var ex = Assert.Throws<ConfigException>(() => NetdevSpec.Parse("stream,addr.type=inet,addr.host=bad host,addr.port=99999,server=perhaps,adr=1"));

        Assert.Equal(4, ex.Errors.Count);
        Assert.Equal(string.Join('\n', ex.Errors), ex.Message);
    }

    [Fact]
    public void TryParse_BadText_ReturnsFalseWithErrors()
    {
        bool ok = NetdevSpec.TryParse("stream", out NetdevSpec? spec, out IReadOnlyList<string> errors);

        Assert.False(ok);
        Assert.Null(spec);
        Assert.NotEmpty(errors);
    }

    private static IReadOnlyList<string> Errors(string text)
    {
        Assert.False(NetdevSpec.TryParse(text, out _, out IReadOnlyList<string> errors), $"'{text}' should not parse");
        var ex = Assert.Throws<ConfigException>(() => NetdevSpec.Parse(text));
        Assert.Equal(errors, ex.Errors);
        return errors;
    }
}
