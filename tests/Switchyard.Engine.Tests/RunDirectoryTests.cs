// The run directory holds the sockets QEMU connects to: the daemon refuses one that another user controls
// or that is a link, instead of putting its sockets where someone else could swap them (issue 10).
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Core.Config;
using Switchyard.Engine.Config;

namespace Switchyard.Engine.Tests;

public sealed class RunDirectoryTests : IDisposable
{
    private readonly DirectoryInfo parent = Directory.CreateTempSubdirectory("sy-rundir-");

    public void Dispose() => parent.Delete(recursive: true);

    [Fact]
    public async Task Start_WorldWritableRunDirectory_RefusedWithTheReason()
    {
        string dir = Path.Combine(parent.FullName, "open");
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, (UnixFileMode)Convert.ToInt32("777", 8));

        var ex = await Assert.ThrowsAsync<ConfigException>(() => Daemon.StartAsync(new DaemonOptions(dir, TopologyConfig.Default(dir), NullLoggerFactory.Instance)));
        Assert.Contains("anyone can write in it", ex.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(dir));
    }

    [Fact]
    public async Task Start_RunDirectoryIsALink_Refused()
    {
        string real = Path.Combine(parent.FullName, "real");
        Directory.CreateDirectory(real);
        string link = Path.Combine(parent.FullName, "link");
        Directory.CreateSymbolicLink(link, real);

        var ex = await Assert.ThrowsAsync<ConfigException>(() => Daemon.StartAsync(new DaemonOptions(link, TopologyConfig.Default(link), NullLoggerFactory.Instance)));
        Assert.Contains("symbolic link", ex.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(real));
    }

    [Fact]
    public async Task Start_OwnDirectoryClosedToOthers_Starts()
    {
        string dir = Path.Combine(parent.FullName, "mine");
        await using Daemon daemon = await Daemon.StartAsync(new DaemonOptions(dir, TopologyConfig.Default(dir), NullLoggerFactory.Instance));
        Assert.True(File.Exists(Path.Combine(dir, Defaults.ControlSocketFileName)));
    }
}
