// Raw file descriptors: close, duplicate, create a memfd.
//
// Theory of operation: descriptors that arrive from a peer (SCM_RIGHTS) or that we hand to one are
// plain ints in this codebase, owned by exactly one object at a time (EventFd, MappedRegion,
// GuestMemory, a vhost-user connection). These helpers are the few operations such an owner needs
// outside its own class: close a descriptor it was given but does not want, duplicate one it must
// keep while passing another copy on, and create an anonymous shared-memory file (memfd) for tests
// and the test kit's guest memory. Every new descriptor is created close-on-exec so a child process
// never inherits guest memory or a control socket.
using System.Runtime.InteropServices;

namespace Switchyard.Native;

public static class FileDescriptors
{
    /// <summary>Closes <paramref name="fd"/>; negative values are ignored. close(2) errors are ignored too:
    /// on Linux the descriptor is released even when close reports an error, so retrying would be wrong.</summary>
    public static void Close(int fd)
    {
        if (fd >= 0)
        {
            _ = LibC.close(fd);
        }
    }

    /// <summary>Closes every descriptor in <paramref name="fds"/> (negative entries are skipped).</summary>
    public static void CloseAll(ReadOnlySpan<int> fds)
    {
        foreach (int fd in fds)
        {
            Close(fd);
        }
    }

    /// <summary>A close-on-exec duplicate of <paramref name="fd"/>, owned by the caller.</summary>
    /// <exception cref="IOException">dup failed (bad descriptor, descriptor table full).</exception>
    public static int Duplicate(int fd)
    {
        int copy = LibC.fcntl(fd, LibC.F_DUPFD_CLOEXEC, 0);
        return copy >= 0
            ? copy
            : throw new IOException($"fcntl(F_DUPFD_CLOEXEC, {fd}) failed: {Marshal.GetLastPInvokeErrorMessage()}");
    }

    /// <summary>True when <paramref name="fd"/> is an open descriptor of this process.</summary>
    public static bool IsOpen(int fd) => fd >= 0 && LibC.fcntl(fd, LibC.F_GETFD, 0) >= 0;

    /// <summary>Creates a close-on-exec memfd of <paramref name="size"/> bytes (zero-filled), owned by the caller.</summary>
    /// <exception cref="IOException">memfd_create or ftruncate failed.</exception>
    public static int CreateMemFd(string name, ulong size)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, (ulong)long.MaxValue);
        int fd = LibC.memfd_create(name, LibC.MFD_CLOEXEC);
        if (fd < 0)
        {
            throw new IOException($"memfd_create({name}) failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        if (LibC.ftruncate(fd, (long)size) < 0)
        {
            string message = Marshal.GetLastPInvokeErrorMessage();
            _ = LibC.close(fd);
            throw new IOException($"ftruncate(memfd {name}, {size}) failed: {message}");
        }

        return fd;
    }
}
