// The host's tap devices and who holds them open: what `switchyard taps` prints.
//
// Theory of operation: two sources, both plain files, no daemon and no privileges beyond reading
// /proc. (1) /sys/class/net/*/tun_flags exists for every tun/tap interface in our network namespace;
// bit IFF_TAP (0x0002) tells a tap from a tun. (2) Every open /dev/net/tun descriptor that is
// attached to an interface has an `iff:\tNAME` line in /proc/PID/fdinfo/FD (drivers/net/tun.c,
// tun_chr_show_fdinfo), so scanning all processes' fdinfo finds the holders, including holders of
// taps that live in other namespaces (those are not in our /sys, and are listed as such). A holder
// whose command name starts with qemu-system- is a QEMU guest; one that is a switchyard process
// (its command name, or a dotnet host running Switchyard.Cli) is Switchyard's own port.
// Processes vanish while we read: every read that fails is skipped, never an error. The roots
// are parameters so tests can feed a fake tree. Without root, other users' fdinfo is unreadable,
// so their holders are missing (the CLI says so).
using System.Globalization;
using System.Text.Json.Serialization;

namespace Switchyard.Engine.Host;

/// <summary>One tap (or tun) interface and the processes holding it open.</summary>
public sealed record TapRow(string Interface, string Mode, bool InThisNamespace, IReadOnlyList<TapHolder> Holders);

/// <summary>A process holding a tap open: <see cref="Role"/> is "qemu", "switchyard" or "other".</summary>
public sealed record TapHolder(int Pid, string Process, int Fd, string Role);

public static class TapInventory
{
    private const int IffTun = 0x0001;
    private const int IffTap = 0x0002;

    /// <summary>Lists taps (and tuns) by interface name; reads <paramref name="sysClassNet"/> and <paramref name="proc"/>.</summary>
    public static IReadOnlyList<TapRow> Scan(string sysClassNet = "/sys/class/net", string proc = "/proc")
    {
        var modes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string dir in SafeEnumerate(() => Directory.EnumerateDirectories(sysClassNet)))
        {
            string? flags = TryRead(Path.Combine(dir, "tun_flags"));
            if (flags is not null && TryParseHex(flags.Trim(), out int value))
            {
                modes[Path.GetFileName(dir)] = (value & IffTap) != 0 ? "tap" : (value & IffTun) != 0 ? "tun" : "?";
            }
        }

        // Symlinks in /sys/class/net are not directories to EnumerateDirectories on every runtime; list entries too.
        foreach (string entry in SafeEnumerate(() => Directory.EnumerateFileSystemEntries(sysClassNet)))
        {
            string name = Path.GetFileName(entry);
            if (!modes.ContainsKey(name) && TryRead(Path.Combine(entry, "tun_flags")) is { } f && TryParseHex(f.Trim(), out int v))
            {
                modes[name] = (v & IffTap) != 0 ? "tap" : (v & IffTun) != 0 ? "tun" : "?";
            }
        }

        var holders = new Dictionary<string, List<TapHolder>>(StringComparer.Ordinal);
        foreach (string pidDir in SafeEnumerate(() => Directory.EnumerateDirectories(proc)))
        {
            if (!int.TryParse(Path.GetFileName(pidDir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }

            string? process = null;
            string? role = null;
            foreach (string info in SafeEnumerate(() => Directory.EnumerateFiles(Path.Combine(pidDir, "fdinfo"))))
            {
                if (TryRead(info) is not { } text || FindIff(text) is not { } iff
                    || !int.TryParse(Path.GetFileName(info), NumberStyles.None, CultureInfo.InvariantCulture, out int fd))
                {
                    continue;
                }

                process ??= (TryRead(Path.Combine(pidDir, "comm")) ?? "?").Trim();
                role ??= RoleOf(process, TryRead(Path.Combine(pidDir, "cmdline")));
                if (!holders.TryGetValue(iff, out List<TapHolder>? list))
                {
                    holders[iff] = list = [];
                }

                list.Add(new TapHolder(pid, process, fd, role));
            }
        }

        var rows = new List<TapRow>();
        foreach (string name in modes.Keys.Union(holders.Keys).Order(StringComparer.Ordinal))
        {
            bool here = modes.TryGetValue(name, out string? mode);
            rows.Add(new TapRow(name, mode ?? "?", here, holders.TryGetValue(name, out List<TapHolder>? h) ? h : []));
        }

        return rows;
    }

    /// <summary>"qemu" for qemu-system-*, "switchyard" for a Switchyard process, else "other".</summary>
    internal static string RoleOf(string process, string? cmdline)
    {
        if (process.StartsWith("qemu-system-", StringComparison.Ordinal))
        {
            return "qemu";
        }

        if (process == "switchyard")
        {
            return "switchyard";
        }

        // `dotnet Switchyard.Cli.dll up` (comm is "dotnet"): look at the arguments, NUL-separated.
        if (cmdline is not null)
        {
            foreach (string arg in cmdline.Split('\0'))
            {
                string file = Path.GetFileName(arg);
                if (file is "switchyard" or "Switchyard.Cli.dll" or "Switchyard.Cli")
                {
                    return "switchyard";
                }
            }
        }

        return "other";
    }

    /// <summary>The interface of an fdinfo text's `iff:` line, or null.</summary>
    internal static string? FindIff(string fdinfo)
    {
        foreach (string line in fdinfo.Split('\n'))
        {
            if (line.StartsWith("iff:", StringComparison.Ordinal))
            {
                string name = line[4..].Trim();
                return name.Length > 0 ? name : null;
            }
        }

        return null;
    }

    private static bool TryParseHex(string text, out int value)
    {
        ReadOnlySpan<char> s = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text.AsSpan(2) : text.AsSpan();
        return int.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    private static string? TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    // Enumerates eagerly so a directory vanishing mid-scan (a process exiting) is one skipped entry.
    private static List<string> SafeEnumerate(Func<IEnumerable<string>> list)
    {
        try
        {
            return [.. list()];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(IReadOnlyList<TapRow>))]
public sealed partial class TapJson : JsonSerializerContext;
