// Socket addresses: constructor rules and conversion to System.Net endpoints.
using System.Net;
using System.Net.Sockets;
using Switchyard.Core.Config;
using Switchyard.Engine.Config;
using Switchyard.Ports;

namespace Switchyard.Engine.Tests.Config;

public sealed class SocketAddressTests
{
    [Fact]
    public void ToEndPoint_UnixPath_GivesUnixDomainEndPoint()
    {
        EndPoint endPoint = new UnixSocketAddress("/tmp/sw.sock").ToEndPoint();

        Assert.Equal("/tmp/sw.sock", Assert.IsType<UnixDomainSocketEndPoint>(endPoint).ToString());
    }

    [Fact]
    public void ToEndPoint_AbstractName_GetsLeadingNul()
    {
        EndPoint endPoint = new UnixSocketAddress("switchyard-test", @abstract: true).ToEndPoint();

        // The abstract namespace is a leading NUL in sun_path; .NET shows it as '@'.
        Assert.Equal("@switchyard-test", Assert.IsType<UnixDomainSocketEndPoint>(endPoint).ToString());
    }

    [Fact]
    public void ToEndPoint_MaxLengthPaths_AcceptedByDotNet()
    {
        _ = new UnixSocketAddress("/" + new string('a', Defaults.MaxUnixPathBytes - 1)).ToEndPoint();
        _ = new UnixSocketAddress(new string('a', Defaults.MaxUnixPathBytes), @abstract: true).ToEndPoint();
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1")]
    [InlineData("::1", "::1")]
    [InlineData("localhost", "127.0.0.1")]
    [InlineData("LocalHost", "127.0.0.1")]
    [InlineData("0.0.0.0", "0.0.0.0")]
    public void ToEndPoint_LiteralOrLocalhost_GivesIpEndPointWithoutLookup(string host, string address)
    {
        var endPoint = Assert.IsType<IPEndPoint>(new InetSocketAddress(host, 5000).ToEndPoint());

        Assert.Equal(IPAddress.Parse(address), endPoint.Address);
        Assert.Equal(5000, endPoint.Port);
    }

    [Fact]
    public void ToEndPoint_UnresolvableName_ThrowsConfigException()
    {
        // ".invalid" is reserved never to resolve (RFC 2606).
        var ex = Assert.Throws<ConfigException>(() => new InetSocketAddress("no-such-host.invalid", 1).ToEndPoint());

        Assert.Contains("cannot resolve host 'no-such-host.invalid'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(65536)]
    public void InetSocketAddress_PortOutOfRange_Throws(int port)
    {
        Assert.Throws<ConfigException>(() => new InetSocketAddress("127.0.0.1", port));
    }

    [Theory]
    [InlineData("")]
    [InlineData("bad host")]
    [InlineData("-leading-dash")]
    [InlineData("a/b")]
    public void InetSocketAddress_BadHost_Throws(string host)
    {
        Assert.Throws<ConfigException>(() => new InetSocketAddress(host, 1));
    }

    [Theory]
    [InlineData("")]
    [InlineData("/tmp/a\0b")]
    public void UnixSocketAddress_EmptyOrNul_Throws(string path)
    {
        Assert.Throws<ConfigException>(() => new UnixSocketAddress(path));
    }

    [Fact]
    public void UnixSocketAddress_PathOverSunPath_Throws()
    {
        var ex = Assert.Throws<ConfigException>(() => new UnixSocketAddress("/" + new string('a', Defaults.MaxUnixPathBytes)));

        Assert.Contains("sun_path", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToString_Addresses_GiveDisplayForms()
    {
        Assert.Equal("/tmp/a", new UnixSocketAddress("/tmp/a").ToString());
        Assert.Equal("@a", new UnixSocketAddress("a", @abstract: true).ToString());
        Assert.Equal("10.0.0.1:80", new InetSocketAddress("10.0.0.1", 80).ToString());
        Assert.Equal("[::1]:80", new InetSocketAddress("::1", 80).ToString());
    }

    [Fact]
    public void Equality_SameValues_Equal()
    {
        Assert.Equal(new InetSocketAddress("h", 1), new InetSocketAddress("h", 1));
        Assert.NotEqual(new UnixSocketAddress("a"), new UnixSocketAddress("a", @abstract: true));
    }
}
