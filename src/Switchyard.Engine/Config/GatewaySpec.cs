// The NAT gateway's options in QEMU's `-netdev user` vocabulary: text to GatewayOptions and back.
//
// Theory of operation: a gateway is configured with the words a QEMU user already knows
// (`user,net=10.0.2.0/24,hostfwd=tcp::2222-:22`), written as one option string (the CLI's
// `up --gateway`, the YAML `gateway: "user,..."` form) or as a YAML mapping with the same keys. Both
// forms go through Build: every item is read into a typed value (unknown, repeated or malformed
// options reported and skipped), addresses left out are derived as QEMU derives them (the .2, .3 and
// .15 of net=; ::2 and ::3 of the IPv6 prefix), the record is built on GatewayOptions.Default (the one
// place gateway defaults live), and then Check runs the rules that span options (host, dns and
// dhcpstart inside net; MTU range; prefix lengths; forwards on the guests' side; ...). Check is also
// what TopologyConfig runs on options built in code, so a topology never holds an invalid gateway.
// Every problem is reported at once, against the option it concerns, so the YAML loader can point at
// the line of that key. Nothing here throws on bad text; Parse throws one ConfigException at the end.
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchyard.Core.Config;
using Switchyard.Protocols;
using Switchyard.UserNet;

namespace Switchyard.Engine.Config;

/// <summary>Parses, formats and checks gateway options. See the file header.</summary>
public static class GatewaySpec
{
    /// <summary>The first word of the text form (optional): QEMU's netdev type for user networking.</summary>
    public const string Kind = "user";

    private const string Example = "e.g. 'user,net=10.0.2.0/24,hostfwd=tcp:127.0.0.1:2222-:22'";

    /// <summary>Options that take a list (repeat the option in text, a YAML list in a mapping).</summary>
    internal static readonly string[] ListKeys = ["dnssearch", "dns-upstream", "hostfwd"];

    /// <summary>The smallest relay budget: two 32 KiB chunks, so one flow can move data at all.</summary>
    private const int MinRelayBuffer = 65536;

    /// <summary>The DHCP server's binding table size: the largest useful max-leases-per-port.</summary>
    private const int DhcpMaxBindings = 4096;

    /// <summary>Every option a gateway takes, in canonical order.</summary>
    internal static readonly string[] Keys =
    [
        "net", "host", "dns", "dhcpstart",
        "ipv6", "ipv6-net", "ipv6-prefix", "ipv6-prefixlen", "ipv6-host", "ipv6-dns",
        "hostname", "domainname", "dnssearch", "mtu", "restrict", "host-loopback",
        "dns-upstream", "hostfwd", "lease-time", "max-flows", "max-flows-per-guest",
        "max-leases-per-port", "relay-buffer", "relay-buffer-per-port",
    ];

    private static readonly string[] Ipv6Keys = ["ipv6-net", "ipv6-prefix", "ipv6-prefixlen", "ipv6-host", "ipv6-dns"];

    // QEMU user-networking options Switchyard knows but does not take, with what to do instead.
    private static readonly Dictionary<string, string> Unsupported = new(StringComparer.Ordinal)
    {
        ["ipv4"] = "the IPv4 side of the gateway is always on; remove it",
        ["vlan"] = "a gateway sits on the network's default VLAN; remove it",
        ["guestfwd"] = "guest forwards are not supported; run the service on the host and reach it at the gateway address (host-loopback=on)",
        ["smb"] = "the built-in SMB server is not supported; share files another way (e.g. virtiofs)",
        ["smbserver"] = "the built-in SMB server is not supported",
        ["tftp"] = "the built-in TFTP server is not supported",
        ["tftp-server-name"] = "the built-in TFTP server is not supported",
        ["bootfile"] = "network boot (BOOTP filename) is not supported",
        ["dhcpstart6"] = "DHCPv6 hands out no addresses here (guests use SLAAC); remove it",
        ["vnetwork"] = "that is the old name; write net=ADDR/LEN",
        ["vhost"] = "that is the old name; write host=ADDR",
        ["vnameserver"] = "that is the old name; write dns=ADDR",
        ["dnssearch6"] = "dnssearch= serves both IPv4 (DHCP) and IPv6 (RA); use it",
    };

    /// <summary>Parses the text form (leading "user," optional). Throws <see cref="ConfigException"/>
    /// listing every problem.</summary>
    public static GatewayOptions Parse(string text) =>
        TryParse(text, out GatewayOptions? options, out IReadOnlyList<string> errors) ? options : throw new ConfigException(errors);

    /// <summary>Parses the text form; on failure <paramref name="errors"/> holds every problem, each with
    /// what to write instead.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out GatewayOptions? options, out IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(text);
        var list = new List<string>();
        options = null;
        errors = list;
        List<(string Key, string? Value)> items = ConfigText.SplitOptions(text);
        if (items.Count > 0 && items[0] is (Kind, null))
        {
            items.RemoveAt(0);
        }
        else if (items.Count > 0 && items[0] is ("type", Kind))
        {
            items.RemoveAt(0);
        }
        else if (text.Length > 0 && items[0] is ({ Length: > 0 } word, null) && Array.IndexOf(Keys, word) < 0 && !Unsupported.ContainsKey(word))
        {
            list.Add($"a gateway spec starts with 'user' (or with its first option), not {ConfigText.Quote(word)} ({Example})");
            items.RemoveAt(0);
        }

        if (text.Length == 0 || (items.Count == 1 && items[0] is ("", null)))
        {
            items.Clear();
        }

        var pairs = new List<(string Key, string? Value)>(items.Count);
        foreach ((string key, string? value) in items)
        {
            if (key != "id")
            {
                pairs.Add((key, value));
            }
        }

        GatewayOptions? built = Build(pairs, (_, message) => list.Add(message), lenientBooleans: false);
        if (list.Count == 0 && built is not null)
        {
            options = built;
            return true;
        }

        return false;
    }

    /// <summary>The canonical text of <paramref name="options"/>: every option in a fixed order, lists
    /// as repeated options. <c>Parse(Format(o))</c> equals <c>o</c> for options a user can write (the
    /// MAC, UDP idle timeout and TCP buffer size have no option and come back as their defaults; with
    /// ipv6=off the IPv6 addresses are not written).</summary>
    public static string Format(GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var sb = new StringBuilder(Kind);
        void Add(string key, string value) => sb.Append(',').Append(key).Append('=').Append(value.Replace(",", ",,", StringComparison.Ordinal));
        Add("net", options.Network.ToString());
        Add("host", options.Host.ToString());
        Add("dns", options.Dns.ToString());
        Add("dhcpstart", options.DhcpStart.ToString());
        Add("ipv6", ConfigText.FormatBool(options.Ipv6));
        if (options.Ipv6)
        {
            Add("ipv6-net", options.Network6.ToString());
            Add("ipv6-host", options.Host6.ToString());
            Add("ipv6-dns", options.Dns6.ToString());
        }

        if (options.Hostname is not null)
        {
            Add("hostname", options.Hostname);
        }

        if (options.DomainName is not null)
        {
            Add("domainname", options.DomainName);
        }

        foreach (string domain in options.DnsSearch.IsDefault ? [] : options.DnsSearch)
        {
            Add("dnssearch", domain);
        }

        Add("mtu", options.Mtu.ToString(CultureInfo.InvariantCulture));
        Add("restrict", ConfigText.FormatBool(options.Restrict));
        Add("host-loopback", ConfigText.FormatBool(options.HostLoopback));
        foreach (DnsUpstream upstream in options.DnsUpstreams.IsDefault ? [] : options.DnsUpstreams)
        {
            Add("dns-upstream", upstream.ToString());
        }

        foreach (ForwardRule rule in options.Forwards.IsDefault ? [] : options.Forwards)
        {
            Add("hostfwd", rule.ToString());
        }

        Add("lease-time", ((long)options.LeaseTime.TotalSeconds).ToString(CultureInfo.InvariantCulture));
        Add("max-flows", options.MaxFlows.ToString(CultureInfo.InvariantCulture));
        Add("max-flows-per-guest", options.MaxFlowsPerGuest.ToString(CultureInfo.InvariantCulture));
        Add("max-leases-per-port", options.MaxLeasesPerPort.ToString(CultureInfo.InvariantCulture));
        Add("relay-buffer", options.RelayBufferBytes.ToString(CultureInfo.InvariantCulture));
        Add("relay-buffer-per-port", options.RelayBufferBytesPerPort.ToString(CultureInfo.InvariantCulture));
        return sb.ToString();
    }

    /// <summary>Every rule <paramref name="options"/> breaks, one message each; empty if valid.</summary>
    public static IReadOnlyList<string> Validate(GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        Check(options, derived: null, (_, message) => errors.Add(message));
        return errors;
    }

    /// <summary>Builds options from key/value items (list keys may repeat). Reports each problem with
    /// the option it concerns (null when none). Returns null if any problem was reported.
    /// <paramref name="lenientBooleans"/> accepts any letter case (YAML: True, Off).</summary>
    internal static GatewayOptions? Build(IReadOnlyList<(string Key, string? Value)> items, Action<string?, string> report, bool lenientBooleans)
    {
        int problems = 0;
        var failed = new HashSet<string>(StringComparer.Ordinal);
        void Error(string? key, string message)
        {
            problems++;
            if (key is not null)
            {
                failed.Add(key);
            }

            report(key, message);
        }

        var single = new Dictionary<string, string>(StringComparer.Ordinal);
        var lists = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach ((string key, string? value) in items)
        {
            if (key.Length == 0)
            {
                Error(null, $"empty option in gateway spec (a stray ','? write ',,' for a comma inside a value; {Example})");
            }
            else if (Unsupported.TryGetValue(key, out string? instead))
            {
                Error(key, $"option {ConfigText.Quote(key)} is not supported by the gateway ({instead})");
            }
            else if (Array.IndexOf(Keys, key) < 0)
            {
                string hint = ConfigText.Suggest(key, Keys) is { } s ? $"did you mean '{s}'? " : string.Empty;
                Error(key, $"unknown gateway option {ConfigText.Quote(key)} ({hint}valid options: {string.Join(", ", Keys)})");
            }
            else if (value is null)
            {
                Error(key, $"gateway option '{key}' has no value (write {key}=VALUE)");
            }
            else if (Array.IndexOf(ListKeys, key) >= 0)
            {
                if (!lists.TryGetValue(key, out List<string>? values))
                {
                    lists[key] = values = [];
                }

                values.Add(value);
            }
            else if (!single.TryAdd(key, value))
            {
                Error(key, $"gateway option '{key}' is given more than once (keep one; only {string.Join(", ", ListKeys)} repeat)");
            }
        }

        GatewayOptions d = GatewayOptions.Default;

        IpPrefix? net = single.TryGetValue("net", out string? netText) ? ReadPrefix(netText, "net", v6: false, Error) : null;
        IpAddr? host = ReadAddress(single, "host", Error);
        IpAddr? dns = ReadAddress(single, "dns", Error);
        IpAddr? dhcpStart = ReadAddress(single, "dhcpstart", Error);
        bool? ipv6 = ReadBool(single, "ipv6", lenientBooleans, Error);

        IpPrefix? net6 = null;
        string net6Key = "ipv6-net";
        if (single.TryGetValue("ipv6-net", out string? net6Text))
        {
            net6 = ReadPrefix(net6Text, "ipv6-net", v6: true, Error);
            if (single.ContainsKey("ipv6-prefix") || single.ContainsKey("ipv6-prefixlen"))
            {
                Error("ipv6-net", "give either ipv6-net=PREFIX/LEN or ipv6-prefix= with ipv6-prefixlen=, not both");
            }
        }
        else if (single.TryGetValue("ipv6-prefix", out string? prefixText))
        {
            net6Key = "ipv6-prefix";
            int length = d.Network6.Length;
            if (single.TryGetValue("ipv6-prefixlen", out string? lengthText))
            {
                if (ConfigText.ParseNonNegativeInt(lengthText) is { } l && l <= 128)
                {
                    length = l;
                }
                else
                {
                    Error("ipv6-prefixlen", $"bad value {ConfigText.Quote(lengthText)} for 'ipv6-prefixlen' (expected {Defaults.GatewayPrefixLength6})");
                }
            }

            if (TryParseIp(prefixText, out IpAddr prefix) && !prefix.IsV4)
            {
                net6 = new IpPrefix(prefix, length);
            }
            else
            {
                Error("ipv6-prefix", $"bad value {ConfigText.Quote(prefixText)} for 'ipv6-prefix' (expected an IPv6 prefix such as fd00::, with ipv6-prefixlen=64)");
            }
        }
        else if (single.TryGetValue("ipv6-prefixlen", out string? lonelyLength))
        {
            if (ConfigText.ParseNonNegativeInt(lonelyLength) is { } l && l <= 128)
            {
                net6Key = "ipv6-prefixlen";
                net6 = d.Network6 with { Length = l };
            }
            else
            {
                Error("ipv6-prefixlen", $"bad value {ConfigText.Quote(lonelyLength)} for 'ipv6-prefixlen' (expected {Defaults.GatewayPrefixLength6})");
            }
        }

        IpAddr? host6 = ReadAddress(single, "ipv6-host", Error);
        IpAddr? dns6 = ReadAddress(single, "ipv6-dns", Error);

        int? mtu = ReadInt(single, "mtu", $"a whole number from {Defaults.MinGatewayMtu} to {Defaults.MaxGatewayMtu}", Error);
        bool? restrict = ReadBool(single, "restrict", lenientBooleans, Error);
        bool? hostLoopback = ReadBool(single, "host-loopback", lenientBooleans, Error);
        int? maxFlows = ReadInt(single, "max-flows", $"a whole number from 1 to {Defaults.MaxGatewayFlowsLimit}", Error);
        int? maxPerGuest = ReadInt(single, "max-flows-per-guest", "a whole number, 1 or more, at most max-flows", Error);
        int? maxLeasesPerPort = ReadInt(single, "max-leases-per-port", $"a whole number from 1 to {DhcpMaxBindings}", Error);
        int? relayBuffer = ReadInt(single, "relay-buffer", $"a number of bytes from {MinRelayBuffer} to {int.MaxValue}", Error);
        int? relayBufferPerPort = ReadInt(single, "relay-buffer-per-port", $"a number of bytes from {MinRelayBuffer}, at most relay-buffer", Error);
        TimeSpan? leaseTime = null;
        if (single.TryGetValue("lease-time", out string? leaseText))
        {
            leaseTime = ParseSeconds(leaseText);
            if (leaseTime is null)
            {
                Error("lease-time", $"bad value {ConfigText.Quote(leaseText)} for 'lease-time' (expected whole seconds, or a number with a unit: \"3600\", \"30m\", \"12h\", \"1d\")");
            }
        }

        var upstreams = ImmutableArray.CreateBuilder<DnsUpstream>();
        foreach (string text in lists.GetValueOrDefault("dns-upstream") ?? [])
        {
            if (TryParseUpstream(text, out DnsUpstream upstream, out string? problem))
            {
                upstreams.Add(upstream);
            }
            else
            {
                Error("dns-upstream", problem);
            }
        }

        var forwards = ImmutableArray.CreateBuilder<ForwardRule>();
        foreach (string text in lists.GetValueOrDefault("hostfwd") ?? [])
        {
            if (ForwardRuleParser.TryParse(text, out ForwardRule? rule, out string? error))
            {
                forwards.Add(rule);
            }
            else
            {
                Error("hostfwd", error);
            }
        }

        bool ipv6On = ipv6 ?? d.Ipv6;
        if (ipv6 == false)
        {
            foreach (string key in Ipv6Keys)
            {
                if (single.ContainsKey(key))
                {
                    Error(key, $"'{key}' is set but ipv6=off; remove '{key}' or turn IPv6 on");
                }
            }
        }

        // QEMU derives the gateway, DNS and first DHCP address from the network when they are left out.
        var derived = new HashSet<string>(StringComparer.Ordinal);
        IpPrefix network = net ?? d.Network;
        IpAddr Derive(IpAddr? given, string key, uint offset, IpAddr fallback)
        {
            if (given is { } g)
            {
                return g;
            }

            if (net is null)
            {
                return fallback;
            }

            derived.Add(key);
            return IpAddr.FromV4(network.Address.V4 + offset);
        }

        IpPrefix network6 = net6 ?? d.Network6;
        IpAddr Derive6(IpAddr? given, string key, ulong offset, IpAddr fallback)
        {
            if (given is { } g)
            {
                return g;
            }

            if (net6 is null)
            {
                return fallback;
            }

            derived.Add(key);
            return new IpAddr(network6.Address.High, network6.Address.Low + offset);
        }

        var options = d with
        {
            Network = network,
            Host = Derive(host, "host", 2, d.Host),
            Dns = Derive(dns, "dns", 3, d.Dns),
            DhcpStart = Derive(dhcpStart, "dhcpstart", 15, d.DhcpStart),
            Ipv6 = ipv6On,
            Network6 = network6,
            Host6 = Derive6(host6, "ipv6-host", 2, d.Host6),
            Dns6 = Derive6(dns6, "ipv6-dns", 3, d.Dns6),
            Hostname = single.GetValueOrDefault("hostname") ?? d.Hostname,
            DomainName = single.GetValueOrDefault("domainname") ?? d.DomainName,
            DnsSearch = lists.TryGetValue("dnssearch", out List<string>? search) ? [.. search] : d.DnsSearch,
            Mtu = mtu ?? d.Mtu,
            Restrict = restrict ?? d.Restrict,
            HostLoopback = hostLoopback ?? d.HostLoopback,
            DnsUpstreams = upstreams.Count > 0 ? upstreams.ToImmutable() : d.DnsUpstreams,
            Forwards = forwards.Count > 0 ? forwards.ToImmutable() : d.Forwards,
            LeaseTime = leaseTime ?? d.LeaseTime,
            MaxFlows = maxFlows ?? d.MaxFlows,
            MaxFlowsPerGuest = maxPerGuest ?? d.MaxFlowsPerGuest,
            MaxLeasesPerPort = maxLeasesPerPort ?? d.MaxLeasesPerPort,
            RelayBufferBytes = relayBuffer ?? d.RelayBufferBytes,
            RelayBufferBytesPerPort = relayBufferPerPort ?? d.RelayBufferBytesPerPort,
        };

        // Rules between options; a message about an option that already failed to parse would only repeat it.
        Check(options, derived, (keys, message) =>
        {
            foreach (string key in keys)
            {
                if (failed.Contains(key == "ipv6-net" ? net6Key : key))
                {
                    return;
                }
            }

            // A derived address points at the option it was derived from.
            string primary = keys[0] == "ipv6-net" ? net6Key : keys[0];
            Error(!derived.Contains(primary) ? primary : primary.StartsWith("ipv6", StringComparison.Ordinal) ? net6Key : "net", message);
        });

        return problems == 0 ? options : null;
    }

    /// <summary>The rules of a gateway. Each problem is reported with the options it involves (the
    /// first is where it points) and a message saying what to write. <paramref name="derived"/> names
    /// the addresses that were derived from net= or the IPv6 prefix rather than given.</summary>
    internal static void Check(GatewayOptions o, ISet<string>? derived, Action<string[], string> report)
    {
        string Origin(string key, string from) =>
            derived is not null && derived.Contains(key) ? $" (derived from {from}; set {key}= to choose another)" : string.Empty;

        // IPv4 plan.
        bool netOk = true;
        if (!o.Network.Address.IsV4)
        {
            report(["net"], $"net {o.Network} is not an IPv4 network (write net=ADDR/LEN, e.g. net=10.0.2.0/24)");
            netOk = false;
        }
        else if (o.Network.Length is < Defaults.MinGatewayPrefixLength or > Defaults.MaxGatewayPrefixLength)
        {
            report(["net"], $"net {o.Network}: prefix length /{o.Network.Length} is out of range (/{Defaults.MinGatewayPrefixLength} to /{Defaults.MaxGatewayPrefixLength}; e.g. net=10.0.2.0/24)");
            netOk = false;
        }
        else if (o.Network.NetworkAddress != o.Network.Address)
        {
            report(["net"], $"net {o.Network} has host bits set; write net={o.Network.NetworkAddress}/{o.Network.Length}");
        }

        if (netOk)
        {
            string from = $"net={o.Network.NetworkAddress}/{o.Network.Length}";
            bool hostOk = CheckV4Member(o, o.Host, "host", "the gateway's address", Origin("host", from), report);
            bool dnsOk = CheckV4Member(o, o.Dns, "dns", "the DNS address", Origin("dns", from), report);
            bool dhcpOk = CheckV4Member(o, o.DhcpStart, "dhcpstart", "the first DHCP address", Origin("dhcpstart", from), report);
            if (hostOk && dnsOk && o.Dns == o.Host)
            {
                report(["dns", "host"], $"dns {o.Dns} is the same as host; the DNS address answers only DNS, so give it its own address (QEMU uses .3)");
            }

            if (hostOk && dhcpOk && o.DhcpStart == o.Host)
            {
                report(["dhcpstart", "host"], $"dhcpstart {o.DhcpStart} is the gateway's address (host); start the DHCP range after it (QEMU uses .15)");
            }
            else if (dnsOk && dhcpOk && o.DhcpStart == o.Dns)
            {
                report(["dhcpstart", "dns"], $"dhcpstart {o.DhcpStart} is the DNS address (dns); start the DHCP range after it (QEMU uses .15)");
            }
        }

        // IPv6 plan (only when on).
        if (o.Ipv6)
        {
            bool net6Ok = true;
            if (o.Network6.Address.IsV4)
            {
                report(["ipv6-net"], $"ipv6-net {o.Network6} is not an IPv6 prefix (e.g. ipv6-net=fd00::/64)");
                net6Ok = false;
            }
            else if (o.Network6.Length != Defaults.GatewayPrefixLength6)
            {
                report(["ipv6-net"], $"IPv6 prefix length /{o.Network6.Length} is not supported: SLAAC needs exactly /{Defaults.GatewayPrefixLength6} (e.g. ipv6-net=fd00::/64)");
                net6Ok = false;
            }
            else if (o.Network6.Address.Low != 0)
            {
                report(["ipv6-net"], $"ipv6-net {o.Network6} has host bits set; write ipv6-net={new IpAddr(o.Network6.Address.High, 0)}/64");
            }
            else if (o.Network6.Address.IsMulticastOrBroadcast || o.Network6.Address.IsLinkLocalV6 || o.Network6.Address.High == 0)
            {
                report(["ipv6-net"], $"ipv6-net {o.Network6} is not a global or unique-local prefix (use a ULA such as fd00::/64)");
                net6Ok = false;
            }

            if (net6Ok)
            {
                string from = $"ipv6-net={o.Network6}";
                bool host6Ok = CheckV6Member(o, o.Host6, "ipv6-host", Origin("ipv6-host", from), report);
                bool dns6Ok = CheckV6Member(o, o.Dns6, "ipv6-dns", Origin("ipv6-dns", from), report);
                if (host6Ok && dns6Ok && o.Host6 == o.Dns6)
                {
                    report(["ipv6-dns", "ipv6-host"], $"ipv6-dns {o.Dns6} is the same as ipv6-host; give the DNS address its own address (QEMU uses ::3)");
                }
            }
        }

        // Link.
        int minMtu = o.Ipv6 ? Defaults.MinGatewayMtuIpv6 : Defaults.MinGatewayMtu;
        if (o.Mtu < minMtu || o.Mtu > Defaults.MaxGatewayMtu)
        {
            string why = o.Ipv6 && o.Mtu >= Defaults.MinGatewayMtu && o.Mtu < Defaults.MinGatewayMtuIpv6
                ? $"; IPv6 needs at least {Defaults.MinGatewayMtuIpv6}, or set ipv6=off"
                : string.Empty;
            report(["mtu"], $"mtu {o.Mtu} is out of range ({minMtu} to {Defaults.MaxGatewayMtu}; default {GatewayOptions.Default.Mtu}{why})");
        }

        if (o.LeaseTime < Defaults.MinLeaseTime || o.LeaseTime.TotalSeconds > uint.MaxValue - 1)
        {
            report(["lease-time"], $"lease-time {o.LeaseTime.TotalSeconds:0.###} s is out of range (at least {Defaults.MinLeaseTime.TotalSeconds:0} s; default {GatewayOptions.Default.LeaseTime.TotalSeconds:0} s)");
        }

        if (o.MaxFlows is < 1 or > Defaults.MaxGatewayFlowsLimit)
        {
            report(["max-flows"], $"max-flows {o.MaxFlows} is out of range (1 to {Defaults.MaxGatewayFlowsLimit}; default {GatewayOptions.Default.MaxFlows})");
        }
        else if (o.MaxFlowsPerGuest < 1 || o.MaxFlowsPerGuest > o.MaxFlows)
        {
            report(["max-flows-per-guest", "max-flows"], $"max-flows-per-guest {o.MaxFlowsPerGuest} is out of range (1 to max-flows, {o.MaxFlows}; default {GatewayOptions.Default.MaxFlowsPerGuest})");
        }

        if (o.MaxLeasesPerPort is < 1 or > DhcpMaxBindings)
        {
            report(["max-leases-per-port"], $"max-leases-per-port {o.MaxLeasesPerPort} is out of range (1 to {DhcpMaxBindings}; default {GatewayOptions.Default.MaxLeasesPerPort})");
        }

        if (o.RelayBufferBytes < MinRelayBuffer || o.RelayBufferBytes > int.MaxValue)
        {
            report(["relay-buffer"], $"relay-buffer {o.RelayBufferBytes} is out of range ({MinRelayBuffer} to {int.MaxValue} bytes; default {GatewayOptions.Default.RelayBufferBytes})");
        }
        else if (o.RelayBufferBytesPerPort < MinRelayBuffer || o.RelayBufferBytesPerPort > o.RelayBufferBytes)
        {
            report(["relay-buffer-per-port", "relay-buffer"], $"relay-buffer-per-port {o.RelayBufferBytesPerPort} is out of range ({MinRelayBuffer} to relay-buffer, {o.RelayBufferBytes} bytes; default {GatewayOptions.Default.RelayBufferBytesPerPort})");
        }

        // Names handed to guests.
        if (o.Hostname is not null && CheckDomainName(o.Hostname) is { } hostnameProblem)
        {
            report(["hostname"], $"hostname {ConfigText.Quote(o.Hostname)}: {hostnameProblem}");
        }

        if (o.DomainName is not null && CheckDomainName(o.DomainName) is { } domainProblem)
        {
            report(["domainname"], $"domainname {ConfigText.Quote(o.DomainName)}: {domainProblem}");
        }

        foreach (string domain in o.DnsSearch.IsDefault ? [] : o.DnsSearch)
        {
            if (CheckDomainName(domain ?? string.Empty) is { } problem)
            {
                report(["dnssearch"], $"dnssearch {ConfigText.Quote(domain ?? string.Empty)}: {problem}");
            }
        }

        foreach (DnsUpstream upstream in o.DnsUpstreams.IsDefault ? [] : o.DnsUpstreams)
        {
            if (upstream.Address.IsUnspecified || upstream.Address.IsMulticastOrBroadcast || upstream.Port == 0)
            {
                report(["dns-upstream"], $"dns-upstream {upstream} is not a unicast DNS server address and port (e.g. dns-upstream=9.9.9.9 or dns-upstream=[2620:fe::fe]:53)");
            }
        }

        // Forwards.
        var seen = new Dictionary<(ForwardProtocol, IpAddr, ushort), ForwardRule>();
        foreach (ForwardRule rule in o.Forwards.IsDefault ? [] : o.Forwards)
        {
            if (rule is null)
            {
                report(["hostfwd"], "a forward rule is missing (null)");
                continue;
            }

            if (ForwardRuleParser.Check(rule, o) is { } problem)
            {
                report(["hostfwd"], problem);
            }

            if (rule.HostPort == 0 || rule.GuestPort == 0)
            {
                report(["hostfwd"], $"forward {rule}: ports are 1 to 65535");
            }

            if (!seen.TryAdd(rule.HostKey, rule))
            {
                report(["hostfwd"], $"forwards {seen[rule.HostKey]} and {rule} use the same host address and port; one host port forwards to one guest port");
            }
        }
    }

    /// <summary>A strict IP literal: dotted-quad IPv4 (four decimal parts) or IPv6 (with ':', no zone).
    /// Unlike IPAddress.TryParse, "10.2" and "1" are not addresses.</summary>
    public static bool TryParseIp(string text, out IpAddr address)
    {
        address = default;
        if (string.IsNullOrEmpty(text) || text.Length > 45 || text.Contains('%', StringComparison.Ordinal))
        {
            return false;
        }

        if (text.Contains(':', StringComparison.Ordinal))
        {
            if (IPAddress.TryParse(text, out IPAddress? v6) && v6.AddressFamily == AddressFamily.InterNetworkV6)
            {
                address = IpAddr.From(v6);
                return true;
            }

            return false;
        }

        string[] parts = text.Split('.');
        if (parts.Length != 4)
        {
            return false;
        }

        uint value = 0;
        foreach (string part in parts)
        {
            if (part.Length is 0 or > 3 || !int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int octet) || octet > 255)
            {
                return false;
            }

            value = (value << 8) | (uint)octet;
        }

        address = IpAddr.FromV4(value);
        return true;
    }

    /// <summary>IP[:PORT], or [IPV6][:PORT]; the port defaults to 53.</summary>
    internal static bool TryParseUpstream(string text, out DnsUpstream upstream, [NotNullWhen(false)] out string? problem)
    {
        upstream = default;
        string bad = $"bad value {ConfigText.Quote(text)} for 'dns-upstream'";
        string addressText = text;
        string? portText = null;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || (close + 1 < text.Length && text[close + 1] != ':'))
            {
                problem = $"{bad} (expected [IPV6] or [IPV6]:PORT, e.g. [2620:fe::fe]:53)";
                return false;
            }

            addressText = text[1..close];
            portText = close + 1 < text.Length ? text[(close + 2)..] : null;
        }
        else if (text.Count(c => c == ':') > 1)
        {
            problem = $"{bad} (write an IPv6 server in brackets: [{text}] or [{text}]:53)";
            return false;
        }
        else if (text.IndexOf(':', StringComparison.Ordinal) is >= 0 and int colon)
        {
            addressText = text[..colon];
            portText = text[(colon + 1)..];
        }

        if (!TryParseIp(addressText, out IpAddr address) || (text.StartsWith('[') && address.IsV4))
        {
            problem = $"{bad} ({ConfigText.Quote(addressText)} is not an IP address; expected IP[:PORT], e.g. 9.9.9.9 or [2620:fe::fe]:53)";
            return false;
        }

        ushort port = 53;
        if (portText is not null)
        {
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p is < 1 or > 65535)
            {
                problem = $"{bad} (port {ConfigText.Quote(portText)} is not 1 to 65535)";
                return false;
            }

            port = (ushort)p;
        }

        upstream = new DnsUpstream(address, port);
        problem = null;
        return true;
    }


    private static bool CheckV4Member(GatewayOptions o, IpAddr address, string key, string what, string origin, Action<string[], string> report)
    {
        if (!address.IsV4)
        {
            report([key], $"{key} {address} is not an IPv4 address ({what}, inside net {o.Network}){origin}");
            return false;
        }

        if (!o.Network.Contains(address))
        {
            report([key, "net"], $"{key} {address} is outside net {o.Network}{origin}; give an address inside it");
            return false;
        }

        if (address == o.Network.NetworkAddress || address == o.Network.BroadcastAddress)
        {
            string which = address == o.Network.NetworkAddress ? "network" : "broadcast";
            report([key, "net"], $"{key} {address} is the {which} address of {o.Network}{origin}; give a host address inside it");
            return false;
        }

        return true;
    }

    private static bool CheckV6Member(GatewayOptions o, IpAddr address, string key, string origin, Action<string[], string> report)
    {
        if (address.IsV4)
        {
            report([key], $"{key} {address} is not an IPv6 address{origin}");
            return false;
        }

        if (!o.Network6.Contains(address))
        {
            report([key, "ipv6-net"], $"{key} {address} is outside the IPv6 prefix {o.Network6}{origin}; give an address inside it");
            return false;
        }

        if (address == o.Network6.Address)
        {
            report([key, "ipv6-net"], $"{key} {address} is the prefix's own address (the subnet-router anycast address){origin}; use e.g. ::2");
            return false;
        }

        return true;
    }

    // RFC 1035 section 2.3.1 with RFC 1123's leading digits: labels of letters, digits and '-', 1-63 long, 253 in all.
    private static string? CheckDomainName(string name)
    {
        const string Rule = "a DNS name is labels of letters, digits and '-' (1 to 63 characters each, 253 in all) separated by '.'";
        if (name.Length is 0 or > 253)
        {
            return $"{(name.Length == 0 ? "empty" : "too long")} ({Rule})";
        }

        foreach (string label in name.TrimEnd('.').Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-' || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return $"not a valid DNS name ({Rule})";
            }
        }

        return null;
    }

    private static IpPrefix? ReadPrefix(string text, string key, bool v6, Action<string?, string> error)
    {
        string example = v6 ? "fd00::/64" : "10.0.2.0/24";
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            error(key, $"bad value {ConfigText.Quote(text)} for '{key}': give the prefix length too (e.g. {key}={example})");
            return null;
        }

        string addressText = text[..slash];
        string lengthText = text[(slash + 1)..];
        if (!TryParseIp(addressText, out IpAddr address) || address.IsV4 == v6)
        {
            error(key, $"bad value {ConfigText.Quote(text)} for '{key}': {ConfigText.Quote(addressText)} is not an {(v6 ? "IPv6" : "IPv4")} address (e.g. {key}={example})");
            return null;
        }

        int? length = ConfigText.ParseNonNegativeInt(lengthText);
        if (length is null && !v6 && TryParseIp(lengthText, out IpAddr mask) && mask.IsV4)
        {
            // A dotted netmask, as QEMU also takes (net=10.0.2.0/255.255.255.0).
            length = IpPrefix.V4LengthOf(mask.V4);
        }

        if (length is null || length > (v6 ? 128 : 32))
        {
            error(key, $"bad value {ConfigText.Quote(text)} for '{key}': {ConfigText.Quote(lengthText)} is not a prefix length (e.g. {key}={example})");
            return null;
        }

        return new IpPrefix(address, length.Value);
    }

    private static IpAddr? ReadAddress(Dictionary<string, string> single, string key, Action<string?, string> error)
    {
        if (!single.TryGetValue(key, out string? text))
        {
            return null;
        }

        if (TryParseIp(text, out IpAddr address))
        {
            return address;
        }

        string example = key.StartsWith("ipv6", StringComparison.Ordinal) ? "fd00::2" : "10.0.2.2";
        error(key, $"bad value {ConfigText.Quote(text)} for '{key}' (expected an IP address, e.g. {example})");
        return null;
    }

    private static bool? ReadBool(Dictionary<string, string> single, string key, bool lenient, Action<string?, string> error)
    {
        if (!single.TryGetValue(key, out string? text))
        {
            return null;
        }

        bool? value = ConfigText.ParseBool(lenient ? text.ToLowerInvariant() : text);
        if (value is null)
        {
            error(key, $"bad value {ConfigText.Quote(text)} for '{key}' ({ConfigText.BooleanHint})");
        }

        return value;
    }

    private static int? ReadInt(Dictionary<string, string> single, string key, string expected, Action<string?, string> error)
    {
        if (!single.TryGetValue(key, out string? text))
        {
            return null;
        }

        int? value = ConfigText.ParseNonNegativeInt(text);
        if (value is null)
        {
            error(key, $"bad value {ConfigText.Quote(text)} for '{key}' (expected {expected})");
        }

        return value;
    }

    // Whole seconds, or a number with a unit: s, m, h, d.
    private static TimeSpan? ParseSeconds(string text)
    {
        if (text.Length == 0)
        {
            return null;
        }

        (string digits, long scale) = text[^1] switch
        {
            's' => (text[..^1], 1L),
            'm' => (text[..^1], 60L),
            'h' => (text[..^1], 3600L),
            'd' => (text[..^1], 86400L),
            _ => (text, 1L),
        };
        return ConfigText.ParseNonNegativeInt(digits) is { } n && n * scale <= uint.MaxValue - 1 ? TimeSpan.FromSeconds(n * scale) : null;
    }
}
