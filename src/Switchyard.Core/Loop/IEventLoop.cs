// The event-loop contract that ports program against.
//
// Theory of operation: one thread runs an epoll loop and owns every port, ring, FDB and timer
// registered with it, so the data path takes no locks. Each wait returns a batch of ready file
// descriptors; their handlers run in turn, then every port that staged output during the batch is
// flushed once. Other threads never touch loop-owned state: they Post a closure, which runs on the loop.
using Switchyard.Core.Ports;

namespace Switchyard.Core.Loop;

/// <summary>epoll readiness bits (values as in sys/epoll.h).</summary>
[Flags]
public enum IoEvents : uint
{
    None = 0,
    Readable = 0x001,
    Writable = 0x004,
    Error = 0x008,
    HangUp = 0x010,
}

/// <summary>Receives readiness for one registered file descriptor, on the loop thread.</summary>
public interface IIoHandler
{
    void OnIo(IoEvents events);
}

/// <summary>A file descriptor registered with a loop. Dispose before closing the descriptor.</summary>
public abstract class IoRegistration : IDisposable
{
    /// <summary>Changes which events wake the handler.</summary>
    public abstract void Update(IoEvents interest);

    public abstract void Dispose();
}

/// <summary>A one-shot timer owned by a loop; its callback runs on the loop thread.</summary>
public abstract class LoopTimer : IDisposable
{
    /// <summary>(Re)arms the timer to fire once after <paramref name="due"/>.</summary>
    public abstract void Arm(TimeSpan due);

    public abstract void Cancel();

    public void Dispose() => Cancel();
}

public interface IEventLoop
{
    /// <summary>The loop's clock (injected; tests use a manual one).</summary>
    TimeProvider Clock { get; }

    /// <summary>True on the loop's own thread.</summary>
    bool IsOnLoopThread { get; }

    /// <summary>Registers <paramref name="fd"/>; call on the loop.</summary>
    IoRegistration Register(int fd, IIoHandler handler, IoEvents interest);

    /// <summary>Asks for <paramref name="port"/>.Flush() once at the end of this loop iteration; call on the loop.</summary>
    void RequestFlush(Port port);

    /// <summary>Creates a disarmed timer; call on the loop.</summary>
    LoopTimer CreateTimer(Action onExpired);

    /// <summary>Runs <paramref name="action"/> on the loop thread soon. Safe from any thread.</summary>
    void Post(Action action);
}
