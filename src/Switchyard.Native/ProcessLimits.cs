// The process's descriptor limit (RLIMIT_NOFILE) and a plain accept for listening sockets.
//
// Theory of operation: every descriptor a peer makes the daemon hold (a connection, a NAT flow's host
// socket) comes out of one per-process table whose size is RLIMIT_NOFILE. When the table is full, every
// call that needs a descriptor fails with EMFILE, including calls the .NET runtime makes for itself,
// and the runtime does not survive that for long (issue 10: "Out of memory." and exit). So the daemon
// raises its soft limit to the hard one at start, as most daemons do, and sizes its budgets from the
// result (Switchyard.Core.Loop.DescriptorBudget). AcceptStream is accept4 that reports failure as an
// errno instead of an exception: a listener that meets EMFILE must not throw, because throwing is one
// of the things that needs a descriptor the process no longer has.
using System.Runtime.InteropServices;

namespace Switchyard.Native;

/// <summary>A resource limit as getrlimit(2) reports it.</summary>
public readonly record struct OpenFilesLimit(ulong Soft, ulong Hard);

public static class ProcessLimits
{
    /// <summary>The current RLIMIT_NOFILE, or null when getrlimit fails.</summary>
    public static unsafe OpenFilesLimit? GetOpenFiles()
    {
        rlimit limit;

        // SAFETY: &limit is a live local of sizeof(struct rlimit); getrlimit writes exactly that.
        return LibC.getrlimit(LibC.RLIMIT_NOFILE, &limit) == 0 ? new OpenFilesLimit(limit.rlim_cur, limit.rlim_max) : null;
    }

    /// <summary>Raises the soft RLIMIT_NOFILE to the hard limit and returns the limit in force afterwards
    /// (unchanged when setrlimit refuses), or null when even getrlimit fails.</summary>
    public static unsafe OpenFilesLimit? RaiseOpenFilesToHard()
    {
        if (GetOpenFiles() is not { } current)
        {
            return null;
        }

        if (current.Soft < current.Hard)
        {
            var raised = new rlimit { rlim_cur = current.Hard, rlim_max = current.Hard };

            // SAFETY: &raised is a live local of sizeof(struct rlimit); setrlimit only reads it.
            _ = LibC.setrlimit(LibC.RLIMIT_NOFILE, &raised);
        }

        return GetOpenFiles();
    }

    /// <summary>accept4(SOCK_NONBLOCK | SOCK_CLOEXEC) without the peer's address (a listener of any family).
    /// Returns the new descriptor, or -1 with <paramref name="errno"/>: EAGAIN when nothing is pending,
    /// EMFILE/ENFILE when the descriptor table is full. EINTR is retried.</summary>
    public static unsafe int AcceptStream(int listenFd, out int errno)
    {
        while (true)
        {
            // SAFETY: null address and length pointers are allowed by accept4 and mean "do not report the peer".
            int client = LibC.accept4(listenFd, null, null, LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC);
            if (client >= 0)
            {
                errno = 0;
                return client;
            }

            errno = Marshal.GetLastPInvokeError();
            if (errno != LibC.EINTR)
            {
                return -1;
            }
        }
    }
}

#pragma warning disable CS8981, CA1707, IDE1006 // C names on purpose.

/// <summary>struct rlimit (sizeof == 16): two rlim_t (unsigned long).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct rlimit
{
    public ulong rlim_cur;
    public ulong rlim_max;
}

internal static unsafe partial class LibC
{
    public const int RLIMIT_NOFILE = 7;
    public const int ENFILE = 23;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getrlimit(int resource, rlimit* rlim);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setrlimit(int resource, rlimit* rlim);
}
