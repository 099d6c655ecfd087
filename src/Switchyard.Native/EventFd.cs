// eventfd: the loop's doorbell for posted commands, and (later) virtqueue kick/call notifications.
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

    /// <summary>Wraps a descriptor received from a peer (takes ownership).</summary>
    public EventFd(int ownedFd) => fd = ownedFd;

    public int Fd => fd;

    /// <summary>Adds one to the counter; a full counter (never in practice) or a closed fd is ignored.</summary>
    public unsafe void Signal()
    {
        ulong one = 1;

        // SAFETY: write reads exactly sizeof(ulong) bytes from a live local.
        _ = LibC.write(fd, &one, sizeof(ulong));
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
