// libc interop: the only place C names and raw syscalls live (STYLE.md habit 9).
//
// Theory of operation: thin LibraryImport declarations with C names and C constants, plus small
// safe wrappers elsewhere in this project. Every call sets errno through SetLastError so a wrapper
// can turn a failure into a status (data path) or a typed exception (control path).
//
// Layouts and constants are those of x86_64 Linux with glibc (the only target); the tests in
// Switchyard.Native.Tests assert every struct's size and field offsets against the C headers:
//   struct epoll_event 12 (packed), struct iovec 16, struct msghdr 56, struct cmsghdr 16.
// The CMSG_* helpers reproduce glibc's <bits/socket.h> macros (alignment to sizeof(size_t)).
// fcntl is variadic in C; declaring it with one int argument is the usual, ABI-correct way to call
// it on x86_64 (the int travels in the same register either way).
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

/// <summary>struct iovec (sizeof == 16).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct iovec
{
    public void* iov_base;
    public nuint iov_len;
}

/// <summary>struct msghdr (sizeof == 56): socklen_t msg_namelen is followed by 4 bytes of padding.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct msghdr
{
    public void* msg_name;
    public uint msg_namelen;
    public iovec* msg_iov;
    public nuint msg_iovlen;
    public void* msg_control;
    public nuint msg_controllen;
    public int msg_flags;
}

/// <summary>struct cmsghdr (sizeof == 16); the data (CMSG_DATA) follows at offset 16.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct cmsghdr
{
    public nuint cmsg_len;
    public int cmsg_level;
    public int cmsg_type;
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

    public const int EINVAL = 22;
    public const int EMFILE = 24;

    public const int MSG_CTRUNC = 0x8;
    public const int MSG_TRUNC = 0x20;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int MSG_CMSG_CLOEXEC = 0x40000000;

    public const int AF_UNIX = 1;
    public const int SOCK_STREAM = 1;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SCM_RIGHTS = 1;

    public const int AF_INET = 2;
    public const int AF_INET6 = 10;
    public const int SOCK_DGRAM = 2;
    public const int IPPROTO_ICMP = 1;
    public const int IPPROTO_TCP = 6;
    public const int IPPROTO_UDP = 17;
    public const int IPPROTO_IPV6 = 41;
    public const int IPPROTO_ICMPV6 = 58;
    public const int SO_REUSEADDR = 2;
    public const int SO_ERROR = 4;
    public const int SO_LINGER = 13;
    public const int TCP_NODELAY = 1;
    public const int IPV6_V6ONLY = 26;
    public const int SHUT_WR = 1;

    public const int O_RDWR = 0x2;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;
    public const int EIO = 5;
    public const int EBUSY = 16;
    public const int ENODEV = 19;
    public const int EBADFD = 77;

    /// <summary>_IOW('T', 202, int) from linux/if_tun.h.</summary>
    public const uint TUNSETIFF = 0x400454CA;
    public const short IFF_TAP = 0x0002;
    public const short IFF_NO_PI = 0x1000;
    public const short IFF_MULTI_QUEUE = 0x0100;
    public const short IFF_VNET_HDR = 0x4000;

    /// <summary>_IOW('T', 208, unsigned int): the offloads the reader of a tap accepts (arg by value).</summary>
    public const uint TUNSETOFFLOAD = 0x400454D0;

    /// <summary>_IOR('T', 215, int).</summary>
    public const uint TUNGETVNETHDRSZ = 0x800454D7;

    /// <summary>_IOW('T', 216, int): size of the virtio-net header before every frame (arg is an int*).</summary>
    public const uint TUNSETVNETHDRSZ = 0x400454D8;
    public const uint TUN_F_CSUM = 0x01;
    public const uint TUN_F_TSO4 = 0x02;
    public const uint TUN_F_TSO6 = 0x04;
    public const uint TUN_F_TSO_ECN = 0x08;
    public const uint TUN_F_UFO = 0x10;
    public const uint TUN_F_USO4 = 0x20;
    public const uint TUN_F_USO6 = 0x40;
    public const int IFNAMSIZ = 16;

    public const int PROT_READ = 0x1;
    public const int PROT_WRITE = 0x2;
    public const int MAP_SHARED = 0x01;
    public const int MAP_NORESERVE = 0x4000;

    /// <summary>(void*)-1, what mmap returns on failure.</summary>
    public static readonly void* MAP_FAILED = (void*)-1;

    public const uint MFD_CLOEXEC = 0x1;

    public const int F_GETFD = 1;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int F_DUPFD_CLOEXEC = 1030;

    /// <summary>F_ADD_SEALS / F_GET_SEALS (F_LINUX_SPECIFIC_BASE 1024 + 9 / + 10) and the seal bits, linux/fcntl.h.</summary>
    public const int F_ADD_SEALS = 1033;
    public const int F_GET_SEALS = 1034;
    public const int F_SEAL_SEAL = 0x1;
    public const int F_SEAL_SHRINK = 0x2;
    public const int F_SEAL_GROW = 0x4;

    /// <summary>memfd_create flag: the memfd starts without F_SEAL_SEAL, so seals can be added.</summary>
    public const uint MFD_ALLOW_SEALING = 0x2;
    public const int EPERM = 1;

    // struct stat on x86_64 glibc: 144 bytes; st_mode at 24, st_size at 48.
    public const int STAT_SIZE = 144;
    public const int STAT_ST_MODE_OFFSET = 24;
    public const int STAT_ST_SIZE_OFFSET = 48;
    public const uint S_IFMT = 0xF000;
    public const uint S_IFREG = 0x8000;
    public const uint S_IFSOCK = 0xC000;

    /// <summary>CMSG_ALIGN: round up to sizeof(size_t).</summary>
    public static int CMSG_ALIGN(int len) => (len + sizeof(nuint) - 1) & ~(sizeof(nuint) - 1);

    /// <summary>CMSG_SPACE: bytes a control message with <paramref name="len"/> data bytes occupies.</summary>
    public static int CMSG_SPACE(int len) => CMSG_ALIGN(len) + CMSG_ALIGN(sizeof(cmsghdr));

    /// <summary>CMSG_LEN: the cmsg_len value for <paramref name="len"/> data bytes.</summary>
    public static int CMSG_LEN(int len) => CMSG_ALIGN(sizeof(cmsghdr)) + len;

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
    public static partial nint writev(int fd, iovec* iov, int iovcnt);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint send(int sockfd, void* buf, nuint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint recv(int sockfd, void* buf, nuint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int lstat(string path, byte* buf);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fstat(int fd, byte* buf);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint recvmsg(int sockfd, msghdr* msg, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint sendmsg(int sockfd, msghdr* msg, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int socketpair(int domain, int type, int protocol, int* sv);

    [LibraryImport("libc", SetLastError = true)]
    public static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int munmap(void* addr, nuint length);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int memfd_create(string name, uint flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int ftruncate(int fd, long length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int dup(int oldfd);

    /// <summary>fcntl(fd, cmd, int arg): the variadic C function called with one int argument.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int connect(int sockfd, void* addr, int addrlen);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int bind(int sockfd, void* addr, int addrlen);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int listen(int sockfd, int backlog);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int accept4(int sockfd, void* addr, int* addrlen, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getsockname(int sockfd, void* addr, int* addrlen);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getpeername(int sockfd, void* addr, int* addrlen);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getsockopt(int sockfd, int level, int optname, void* optval, int* optlen);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setsockopt(int sockfd, int level, int optname, void* optval, int optlen);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int shutdown(int sockfd, int how);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint sendto(int sockfd, void* buf, nuint len, int flags, void* dest_addr, int addrlen);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint recvfrom(int sockfd, void* buf, nuint len, int flags, void* src_addr, int* addrlen);

    /// <summary>open(path, flags): the variadic C function called without a mode (no O_CREAT, so none is read).</summary>
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string pathname, int flags);

    /// <summary>ioctl(fd, request, void* arg): the variadic C function called with one pointer argument.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, void* arg);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int stat(string path, byte* buf);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint readlink(string path, byte* buf, nuint bufsiz);

    public const int SIGINT = 2;
    public const int SIGTERM = 15;
    public const int SIGHUP = 1;
    public static readonly nint SIG_DFL = 0;

    /// <summary>signal(2): only used to put back the default disposition (SIG_DFL).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint signal(int signum, nint handler);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int tcgetpgrp(int fd);

    [LibraryImport("libc")]
    public static partial int getpgrp();

    [LibraryImport("libc", SetLastError = true)]
    public static partial int kill(int pid, int sig);
}
