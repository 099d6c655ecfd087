// The QEMU arguments that put one guest on a network: `switchyard qemu-args` (Build, an argument list)
// and the one-line hints in the daemon's banner and `port add` (Hint). The one place that produces
// QEMU arguments.
//
// Theory of operation: a pure function of a network's port configurations and what the user asked
// for (kind, VM name, queue pairs, memory size). It picks the port a guest should use: the one
// named, else the first of the asked kind, listeners (which take any number of guests) before
// single-peer ports; then asks that port's spec for its mirror image (NetdevSpec.Qemu), giving it
// the names: ids and a MAC derived from the VM name, so two VMs built from the same command differ,
// and for vhost-user the id and size of the shared memory backend the back-end needs to map guest RAM.
// A hint is the same mirror image with the default names (n0, c0, mem) and a 256M backend.
// The MAC is 52:59 followed by the first four bytes of SHA-256(name): locally administered (bit 1 of
// the first byte), unicast, stable across runs and hosts, and outside QEMU's own 52:54:00 default.
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Switchyard.Core.Config;
using Switchyard.Engine.Config;
using Switchyard.Ports;
using Switchyard.Ports.VhostUser;

namespace Switchyard.Engine.Networks;

/// <summary>What the user asked for; null fields take their defaults.</summary>
public sealed record QemuArgsOptions(string? Kind = null, string? VmName = null, int? Queues = null, string? Memory = null, string? Port = null);

/// <summary>Builds the QEMU arguments of one guest (see the file header).</summary>
public static class QemuArgsBuilder
{
    /// <summary>The kinds a guest can attach with: those whose specs have a QEMU mirror image, vhost-user
    /// (the fastest) first.</summary>
    public static IReadOnlyList<string> Kinds { get; } = [.. NetdevKinds.GuestAttachable.OrderBy(k => k == "vhost-user" ? 0 : 1)];

    /// <summary>What stands for the guest's memory size when <c>--memory</c> is not given.</summary>
    public const string MemoryPlaceholder = "SIZE";

    // The names a banner hint uses; the memory size is the example the docs give.
    private static readonly QemuGuest HintGuest = new("n0", "virtio-net-pci,netdev=n0", "mem", "c0", Queues: 1, Memory: "256M");

    /// <summary>The -netdev/-device arguments for a guest on <paramref name="spec"/> as one line, with a
    /// note in parentheses where one helps; null if a QEMU guest cannot attach to it.</summary>
    public static string? Hint(NetdevSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Qemu(HintGuest) is { } mirror
            ? string.Join(' ', mirror.Args) + (mirror.Note is { } note ? $" ({note})" : string.Empty)
            : null;
    }

    /// <summary>The arguments for a guest on <paramref name="network"/>, one list element per word.
    /// Throws <see cref="ConfigException"/> with a message a user can act on.</summary>
    public static IReadOnlyList<string> Build(string network, IReadOnlyList<PortConfig> ports, QemuArgsOptions options)
    {
        ArgumentNullException.ThrowIfNull(ports);
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>();
        if (options.Kind is { } kind && !Kinds.Contains(kind))
        {
            problems.Add($"unknown kind '{kind}' (one of: {string.Join(", ", Kinds)})");
        }

        if (options.VmName is { } name && CheckVmName(name) is { } nameProblem)
        {
            problems.Add(nameProblem);
        }

        string? memory = null;
        if (options.Memory is { } m && (memory = NormaliseMemory(m)) is null)
        {
            problems.Add($"--memory '{m}' is not a size (a number with an optional K, M, G or T suffix, as for -m; no suffix means MiB)");
        }

        if (options.Queues is < 1 or > Defaults.MaxVhostUserQueues)
        {
            problems.Add($"--queues {options.Queues} is out of range (1 to {Defaults.MaxVhostUserQueues})");
        }

        if (problems.Count > 0)
        {
            throw new ConfigException(problems);
        }

        PortConfig port = Choose(network, ports, options);
        if (options.Queues is > 1 && port.Netdev is not VhostUserSpec)
        {
            throw new ConfigException($"--queues applies to vhost-user; port {port.Name} is {port.Netdev.Kind}");
        }

        if (options.Queues is { } q && port.Netdev is VhostUserSpec { Queues: var offered } && q > offered)
        {
            throw new ConfigException($"port {port.Name} offers {offered} queue pair{(offered == 1 ? string.Empty : "s")} (queues={offered} in its spec); ask for at most that many, or raise queues= on the port");
        }

        string suffix = options.VmName is { } vm ? "-" + vm : string.Empty;
        string netdevId = options.VmName is null ? "n0" : "net" + suffix;
        string mac = options.VmName is { } vmName ? ",mac=" + Mac(vmName) : string.Empty;
        string device = $"virtio-net-pci,netdev={netdevId}{mac}";
        var guest = new QemuGuest(
            netdevId,
            device,
            options.VmName is null ? "mem" : "mem" + suffix,
            options.VmName is null ? "c0" : "chr" + suffix,
            options.Queues ?? 1,
            memory ?? MemoryPlaceholder);
        return port.Netdev.Qemu(guest) is { } mirror
            ? mirror.Args
            : throw new ConfigException($"port {port.Name} ({port.Netdev.Kind}) is not one a QEMU guest can attach to");
    }

    /// <summary>The guest's MAC for a VM name: 52:59 and four bytes of SHA-256 of the name.</summary>
    public static string Mac(string vmName)
    {
        ArgumentNullException.ThrowIfNull(vmName);
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(vmName));
        return string.Create(CultureInfo.InvariantCulture, $"52:59:{hash[0]:x2}:{hash[1]:x2}:{hash[2]:x2}:{hash[3]:x2}");
    }

    /// <summary>The arguments as one line for a POSIX shell: words quoted only where they need it.</summary>
    public static string ToShell(IEnumerable<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        return string.Join(' ', args.Select(a =>
            a.Length > 0 && a.All(c => char.IsAsciiLetterOrDigit(c) || "-_.,=/:@%+".Contains(c, StringComparison.Ordinal))
                ? a
                : "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
    }

    private static PortConfig Choose(string network, IReadOnlyList<PortConfig> ports, QemuArgsOptions options)
    {
        List<PortConfig> usable = [.. ports.Where(p => KindOf(p.Netdev) is not null)];
        if (options.Port is { } wanted)
        {
            PortConfig named = ports.FirstOrDefault(p => p.Name == wanted)
                ?? throw new ConfigException($"network {network} has no port named '{wanted}' (it has: {Inventory(ports)})");
            if (KindOf(named.Netdev) is not { } namedKind)
            {
                throw new ConfigException($"port {wanted} on network {network} is a {named.Netdev.Kind} port, which a QEMU guest cannot attach to");
            }

            return options.Kind is { } k && k != namedKind
                ? throw new ConfigException($"port {wanted} on network {network} is a {namedKind} port, not {k}")
                : named;
        }

        List<PortConfig> ofKind = options.Kind is { } kind ? [.. usable.Where(p => KindOf(p.Netdev) == kind)] : usable;
        if (ofKind.Count == 0)
        {
            string what = options.Kind is null ? $"port a QEMU guest can attach to ({string.Join(", ", Kinds.Take(Kinds.Count - 1))} or {Kinds[^1]})" : $"{options.Kind} port";
            throw new ConfigException($"network {network} has no {what}; it has: {Inventory(ports)}");
        }

        return ofKind.FirstOrDefault(p => p.Netdev.Shape == PortShape.Listener) ?? ofKind[0];
    }

    private static string? KindOf(NetdevSpec spec) => spec.Qemu(HintGuest) is null ? null : spec.Kind;

    // "vhost 'vm' (vhost-user listener), tap0 (tap)", or "no ports".
    private static string Inventory(IReadOnlyList<PortConfig> ports) =>
        ports.Count == 0
            ? "no ports"
            : string.Join(", ", ports.Select(p => p.Netdev.Shape switch
            {
                PortShape.Listener => $"{p.Name} ({p.Netdev.Kind} listener)",
                PortShape.Client => $"{p.Name} ({p.Netdev.Kind} client)",
                _ => $"{p.Name} ({p.Netdev.Kind})",
            }));

    // QEMU ids: a letter, then letters, digits, '-', '.', '_' (qemu_opts_id_wellformed).
    private static string? CheckVmName(string name)
    {
        const string Rule = "a VM name is 1 to 32 characters: a letter, then letters, digits, '-', '_' or '.' (it becomes part of QEMU ids)";
        if (name.Length is 0 or > 32 || !char.IsAsciiLetter(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            return $"--name '{name}' is not usable ({Rule})";
        }

        return null;
    }

    // QEMU's -m: a number, default unit MiB, or with K/M/G/T; written back with an explicit suffix
    // because a memory backend's size= takes bytes when there is none.
    private static string? NormaliseMemory(string text)
    {
        text = text.Trim();
        if (text.Length == 0)
        {
            return null;
        }

        char unit = char.ToUpperInvariant(text[^1]);
        string digits = unit is 'K' or 'M' or 'G' or 'T' ? text[..^1] : text;
        if (unit is not ('K' or 'M' or 'G' or 'T'))
        {
            unit = 'M';
        }

        return ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out ulong n) && n > 0
            ? n.ToString(CultureInfo.InvariantCulture) + unit
            : null;
    }
}
