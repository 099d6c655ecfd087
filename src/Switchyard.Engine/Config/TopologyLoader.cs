// Loads a topology from YAML.
//
// Theory of operation: the text is parsed with YamlDotNet's representation model (YamlStream and its
// nodes), not deserialised into objects, so the loader sees every key with its line number: an
// unknown key is an error with a "did you mean", and every message can say where it points. The
// loader reads the fixed schema below, turns scalars into typed values, parses each netdev spec and
// VLAN setting with the same code the CLI uses, and fills in defaults from Defaults. It keeps going
// after a problem, then runs the topology rules (TopologyConfig.Check) on whatever parsed, and
// throws one ConfigException with every problem, sorted by line:
//
//   http: 127.0.0.1:9100       # optional: metrics and the web view (docs/web.md); loopback only
//                              # unless `switchyard up --http-allow-remote`
//   networks:
//     - name: lab              # required
//       hub: false             # optional
//       mac-ageing: 300        # seconds, or "300s" / "5m" / "1h"; optional
//       max-macs: 8192         # optional
//       max-macs-per-port: 1024 # optional
//       gateway: true          # optional NAT gateway: true (defaults), false (none, the default in a
//                              # file), "user,net=...,hostfwd=..." or a mapping with the same keys
//                              # (lists for dnssearch, dns-upstream, hostfwd); see docs/gateway.md
//       ports:                 # optional
//         - name: g1           # required
//           netdev: "stream,addr.type=unix,addr.path=/tmp/g1.sock,server=on"   # required
//           vlan: 10           # optional access VLAN, or:
//           trunk: [10, 20]    # a list, or "10,20-30"; with optional native-vlan: 1
//
// Relative socket paths stay relative: they are resolved against the working directory when the
// socket is opened, as QEMU does, not against the file's directory.
using System.Collections.Immutable;
using Switchyard.Core.Config;
using Switchyard.Ports;
using Switchyard.UserNet;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Switchyard.Engine.Config;

/// <summary>Reads a <see cref="TopologyConfig"/> from YAML (schema in the file header).</summary>
public static class TopologyLoader
{
    private static readonly string[] RootKeys = ["networks", "http"];
    private static readonly string[] NetworkKeys = ["name", "hub", "mac-ageing", "max-macs", "max-macs-per-port", "gateway", "ports"];
    private static readonly string[] PortKeys = ["name", "netdev", "vlan", "trunk", "native-vlan"];

    /// <summary>Parses <paramref name="yamlText"/>. Throws <see cref="ConfigException"/> listing every
    /// problem, each as "line N: path: message".</summary>
    public static TopologyConfig Load(string yamlText) => Load(yamlText, hostChecks: false);

    /// <summary>Like <see cref="Load(string)"/>; with <paramref name="hostChecks"/> also runs the checks
    /// that look at this host without changing it (<see cref="TopologyHostChecks"/>).</summary>
    public static TopologyConfig Load(string yamlText, bool hostChecks) =>
        TryLoad(yamlText, hostChecks, out IReadOnlyList<ConfigDiagnostic> problems)
        ?? throw new ConfigException(problems.Select(p => p.ToString()));

    /// <summary>Parses and checks <paramref name="yamlText"/>; returns null and every problem, sorted by
    /// line, instead of throwing.</summary>
    public static TopologyConfig? TryLoad(string yamlText, bool hostChecks, out IReadOnlyList<ConfigDiagnostic> problems)
    {
        ArgumentNullException.ThrowIfNull(yamlText);
        var reader = new Reader(hostChecks);
        TopologyConfig? topology = reader.Read(yamlText);
        problems = topology is null ? reader.SortedErrors() : [];
        return topology;
    }

    /// <summary>Reads and parses the file at <paramref name="path"/>. Every message is prefixed with
    /// the file name; a file that cannot be read is a <see cref="ConfigException"/> too.</summary>
    public static TopologyConfig LoadFile(string path, bool hostChecks = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return TryLoadFile(path, hostChecks, out IReadOnlyList<ConfigDiagnostic> problems)
            ?? throw new ConfigException(problems.Select(p => p.Line == 0 && p.Path.Length == 0 ? $"{path}: {p.Message}" : $"{path}: {p}"));
    }

    /// <summary>Reads, parses and checks the file at <paramref name="path"/>; returns null and every
    /// problem (an unreadable file is one problem without a line) instead of throwing.</summary>
    public static TopologyConfig? TryLoadFile(string path, bool hostChecks, out IReadOnlyList<ConfigDiagnostic> problems)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            problems = [new ConfigDiagnostic(0, string.Empty, $"cannot read the configuration file: {ex.Message}")];
            return null;
        }

        return TryLoad(text, hostChecks, out problems);
    }

    /// <summary>One load: the errors found so far and the line of every path seen.</summary>
    private sealed class Reader(bool hostChecks)
    {
        private readonly List<ConfigDiagnostic> errors = [];
        private readonly Dictionary<string, int> lines = new(StringComparer.Ordinal);

        public List<ConfigDiagnostic> SortedErrors() =>
            [.. errors.Select((e, order) => (Error: e, order))
                .OrderBy(e => e.Error.Line == 0 ? int.MaxValue : e.Error.Line).ThenBy(e => e.order)
                .Select(e => e.Error)];

        public TopologyConfig? Read(string text)
        {
            var stream = new YamlStream();
            try
            {
                stream.Load(new StringReader(text));
            }
            catch (YamlException ex)
            {
                Error((int)ex.Start.Line, string.Empty, $"YAML syntax error: {ex.Message}");
                return null;
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
            {
                // YamlDotNet's representation model reports some malformed streams (content after a
                // "..." document end marker, for one) this way instead of with a YamlException.
                Error(0, string.Empty, $"YAML syntax error: malformed document structure (check the '---' and '...' markers: content after '...' must start with '---') [{ex.GetType().Name}: {ex.Message}]");
                return null;
            }

            YamlNode? root = stream.Documents.Count > 0 ? stream.Documents[0].RootNode : null;
            if (root is null || IsNull(root))
            {
                Error(0, string.Empty, "the configuration is empty (expected a 'networks:' list; see docs for an example)");
                return null;
            }

            if (stream.Documents.Count > 1)
            {
                Error(Line(stream.Documents[1].RootNode), string.Empty, "only one YAML document is allowed (remove the '---' separator and what follows, or merge the documents)");
            }

            if (root is not YamlMappingNode rootMap)
            {
                Error(Line(root), string.Empty, "the top level must be a mapping with a 'networks' key");
                return null;
            }

            Dictionary<string, YamlNode> top = ReadMapping(rootMap, string.Empty, RootKeys);
            if (!top.TryGetValue("networks", out YamlNode? networksNode))
            {
                Error(Line(rootMap), string.Empty, "missing key 'networks' (a list of networks, each with a name and ports)");
                return null;
            }

            if (networksNode is not YamlSequenceNode networkList)
            {
                if (IsNull(networksNode))
                {
                    Check([], [], []);
                }
                else
                {
                    Error(Line(networksNode), "networks", "expected a list of networks ('- name: ...' items)");
                }

                return null;
            }

            var networks = ImmutableArray.CreateBuilder<NetworkConfig>();
            var networkOrigin = new List<int>();
            var portOrigins = new List<List<int>>();
            for (int n = 0; n < networkList.Children.Count; n++)
            {
                var portOrigin = new List<int>();
                if (ReadNetwork(networkList.Children[n], $"networks[{n}]", portOrigin) is { } network)
                {
                    networks.Add(network);
                    networkOrigin.Add(n);
                    portOrigins.Add(portOrigin);
                }
            }

            ImmutableArray<NetworkConfig> result = networks.ToImmutable();
            Check(result, networkOrigin, portOrigins);
            System.Net.IPEndPoint? http = top.TryGetValue("http", out YamlNode? httpNode) ? ReadHttp(httpNode) : null;
            return errors.Count == 0 ? new TopologyConfig(result) { Http = http } : null;
        }

        // The HTTP listener's address; whether it may be non-loopback is decided by `up` (--http-allow-remote).
        private System.Net.IPEndPoint? ReadHttp(YamlNode node)
        {
            if (GetString(node, "http") is not { } text)
            {
                return null;
            }

            if (!HttpListen.TryParse(text, out System.Net.IPEndPoint? endpoint, out string? problem))
            {
                Error(Line(node), "http", problem!);
            }

            return endpoint;
        }

        // Runs the topology rules, mapping their locations (indexes into what parsed) back to the file.
        private void Check(ImmutableArray<NetworkConfig> networks, List<int> networkOrigin, List<List<int>> portOrigins)
        {
            string PathOf(ConfigLocation l) =>
                (l.Network < 0 ? l : l with
                {
                    Network = networkOrigin[l.Network],
                    Port = l.Port < 0 ? -1 : portOrigins[l.Network][l.Port],
                }).ToString();

            string Describe(ConfigLocation l)
            {
                string path = PathOf(l);
                int line = LineOf(path);
                return line > 0 ? $"{path} (line {line})" : path;
            }

            void Report(ConfigLocation l, string message)
            {
                string path = PathOf(l);
                Error(LineOf(path), path, message);
            }

            TopologyConfig.Check(networks, Describe, Report);
            if (hostChecks)
            {
                TopologyHostChecks.Check(networks, Describe, Report);
            }
        }

        private NetworkConfig? ReadNetwork(YamlNode node, string path, List<int> portOrigin)
        {
            lines[path] = Line(node);
            if (node is not YamlMappingNode map)
            {
                Error(Line(node), path, "expected a network (a mapping with 'name' and 'ports')");
                return null;
            }

            Dictionary<string, YamlNode> keys = ReadMapping(map, path, NetworkKeys);
            string name = keys.TryGetValue("name", out YamlNode? nameNode) ? GetString(nameNode, path + ".name") ?? string.Empty : string.Empty;
            bool hub = keys.TryGetValue("hub", out YamlNode? hubNode) ? GetBool(hubNode, path + ".hub") ?? Defaults.Hub : Defaults.Hub;
            TimeSpan ageing = keys.TryGetValue("mac-ageing", out YamlNode? ageingNode) ? GetDuration(ageingNode, path + ".mac-ageing") ?? Defaults.MacAgeing : Defaults.MacAgeing;
            int maxMacs = keys.TryGetValue("max-macs", out YamlNode? maxNode) ? GetInt(maxNode, path + ".max-macs") ?? Defaults.MaxMacs : Defaults.MaxMacs;
            int maxMacsPerPort = keys.TryGetValue("max-macs-per-port", out YamlNode? perPortNode)
                ? GetInt(perPortNode, path + ".max-macs-per-port") ?? Defaults.MaxMacsPerPort
                : Defaults.MaxMacsPerPort;

            var ports = ImmutableArray.CreateBuilder<PortConfig>();
            if (keys.TryGetValue("ports", out YamlNode? portsNode) && !IsNull(portsNode))
            {
                if (portsNode is YamlSequenceNode portList)
                {
                    for (int p = 0; p < portList.Children.Count; p++)
                    {
                        if (ReadPort(portList.Children[p], $"{path}.ports[{p}]") is { } port)
                        {
                            ports.Add(port);
                            portOrigin.Add(p);
                        }
                    }
                }
                else
                {
                    Error(Line(portsNode), path + ".ports", "expected a list of ports ('- name: ...' items)");
                }
            }

            GatewayOptions? gateway = keys.TryGetValue("gateway", out YamlNode? gatewayNode)
                ? ReadGateway(gatewayNode, path + ".gateway")
                : Defaults.GatewayInFile ? GatewayOptions.Default : null;
            return new NetworkConfig(name, hub, ageing, maxMacs, ports.ToImmutable()) { Gateway = gateway, MaxMacsPerPort = maxMacsPerPort };
        }

        // true (defaults), false (none), "user,..." text, or a mapping of the same options.
        private GatewayOptions? ReadGateway(YamlNode node, string path)
        {
            const string Forms = "expected true, false, a string such as \"user,net=10.0.2.0/24\", or a mapping of gateway options (docs/gateway.md)";
            if (node is YamlScalarNode { Value: { } text } && !IsNull(node))
            {
                if (ConfigText.ParseBool(text.ToLowerInvariant()) is { } on)
                {
                    return on ? GatewayOptions.Default : null;
                }

                if (GatewaySpec.TryParse(text, out GatewayOptions? parsed, out IReadOnlyList<string> problems))
                {
                    return parsed;
                }

                foreach (string problem in problems)
                {
                    Error(Line(node), path, problem);
                }

                return null;
            }

            if (node is not YamlMappingNode map)
            {
                Error(Line(node), path, Forms);
                return null;
            }

            var items = new List<(string Key, string? Value)>();
            var keyLines = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach ((YamlNode keyNode, YamlNode value) in map.Children)
            {
                if (keyNode is not YamlScalarNode { Value: { } key })
                {
                    Error(Line(keyNode), path, "keys must be plain words (e.g. 'net:')");
                    continue;
                }

                keyLines.TryAdd(key, Line(keyNode));
                lines[$"{path}.{key}"] = Line(value);
                if (value is YamlSequenceNode list)
                {
                    if (Array.IndexOf(GatewaySpec.ListKeys, key) < 0)
                    {
                        Error(Line(value), $"{path}.{key}", $"expected a single value, not a list (only {string.Join(", ", GatewaySpec.ListKeys)} take lists)");
                        continue;
                    }

                    for (int i = 0; i < list.Children.Count; i++)
                    {
                        if (list.Children[i] is YamlScalarNode { Value: { } item } && !IsNull(list.Children[i]))
                        {
                            items.Add((key, item));
                        }
                        else
                        {
                            Error(Line(list.Children[i]), $"{path}.{key}[{i}]", "expected a string");
                        }
                    }
                }
                else if (value is YamlScalarNode { Value: { } scalar } && !IsNull(value))
                {
                    items.Add((key, scalar));
                }
                else if (IsNull(value))
                {
                    items.Add((key, null));
                }
                else
                {
                    Error(Line(value), $"{path}.{key}", "expected a value (a string, number or true/false)");
                }
            }

            return GatewaySpec.Build(items, (key, message) =>
            {
                string where = key is null ? path : $"{path}.{key}";
                Error(key is not null && keyLines.TryGetValue(key, out int line) ? line : Line(map), where, message);
            }, lenientBooleans: true);
        }

        private PortConfig? ReadPort(YamlNode node, string path)
        {
            lines[path] = Line(node);
            if (node is not YamlMappingNode map)
            {
                Error(Line(node), path, "expected a port (a mapping with 'name' and 'netdev')");
                return null;
            }

            Dictionary<string, YamlNode> keys = ReadMapping(map, path, PortKeys);
            string name = keys.TryGetValue("name", out YamlNode? nameNode) ? GetString(nameNode, path + ".name") ?? string.Empty : string.Empty;

            NetdevSpec? spec = null;
            if (!keys.TryGetValue("netdev", out YamlNode? netdevNode))
            {
                Error(Line(map), path, "missing key 'netdev' (e.g. netdev: \"stream,addr.type=unix,addr.path=PATH,server=on\")");
            }
            else if (GetString(netdevNode, path + ".netdev") is { } text)
            {
                if (!NetdevSpec.TryParse(text, out spec, out IReadOnlyList<string> specErrors))
                {
                    foreach (string e in specErrors)
                    {
                        Error(Line(netdevNode), path + ".netdev", e);
                    }
                }
            }

            VlanConfig vlan = ReadVlan(keys, path) ?? VlanConfig.Default;
            return spec is null ? null : new PortConfig(name, spec, vlan);
        }

        private VlanConfig? ReadVlan(Dictionary<string, YamlNode> keys, string path)
        {
            keys.TryGetValue("vlan", out YamlNode? vlanNode);
            keys.TryGetValue("trunk", out YamlNode? trunkNode);
            keys.TryGetValue("native-vlan", out YamlNode? nativeNode);
            YamlNode? first = vlanNode ?? nativeNode ?? trunkNode;
            if (first is null)
            {
                return VlanConfig.Default;
            }

            // Rules about the combination point at the first VLAN key; the hub rule reports at ".vlan".
            string where = path + (vlanNode is not null ? ".vlan" : nativeNode is not null ? ".native-vlan" : ".trunk");
            lines.TryAdd(path + ".vlan", Line(first));

            var problems = new List<string>();
            int? vlan = vlanNode is null ? null : GetInt(vlanNode, path + ".vlan");
            int? native = nativeNode is null ? null : GetInt(nativeNode, path + ".native-vlan");
            var trunk = trunkNode is null ? null : ReadTrunk(trunkNode, path + ".trunk");
            if ((vlanNode is not null && vlan is null) || (nativeNode is not null && native is null))
            {
                return null; // Reported by GetInt.
            }

            VlanConfig? config = VlanConfig.Build(vlan, trunkNode is not null, trunk, native, problems);
            foreach (string problem in problems)
            {
                Error(LineOf(where), where, problem);
            }

            return config;
        }

        private ImmutableSortedSet<ushort>? ReadTrunk(YamlNode node, string path)
        {
            var vids = ImmutableSortedSet.CreateBuilder<ushort>();
            if (node is YamlSequenceNode list)
            {
                if (list.Children.Count == 0)
                {
                    Error(Line(list), path, "trunk is empty (list VLAN ids, e.g. [10, 20] or \"10,20-30\")");
                    return null;
                }

                bool ok = true;
                for (int i = 0; i < list.Children.Count; i++)
                {
                    YamlNode item = list.Children[i];
                    string itemPath = $"{path}[{i}]";
                    if (item is not YamlScalarNode { Value: { } text } || IsNull(item))
                    {
                        Error(Line(item), itemPath, "expected a VLAN id or range (e.g. 10 or \"30-40\")");
                        ok = false;
                        continue;
                    }

                    ok &= AddVids(text, item, itemPath, vids);
                }

                return ok ? vids.ToImmutable() : null;
            }

            if (node is YamlScalarNode { Value: { } scalar } && !IsNull(node))
            {
                return AddVids(scalar, node, path, vids) ? vids.ToImmutable() : null;
            }

            Error(Line(node), path, "expected a list of VLAN ids (e.g. [10, 20]) or a string (e.g. \"10,20-30\")");
            return null;
        }

        private bool AddVids(string text, YamlNode node, string path, ImmutableSortedSet<ushort>.Builder vids)
        {
            var problems = new List<string>();
            ImmutableSortedSet<ushort>? parsed = VlanConfig.ParseVidList(text, "trunk", problems);
            foreach (string problem in problems)
            {
                Error(Line(node), path, problem);
            }

            if (parsed is null)
            {
                return false;
            }

            vids.UnionWith(parsed);
            return true;
        }

        // The keys of a mapping, by name; unknown and non-scalar keys are reported.
        private Dictionary<string, YamlNode> ReadMapping(YamlMappingNode map, string path, string[] allowed)
        {
            var result = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
            foreach ((YamlNode keyNode, YamlNode value) in map.Children)
            {
                if (keyNode is not YamlScalarNode { Value: { } key })
                {
                    Error(Line(keyNode), path, "keys must be plain words (e.g. 'name:')");
                    continue;
                }

                if (Array.IndexOf(allowed, key) < 0)
                {
                    string hint = ConfigText.Suggest(key, allowed) is { } s ? $"did you mean '{s}'? " : string.Empty;
                    Error(Line(keyNode), path, $"unknown key {ConfigText.Quote(key)} ({hint}valid keys here: {string.Join(", ", allowed)})");
                    continue;
                }

                string childPath = path.Length == 0 ? key : $"{path}.{key}";
                lines[childPath] = Line(value);
                result.TryAdd(key, value); // YamlDotNet already rejects duplicate keys.
            }

            return result;
        }

        private string? GetString(YamlNode node, string path)
        {
            if (node is YamlScalarNode { Value: { } text } && !IsNull(node))
            {
                return text;
            }

            Error(Line(node), path, "expected a string");
            return null;
        }

        private bool? GetBool(YamlNode node, string path)
        {
            bool? value = node is YamlScalarNode { Value: { } text } ? ConfigText.ParseBool(text.ToLowerInvariant()) : null;
            if (value is null)
            {
                Error(Line(node), path, "expected true or false");
            }

            return value;
        }

        private int? GetInt(YamlNode node, string path)
        {
            int? value = node is YamlScalarNode { Value: { } text } ? ConfigText.ParseInt(text) : null;
            if (value is null)
            {
                Error(Line(node), path, "expected a whole number");
            }

            return value;
        }

        // Whole seconds as a number, or a number with a unit: "300s", "5m", "1h".
        private TimeSpan? GetDuration(YamlNode node, string path)
        {
            if (node is YamlScalarNode { Value: { Length: > 0 } text })
            {
                char unit = text[^1];
                (string digits, int scale) = unit switch
                {
                    's' => (text[..^1], 1),
                    'm' => (text[..^1], 60),
                    'h' => (text[..^1], 3600),
                    _ => (text, 1),
                };
                if (ConfigText.ParseNonNegativeInt(digits) is { } number && (long)number * scale <= int.MaxValue)
                {
                    return TimeSpan.FromSeconds((long)number * scale);
                }
            }

            Error(Line(node), path, "expected a whole number of seconds, or a number with a unit: \"300s\", \"5m\", \"1h\"");
            return null;
        }

        private void Error(int line, string path, string message) => errors.Add(new ConfigDiagnostic(line, path, message));

        // The line of a path, or of its nearest ancestor that has one (a missing key points at its parent).
        private int LineOf(string path)
        {
            while (true)
            {
                if (lines.TryGetValue(path, out int line))
                {
                    return line;
                }

                int cut = Math.Max(path.LastIndexOf('.'), path.LastIndexOf('['));
                if (cut <= 0)
                {
                    return 0;
                }

                path = path[..cut];
            }
        }

        private static int Line(YamlNode node) => (int)node.Start.Line;

        // YAML's null: an empty plain scalar, "~" or "null".
        private static bool IsNull(YamlNode node) =>
            node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" or "Null" or "NULL" };
    }
}
