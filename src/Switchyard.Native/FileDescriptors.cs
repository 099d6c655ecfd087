// Raw file descriptors: close, duplicate, create a memfd.
//
// Theory of operation: descriptors that arrive from a peer (SCM_RIGHTS) or that we hand to one are
// plain ints in this codebase, owned by exactly one object at a time (EventFd, MappedRegion,
// GuestMemory, a vhost-user connection). These helpers are the few operations such an owner needs
// outside its own class: close a descriptor it was given but does not want, duplicate one it must
// keep while passing another copy on, and create an anonymous shared-memory file (memfd) for tests
// and the test kit's guest memory. Every new descriptor is created close-on-exec so a child process
// never inherits guest memory or a control socket. A memfd is sealed against shrinking and growing by
// default, as QEMU's memory-backend-memfd does, since the vhost-user back-end refuses memory it could lose
// (see MappedRegion); tests ask for the other kinds a front-end may send.
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

    /// <summary>ftruncate(2): 0, or the errno it failed with (tests that play a front-end shrinking its memory).</summary>
    public static int Truncate(int fd, long length) => LibC.ftruncate(fd, length) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>The memfd seals on <paramref name="fd"/> (F_GET_SEALS), or -1 when it is not a memfd.</summary>
    public static int GetSeals(int fd) => LibC.fcntl(fd, LibC.F_GET_SEALS, 0);

    /// <summary>True when <paramref name="fd"/> is an open descriptor of this process.</summary>
    public static bool IsOpen(int fd) => fd >= 0 && LibC.fcntl(fd, LibC.F_GETFD, 0) >= 0;

    /// <summary>Creates a close-on-exec memfd of <paramref name="size"/> bytes (zero-filled), owned by the caller, sealed
    /// as <paramref name="sealing"/> says.</summary>
    /// <exception cref="IOException">memfd_create, ftruncate or F_ADD_SEALS failed.</exception>
    public static int CreateMemFd(string name, ulong size, MemFdSealing sealing = MemFdSealing.Sealed)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, (ulong)long.MaxValue);
        uint flags = LibC.MFD_CLOEXEC | (sealing == MemFdSealing.NotSealable ? 0 : LibC.MFD_ALLOW_SEALING);
        int fd = LibC.memfd_create(name, flags);
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

        if (sealing == MemFdSealing.Sealed && LibC.fcntl(fd, LibC.F_ADD_SEALS, LibC.F_SEAL_SHRINK | LibC.F_SEAL_GROW) < 0)
        {
            string message = Marshal.GetLastPInvokeErrorMessage();
            _ = LibC.close(fd);
            throw new IOException($"F_ADD_SEALS(memfd {name}) failed: {message}");
        }

        return fd;
    }
}

/// <summary>How <see cref="FileDescriptors.CreateMemFd"/> seals a new memfd.</summary>
public enum MemFdSealing
{
    /// <summary>F_SEAL_SHRINK | F_SEAL_GROW, as QEMU's memory-backend-memfd (seal=on, its default).</summary>
    Sealed,

    /// <summary>MFD_ALLOW_SEALING, no seal yet: a receiver may add seals.</summary>
    Sealable,

    /// <summary>No MFD_ALLOW_SEALING: F_SEAL_SEAL is set from the start and no seal can ever be added.</summary>
    NotSealable,
}
