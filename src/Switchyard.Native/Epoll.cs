// An epoll instance (one per event loop).
using System.Runtime.InteropServices;

namespace Switchyard.Native;

/// <summary>Owns an epoll file descriptor. Not thread-safe except <see cref="Wait"/> vs. Add/Modify/Remove,
/// which the kernel serialises.</summary>
public sealed class Epoll : IDisposable
{
    private int fd;

    public Epoll()
    {
        fd = LibC.epoll_create1(LibC.EPOLL_CLOEXEC);
        if (fd < 0)
        {
            throw new IOException($"epoll_create1 failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }
    }

    public void Add(int target, uint events, ulong token) => Control(LibC.EPOLL_CTL_ADD, target, events, token);

    public void Modify(int target, uint events, ulong token) => Control(LibC.EPOLL_CTL_MOD, target, events, token);

    /// <summary>Removes <paramref name="target"/>; a descriptor that is already closed or gone is not an error.</summary>
    public unsafe void Remove(int target)
    {
        epoll_event ev = default;

        // SAFETY: &ev points at a live local; the kernel ignores it for EPOLL_CTL_DEL (pre-2.6.9 kernels required it).
        if (LibC.epoll_ctl(fd, LibC.EPOLL_CTL_DEL, target, &ev) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is not (LibC.EBADF or LibC.ENOENT))
            {
                throw new IOException($"epoll_ctl(DEL, {target}) failed: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> (-1: forever) and returns how many events were written.
    /// An interrupted wait returns 0.</summary>
    public unsafe int Wait(Span<epoll_event> events, int timeoutMs)
    {
        // SAFETY: `p` pins `events` for the call and maxevents is its exact length, so the kernel writes inside it.
        fixed (epoll_event* p = events)
        {
            int n = LibC.epoll_wait(fd, p, events.Length, timeoutMs);
            if (n >= 0)
            {
                return n;
            }

            int errno = Marshal.GetLastPInvokeError();
            return errno == LibC.EINTR
                ? 0
                : throw new IOException($"epoll_wait failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    public void Dispose()
    {
        int old = Interlocked.Exchange(ref fd, -1);
        if (old >= 0)
        {
            _ = LibC.close(old);
        }
    }

    private unsafe void Control(int op, int target, uint events, ulong token)
    {
        epoll_event ev = new() { events = events, data = token };

        // SAFETY: &ev points at a live local that epoll_ctl only reads.
        if (LibC.epoll_ctl(fd, op, target, &ev) < 0)
        {
            throw new IOException($"epoll_ctl({op}, {target}) failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }
    }
}
