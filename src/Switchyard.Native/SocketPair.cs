// A connected pair of unix stream sockets: the transport vhost-user runs on, in a test-sized box.
//
// Theory of operation: socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC [| SOCK_NONBLOCK]) gives two
// connected ends without a path on disk. Tests and the test kit use one end as "the front-end" and
// hand the other to the code under test. The pair owns both descriptors until one is detached
// (ownership moves to whoever detaches it); Dispose closes whatever it still owns.
using System.Runtime.InteropServices;

namespace Switchyard.Native;

public sealed class SocketPair : IDisposable
{
    private int first;
    private int second;

    private SocketPair(int first, int second)
    {
        this.first = first;
        this.second = second;
    }

    /// <summary>The first end, or -1 once detached or disposed.</summary>
    public int First => Volatile.Read(ref first);

    /// <summary>The second end, or -1 once detached or disposed.</summary>
    public int Second => Volatile.Read(ref second);

    /// <summary>Creates a connected pair; both ends are close-on-exec and, unless told otherwise, non-blocking.</summary>
    /// <exception cref="IOException">socketpair failed.</exception>
    public static unsafe SocketPair Create(out int first, out int second, bool nonBlocking = true)
    {
        int type = LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC | (nonBlocking ? LibC.SOCK_NONBLOCK : 0);
        int* sv = stackalloc int[2];

        // SAFETY: socketpair writes exactly two ints into `sv`, which has room for two.
        if (LibC.socketpair(LibC.AF_UNIX, type, 0, sv) < 0)
        {
            throw new IOException($"socketpair failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        first = sv[0];
        second = sv[1];
        return new SocketPair(first, second);
    }

    /// <summary>Creates a connected pair; see <see cref="Create(out int, out int, bool)"/>.</summary>
    public static SocketPair Create(bool nonBlocking = true) => Create(out _, out _, nonBlocking);

    /// <summary>Gives up ownership of the first end and returns it; the caller must close it.</summary>
    public int DetachFirst() => Interlocked.Exchange(ref first, -1);

    /// <summary>Gives up ownership of the second end and returns it; the caller must close it.</summary>
    public int DetachSecond() => Interlocked.Exchange(ref second, -1);

    public void Dispose()
    {
        FileDescriptors.Close(Interlocked.Exchange(ref first, -1));
        FileDescriptors.Close(Interlocked.Exchange(ref second, -1));
    }
}
