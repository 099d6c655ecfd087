using Switchyard.Core.Loop;
using Switchyard.Engine.Loop;
using Switchyard.Native;

namespace Switchyard.Ports.Tests;

public sealed class LoopTests : IDisposable
{
    private readonly LoopFixture fixture = new();

    public void Dispose() => fixture.Dispose();

    [Fact]
    public async Task Post_FromAnotherThread_RunsOnTheLoopThread()
    {
        bool onLoop = await fixture.Loop.InvokeAsync(() => fixture.Loop.IsOnLoopThread);
        Assert.True(onLoop);
        Assert.False(fixture.Loop.IsOnLoopThread);
    }

    [Fact]
    public async Task Flush_PortStagesAgainAfterItsFlushInTheSamePass_IsFlushedAgainBeforeTheLoopSleeps()
    {
        // The gateway's deferred ACKs: B is flushed first, then A's flush makes B stage a frame. B must be
        // flushed again in the same pass, or the frame waits for some unrelated wake-up.
        var b = new FlushCountingPort("b", fixture.Loop, then: null);
        var a = new FlushCountingPort("a", fixture.Loop, then: b);
        await fixture.Loop.InvokeAsync(() =>
        {
            fixture.Loop.RequestFlush(b);
            fixture.Loop.RequestFlush(a);
            return true;
        });
        await Task.Delay(100);
        Assert.Equal(1, a.Flushes);
        Assert.Equal(2, b.Flushes);
    }

    [Fact]
    public async Task Register_DescriptorEpollRefuses_LeavesNoRegistrationBehind()
    {
        // A memfd cannot be watched by epoll (EPERM): the slot must not keep the handler (a port, its rings) alive.
        int memFd = FileDescriptors.CreateMemFd("t", 4096);
        try
        {
            int before = fixture.Loop.Registrations;
            for (int i = 0; i < 100; i++)
            {
                bool threw = await fixture.Loop.InvokeAsync(() =>
                {
                    try
                    {
                        _ = fixture.Loop.Register(memFd, new CountingHandler(), IoEvents.Readable);
                        return false;
                    }
                    catch (IOException)
                    {
                        return true;
                    }
                });
                Assert.True(threw);
            }

            Assert.Equal(before, fixture.Loop.Registrations);
        }
        finally
        {
            FileDescriptors.Close(memFd);
        }
    }

    [Fact]
    public async Task Dispatch_HangUpTheHandlerIgnores_RegistrationDroppedAfterTheBudget()
    {
        // A socket whose peer closed reports EPOLLHUP on every wait; a handler that leaves it registered would spin.
        using SocketPair pair = SocketPair.Create();
        FileDescriptors.Close(pair.DetachSecond());
        var handler = new CountingHandler();
        int before = fixture.Loop.Registrations;
        IoRegistration registration = await fixture.Loop.InvokeAsync(() => fixture.Loop.Register(pair.First, handler, IoEvents.Readable));

        for (int i = 0; i < 100 && fixture.Loop.HangUpsDropped == 0; i++)
        {
            await Task.Delay(20);
        }

        Assert.Equal(1, fixture.Loop.HangUpsDropped);
        Assert.Equal(before, fixture.Loop.Registrations);
        int calls = handler.Calls;
        Assert.Equal(EpollLoop.MaxUnhandledHangUps, calls);
        await Task.Delay(100);
        Assert.Equal(calls, handler.Calls);

        // The owner's own Update and Dispose afterwards are harmless.
        await fixture.Loop.InvokeAsync(() =>
        {
            registration.Update(IoEvents.Readable | IoEvents.Writable);
            registration.Dispose();
            return true;
        });
        Assert.Equal(before, fixture.Loop.Registrations);
    }

    [Fact]
    public async Task Timer_Armed_FiresOnceAfterItsDueTime()
    {
        int fired = 0;
        var done = new TaskCompletionSource();
        await fixture.Loop.InvokeAsync(() =>
        {
            LoopTimer t = fixture.Loop.CreateTimer(() =>
            {
                fired++;
                done.TrySetResult();
            });
            t.Arm(TimeSpan.FromMilliseconds(50));
            return t;
        });
        await done.Task.WaitAsync(TimeSpan.FromSeconds(5));
        await Task.Delay(200);
        Assert.Equal(1, fired);
    }

    [Fact]
    public async Task Timer_Cancelled_NeverFires()
    {
        int fired = 0;
        await fixture.Loop.InvokeAsync(() =>
        {
            LoopTimer t = fixture.Loop.CreateTimer(() => fired++);
            t.Arm(TimeSpan.FromMilliseconds(30));
            t.Cancel();
            return true;
        });
        await Task.Delay(200);
        Assert.Equal(0, fired);
    }

    [Fact]
    public async Task Handler_Throwing_IsUnregisteredAndTheLoopKeepsRunning()
    {
        using var efd = new EventFd();
        var handler = new ThrowingHandler();
        await fixture.Loop.InvokeAsync(() => fixture.Loop.Register(efd.Fd, handler, IoEvents.Readable));
        efd.Signal();
        await RecordingSink.WaitUntil(() => handler.Calls == 1, "the handler to run");
        efd.Signal();
        await Task.Delay(100);
        Assert.Equal(1, handler.Calls); // Dropped after it threw; level-triggered readiness no longer reaches it.
        Assert.True(await fixture.Loop.InvokeAsync(() => true), "loop still serves posted work");
    }

    [Fact]
    public async Task Registration_DisposedInsideBatch_LaterEventsForItAreIgnored()
    {
        using var first = new EventFd();
        using var second = new EventFd();
        var calls = new List<string>();
        IoRegistration? secondRegistration = null;
        await fixture.Loop.InvokeAsync(() =>
        {
            fixture.Loop.Register(first.Fd, new CallbackHandler(() =>
            {
                calls.Add("first");
                first.Drain();
                secondRegistration?.Dispose();
            }), IoEvents.Readable);
            secondRegistration = fixture.Loop.Register(second.Fd, new CallbackHandler(() =>
            {
                calls.Add("second");
                second.Drain();
            }), IoEvents.Readable);
            return true;
        });

        // Both ready in the same wait; whichever order epoll reports, "second" must not run after "first" removed it.
        second.Signal();
        first.Signal();
        await Task.Delay(200);
        List<string> seen = await fixture.Loop.InvokeAsync(() => calls.ToList());
        Assert.Contains("first", seen);
        if (seen.Contains("second"))
        {
            Assert.Equal("second", seen[0]);
        }
    }

    private sealed class ThrowingHandler : IIoHandler
    {
        public int Calls;

        public void OnIo(IoEvents events)
        {
            Calls++;
            throw new InvalidOperationException("deliberate bug");
        }
    }

    private sealed class CallbackHandler(Action action) : IIoHandler
    {
        public void OnIo(IoEvents events) => action();
    }

    /// <summary>Counts its flushes; its first flush requests a flush of <c>then</c>.</summary>
    private sealed class FlushCountingPort(string name, IEventLoop loop, Core.Ports.Port? then) : Core.Ports.Port(name)
    {
        public int Flushes { get; private set; }

        public override string Kind => "test";

        public override void Start()
        {
        }

        public override void Transmit(in Core.Frames.EgressFrame frame)
        {
        }

        public override void Flush()
        {
            Flushes++;
            if (then is not null && Flushes == 1)
            {
                loop.RequestFlush(then);
            }
        }

        public override void Stop()
        {
        }
    }
}

/// <summary>Counts readiness reports and does nothing else (a handler that ignores errors and hang-ups).</summary>
internal sealed class CountingHandler : IIoHandler
{
    private int calls;

    public int Calls => Volatile.Read(ref calls);

    public void OnIo(IoEvents events) => Interlocked.Increment(ref calls);
}
