// The epoll event loop.
//
// Theory of operation: one dedicated thread waits on epoll, then for each ready descriptor calls
// its handler, then flushes every port that staged output during the batch (one send or one
// used-index publish per port per batch), then runs expired timers and posted closures. Everything
// registered here belongs to this thread; other threads only Post. Registrations are addressed by a
// token (slot index plus a generation), so an event that arrives for a descriptor removed earlier
// in the same batch is recognised as stale and ignored.
//
// A handler that throws is our bug, not the peer's. We log it and drop that one registration so
// the other guests keep running, rather than taking the whole process down.
//
// Registration is all or nothing: the slot is filled only after epoll accepted the descriptor, so a
// descriptor epoll refuses (a memfd, a regular file: EPERM) leaves no slot behind holding its handler
// and, through it, a port and its rings (issue 10, hole 5: 40,000 such connections once held 1 GB).
//
// epoll reports EPOLLERR and EPOLLHUP whatever the interest, level-triggered, until the descriptor is
// removed. A handler that neither closes nor removes such a descriptor would see it on every wait and
// spin the loop at one core (issue 10, hole 6: a socket passed as a vhost-user kick whose peer closed).
// Handlers are expected to end their registration on an error or hang-up; as a backstop, one that is
// still registered after MaxUnhandledHangUps consecutive error/hang-up reports is taken out of epoll by
// the loop, logged and counted (HangUpsDropped). The budget is large enough for a handler that drains a
// closed socket's remaining data in bounded batches (each batch is one report) and small enough that the
// spin lasts milliseconds. Its owner's later Update is a no-op and its Dispose is harmless.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Switchyard.Core.Loop;
using Switchyard.Core.Ports;
using Switchyard.Native;

namespace Switchyard.Engine.Loop;

public sealed partial class EpollLoop : IEventLoop, IDisposable
{
    private const int MaxEventsPerWait = 64;

    /// <summary>Consecutive error/hang-up reports a registration may stay registered through (see above).</summary>
    public const int MaxUnhandledHangUps = 1024;
    private const ulong WakeToken = ulong.MaxValue;

    private readonly Epoll epoll = new();
    private readonly EventFd wake = new();
    private readonly ConcurrentQueue<Action> posted = new();
    private readonly List<Slot> slots = [];
    private readonly Stack<int> freeSlots = new();
    private readonly List<Port> flushList = [];
    private readonly HashSet<Port> flushSet = [];
    private readonly List<Timer> timers = [];
    private readonly ILogger logger;
    private readonly string name;
    private Thread? thread;
    private volatile bool stopping;
    private int liveRegistrations;
    private long hangUpsDropped;

    public EpollLoop(string name, TimeProvider clock, ILogger logger)
    {
        this.name = name;
        Clock = clock;
        this.logger = logger;
        epoll.Add(wake.Fd, (uint)IoEvents.Readable, WakeToken);
    }

    public TimeProvider Clock { get; }

    public bool IsOnLoopThread => Environment.CurrentManagedThreadId == thread?.ManagedThreadId;

    /// <summary>Descriptors registered now (read from any thread for `show`).</summary>
    public int Registrations => Volatile.Read(ref liveRegistrations);

    /// <summary>Registrations the loop dropped because they kept reporting an error or hang-up their handler left
    /// alone (see the theory of operation).</summary>
    public long HangUpsDropped => Interlocked.Read(ref hangUpsDropped);

    /// <summary>Starts the loop thread.</summary>
    public void Start()
    {
        thread = new Thread(Run) { Name = name, IsBackground = true };
        thread.Start();
    }

    /// <summary>Asks the loop to stop after running <paramref name="finalAction"/> on it, and waits for it.</summary>
    public void Stop(Action? finalAction = null)
    {
        if (thread is null)
        {
            finalAction?.Invoke();
            return;
        }

        Post(() =>
        {
            finalAction?.Invoke();
            stopping = true;
        });
        if (!thread.Join(TimeSpan.FromSeconds(10)))
        {
            LogStopTimeout(name);
        }
    }

    /// <summary>Runs <paramref name="function"/> on the loop and returns its result to the caller.</summary>
    public Task<T> InvokeAsync<T>(Func<T> function)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            try
            {
                completion.SetResult(function());
            }
            catch (Exception ex)
            {
                completion.SetException(ex);
            }
        });
        return completion.Task;
    }

    /// <exception cref="IOException">epoll refused the descriptor; nothing was registered.</exception>
    public IoRegistration Register(int fd, IIoHandler handler, IoEvents interest)
    {
        AssertOnLoop();
        bool reuse = freeSlots.Count > 0;
        int index = reuse ? freeSlots.Peek() : slots.Count;
        uint generation = (reuse ? slots[index].Generation : 0) + 1;
        var registration = new Registration(this, fd, index, generation);

        // First epoll, then the slot: if epoll refuses the descriptor, the slot must not keep the handler alive.
        epoll.Add(fd, (uint)interest, registration.Token);
        if (reuse)
        {
            _ = freeSlots.Pop();
            slots[index] = new Slot(handler, generation, fd, 0);
        }
        else
        {
            slots.Add(new Slot(handler, generation, fd, 0));
        }

        liveRegistrations++;
        return registration;
    }

    public void RequestFlush(Port port)
    {
        if (flushSet.Add(port))
        {
            flushList.Add(port);
        }
    }

    public LoopTimer CreateTimer(Action onExpired) => new Timer(this, onExpired);

    public void Post(Action action)
    {
        posted.Enqueue(action);
        wake.Signal();
    }

    public void Dispose()
    {
        if (thread is { IsAlive: true })
        {
            Stop();
        }

        epoll.Dispose();
        wake.Dispose();
    }

    [Conditional("DEBUG")]
    private void AssertOnLoop() => Debug.Assert(thread is null || IsOnLoopThread, "loop-owned state touched from another thread");

    private void Run()
    {
        Span<epoll_event> events = stackalloc epoll_event[MaxEventsPerWait];
        while (!stopping)
        {
            int n = epoll.Wait(events, NextTimeoutMs());
            for (int i = 0; i < n; i++)
            {
                ulong token = events[i].data;
                if (token == WakeToken)
                {
                    wake.Drain();
                    continue;
                }

                Dispatch(token, (IoEvents)events[i].events);
            }

            FlushPorts();
            RunTimers();
            RunPosted();
        }
    }

    private void Dispatch(ulong token, IoEvents ready)
    {
        int index = (int)(uint)token;
        uint generation = (uint)(token >> 32);
        if (index >= slots.Count || slots[index].Generation != generation || slots[index].Handler is not { } handler)
        {
            return; // Stale: removed earlier in this batch.
        }

        try
        {
            handler.OnIo(ready);
        }
        catch (Exception ex)
        {
            LogHandlerFailed(ex, handler.ToString() ?? "handler");

            // Take the descriptor out of epoll too: level-triggered readiness would otherwise spin the loop.
            Unregister(index, generation);
            return;
        }

        if (slots[index].Generation != generation || slots[index].Handler is null)
        {
            return; // The handler ended its registration.
        }

        ref Slot slot = ref CollectionsMarshal.AsSpan(slots)[index];
        if ((ready & (IoEvents.Error | IoEvents.HangUp)) == 0)
        {
            slot.HangUps = 0;
        }
        else if (++slot.HangUps >= MaxUnhandledHangUps)
        {
            LogHangUpDropped(handler.ToString() ?? "handler", slot.Fd, MaxUnhandledHangUps);
            _ = Interlocked.Increment(ref hangUpsDropped);
            Unregister(index, generation);
        }
    }

    private void FlushPorts()
    {
        // A flush may close a port whose peer went away, or send frames that other ports stage (the
        // gateway's deferred ACKs), which requests more flushes: iterate by index and tolerate growth.
        // A port leaves the set before its Flush, so one that stages again after it was flushed in
        // this pass is queued again and flushed at the end of the pass, not left until the next wake-up.
        for (int i = 0; i < flushList.Count; i++)
        {
            Port port = flushList[i];
            flushSet.Remove(port);
            try
            {
                port.Flush();
            }
            catch (Exception ex)
            {
                LogHandlerFailed(ex, port.ToString());
            }
        }

        flushList.Clear();
        flushSet.Clear();
    }

    private void RunPosted()
    {
        while (posted.TryDequeue(out Action? action))
        {
            try
            {
                action();
            }
            catch (Exception ex)
            {
                LogHandlerFailed(ex, "posted command");
            }
        }

        FlushPorts();
    }

    private int NextTimeoutMs()
    {
        if (!posted.IsEmpty)
        {
            return 0;
        }

        long next = long.MaxValue;
        foreach (Timer t in timers)
        {
            next = Math.Min(next, t.Due);
        }

        if (next == long.MaxValue)
        {
            return -1;
        }

        TimeSpan wait = Clock.GetElapsedTime(Clock.GetTimestamp(), next);
        return wait <= TimeSpan.Zero ? 0 : (int)Math.Min(int.MaxValue, Math.Ceiling(wait.TotalMilliseconds));
    }

    private void RunTimers()
    {
        if (timers.Count == 0)
        {
            return;
        }

        long now = Clock.GetTimestamp();
        for (int i = timers.Count - 1; i >= 0; i--)
        {
            if (i < timers.Count && timers[i].Due <= now)
            {
                Timer t = timers[i];
                timers.RemoveAt(i);
                t.Armed = false;
                try
                {
                    t.OnExpired();
                }
                catch (Exception ex)
                {
                    LogHandlerFailed(ex, "timer");
                }
            }
        }

        FlushPorts();
    }

    private void Unregister(int index, uint generation)
    {
        if (slots[index].Generation != generation || slots[index].Handler is null)
        {
            return;
        }

        epoll.Remove(slots[index].Fd);
        slots[index] = new Slot(null, generation, -1, 0);
        freeSlots.Push(index);
        liveRegistrations--;
    }

    private bool IsLive(int index, uint generation) => slots[index].Generation == generation && slots[index].Handler is not null;

    [LoggerMessage(EventId = 100, Level = LogLevel.Critical, Message = "bug: {Handler} threw; its registration was dropped")]
    private partial void LogHandlerFailed(Exception ex, string handler);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "event loop {Loop} did not stop within 10 s")]
    private partial void LogStopTimeout(string loop);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "{Handler} left descriptor {Fd} registered through {Count} error/hang-up reports; the loop removed it from epoll")]
    private partial void LogHangUpDropped(string handler, int fd, int count);

    /// <summary>One registration: its handler, the generation in its token, its descriptor, and how many error or hang-up
    /// reports in a row it has had.</summary>
    private record struct Slot(IIoHandler? Handler, uint Generation, int Fd, int HangUps);

    private sealed class Registration(EpollLoop loop, int fd, int index, uint generation) : IoRegistration
    {
        private bool disposed;

        public ulong Token => ((ulong)generation << 32) | (uint)index;

        public override void Update(IoEvents interest)
        {
            ObjectDisposedException.ThrowIf(disposed, this);

            // The loop may have dropped this registration (an unhandled hang-up); then there is nothing to update.
            if (loop.IsLive(index, generation))
            {
                loop.epoll.Modify(fd, (uint)interest, Token);
            }
        }

        public override void Dispose()
        {
            if (!disposed)
            {
                disposed = true;
                loop.Unregister(index, generation);
            }
        }
    }

    private sealed class Timer(EpollLoop loop, Action onExpired) : LoopTimer
    {
        public long Due { get; private set; }

        public bool Armed { get; set; }

        public Action OnExpired => onExpired;

        public override void Arm(TimeSpan due)
        {
            Due = loop.Clock.GetTimestamp() + (long)(due.TotalSeconds * loop.Clock.TimestampFrequency);
            if (!Armed)
            {
                Armed = true;
                loop.timers.Add(this);
            }
        }

        public override void Cancel()
        {
            if (Armed)
            {
                Armed = false;
                loop.timers.Remove(this);
            }
        }
    }
}
