// Defaults: the values other code relies on, and the run-directory rule.
using Switchyard.Engine.Config;

namespace Switchyard.Engine.Tests.Config;

public sealed class DefaultsTests
{
    [Fact]
    public void Defaults_DocumentedValues_Hold()
    {
        Assert.Equal(TimeSpan.FromSeconds(300), Defaults.MacAgeing);
        Assert.Equal(8192, Defaults.MaxMacs);
        Assert.Equal(1, Defaults.Vlan);
        Assert.Equal("default", Defaults.NetworkName);
        Assert.Equal("stream.sock", Defaults.StreamSocketFileName);
        Assert.Equal("vhost-user.sock", Defaults.VhostUserSocketFileName);
        Assert.Equal("control.sock", Defaults.ControlSocketFileName);
    }

    [Fact]
    public void RunDirectory_XdgRuntimeDirSet_UsesIt()
    {
        Assert.Equal("/run/user/1000/switchyard", Defaults.RunDirectory("/run/user/1000", "1000"));
    }

    [Fact]
    public void RunDirectory_RootWithoutXdg_UsesRun()
    {
        Assert.Equal("/run/switchyard", Defaults.RunDirectory(null, "0"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("relative/dir")]
    public void RunDirectory_UserWithoutUsableXdg_UsesTmpWithUid(string? xdg)
    {
        Assert.Equal("/tmp/switchyard-1000", Defaults.RunDirectory(xdg, "1000"));
    }

    [Fact]
    public void RunDirectory_ThisProcess_IsAbsolute()
    {
        Assert.True(Path.IsPathRooted(Defaults.RunDirectory()));
    }
}
