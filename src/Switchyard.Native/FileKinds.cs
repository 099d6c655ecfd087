// File-type checks .NET does not expose (is this path a socket?).


namespace Switchyard.Native;

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


}
