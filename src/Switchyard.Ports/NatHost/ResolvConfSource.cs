// The host's DNS resolvers, read from /etc/resolv.conf and kept current.
//
// Theory of operation: the gateway forwards guests' DNS queries to the host's resolvers when no
// upstream is configured. Those change under a running daemon (DHCP renewals, VPNs, NetworkManager,
// resolvconf), so the file is followed rather than read once: when Upstreams is read and at least a
// second has passed since the last look, one stat(2) compares the file's identity (device, inode,
// size, mtime, ctime: Native.FileVersion) with the one last parsed, and only a different file is
// read again. A change is therefore seen within about a second of the next query, without inotify
// and without a thread. stat follows symlinks, so a retargeted /etc/resolv.conf link is a change too.
//
// Parsing follows resolv.conf(5) as glibc reads it: a "nameserver" keyword at the start of a line,
// then an address; '#' and ';' start comments; anything else (search, options, junk) is ignored.
// IPv6 addresses may carry a %scope, which is dropped (the address is kept). Like glibc (MAXNS), only
// the first three distinct servers are used. Loopback stubs (127.0.0.53 of systemd-resolved,
// dnsmasq on 127.0.0.1) are returned as they are: the gateway queries them from the host's network
// namespace, where they answer.
//
// What it trusts: nothing in the file; a line that does not parse is skipped. A missing or unreadable
// file yields no upstreams (and is looked at again a second later). Thread-safe: the snapshot is an
// immutable list swapped under a lock.
using System.Net;
using Switchyard.Native;
using Switchyard.Protocols;
using Switchyard.UserNet;

namespace Switchyard.Ports.NatHost;

public sealed class ResolvConfSource : IResolverSource
{
    /// <summary>The file every libc resolver reads.</summary>
    public const string DefaultPath = "/etc/resolv.conf";

    /// <summary>glibc's MAXNS: resolvers beyond the third are ignored by the host's own programs too.</summary>
    public const int MaxServers = 3;

    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    private readonly string path;
    private readonly TimeProvider clock;
    private readonly Lock gate = new();
    private IReadOnlyList<DnsUpstream> upstreams = [];
    private FileVersion version;
    private bool exists;
    private long lastCheck;
    private bool checkedOnce;

    /// <param name="path">The file to follow (tests give their own).</param>
    /// <param name="clock">Paces the change checks (tests give a manual clock).</param>
    public ResolvConfSource(string path = DefaultPath, TimeProvider? clock = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        this.path = path;
        this.clock = clock ?? TimeProvider.System;
    }

    /// <summary>The path this source follows.</summary>
    public string Path => path;

    public IReadOnlyList<DnsUpstream> Upstreams
    {
        get
        {
            lock (gate)
            {
                long now = clock.GetTimestamp();
                if (!checkedOnce || clock.GetElapsedTime(lastCheck, now) >= CheckInterval)
                {
                    checkedOnce = true;
                    lastCheck = now;
                    Refresh();
                }

                return upstreams;
            }
        }
    }

    /// <summary>The nameservers in resolv.conf text, in order, without duplicates, at most <see cref="MaxServers"/>.</summary>
    public static IReadOnlyList<DnsUpstream> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var servers = new List<DnsUpstream>(MaxServers);
        foreach (ReadOnlySpan<char> rawLine in text.AsSpan().EnumerateLines())
        {
            ReadOnlySpan<char> line = rawLine;
            int comment = line.IndexOfAny('#', ';');
            if (comment >= 0)
            {
                line = line[..comment];
            }

            line = line.Trim();
            const string keyword = "nameserver";
            if (!line.StartsWith(keyword, StringComparison.Ordinal) || line.Length == keyword.Length || !char.IsWhiteSpace(line[keyword.Length]))
            {
                continue;
            }

            ReadOnlySpan<char> value = line[keyword.Length..].TrimStart();
            int end = value.IndexOfAny(' ', '\t');
            if (end >= 0)
            {
                value = value[..end];
            }

            if (!TryParseAddress(value, out IpAddr address))
            {
                continue;
            }

            var upstream = new DnsUpstream(address);
            if (!servers.Contains(upstream))
            {
                servers.Add(upstream);
                if (servers.Count == MaxServers)
                {
                    break;
                }
            }
        }

        return servers;
    }

    private static bool TryParseAddress(ReadOnlySpan<char> text, out IpAddr address)
    {
        int scope = text.IndexOf('%');
        if (scope >= 0)
        {
            text = text[..scope];
        }

        // IPAddress.TryParse also takes forms no resolver accepts ("1", "1.2.3", hex); inet_pton does
        // not, so ask for a dotted quad or a colon.
        bool looksV4 = text.Count('.') == 3 && !text.Contains(':');
        bool looksV6 = text.Contains(':');
        if ((!looksV4 && !looksV6) || !IPAddress.TryParse(text, out IPAddress? parsed))
        {
            address = IpAddr.None;
            return false;
        }

        address = IpAddr.From(parsed);
        return !address.IsUnspecified && !address.IsMulticastOrBroadcast;
    }

    private void Refresh()
    {
        if (!FileVersion.TryGet(path, out FileVersion now))
        {
            exists = false;
            upstreams = [];
            return;
        }

        if (exists && now == version)
        {
            return;
        }

        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (IOException)
        {
            exists = false;
            upstreams = [];
            return;
        }
        catch (UnauthorizedAccessException)
        {
            exists = false;
            upstreams = [];
            return;
        }

        exists = true;
        version = now;
        upstreams = Parse(text);
    }
}
