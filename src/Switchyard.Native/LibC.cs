// libc interop: the only place C names and raw syscalls live (STYLE.md habit 9).
//
// Theory of operation: thin LibraryImport declarations with C names and C constants, plus small
// safe wrappers elsewhere in this project. Every call sets errno through SetLastError so a wrapper
// can turn a failure into a status (data path) or a typed exception (control path).
using System.Runtime.InteropServices;

namespace Switchyard.Native;

#pragma warning disable CS8981, CA1707, IDE1006 // C names on purpose.

/// <summary>struct epoll_event; packed on x86_64 (sizeof == 12), as the kernel declares it there.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct epoll_event
{
    public uint events;
    public ulong data;
}

internal static unsafe partial class LibC
{
    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CTL_MOD = 3;

    public const int EFD_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800;

    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EBADF = 9;
    public const int ENOENT = 2;

    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_NOSIGNAL = 0x4000;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, epoll_event* ev);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int eventfd(uint initval, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint read(int fd, void* buf, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint write(int fd, void* buf, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint send(int sockfd, void* buf, nuint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint recv(int sockfd, void* buf, nuint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int lstat(string path, byte* buf);
}
