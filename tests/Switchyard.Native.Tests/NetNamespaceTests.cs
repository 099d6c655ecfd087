// NetNamespace: work runs inside the target namespace on its own thread, the caller's namespace is
// never changed, a tap opened there lives there and is up, and missing namespaces say what to do.
using Switchyard.Native;
using Switchyard.TestKit;
using Switchyard.TestKit.Netns;

namespace Switchyard.Native.Tests;

public sealed class NetNamespaceTests
{
    private static string NsLink(string path) => new FileInfo(path).LinkTarget ?? throw new InvalidOperationException(path);

    [RequiresRootFact]
    public void Invoke_RunsInTheTargetNamespace_CallerNamespaceUnchanged()
    {
        using TestNamespace target = TestNamespace.Create("nt");
        string before = NsLink("/proc/thread-self/ns/net");
        using NetNamespace ns = NetNamespace.OpenNamed(target.Name);

        string inside = ns.Invoke(() => NsLink("/proc/thread-self/ns/net"));

        Assert.NotEqual(before, inside);
        Assert.Equal(before, NsLink("/proc/thread-self/ns/net"));
        Assert.Equal(before, NsLink("/proc/self/ns/net"));
    }

    [RequiresRootFact]
    public void OpenTap_CreatesTheTapInsideAndUp_GoneWhenDisposed()
    {
        using TestNamespace target = TestNamespace.Create("nt");
        using NetNamespace ns = NetNamespace.OpenNamed(target.Name);
        using (TapDevice tap = ns.OpenTap("sytest0"))
        {
            Assert.True(tap.Fd >= 0);
            Assert.Contains("UP", target.Exec("ip", ["-o", "link", "show", "sytest0"]).Output, StringComparison.Ordinal);
            Assert.False(Directory.Exists("/sys/class/net/sytest0"), "the tap must not be in the caller's namespace");
        }

        Assert.NotEqual(0, target.Exec("ip", ["link", "show", "sytest0"]).ExitCode);
    }

    [RequiresRootFact]
    public void OpenOfProcess_OwnPid_IsOurNamespace()
    {
        using NetNamespace ns = NetNamespace.OpenOfProcess(Environment.ProcessId);
        Assert.Equal(NsLink("/proc/self/ns/net"), ns.Invoke(() => NsLink("/proc/thread-self/ns/net")));
    }

    [Fact]
    public void OpenNamed_Missing_SaysHowToCreateIt()
    {
        var ex = Assert.Throws<IOException>(() => NetNamespace.OpenNamed($"sy-none-{Environment.ProcessId}"));
        Assert.Contains("ip netns add", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OpenOfProcess_NoSuchPid_SaysSo()
    {
        var ex = Assert.Throws<IOException>(() => NetNamespace.OpenOfProcess(int.MaxValue));
        Assert.Contains("no process", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invoke_WorkThrows_ExceptionReachesTheCaller()
    {
        using NetNamespace ns = NetNamespace.OpenOfProcess(Environment.ProcessId);
        if (!Environment.IsPrivilegedProcess)
        {
            Assert.Throws<IOException>(() => ns.Invoke(() => 0)); // setns needs CAP_SYS_ADMIN
            return;
        }

        Assert.Throws<FormatException>(() => ns.Invoke<int>(() => throw new FormatException("boom")));
    }
}
