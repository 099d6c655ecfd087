// Change detection for small configuration files the daemon follows (/etc/resolv.conf).
//
// Theory of operation: a file is "the same" while stat(2) reports the same device, inode, size,
// modification time and status-change time. Editors and resolvconf/systemd-resolved replace the file
// by rename (new inode) or rewrite it in place (new mtime/ctime), and a retargeted symlink leads to
// another inode, since stat follows symlinks. .NET exposes neither the inode nor nanosecond ctime.
// Offsets are those of struct stat on x86_64 glibc (144 bytes): st_dev 0, st_ino 8, st_size 48,
// st_mtim 88, st_ctim 104 (each a 16-byte timespec).
namespace Switchyard.Native;

/// <summary>What identifies one version of a file; compare two with ==.</summary>
public readonly record struct FileVersion(ulong Device, ulong Inode, long Size, long ModifiedSeconds, long ModifiedNanoseconds, long ChangedSeconds, long ChangedNanoseconds)
{
    internal const int StDevOffset = 0;
    internal const int StInoOffset = 8;
    internal const int StSizeOffset = 48;
    internal const int StMtimOffset = 88;
    internal const int StCtimOffset = 104;

    /// <summary>stat(2) of <paramref name="path"/> (following symlinks); false when it does not exist or cannot be read.</summary>
    public static unsafe bool TryGet(string path, out FileVersion version)
    {
        byte* buffer = stackalloc byte[LibC.STAT_SIZE];

        // SAFETY: stat writes one struct stat (STAT_SIZE bytes on x86_64) into the stack buffer.
        if (LibC.stat(path, buffer) != 0)
        {
            version = default;
            return false;
        }

        // SAFETY: every read below is at an offset + 8 <= 120 < STAT_SIZE inside the buffer stat filled.
        version = new FileVersion(
            *(ulong*)(buffer + StDevOffset),
            *(ulong*)(buffer + StInoOffset),
            *(long*)(buffer + StSizeOffset),
            *(long*)(buffer + StMtimOffset),
            *(long*)(buffer + StMtimOffset + 8),
            *(long*)(buffer + StCtimOffset),
            *(long*)(buffer + StCtimOffset + 8));
        return true;
    }
}
