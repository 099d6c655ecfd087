// Theory of operation: a test adds files (at least /test.sh) to the guest without rebuilding the
// image. Linux unpacks an initramfs made of several compressed cpio archives one after another
// (Documentation/driver-api/early-userspace/buffer-format.rst), later entries overwriting earlier
// ones, so the per-test initrd is base.cpio.gz followed by a small gzip'd "newc" archive written
// here. The newc format: each entry is a 110-byte ASCII header ("070701" and 13 eight-digit hex
// fields), the NUL-terminated name padded to a multiple of 4 bytes (counting the header), then the
// data padded to 4; the archive ends with an entry named TRAILER!!!.
using System.IO.Compression;
using System.Text;

namespace Switchyard.TestKit.Qemu;

/// <summary>A file to place in the guest's root file system.</summary>
/// <param name="Path">Absolute or relative guest path, e.g. <c>/test.sh</c>; parents are created.</param>
/// <param name="Content">The file's bytes.</param>
/// <param name="Mode">Permission bits, e.g. 0x1ED (octal 755).</param>
public sealed record GuestFile(string Path, ReadOnlyMemory<byte> Content, int Mode = GuestFile.Executable)
{
    /// <summary>Octal 755.</summary>
    public const int Executable = 0x1ED;

    /// <summary>Octal 644.</summary>
    public const int Regular = 0x1A4;

    /// <summary>A text file; CRLF becomes LF so shell scripts written on any system run.</summary>
    public static GuestFile Text(string path, string text, int mode = Regular) =>
        new(path, Encoding.UTF8.GetBytes(text.ReplaceLineEndings("\n")), mode);

    /// <summary>An executable shell script.</summary>
    public static GuestFile Script(string path, string text) => Text(path, text, Executable);
}

/// <summary>Builds per-test initrds: the base image plus an appended archive with the test's files.</summary>
public static class GuestInitrd
{
    private const int RegularFileType = 0x8000; // S_IFREG
    private const int DirectoryType = 0x4000;   // S_IFDIR
    private const int FirstInode = 0x10000;     // away from the inode numbers of the base archive

    /// <summary>
    /// Writes <paramref name="destination"/> = <paramref name="baseInitrd"/> followed by a gzip'd
    /// newc archive holding <c>/test.sh</c> (when <paramref name="testScript"/> is not null) and
    /// <paramref name="extraFiles"/>.
    /// </summary>
    public static void Create(string baseInitrd, string destination, string? testScript, IEnumerable<GuestFile>? extraFiles = null)
    {
        var files = new List<GuestFile>();
        if (testScript is not null)
            files.Add(GuestFile.Script("/test.sh", testScript));
        if (extraFiles is not null)
            files.AddRange(extraFiles);

        using FileStream output = File.Create(destination);
        using (FileStream input = File.OpenRead(baseInitrd))
            input.CopyTo(output);

        if (files.Count > 0)
        {
            using var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true);
            WriteNewcArchive(gzip, files);
        }
    }

    /// <summary>Writes an uncompressed newc cpio archive (with its trailer) of <paramref name="files"/>.</summary>
    public static void WriteNewcArchive(Stream destination, IReadOnlyList<GuestFile> files)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(files);

        uint inode = FirstInode;
        var directories = new HashSet<string>(StringComparer.Ordinal);
        long offset = 0;
        foreach (GuestFile file in files)
        {
            string name = Normalize(file.Path);

            // Parents first: the kernel does not create missing directories for a file entry.
            int slash = -1;
            while ((slash = name.IndexOf('/', slash + 1)) > 0)
            {
                string parent = name[..slash];
                if (directories.Add(parent))
                    offset = WriteEntry(destination, offset, parent, DirectoryType | 0x1ED, nlink: 2, inode++, ReadOnlySpan<byte>.Empty);
            }

            offset = WriteEntry(destination, offset, name, RegularFileType | (file.Mode & 0xFFF), nlink: 1, inode++, file.Content.Span);
        }

        WriteEntry(destination, offset, "TRAILER!!!", mode: 0, nlink: 1, inode: 0, ReadOnlySpan<byte>.Empty);
    }

    private static string Normalize(string path)
    {
        string name = path.TrimStart('/');
        bool bad = name.Length == 0 || name.EndsWith('/') || name.Contains('\0', StringComparison.Ordinal);
        foreach (string segment in name.Split('/'))
            bad |= segment is "" or "." or "..";
        if (bad)
            throw new ArgumentException($"'{path}' is not a usable guest path", nameof(path));
        return name;
    }

    private static long WriteEntry(Stream destination, long offset, string name, int mode, int nlink, uint inode, ReadOnlySpan<byte> data)
    {
        byte[] nameBytes = Encoding.UTF8.GetBytes(name);
        var header = new StringBuilder(110);
        header.Append("070701");
        AppendHex(header, inode);
        AppendHex(header, (uint)mode);
        AppendHex(header, 0);                              // uid
        AppendHex(header, 0);                              // gid
        AppendHex(header, (uint)nlink);
        AppendHex(header, 0);                              // mtime
        AppendHex(header, (uint)data.Length);              // filesize
        AppendHex(header, 0);                              // devmajor
        AppendHex(header, 0);                              // devminor
        AppendHex(header, 0);                              // rdevmajor
        AppendHex(header, 0);                              // rdevminor
        AppendHex(header, (uint)(nameBytes.Length + 1));   // namesize, with the NUL
        AppendHex(header, 0);                              // check (unused by newc)

        destination.Write(Encoding.ASCII.GetBytes(header.ToString()));
        destination.Write(nameBytes);
        destination.WriteByte(0);
        offset += 110 + nameBytes.Length + 1;
        offset = Pad(destination, offset);
        destination.Write(data);
        offset += data.Length;
        return Pad(destination, offset);
    }

    private static void AppendHex(StringBuilder header, uint value) =>
        header.Append(value.ToString("x8", System.Globalization.CultureInfo.InvariantCulture));

    private static long Pad(Stream destination, long offset)
    {
        while ((offset & 3) != 0)
        {
            destination.WriteByte(0);
            offset++;
        }

        return offset;
    }
}
