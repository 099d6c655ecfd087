// File-type checks .NET does not expose: is this path a socket, and what is this descriptor a peer handed us?
//
// Theory of operation: a vhost-user front-end passes descriptors it chose (DESIGN.md "Guest input is
// hostile"): kick, call and error notifiers that must be eventfds, and memory that must be a file we can
// map. ClassifyDescriptor answers which one a descriptor really is. An eventfd is an anonymous inode, which
// fstat cannot name (its st_mode has no type bits on most kernels, S_IFREG on some), so the answer comes from
// the /proc/self/fd link first ("anon_inode:[eventfd]", as lsof and systemd tell them apart) and from
// st_mode after that. It costs one readlink and one fstat; it runs on the control path only, once per
// descriptor received.
namespace Switchyard.Native;

/// <summary>What a descriptor received from a peer is.</summary>
public enum DescriptorKind
{
    /// <summary>Not an open descriptor (or /proc and fstat both failed).</summary>
    Invalid,

    /// <summary>An eventfd (anon_inode:[eventfd]).</summary>
    EventFd,

    /// <summary>A regular file: a memfd, a tmpfs or hugetlbfs file, a file on disk.</summary>
    RegularFile,

    /// <summary>A socket of any family.</summary>
    Socket,

    /// <summary>Anything else: another anonymous inode (epoll, timerfd, signalfd), a pipe, a device, a directory.</summary>
    Other,
}

public static class FileKinds
{

    /// <summary>True when <paramref name="path"/> exists and is a unix socket (not following a final symlink).</summary>
    public static unsafe bool IsSocket(string path)
    {
        byte* buffer = stackalloc byte[LibC.STAT_SIZE];

        // SAFETY: lstat writes one struct stat (STAT_SIZE bytes on x86_64) into the stack buffer.
        if (LibC.lstat(path, buffer) != 0)
        {
            return false;
        }

        // SAFETY: buffer holds STAT_SIZE bytes written by lstat; the read is inside it.
        uint mode = *(uint*)(buffer + LibC.STAT_ST_MODE_OFFSET);
        return (mode & LibC.S_IFMT) == LibC.S_IFSOCK;
    }

    /// <summary>What <paramref name="fd"/> is (see <see cref="DescriptorKind"/>).</summary>
    public static unsafe DescriptorKind ClassifyDescriptor(int fd)
    {
        if (fd < 0)
        {
            return DescriptorKind.Invalid;
        }

        const int linkCapacity = 64;
        byte* link = stackalloc byte[linkCapacity];

        // SAFETY: readlink writes at most linkCapacity bytes into the stack buffer and returns how many.
        nint linkLength = LibC.readlink($"/proc/self/fd/{fd}", link, linkCapacity);
        if (linkLength > 0)
        {
            // SAFETY: linkLength <= linkCapacity bytes were written by readlink.
            var text = new ReadOnlySpan<byte>(link, (int)linkLength);
            if (text.SequenceEqual("anon_inode:[eventfd]"u8))
            {
                return DescriptorKind.EventFd;
            }

            if (text.StartsWith("anon_inode:"u8))
            {
                return DescriptorKind.Other;
            }
        }

        byte* stat = stackalloc byte[LibC.STAT_SIZE];

        // SAFETY: fstat writes one struct stat (STAT_SIZE bytes on x86_64) into the stack buffer.
        if (LibC.fstat(fd, stat) != 0)
        {
            return DescriptorKind.Invalid;
        }

        // SAFETY: st_mode lies inside the STAT_SIZE bytes fstat filled.
        uint mode = *(uint*)(stat + LibC.STAT_ST_MODE_OFFSET) & LibC.S_IFMT;
        return mode switch
        {
            LibC.S_IFREG => DescriptorKind.RegularFile,
            LibC.S_IFSOCK => DescriptorKind.Socket,
            _ => DescriptorKind.Other,
        };
    }

    /// <summary>Sets O_NONBLOCK on <paramref name="fd"/>'s open file description. That description is shared with
    /// every other holder of the file (the peer that sent it too): the flag changes for them as well, which is
    /// acceptable for vhost-user notifiers (QEMU's own event notifiers are non-blocking already).</summary>
    /// <returns>False when fcntl failed (the descriptor is not open).</returns>
    public static bool TrySetNonBlocking(int fd)
    {
        int flags = LibC.fcntl(fd, LibC.F_GETFL, 0);
        return flags >= 0 && ((flags & LibC.O_NONBLOCK) != 0 || LibC.fcntl(fd, LibC.F_SETFL, flags | LibC.O_NONBLOCK) >= 0);
    }

    /// <summary>Clears O_NONBLOCK (tests that play a hostile peer handing over a blocking descriptor).</summary>
    internal static bool TrySetBlocking(int fd)
    {
        int flags = LibC.fcntl(fd, LibC.F_GETFL, 0);
        return flags >= 0 && LibC.fcntl(fd, LibC.F_SETFL, flags & ~LibC.O_NONBLOCK) >= 0;
    }

    /// <summary>True when O_NONBLOCK is set on <paramref name="fd"/> (tests).</summary>
    public static bool IsNonBlocking(int fd)
    {
        int flags = LibC.fcntl(fd, LibC.F_GETFL, 0);
        return flags >= 0 && (flags & LibC.O_NONBLOCK) != 0;
    }
}
