// Parser for netdev spec text (QEMU's -netdev option syntax).
//
// Theory of operation: the text is split the way QEMU's option parser splits it: items separated by
// ',', each `key=value`, a doubled ",," standing for one comma inside a value, and the first item a
// bare type word (or `type=T`). Each spec type then reads its options through a SpecReader, which
// knows the valid keys of that type, so an unknown or repeated key, a key without a value, or a value
// of the wrong shape is reported with a hint and parsing goes on. Rules that involve several options
// (port 0 only for a listener, reconnect only for a client, ...) are the Check functions of the spec
// records, shared with their constructors. Only when no problem was found is a spec built. The parser
// trusts nothing in the text and never throws on it: every outcome is a spec or a list of messages.
using System.Text;
using Switchyard.Native;

namespace Switchyard.Engine.Config;

internal static class NetdevParser
{
    private const string Example = "e.g. 'stream,addr.type=unix,addr.path=PATH,server=on'";

    private static readonly string[] SupportedTypes = ["stream", "dgram", "socket", "vhost-user", "tap", "netns"];

    // QEMU netdev types that are not Switchyard port types (qapi/net.json NetClientDriver).
    private static readonly string[] OtherQemuTypes =
    [
        "none", "nic", "l2tpv3", "vde", "bridge", "hubport", "netmap", "vhost-vdpa",
        "af-xdp", "passt", "vmnet-host", "vmnet-shared", "vmnet-bridged",
    ];

    private static readonly string[] StreamKeys =
        ["id", "addr.type", "addr.path", "addr.abstract", "addr.tight", "addr.host", "addr.port", "server", "reconnect", "reconnect-ms"];

    private static readonly string[] DgramKeys =
    [
        "id",
        "local.type", "local.path", "local.abstract", "local.tight", "local.host", "local.port",
        "remote.type", "remote.path", "remote.abstract", "remote.tight", "remote.host", "remote.port",
    ];

    private static readonly string[] SocketKeys = ["id", "listen", "connect", "udp", "localaddr", "mcast", "fd"];

    private static readonly string[] VhostUserKeys = ["id", "path", "server", "queues", "memory"];

    private static readonly string[] TapKeys = ["id", "ifname", "queues", "vnet_hdr"];

    private static readonly string[] NetnsKeys = ["id", "name", "pid", "ifname"];

    // QEMU options Switchyard knows but does not take, with what to do instead.
    private static readonly Dictionary<string, string> Unsupported = BuildUnsupported();

    // The same for QEMU's tap options.
    private static readonly Dictionary<string, string> TapUnsupported = new(StringComparer.Ordinal)
    {
        ["fd"] = "Switchyard opens the tap itself; give ifname=NAME",
        ["fds"] = "Switchyard opens the tap itself; give ifname=NAME",
        ["script"] = "Switchyard runs no scripts; create the interface beforehand (ip tuntap add dev NAME mode tap user $USER) and give ifname=NAME",
        ["downscript"] = "Switchyard runs no scripts; remove it",
        ["br"] = "Switchyard does not add the tap to a bridge; do that yourself (ip link set NAME master BRIDGE)",
        ["helper"] = "Switchyard runs no helper; create the interface beforehand and give ifname=NAME",
        ["vhost"] = "vhost-net is QEMU's in-kernel path; Switchyard moves the frames itself, so remove it",
        ["vhostfd"] = "vhost-net is QEMU's in-kernel path; remove it",
        ["vhostfds"] = "vhost-net is QEMU's in-kernel path; remove it",
        ["sndbuf"] = "not used by Switchyard; remove it",
        ["poll-us"] = "not used by Switchyard; remove it",
    };

    /// <summary>Parses <paramref name="text"/>; returns null and adds to <paramref name="errors"/> on
    /// any problem. Never throws on bad text.</summary>
    public static NetdevSpec? Parse(string text, List<string> errors)
    {
        if (text.Length == 0)
        {
            errors.Add($"the netdev spec is empty ({Example})");
            return null;
        }

        List<(string Key, string? Value)> items = Split(text);
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
        switch (type)
        {
            case "stream":
                return ParseStream(new SpecReader("stream", rest, StreamKeys, errors));
            case "dgram":
                return ParseDgram(new SpecReader("dgram", rest, DgramKeys, errors));
            case "socket":
                return ParseSocket(new SpecReader("socket", rest, SocketKeys, errors));
            case "vhost-user":
                return ParseVhostUser(new SpecReader("vhost-user", rest, VhostUserKeys, errors));
            case "tap":
                return ParseTap(new SpecReader("tap", rest, TapKeys, errors));
            case "netns":
                return ParseNetns(new SpecReader("netns", rest, NetnsKeys, errors));
            case GatewaySpec.Kind:
                errors.Add("netdev type 'user' is not a port: the NAT gateway belongs to a network; give the network `gateway: \"user,...\"` (or `gateway: true`) in the topology, or `switchyard up --gateway 'user,...'` (docs/gateway.md)");
                return null;
        }

        if (Array.IndexOf(OtherQemuTypes, type) >= 0 || type.StartsWith("vmnet", StringComparison.Ordinal))
        {
            errors.Add($"netdev type {ConfigText.Quote(type)} is not a Switchyard port type (Switchyard takes stream, dgram, socket, vhost-user, tap or netns; give QEMU a matching stream, dgram or vhost-user netdev)");
        }
        else
        {
            string hint = ConfigText.Suggest(type, SupportedTypes) is { } s ? $"did you mean '{s}'? " : string.Empty;
            errors.Add($"unknown netdev type {ConfigText.Quote(type)} ({hint}expected stream, dgram, socket, vhost-user, tap or netns; {Example})");
        }

        return null;
    }

    /// <summary>Splits option text into items. A value ends at a single ','; ",," is a literal comma.
    /// A key ends at '=' or ','; an item without '=' has a null value.</summary>
    internal static List<(string Key, string? Value)> Split(string text)
    {
        var items = new List<(string, string?)>();
        var value = new StringBuilder();
        int i = 0;
        while (true)
        {
            int start = i;
            while (i < text.Length && text[i] != '=' && text[i] != ',')
            {
                i++;
            }

            string key = text[start..i];
            if (i == text.Length || text[i] == ',')
            {
                items.Add((key, null));
            }
            else
            {
                i++; // '='
                value.Clear();
                while (i < text.Length)
                {
                    if (text[i] == ',')
                    {
                        if (i + 1 < text.Length && text[i + 1] == ',')
                        {
                            value.Append(',');
                            i += 2;
                            continue;
                        }

                        break;
                    }

                    value.Append(text[i++]);
                }

                items.Add((key, value.ToString()));
            }

            if (i >= text.Length)
            {
                return items;
            }

            i++; // ','
        }
    }

    private static StreamSpec? ParseStream(SpecReader r)
    {
        NetdevAddress? address = ReadAddress(r, "addr", AddressRole.Stream);
        bool server = r.GetBool("server") ?? Defaults.StreamServer;
        int? seconds = r.GetInt("reconnect");
        int? milliseconds = r.GetInt("reconnect-ms");
        TimeSpan? reconnect = null;
        if (seconds is not null && milliseconds is not null)
        {
            r.Error("give either reconnect (seconds, QEMU 8.0 to 10.1) or reconnect-ms (milliseconds), not both");
        }
        else if (milliseconds is > 0)
        {
            reconnect = TimeSpan.FromMilliseconds(milliseconds.Value);
        }
        else if (seconds > int.MaxValue / 1000)
        {
            r.Error($"reconnect={seconds} is too long (at most {int.MaxValue / 1000} seconds)");
        }
        else if (seconds is > 0)
        {
            reconnect = TimeSpan.FromSeconds(seconds.Value);
        }

        foreach (string problem in StreamSpec.Check(address, server, reconnect))
        {
            r.Error(problem);
        }

        return r.Failed || address is null ? null : new StreamSpec(address, server, reconnect);
    }

    private static DgramSpec? ParseDgram(SpecReader r)
    {
        NetdevAddress? local = ReadAddress(r, "local", AddressRole.DgramLocal);
        NetdevAddress? remote = ReadAddress(r, "remote", AddressRole.DgramRemote);
        foreach (string problem in DgramSpec.Check(local, remote))
        {
            r.Error(problem);
        }

        return r.Failed || local is null || remote is null ? null : new DgramSpec(local, remote);
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

    private static VhostUserSpec? ParseVhostUser(SpecReader r)
    {
        string? path = r.Get("path");
        bool server = r.GetBool("server") ?? Defaults.VhostUserServer;
        int queues = r.GetInt("queues") ?? Defaults.VhostUserQueues;
        MemoryFilePolicy memory = Defaults.VhostUserMemory;
        if (r.Get("memory") is { } memoryText && !VhostUserSpec.TryParseMemoryPolicy(memoryText, out memory))
        {
            r.Error($"memory={memoryText} is neither sealed (the default: only a memfd the front-end cannot shrink) nor trusted (any file, for a front-end you trust; docs/vhost-user.md)");
        }

        if (path is null)
        {
            r.Error("missing option 'path' in vhost-user spec (give path=PATH, the unix socket QEMU's chardev uses)");
        }

        foreach (string problem in VhostUserSpec.Check(path, queues))
        {
            r.Error(problem);
        }

        return r.Failed || path is null ? null : new VhostUserSpec(path, server, queues, memory);
    }

    private static TapSpec? ParseTap(SpecReader r)
    {
        string? ifName = r.Get("ifname");
        bool vnetHeader = r.GetBool("vnet_hdr") ?? Defaults.TapVnetHeader;
        int queues = r.GetInt("queues") ?? Defaults.TapQueues;
        if (TapSpec.CheckQueues(queues) is { } queuesProblem)
        {
            r.Error($"bad value for 'queues' in tap spec: {queuesProblem}");
        }

        if (ifName is null)
        {
            r.Error("missing option 'ifname' in tap spec (give ifname=NAME, an existing tap interface, e.g. created with 'ip tuntap add dev NAME mode tap user $USER')");
        }
        else if (TapSpec.CheckIfName(ifName) is { } problem)
        {
            r.Error($"bad value for 'ifname' in tap spec: {problem}");
        }

        return r.Failed || ifName is null ? null : new TapSpec(ifName, vnetHeader, queues);
    }

    private static NetnsSpec? ParseNetns(SpecReader r)
    {
        string? name = r.Get("name");
        int? pid = r.GetInt("pid");
        string ifName = r.Get("ifname") ?? Defaults.NetnsIfName;
        foreach (string problem in NetnsSpec.Check(name, r.Has("pid") && pid is null ? 1 : pid, ifName))
        {
            r.Error($"{problem} (in netns spec)");
        }

        return r.Failed ? null : new NetnsSpec(name, pid, ifName);
    }

    private enum AddressRole
    {
        Stream,
        DgramLocal,
        DgramRemote,
    }

    // Reads PREFIX.type and the keys of that address type; reports keys of the other type.
    private static NetdevAddress? ReadAddress(SpecReader r, string prefix, AddressRole role)
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
                host = Defaults.WildcardHost;
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
    private sealed class SpecReader
    {
        private readonly Dictionary<string, string> values = new(StringComparer.Ordinal);
        private readonly List<string> errors;
        private readonly int firstError;

        public SpecReader(string kind, List<(string Key, string? Value)> items, string[] knownKeys, List<string> errors)
        {
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
                    Error(Unsupported.TryGetValue(key, out string? instead) || (kind == "tap" && TapUnsupported.TryGetValue(key, out instead))
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
