// Waiting, with a timeout, for one descriptor to become readable or writable (test-side only).
//
// Theory of operation: the front-end and the guest driver are test tools, so they may block; but a
// test must never hang, so every wait has a deadline. A throwaway epoll instance (Switchyard.Native's
// Epoll, so no unsafe code here) watches the one descriptor; EOF and hang-up count as readable, which
// is what a caller waiting for "a reply or the peer closing" wants.
using Switchyard.Core.Loop;
using Switchyard.Native;

namespace Switchyard.TestKit.VhostUser;

internal static class FdWait
{
    public static bool Readable(int fd, TimeSpan timeout) => Wait(fd, IoEvents.Readable, timeout);

    public static bool Writable(int fd, TimeSpan timeout) => Wait(fd, IoEvents.Writable, timeout);

    /// <summary>Milliseconds left until <paramref name="deadline"/> (an Environment.TickCount64 value), at least 0.</summary>
    public static TimeSpan Remaining(long deadline) => TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64));

    public static long Deadline(TimeSpan timeout) => Environment.TickCount64 + (long)Math.Ceiling(timeout.TotalMilliseconds);

    private static bool Wait(int fd, IoEvents events, TimeSpan timeout)
    {
        using var epoll = new Epoll();
        epoll.Add(fd, (uint)events, 0);
        Span<epoll_event> ready = stackalloc epoll_event[1];
        int milliseconds = (int)Math.Clamp(Math.Ceiling(timeout.TotalMilliseconds), 0, int.MaxValue);
        return epoll.Wait(ready, milliseconds) > 0;
    }
}
