// File-type checks .NET does not expose (is this path a socket?).


namespace Switchyard.Native;

public static class FileKinds
{
    private const uint S_IFMT = 0xF000;
    private const uint S_IFSOCK = 0xC000;

    // struct stat on x86_64 glibc is 144 bytes with st_mode at offset 24 (after st_dev, st_ino, st_nlink).
    private const int StatSize = 144;
    private const int StModeOffset = 24;

    /// <summary>True when <paramref name="path"/> exists and is a unix socket (not following a final symlink).</summary>
    public static unsafe bool IsSocket(string path)
    {
        byte* buffer = stackalloc byte[StatSize];
        if (LibC.lstat(path, buffer) != 0)
        {
            return false;
        }

        // SAFETY: buffer holds StatSize bytes written by lstat; the read is inside it.
        uint mode = *(uint*)(buffer + StModeOffset);
        return (mode & S_IFMT) == S_IFSOCK;
    }


}
