// One vhost-user back-end wired to the test kit's front-end over a socketpair, on the test's thread.
//
// Theory of operation: the harness builds the pieces a test needs and connects them: a
// VhostUserBackend with a RecordingDevice, a ConnectionPump on one end of a socketpair, a
// VhostUserFrontEnd on the other, and a TestDataPlane over the started rings. The front-end's Service
// callback runs the pump and then the data plane, so every message a test sends is handled (and every
// kicked ring processed) before the front-end call returns or while it waits: no threads, no sleeps.
// RunChecked wraps a test body in a descriptor-leak check of the whole process (FdSnapshot): whatever
// the test did to the back-end, once everything is disposed no eventfd, memfd, socket or epoll it
// created may still be open.
using Switchyard.TestKit.VhostUser;

namespace Switchyard.VhostUser.Tests.Support;

internal sealed class BackendHarness : IDisposable
{
    public BackendHarness(VhostUserBackendOptions? options = null)
    {
        Device = new RecordingDevice();
        Backend = new VhostUserBackend(options ?? new VhostUserBackendOptions(), Device);
        FrontEnd = VhostUserFrontEnd.CreatePair(out int backEndFd);
        Pump = new ConnectionPump(Backend, backEndFd);
        DataPlane = new TestDataPlane(Device);
        FrontEnd.Service = () =>
        {
            Pump.RunUntilIdle();
            DataPlane.Run();
        };
    }

    /// <summary>How long a test waits for something that must not happen.</summary>
    public static TimeSpan ShortWait => TimeSpan.FromMilliseconds(50);

    /// <summary>An upper bound only: waits end as soon as the awaited thing happens.</summary>
    public static TimeSpan LongWait => TimeSpan.FromSeconds(5);

    public RecordingDevice Device { get; }

    public VhostUserBackend Backend { get; }

    public VhostUserFrontEnd FrontEnd { get; }

    public ConnectionPump Pump { get; }

    public TestDataPlane DataPlane { get; }

    /// <summary>Runs <paramref name="test"/> on a fresh harness and asserts that no descriptor it created outlives it.</summary>
    public static void RunChecked(Action<BackendHarness> test, VhostUserBackendOptions? options = null)
    {
        FdSnapshot before = FdSnapshot.Take();
        using (var harness = new BackendHarness(options))
        {
            test(harness);
        }

        before.AssertNoneLeaked();
    }

    /// <summary>A driver with its own guest memory on this harness's front-end; the caller disposes it.</summary>
    public VirtioNetDriver CreateDriver(VirtioNetDriverOptions? options = null) => new(FrontEnd, options);

    /// <summary>Lets the back-end run: handle pending messages, then process kicked rings.</summary>
    public void Poll() => FrontEnd.Service?.Invoke();

    /// <summary>Asserts that the back-end closed the connection and that its reason contains every fragment.</summary>
    public void AssertClosed(params string[] reasonFragments)
    {
        Assert.True(FrontEnd.WaitForClose(LongWait), "the back-end kept the connection open");
        Assert.True(Pump.IsClosed);
        string reason = Pump.CloseReason ?? "";
        foreach (string fragment in reasonFragments)
        {
            Assert.Contains(fragment, reason, StringComparison.Ordinal);
        }
    }

    /// <summary>Asserts that the connection is still open (nothing was closed by the last messages).</summary>
    public void AssertOpen()
    {
        FrontEnd.Service?.Invoke();
        Assert.False(Pump.IsClosed, $"the connection closed: {Pump.CloseReason}");
    }

    public void Dispose()
    {
        FrontEnd.Dispose();
        Pump.Dispose();
        Backend.Dispose();
    }
}
