// Parser for netdev spec text (QEMU's -netdev option syntax).
//
// Theory of operation: the text is split the way QEMU's option parser splits it: items separated by
// ',', each `key=value`, a doubled ",," standing for one comma inside a value, and the first item a
// bare type word (or `type=T`). The type word picks a NetdevSyntax from Syntaxes, one per kind, each
// declared by its spec record (StreamSpec.Syntax, ...), plus QEMU's legacy `socket`, which is read here
// and becomes a stream or dgram spec. The kind's parse function reads its options through a SpecReader,
// which knows the valid keys of that type, so an unknown or repeated key, a key without a value, or a value
// of the wrong shape is reported with a hint and parsing goes on. Rules that involve several options
// (port 0 only for a listener, reconnect only for a client, ...) are the Check functions of the spec
// records, shared with their constructors. Only when no problem was found is a spec built. The parser
// trusts nothing in the text and never throws on it: every outcome is a spec or a list of messages.
using Switchyard.Core.Config;
using Switchyard.Ports.Dgram;
using Switchyard.Ports.Netns;
using Switchyard.Ports.Stream;
using Switchyard.Ports.Tap;
using Switchyard.Ports.VhostUser;

namespace Switchyard.Ports;

/// <summary>One netdev type word: its valid keys, the QEMU keys it refuses with a hint, how its options
/// become a spec, and the spec type it makes (null for <c>socket</c>, which makes others).
/// <see cref="Examples"/> are valid texts, one per shape the kind has, for tests and docs.</summary>
internal sealed record NetdevSyntax(string Type, string[] Keys, Func<NetdevParser.SpecReader, NetdevSpec?> Parse, Type? Produces, IReadOnlyList<string> Examples)
{
    /// <summary>Options of QEMU's for this type that Switchyard does not take, with what to do instead.</summary>
    public IReadOnlyDictionary<string, string> Unsupported { get; init; } = new Dictionary<string, string>();
}

internal static class NetdevParser
{
    private const string Example = "e.g. 'stream,addr.type=unix,addr.path=PATH,server=on'";

    // QEMU netdev types that are not Switchyard port types (qapi/net.json NetClientDriver).
    private static readonly string[] OtherQemuTypes =
    [
        "none", "nic", "l2tpv3", "vde", "bridge", "hubport", "netmap", "vhost-vdpa",
        "af-xdp", "passt", "vmnet-host", "vmnet-shared", "vmnet-bridged",
    ];

    private static readonly string[] SocketKeys = ["id", "listen", "connect", "udp", "localaddr", "mcast", "fd"];

    // QEMU options Switchyard knows but does not take, with what to do instead (any type).
    private static readonly Dictionary<string, string> Unsupported = BuildUnsupported();

    private static readonly NetdevSyntax Socket = new("socket", SocketKeys, ParseSocket, Produces: null, ["socket,listen=127.0.0.1:5000"]);

    /// <summary>Every netdev type word Switchyard takes, in the order messages list them. A new port kind
    /// adds its spec's Syntax here.</summary>
    internal static IReadOnlyList<NetdevSyntax> Syntaxes { get; } =
        [StreamSpec.Syntax, DgramSpec.Syntax, Socket, VhostUserSpec.Syntax, TapSpec.Syntax, NetnsSpec.Syntax];

    /// <summary>"stream, dgram, socket, vhost-user, tap or netns": the list the messages below spell out (as
    /// literals, so docs/troubleshooting.md can quote them); NetdevKindTests holds the two together.</summary>
    internal static string TypeList { get; } =
        string.Join(", ", Syntaxes.Take(Syntaxes.Count - 1).Select(x => x.Type)) + " or " + Syntaxes[^1].Type;

    /// <summary>Parses <paramref name="text"/>; returns null and adds to <paramref name="errors"/> on
    /// any problem. Never throws on bad text.</summary>
    public static NetdevSpec? Parse(string text, List<string> errors)
    {
        if (text.Length == 0)
        {
            errors.Add($"the netdev spec is empty ({Example})");
            return null;
        }

        List<(string Key, string? Value)> items = ConfigText.SplitOptions(text);
        (string firstKey, string? firstValue) = items[0];
        string type;
        if (firstValue is null)
        {
            type = firstKey;
        }
        else if (firstKey == "type")
        {
            type = firstValue;
        }
        else
        {
            errors.Add($"a netdev spec starts with its type (stream, dgram, socket, vhost-user, tap or netns), not with {ConfigText.Quote(firstKey + "=" + firstValue)} ({Example})");
            return null;
        }

        var rest = items.GetRange(1, items.Count - 1);
        foreach (NetdevSyntax syntax in Syntaxes)
        {
            if (syntax.Type == type)
            {
                return syntax.Parse(new SpecReader(syntax, rest, errors));
            }
        }

        if (type == "user")
        {
            errors.Add("netdev type 'user' is not a port: the NAT gateway belongs to a network; give the network `gateway: \"user,...\"` (or `gateway: true`) in the topology, or `switchyard up --gateway 'user,...'` (docs/gateway.md)");
            return null;
        }

        if (Array.IndexOf(OtherQemuTypes, type) >= 0 || type.StartsWith("vmnet", StringComparison.Ordinal))
        {
            errors.Add($"netdev type {ConfigText.Quote(type)} is not a Switchyard port type (Switchyard takes stream, dgram, socket, vhost-user, tap or netns; give QEMU a matching stream, dgram or vhost-user netdev)");
        }
        else
        {
            string hint = ConfigText.Suggest(type, Syntaxes.Select(x => x.Type)) is { } s ? $"did you mean '{s}'? " : string.Empty;
            errors.Add($"unknown netdev type {ConfigText.Quote(type)} ({hint}expected stream, dgram, socket, vhost-user, tap or netns; {Example})");
        }

        return null;
    }

    // QEMU's legacy `-netdev socket`: TCP (listen/connect) becomes a stream spec, unicast UDP a dgram spec.
    private static NetdevSpec? ParseSocket(SpecReader r)
    {
        string? listen = r.Get("listen");
        string? connect = r.Get("connect");
        string? udp = r.Get("udp");
        string? localaddr = r.Get("localaddr");
        string? mcast = r.Get("mcast");
        string? fd = r.Get("fd");

        var modes = new List<string>();
        foreach ((string key, string? value) in new[] { ("listen", listen), ("connect", connect), ("udp", udp), ("mcast", mcast), ("fd", fd) })
        {
            if (value is not null)
            {
                modes.Add(key + "=");
            }
        }

        if (mcast is not null)
        {
            r.Error("socket,mcast= (multicast) is not supported: Switchyard is a point-to-point peer (use 'socket,udp=HOST:PORT,localaddr=HOST:PORT', a dgram spec, or a stream spec)");
        }

        if (fd is not null)
        {
            r.Error("socket,fd= is not supported: Switchyard opens its own sockets (use listen=, connect=, udp= or a stream spec)");
        }

        if (modes.Count == 0)
        {
            r.Error("a socket spec needs one of listen=[HOST]:PORT, connect=HOST:PORT or udp=HOST:PORT,localaddr=HOST:PORT");
            return null;
        }

        if (modes.Count > 1)
        {
            r.Error($"a socket spec takes only one of listen=, connect=, udp=, mcast=, fd= (got {string.Join(" and ", modes)})");
        }

        if (localaddr is not null && udp is null && mcast is null)
        {
            r.Error("option 'localaddr' in socket spec applies only with udp= (remove it)");
        }

        if (r.Failed)
        {
            return null;
        }

        if (listen is not null)
        {
            InetSocketAddress? address = ParseHostPort(r, "listen", listen, allowEmptyHost: true);
            return MakeStream(r, address, server: true);
        }

        if (connect is not null)
        {
            InetSocketAddress? address = ParseHostPort(r, "connect", connect, allowEmptyHost: false);
            return MakeStream(r, address, server: false);
        }

        // udp= is where Switchyard sends (QEMU's localaddr), localaddr= where it binds (QEMU's udp=).
        InetSocketAddress? remote = ParseHostPort(r, "udp", udp!, allowEmptyHost: false);
        InetSocketAddress? local = null;
        if (localaddr is null)
        {
            r.Error("socket,udp= needs localaddr=HOST:PORT, the address Switchyard binds (QEMU's side has the two swapped)");
        }
        else
        {
            local = ParseHostPort(r, "localaddr", localaddr, allowEmptyHost: true);
        }

        foreach (string problem in DgramSpec.Check(local, remote))
        {
            r.Error(problem);
        }

        return r.Failed || local is null || remote is null ? null : new DgramSpec(local, remote);
    }

    private static StreamSpec? MakeStream(SpecReader r, InetSocketAddress? address, bool server)
    {
        foreach (string problem in StreamSpec.Check(address, server, reconnect: null))
        {
            r.Error(problem);
        }

        return r.Failed || address is null ? null : new StreamSpec(address, server);
    }

    internal enum AddressRole
    {
        Stream,
        DgramLocal,
        DgramRemote,
    }

    // Reads PREFIX.type and the keys of that address type; reports keys of the other type.
    internal static NetdevAddress? ReadAddress(SpecReader r, string prefix, AddressRole role)
    {
        string typeKey = prefix + ".type";
        string pathKey = prefix + ".path";
        string abstractKey = prefix + ".abstract";
        string tightKey = prefix + ".tight";
        string hostKey = prefix + ".host";
        string portKey = prefix + ".port";

        string? type = r.Get(typeKey);
        string? path = r.Get(pathKey);
        bool? isAbstract = r.GetBool(abstractKey);
        bool? tight = r.GetBool(tightKey);
        string? host = r.Get(hostKey);
        int? port = r.GetInt(portKey);

        switch (type)
        {
            case null:
            {
                string add = path is not null ? $"{typeKey}=unix"
                    : host is not null || r.Has(portKey) ? $"{typeKey}=inet"
                    : $"{typeKey}=unix or {typeKey}=inet";
                string why = role switch
                {
                    AddressRole.DgramLocal => $"; {prefix}.* is the address Switchyard binds",
                    AddressRole.DgramRemote => $"; {prefix}.* is the address QEMU binds: Switchyard is a point-to-point peer and needs both ends",
                    _ => string.Empty,
                };
                r.Error($"missing option '{typeKey}' in {r.Kind} spec (add {add}{why})");
                return null;
            }

            case "unix":
            {
                r.RejectIfPresent(hostKey, $"{typeKey}=unix", $"remove it, or use {typeKey}=inet");
                r.RejectIfPresent(portKey, $"{typeKey}=unix", $"remove it, or use {typeKey}=inet");
                if (tight == false)
                {
                    r.Error($"'{tightKey}=off' is not supported in {r.Kind} spec (Switchyard uses QEMU's default, exact-length abstract names; remove it)");
                }

                if (path is null)
                {
                    r.Error($"missing option '{pathKey}' in {r.Kind} spec (a unix address needs {pathKey}=PATH)");
                    return null;
                }

                bool abs = isAbstract ?? false;
                if (UnixSocketAddress.CheckPath(path, abs) is { } problem)
                {
                    r.Error($"bad value for '{pathKey}' in {r.Kind} spec: {problem}");
                    return null;
                }

                return new UnixSocketAddress(path, abs);
            }

            case "inet":
            {
                foreach (string key in new[] { pathKey, abstractKey, tightKey })
                {
                    r.RejectIfPresent(key, $"{typeKey}=inet", $"remove it, or use {typeKey}=unix");
                }

                if (host is null)
                {
                    r.Error($"missing option '{hostKey}' in {r.Kind} spec (an inet address needs {hostKey}=HOST, e.g. 127.0.0.1)");
                }
                else if (InetSocketAddress.CheckHost(host) is { } problem)
                {
                    r.Error($"bad value for '{hostKey}' in {r.Kind} spec: {problem}");
                    host = null;
                }

                if (!r.Has(portKey))
                {
                    r.Error($"missing option '{portKey}' in {r.Kind} spec (an inet address needs {portKey}=PORT)");
                }
                else if (port is { } p && InetSocketAddress.CheckPort(p) is { } problem)
                {
                    r.Error($"bad value for '{portKey}' in {r.Kind} spec: {problem}");
                    port = null;
                }

                return host is not null && port is not null ? new InetSocketAddress(host, port.Value) : null;
            }

            case "fd":
                r.Error($"'{typeKey}=fd' is not supported in {r.Kind} spec (Switchyard opens its own sockets; use {typeKey}=unix or {typeKey}=inet)");
                return null;

            case "vsock":
                r.Error($"'{typeKey}=vsock' is not supported in {r.Kind} spec (use {typeKey}=unix or {typeKey}=inet)");
                return null;

            default:
            {
                string hint = ConfigText.Suggest(type, ["unix", "inet"]) is { } s ? $"did you mean '{s}'? " : string.Empty;
                r.Error($"unknown address type {ConfigText.Quote(type)} for '{typeKey}' in {r.Kind} spec ({hint}expected unix or inet)");
                return null;
            }
        }
    }

    // HOST:PORT, [IPV6]:PORT or, where allowed, :PORT (host = the wildcard, as QEMU).
    private static InetSocketAddress? ParseHostPort(SpecReader r, string key, string value, bool allowEmptyHost)
    {
        string form = allowEmptyHost ? "[HOST]:PORT" : "HOST:PORT";
        string bad = $"bad value {ConfigText.Quote(value)} for '{key}' in socket spec";
        string host;
        string portText;
        if (value.StartsWith('['))
        {
            int close = value.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= value.Length || value[close + 1] != ':')
            {
                r.Error($"{bad} (expected [IPV6]:PORT, e.g. [::1]:5000)");
                return null;
            }

            host = value[1..close];
            portText = value[(close + 2)..];
        }
        else
        {
            int colon = value.LastIndexOf(':');
            if (colon < 0)
            {
                r.Error($"{bad} (expected {form}, e.g. 127.0.0.1:5000)");
                return null;
            }

            if (value.IndexOf(':', StringComparison.Ordinal) != colon)
            {
                r.Error($"{bad} (write an IPv6 address in brackets, e.g. [::1]:5000)");
                return null;
            }

            host = value[..colon];
            portText = value[(colon + 1)..];
        }

        bool ok = true;
        if (host.Length == 0)
        {
            if (allowEmptyHost)
            {
                host = InetSocketAddress.WildcardHost;
            }
            else
            {
                r.Error($"{bad} (a host is needed, e.g. 127.0.0.1:5000)");
                ok = false;
            }
        }
        else if (InetSocketAddress.CheckHost(host) is { } problem)
        {
            r.Error($"{bad}: {problem}");
            ok = false;
        }

        int? port = ConfigText.ParseNonNegativeInt(portText);
        if (port is null)
        {
            r.Error($"{bad} (the port {ConfigText.Quote(portText)} is not a number; expected {form})");
            ok = false;
        }
        else if (InetSocketAddress.CheckPort(port.Value) is { } problem)
        {
            r.Error($"{bad}: {problem}");
            ok = false;
        }

        return ok ? new InetSocketAddress(host, port!.Value) : null;
    }

    private static Dictionary<string, string> BuildUnsupported()
    {
        const string InetOption = "a QEMU inet option Switchyard does not use; remove it";
        var map = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["chardev"] = "Switchyard creates the vhost-user socket itself; give path=PATH instead",
            ["vhostforce"] = "not needed by Switchyard; remove it",
            ["addr.str"] = "that is for addr.type=fd, which Switchyard does not support",
        };
        foreach (string prefix in new[] { "addr", "local", "remote" })
        {
            foreach (string option in new[] { "to", "numeric", "keep-alive", "mptcp", "ipv4", "ipv6" })
            {
                map[prefix + "." + option] = InetOption;
            }
        }

        return map;
    }

    /// <summary>The options of one spec, with the checks every option goes through.</summary>
    internal sealed class SpecReader
    {
        private readonly Dictionary<string, string> values = new(StringComparer.Ordinal);
        private readonly List<string> errors;
        private readonly int firstError;

        public SpecReader(NetdevSyntax syntax, List<(string Key, string? Value)> items, List<string> errors)
        {
            string kind = syntax.Type;
            string[] knownKeys = syntax.Keys;
            Kind = kind;
            this.errors = errors;
            firstError = errors.Count;
            foreach ((string key, string? value) in items)
            {
                if (key.Length == 0)
                {
                    Error($"empty option in {kind} spec (a stray ','? write ',,' for a comma inside a value)");
                }
                else if (Array.IndexOf(knownKeys, key) < 0)
                {
                    Error(Unsupported.TryGetValue(key, out string? instead) || syntax.Unsupported.TryGetValue(key, out instead)
                        ? $"option {ConfigText.Quote(key)} is not supported in {kind} spec ({instead})"
                        : $"unknown option {ConfigText.Quote(key)} in {kind} spec{UnknownHint(key, knownKeys)}");
                }
                else if (value is null)
                {
                    Error($"option '{key}' in {kind} spec has no value (write {key}=VALUE)");
                }
                else if (!values.TryAdd(key, value))
                {
                    Error($"option '{key}' is given more than once in {kind} spec (keep one)");
                }
            }
        }

        public string Kind { get; }

        /// <summary>True once any problem has been reported for this spec.</summary>
        public bool Failed => errors.Count > firstError;

        public void Error(string message) => errors.Add(message);

        public bool Has(string key) => values.ContainsKey(key);

        public string? Get(string key) => values.GetValueOrDefault(key);

        /// <summary>Null if absent or not a boolean (reported).</summary>
        public bool? GetBool(string key)
        {
            if (!values.TryGetValue(key, out string? text))
            {
                return null;
            }

            bool? value = ConfigText.ParseBool(text);
            if (value is null)
            {
                Error($"bad value {ConfigText.Quote(text)} for '{key}' in {Kind} spec ({ConfigText.BooleanHint})");
            }

            return value;
        }

        /// <summary>Null if absent or not a non-negative integer (reported).</summary>
        public int? GetInt(string key)
        {
            if (!values.TryGetValue(key, out string? text))
            {
                return null;
            }

            int? value = ConfigText.ParseNonNegativeInt(text);
            if (value is null)
            {
                Error($"bad value {ConfigText.Quote(text)} for '{key}' in {Kind} spec (expected a whole number, 0 or more)");
            }

            return value;
        }

        public void RejectIfPresent(string key, string context, string hint)
        {
            if (values.ContainsKey(key))
            {
                Error($"option '{key}' does not apply to {context} in {Kind} spec ({hint})");
            }
        }

        private static string UnknownHint(string key, string[] knownKeys)
        {
            if (ConfigText.Suggest(key, knownKeys) is { } s)
            {
                return $" (did you mean '{s}'?)";
            }

            return $" (valid options: {string.Join(", ", knownKeys)})";
        }
    }
}
