// Private scratch directories for work done as root: nobody else can create, swap or link anything inside.
//
// Theory of operation: `switchyard exec` runs as root and writes a DHCP hook script and marker files that
// root processes then execute or truncate. A predictable path in a world-writable directory (the old
// /tmp/sy-exec-PID, reused if it existed) let any local user pre-create it, plant links and swap the
// script: a root exploit. This type closes that the way mkdtemp(3) was made for: the directory gets an
// unguessable name, is created by the kernel with mode 0700 and fails rather than reusing an existing
// entry, and is checked after creation (a real directory, ours, no access for group or others). Files
// inside are created with O_CREAT|O_EXCL (FileMode.CreateNew), which never follows a link.
//
// Where: $XDG_RUNTIME_DIR when it is set and is a directory owned by us that no one else can write;
// otherwise /run when we are root (root-owned, not world-writable); otherwise the temporary directory.
// What it trusts: nothing it did not create. What it owns: the directory, removed by Dispose (a
// recursive delete removes links without following them).
namespace Switchyard.Native;

public sealed class PrivateDirectory : IDisposable
{
    private PrivateDirectory(string path) => Path = path;

    /// <summary>The directory's full path.</summary>
    public string Path { get; }

    /// <summary>Creates a fresh 0700 directory named <paramref name="prefix"/> plus six random characters.</summary>
    /// <exception cref="IOException">It could not be created, or is not what mkdtemp promised.</exception>
    public static PrivateDirectory Create(string prefix)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(prefix);
        if (prefix.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException("a prefix, not a path", nameof(prefix));
        }

        return CreateIn(ChooseParent(), prefix);
    }

    /// <summary>Creates a fresh 0700 directory inside <paramref name="parent"/> (for tests and callers with their own place).</summary>
    public static unsafe PrivateDirectory CreateIn(string parent, string prefix)
    {
        byte[] template = System.Text.Encoding.UTF8.GetBytes(System.IO.Path.Combine(parent, prefix + "XXXXXX") + "\0");
        string created;
        fixed (byte* t = template)
        {
            // SAFETY: t is NUL-terminated and writable; mkdtemp rewrites only the six X's in place.
            if (LibC.mkdtemp(t) == null)
            {
                throw new IOException($"cannot create a private directory in {parent}: {System.Runtime.InteropServices.Marshal.GetLastPInvokeErrorMessage()}");
            }

            created = System.Text.Encoding.UTF8.GetString(template, 0, template.Length - 1);
        }

        var directory = new PrivateDirectory(created);
        if (Describe(created) is { } wrong)
        {
            directory.Dispose();
            throw new IOException($"{created} is not a private directory: {wrong}");
        }

        return directory;
    }

    /// <summary>Why <paramref name="path"/> is not a directory of ours closed to everyone else, or null if it is.</summary>
    public static string? Describe(string path)
    {
        if (!TryLstat(path, out uint mode, out uint uid))
        {
            return "it does not exist";
        }

        if ((mode & LibC.S_IFMT) != LibC.S_IFDIR)
        {
            return (mode & LibC.S_IFMT) == LibC.S_IFLNK ? "it is a symbolic link" : "it is not a directory";
        }

        if (uid != LibC.geteuid())
        {
            return $"it is owned by uid {uid}";
        }

        return (mode & 0x3F) != 0 ? $"its mode {Convert.ToString(mode & 0x1FF, 8)} lets others in" : null;
    }

    /// <summary>
    /// Why <paramref name="path"/> is not safe to keep our sockets in, or null if it is: it must be a real
    /// directory (not a link), owned by us or by root, that no one but its owner and group can write. A
    /// directory someone else controls would let them replace our sockets (and intercept a guest's
    /// vhost-user connection) or plant links we would follow.
    /// </summary>
    public static string? DescribeSharedDirectory(string path)
    {
        if (!TryLstat(path, out uint mode, out uint uid))
        {
            return "it does not exist";
        }

        if ((mode & LibC.S_IFMT) != LibC.S_IFDIR)
        {
            return (mode & LibC.S_IFMT) == LibC.S_IFLNK ? "it is a symbolic link" : "it is not a directory";
        }

        if (uid != LibC.geteuid() && uid != 0)
        {
            return $"it is owned by uid {uid}, not by us";
        }

        return (mode & 0x2) != 0 ? $"anyone can write in it (mode {Convert.ToString(mode & 0xFFF, 8)})" : null;
    }

    /// <summary>Creates <paramref name="name"/> inside the directory with O_EXCL (never through a link) and writes
    /// <paramref name="contents"/>; <paramref name="executable"/> makes it 0700, otherwise 0600.</summary>
    public string CreateFile(string name, ReadOnlySpan<byte> contents, bool executable = false)
    {
        if (name.Contains('/', StringComparison.Ordinal) || name is "." or "..")
        {
            throw new ArgumentException("a file name, not a path", nameof(name));
        }

        string path = System.IO.Path.Combine(Path, name);
        UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | (executable ? UnixFileMode.UserExecute : UnixFileMode.None);
        using var file = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = mode });
        file.Write(contents);
        return path;
    }

    public void Dispose()
    {
        try
        {
            // Directory.Delete removes a link found inside without following it.
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: a leftover private directory is harmless to others.
        }
    }

    private static string ChooseParent()
    {
        string? runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        if (!string.IsNullOrEmpty(runtime) && runtime.StartsWith('/') && Describe(runtime) is null)
        {
            return runtime;
        }

        if (LibC.geteuid() == 0 && TryLstat("/run", out uint mode, out uint uid)
            && (mode & LibC.S_IFMT) == LibC.S_IFDIR && uid == 0 && (mode & 0x12) == 0)
        {
            return "/run";
        }

        return System.IO.Path.GetTempPath();
    }

    private static unsafe bool TryLstat(string path, out uint mode, out uint uid)
    {
        byte* buffer = stackalloc byte[LibC.STAT_SIZE];

        // SAFETY: lstat writes one struct stat (STAT_SIZE bytes on x86_64) into the stack buffer.
        if (LibC.lstat(path, buffer) != 0)
        {
            mode = 0;
            uid = 0;
            return false;
        }

        // SAFETY: buffer holds STAT_SIZE bytes written by lstat; both reads are inside it.
        mode = *(uint*)(buffer + LibC.STAT_ST_MODE_OFFSET);
        uid = *(uint*)(buffer + LibC.STAT_ST_UID_OFFSET);
        return true;
    }
}
