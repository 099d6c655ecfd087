// Interop for private scratch directories (PrivateDirectory.cs): mkdtemp and the owner fields of struct stat.
using System.Runtime.InteropServices;

namespace Switchyard.Native;

internal static unsafe partial class LibC
{
    // struct stat on x86_64 glibc: st_uid at 28 (after st_mode at 24).
    public const int STAT_ST_UID_OFFSET = 28;
    public const uint S_IFDIR = 0x4000;
    public const uint S_IFLNK = 0xA000;

    /// <summary>mkdtemp(3): replaces the trailing XXXXXX of <paramref name="template"/> (NUL-terminated, in
    /// place) and creates that directory with mode 0700, failing with EEXIST rather than reusing one.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial byte* mkdtemp(byte* template);

    [LibraryImport("libc")]
    public static partial uint geteuid();
}
