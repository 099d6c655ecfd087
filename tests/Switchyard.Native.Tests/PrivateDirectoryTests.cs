// PrivateDirectory: the scratch space root works in (issue 10, hole 7) is fresh, ours and closed to others,
// and nothing planted in it is ever followed.
namespace Switchyard.Native.Tests;

public sealed class PrivateDirectoryTests : IDisposable
{
    private readonly DirectoryInfo parent = Directory.CreateTempSubdirectory("sy-private-test-");

    public void Dispose() => parent.Delete(recursive: true);

    [Fact]
    public void CreateIn_Always_MakesAFreshDirectoryWithMode0700OwnedByUs()
    {
        using PrivateDirectory a = PrivateDirectory.CreateIn(parent.FullName, "sy-exec-");
        using PrivateDirectory b = PrivateDirectory.CreateIn(parent.FullName, "sy-exec-");

        Assert.NotEqual(a.Path, b.Path);
        Assert.StartsWith(Path.Combine(parent.FullName, "sy-exec-"), a.Path, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(a.Path));
        Assert.Null(PrivateDirectory.Describe(a.Path));
    }

    [Fact]
    public void CreateFile_LinkPlantedAtTheName_RefusedAndTargetUntouched()
    {
        string target = Path.Combine(parent.FullName, "target");
        File.WriteAllText(target, "precious");
        using PrivateDirectory dir = PrivateDirectory.CreateIn(parent.FullName, "sy-exec-");
        File.CreateSymbolicLink(Path.Combine(dir.Path, "releasing"), target);

        Assert.Throws<IOException>(() => dir.CreateFile("releasing", "x"u8));
        Assert.Equal("precious", File.ReadAllText(target));
    }

    [Fact]
    public void CreateFile_Executable_Mode0700_ElseMode0600()
    {
        using PrivateDirectory dir = PrivateDirectory.CreateIn(parent.FullName, "sy-exec-");
        string script = dir.CreateFile("udhcpc.sh", "#!/bin/sh\n"u8, executable: true);
        string data = dir.CreateFile("bound", []);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(script));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(data));
        Assert.Throws<ArgumentException>(() => dir.CreateFile("../escape", []));
    }

    [Fact]
    public void Describe_LinkOrOpenDirectory_SaysWhy()
    {
        string open = Path.Combine(parent.FullName, "open");
        Directory.CreateDirectory(open);
        File.SetUnixFileMode(open, (UnixFileMode)Convert.ToInt32("777", 8));
        string link = Path.Combine(parent.FullName, "link");
        File.CreateSymbolicLink(link, open);

        Assert.Contains("lets others in", PrivateDirectory.Describe(open), StringComparison.Ordinal);
        Assert.Equal("it is a symbolic link", PrivateDirectory.Describe(link));
        Assert.Equal("it does not exist", PrivateDirectory.Describe(Path.Combine(parent.FullName, "none")));
    }

    [Fact]
    public void Dispose_LinkInside_RemovedWithoutFollowing()
    {
        string outside = Path.Combine(parent.FullName, "outside");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "keep"), "keep");
        PrivateDirectory dir = PrivateDirectory.CreateIn(parent.FullName, "sy-exec-");
        Directory.CreateSymbolicLink(Path.Combine(dir.Path, "escape"), outside);

        dir.Dispose();

        Assert.False(Directory.Exists(dir.Path));
        Assert.True(File.Exists(Path.Combine(outside, "keep")));
    }
}
