// eventfd: the loop's doorbell for posted commands, and virtqueue kick/call notifications.
//
// Theory of operation: our own eventfds are created non-blocking. One received from a peer goes through
// TryAdoptFromPeer, which checks that it really is an eventfd and makes it non-blocking, because a peer can
// hand over a blocking eventfd whose counter sits at its maximum (0xfffffffffffffffe): write(2) on it would
// block the one event loop, freezing every guest (issue 10, hole 2). Non-blocking, such a write fails with
// EAGAIN and TrySignal reports false for the caller to count; nothing here ever waits.
using System.Runtime.InteropServices;

namespace Switchyard.Native;

/// <summary>A non-blocking eventfd. Signal from any thread; Drain on the owner.</summary>
public sealed class EventFd : IDisposable
{
    private int fd;

    public EventFd()
    {
        fd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        if (fd < 0)
        {
            throw new IOException($"eventfd failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }
    }

    /// <summary>Wraps a descriptor we know is a non-blocking eventfd (takes ownership). Descriptors from a peer go
    /// through <see cref="TryAdoptFromPeer"/> instead.</summary>
    public EventFd(int ownedFd) => fd = ownedFd;

    /// <summary>
    /// Adopts <paramref name="fd"/>, received from a peer, if it is an eventfd: sets O_NONBLOCK on it (on the open
    /// file description, which the peer shares; see <see cref="FileKinds.TrySetNonBlocking"/>) and takes ownership.
    /// On failure the caller still owns <paramref name="fd"/>; <paramref name="kind"/> says what it was instead.
    /// </summary>
    public static bool TryAdoptFromPeer(int fd, out EventFd? eventFd, out DescriptorKind kind)
    {
        kind = FileKinds.ClassifyDescriptor(fd);
        if (kind != DescriptorKind.EventFd || !FileKinds.TrySetNonBlocking(fd))
        {
            eventFd = null;
            return false;
        }

        eventFd = new EventFd(fd);
        return true;
    }

    public int Fd => fd;

    /// <summary>Adds one to the counter, ignoring failure (our own doorbell: a counter that is already nonzero
    /// wakes the loop just the same).</summary>
    public void Signal() => _ = TrySignal();

    /// <summary>Adds one to the counter without blocking. False when the write failed: the counter is saturated
    /// (EAGAIN; a peer can leave it at 0xfffffffffffffffe) or the descriptor is closed.</summary>
    public bool TrySignal() => TryAdd(1);

    /// <summary>Adds <paramref name="value"/> to the counter; false when that would pass 0xfffffffffffffffe and the
    /// descriptor is non-blocking (a blocking one waits: tests use that to build a hostile peer's eventfd).</summary>
    internal unsafe bool TryAdd(ulong value)
    {
        // SAFETY: write reads exactly sizeof(ulong) bytes from a live local.
        return LibC.write(fd, &value, sizeof(ulong)) == sizeof(ulong);
    }

    /// <summary>Reads and clears the counter; returns false if it was zero.</summary>
    public unsafe bool Drain()
    {
        ulong value;

        // SAFETY: read writes at most sizeof(ulong) bytes into a live local.
        return LibC.read(fd, &value, sizeof(ulong)) == sizeof(ulong);
    }

    public void Dispose()
    {
        int old = Interlocked.Exchange(ref fd, -1);
        if (old >= 0)
        {
            _ = LibC.close(old);
        }
    }
}
