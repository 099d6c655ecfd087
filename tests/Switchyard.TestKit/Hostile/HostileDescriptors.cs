// Descriptors a hostile vhost-user front-end hands over instead of the eventfds and memfds it should (issue 10).
//
// Theory of operation: each factory builds one kind of bad descriptor the way an attacker would, in this test
// process; the test sends it with VhostUserFrontEnd.SendRaw/Send (the kernel passes a copy) and disposes its own
// copy afterwards. Nothing here is ever handed to the daemon by the kit on its own.
using Switchyard.Native;

namespace Switchyard.TestKit.Hostile;

public static class HostileDescriptors
{
    /// <summary>The largest value an eventfd counter can hold; a write of 1 more blocks, or fails with EAGAIN.</summary>
    public const ulong SaturatedCount = 0xffff_ffff_ffff_fffeUL;

    /// <summary>A blocking eventfd whose counter is at <see cref="SaturatedCount"/>: writing to it blocks forever
    /// (nobody reads it) unless the receiver makes it non-blocking.</summary>
    public static EventFd SaturatedBlockingEventFd()
    {
        var eventFd = new EventFd();
        if (!eventFd.TryAdd(SaturatedCount) || !FileKinds.TrySetBlocking(eventFd.Fd))
        {
            eventFd.Dispose();
            throw new IOException("could not build a saturated blocking eventfd");
        }

        return eventFd;
    }

    /// <summary>One end of a unix stream socketpair whose other end is already closed: epoll reports EPOLLHUP on it on
    /// every wait. The caller owns the returned descriptor.</summary>
    public static int SocketWithClosedPeer()
    {
        using SocketPair pair = SocketPair.Create();
        FileDescriptors.Close(pair.DetachSecond());
        return pair.DetachFirst();
    }

    /// <summary>Whether O_NONBLOCK is set on <paramref name="fd"/>'s open file description.</summary>
    public static bool IsNonBlocking(int fd) => FileKinds.IsNonBlocking(fd);
}
