// The topology: networks, each a switch (or hub) with named ports.
//
// Theory of operation: PortConfig and NetworkConfig are plain immutable records that anyone (the
// YAML loader, the CLI, the control API) can build and copy with `with`. The rules that span them
// (names well formed and unique, numbers in range, no two ports listening on the same socket, at
// least one network) are checked in one place, TopologyConfig.Check, and a TopologyConfig cannot be
// constructed unless they all hold: holding a TopologyConfig means holding a valid topology. Check
// reports problems against locations (network and port indexes plus a field) so the YAML loader can
// turn them into "line 7: networks[0].ports[1].name: ..." while the CLI shows the same words without
// line numbers. Nothing here touches the system; listener conflicts are found by comparing addresses.
using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Switchyard.Core.Config;
using Switchyard.Ports;
using Switchyard.Ports.Stream;
using Switchyard.Ports.VhostUser;
using Switchyard.UserNet;

namespace Switchyard.Engine.Config;

/// <summary>One port: a name, what it connects to, and its VLAN membership.</summary>
public sealed record PortConfig(string Name, NetdevSpec Netdev, VlanConfig Vlan)
{
    /// <summary>A port on the default VLAN.</summary>
    public PortConfig(string name, NetdevSpec netdev)
        : this(name, netdev, VlanConfig.Default)
    {
    }

    /// <summary>Builds a port from user text (CLI, control API): checks the name and parses the spec,
    /// reporting every problem in one <see cref="ConfigException"/>. Uniqueness of the name is checked
    /// when the port joins a topology (<see cref="TopologyConfig.WithPort"/>).</summary>
    public static PortConfig Create(string name, string netdev, VlanConfig? vlan = null)
    {
        ArgumentNullException.ThrowIfNull(netdev);
        var errors = new List<string>();
        if (ConfigNames.CheckName(name) is { } nameProblem)
        {
            errors.Add("port " + nameProblem);
        }

        if (!NetdevSpec.TryParse(netdev, out NetdevSpec? spec, out IReadOnlyList<string> specErrors))
        {
            errors.AddRange(specErrors);
        }

        return errors.Count == 0 ? new PortConfig(name, spec!, vlan ?? VlanConfig.Default) : throw new ConfigException(errors);
    }
}

/// <summary>One network: a learning switch (or a hub) and its ports.</summary>
public sealed record NetworkConfig(string Name, bool Hub, TimeSpan MacAgeing, int MaxMacs, ImmutableArray<PortConfig> Ports)
{
    /// <summary>The network's NAT gateway (an internal port named "gateway"); null for none.</summary>
    public GatewayOptions? Gateway { get; init; }

    /// <summary>max-macs-per-port: forwarding-table entries one port may hold.</summary>
    public int MaxMacsPerPort { get; init; } = Defaults.MaxMacsPerPort;

    /// <summary>A learning switch with the default ageing time and table size.</summary>
    public NetworkConfig(string name, ImmutableArray<PortConfig> ports)
        : this(name, Defaults.Hub, Defaults.MacAgeing, Defaults.MaxMacs, ports)
    {
    }

    // ImmutableArray compares by reference; a configuration compares by content.
    public bool Equals(NetworkConfig? other) =>
        other is not null && Name == other.Name && Hub == other.Hub && MacAgeing == other.MacAgeing
        && MaxMacs == other.MaxMacs && MaxMacsPerPort == other.MaxMacsPerPort && SequenceEqual(Ports, other.Ports) && Equals(Gateway, other.Gateway);

    public override int GetHashCode()
    {
        var hash = default(HashCode);
        hash.Add(Name);
        hash.Add(Hub);
        hash.Add(MacAgeing);
        hash.Add(MaxMacs);
        hash.Add(MaxMacsPerPort);
        hash.Add(Gateway);
        foreach (PortConfig port in Ports.IsDefault ? [] : Ports)
        {
            hash.Add(port);
        }

        return hash.ToHashCode();
    }

    internal static bool SequenceEqual<T>(ImmutableArray<T> a, ImmutableArray<T> b) =>
        (a.IsDefaultOrEmpty && b.IsDefaultOrEmpty) || (!a.IsDefault && !b.IsDefault && a.SequenceEqual(b));
}

/// <summary>Where a problem is: a network index, a port index (or -1) and a field (or null).</summary>
internal readonly record struct ConfigLocation(int Network, int Port = -1, string? Field = null)
{
    public static ConfigLocation Root { get; } = new(-1);

    /// <summary>The path in YAML terms: "networks[0].ports[1].name".</summary>
    public override string ToString()
    {
        string path = Network < 0 ? "networks" : $"networks[{Network}]";
        if (Port >= 0)
        {
            path += $".ports[{Port}]";
        }

        return Field is null ? path : path + "." + Field;
    }
}

/// <summary>A valid topology: at least one network, every rule of <see cref="Check"/> satisfied.</summary>
public sealed record TopologyConfig
{
    /// <summary>Throws <see cref="ConfigException"/> listing every problem (<see cref="Validate"/>).</summary>
    public TopologyConfig(ImmutableArray<NetworkConfig> networks)
    {
        IReadOnlyList<string> errors = Validate(networks);
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }

        Networks = networks;
    }

    public ImmutableArray<NetworkConfig> Networks { get; }

    /// <summary>Where to serve metrics and the web view (<c>http:</c> in a file, <c>--http</c>); null: not at all.</summary>
    public IPEndPoint? Http { get; init; }

    /// <summary>What runs when no topology is given: network "default" (a learning switch with a NAT
    /// gateway on QEMU's user-networking plan), a stream port on <c>RUNDIR/stream.sock</c> and a
    /// vhost-user port on <c>RUNDIR/vhost-user.sock</c>.</summary>
    public static TopologyConfig Default(string runDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(runDirectory);
        var stream = new StreamSpec(new UnixSocketAddress(Path.Combine(runDirectory, Defaults.StreamSocketFileName)), server: true);
        var vhostUser = new VhostUserSpec(Path.Combine(runDirectory, Defaults.VhostUserSocketFileName), server: true, queues: Defaults.MaxVhostUserQueues);
        return new TopologyConfig([new NetworkConfig(Defaults.NetworkName, [
            new PortConfig(Defaults.PortName, stream),
            new PortConfig(Defaults.VhostUserPortName, vhostUser)]) { Gateway = GatewayOptions.Default }]);
    }

    /// <summary>Every problem with <paramref name="networks"/> as a topology, one message each
    /// ("networks[0].ports[1].name: ..."); empty if it is valid.</summary>
    public static IReadOnlyList<string> Validate(ImmutableArray<NetworkConfig> networks)
    {
        var errors = new List<string>();
        Check(networks, static l => l.ToString(), (l, m) => errors.Add($"{l}: {m}"));
        return errors;
    }

    /// <summary>This topology with <paramref name="port"/> added to network <paramref name="network"/>;
    /// throws <see cref="ConfigException"/> if the network does not exist or the port breaks a rule
    /// (a duplicate name, a socket someone already listens on).</summary>
    public TopologyConfig WithPort(string network, PortConfig port)
    {
        ArgumentNullException.ThrowIfNull(port);
        int index = -1;
        for (int i = 0; i < Networks.Length && index < 0; i++)
        {
            index = Networks[i].Name == network ? i : -1;
        }

        if (index < 0)
        {
            string names = string.Join(", ", Networks.Select(n => n.Name));
            throw new ConfigException($"no network named {ConfigText.Quote(network ?? string.Empty)} (networks: {names})");
        }

        NetworkConfig target = Networks[index];
        return new TopologyConfig(Networks.SetItem(index, target with { Ports = target.Ports.Add(port) }));
    }

    public bool Equals(TopologyConfig? other) => other is not null && NetworkConfig.SequenceEqual(Networks, other.Networks);

    public override int GetHashCode()
    {
        var hash = default(HashCode);
        foreach (NetworkConfig network in Networks)
        {
            hash.Add(network);
        }

        return hash.ToHashCode();
    }

    /// <summary>The rules of a topology. Reports each problem at its location; <paramref name="describe"/>
    /// renders another location mentioned inside a message ("first used at ...").</summary>
    internal static void Check(ImmutableArray<NetworkConfig> networks, Func<ConfigLocation, string> describe, Action<ConfigLocation, string> report)
    {
        if (networks.IsDefaultOrEmpty)
        {
            report(ConfigLocation.Root, "at least one network is required");
            return;
        }

        var networkNames = new Dictionary<string, int>(StringComparer.Ordinal);
        var listeners = new List<(Listener Key, ConfigLocation Where)>();
        var taps = new Dictionary<string, ConfigLocation>(StringComparer.Ordinal);
        var namespaceTaps = new Dictionary<string, ConfigLocation>(StringComparer.Ordinal);
        for (int n = 0; n < networks.Length; n++)
        {
            NetworkConfig? network = networks[n];
            if (network is null)
            {
                report(new(n), "network is missing (null)");
                continue;
            }

            CheckName(network.Name, "network", new(n, -1, "name"), networkNames, n, i => new(i, -1, "name"), describe, report);

            if (network.MacAgeing < Defaults.MinMacAgeing || network.MacAgeing > Defaults.MaxMacAgeing)
            {
                report(new(n, -1, "mac-ageing"), $"MAC ageing time {network.MacAgeing.TotalSeconds:0.###} s is out of range ({Defaults.MinMacAgeing.TotalSeconds:0} s to {Defaults.MaxMacAgeing.TotalSeconds:0} s; default {Defaults.MacAgeing.TotalSeconds:0} s)");
            }

            if (network.MaxMacs is < 1 or > Defaults.MaxMacsLimit)
            {
                report(new(n, -1, "max-macs"), $"max-macs {network.MaxMacs} is out of range (1 to {Defaults.MaxMacsLimit}; default {Defaults.MaxMacs})");
            }

            if (network.MaxMacsPerPort is < 1 or > Defaults.MaxMacsLimit)
            {
                // Above max-macs it is allowed and simply never reached: the table fills first.
                report(new(n, -1, "max-macs-per-port"), $"max-macs-per-port {network.MaxMacsPerPort} is out of range (1 to {Defaults.MaxMacsLimit}; default {Defaults.MaxMacsPerPort})");
            }

            if (network.Gateway is { } gateway)
            {
                int networkIndex = n;
                GatewaySpec.Check(gateway, derived: null, (keys, message) => report(new(networkIndex, -1, "gateway." + keys[0]), message));
            }

            ImmutableArray<PortConfig> ports = network.Ports.IsDefault ? [] : network.Ports;
            var portNames = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int p = 0; p < ports.Length; p++)
            {
                PortConfig? port = ports[p];
                if (port is null)
                {
                    report(new(n, p), "port is missing (null)");
                    continue;
                }

                int portNetwork = n;
                CheckName(port.Name, "port", new(n, p, "name"), portNames, p, i => new(portNetwork, i, "name"), describe, report);
                if (network.Gateway is not null && port.Name == Defaults.GatewayPortName)
                {
                    report(new(n, p, "name"), $"port name '{Defaults.GatewayPortName}' is taken by the network's NAT gateway; give this port another name");
                }

                if (port.Netdev is null)
                {
                    report(new(n, p, "netdev"), "a netdev spec is required (e.g. 'stream,addr.type=unix,addr.path=PATH,server=on')");
                }
                else
                {
                    foreach (HostClaim claim in port.Netdev.HostClaims())
                    {
                        var where = new ConfigLocation(n, p, "netdev");
                        switch (claim)
                        {
                            case HostInterface tap when taps.TryGetValue(tap.IfName, out ConfigLocation first):
                                report(where, $"tap interface '{tap.IfName}' is already used by {describe(first with { Field = null })}; one tap interface backs one port");
                                break;
                            case HostInterface tap:
                                taps.Add(tap.IfName, where);
                                break;
                            case NamespaceInterface ns when !namespaceTaps.TryAdd($"{ns.Namespace}/{ns.IfName}", where):
                                report(where, $"interface '{ns.IfName}' in {ns.Namespace} is already used by {describe(namespaceTaps[$"{ns.Namespace}/{ns.IfName}"] with { Field = null })}; give this port another ifname=");
                                break;
                            case BoundSocket bound when Listener.Of(bound) is { } key:
                                foreach ((Listener other, ConfigLocation otherWhere) in listeners)
                                {
                                    if (key.ConflictsWith(other))
                                    {
                                        report(where, $"{key} is already used by {describe(otherWhere with { Field = null })}; two ports cannot bind the same socket address");
                                        break;
                                    }
                                }

                                listeners.Add((key, where));
                                break;
                        }
                    }
                }

                if (port.Vlan is null)
                {
                    report(new(n, p, "vlan"), "a VLAN configuration is required (VlanConfig.Default for access VLAN 1)");
                }
                else if (network.Hub && !port.Vlan.Equals(VlanConfig.Default))
                {
                    report(new(n, p, "vlan"), $"network {ConfigText.Quote(network.Name ?? string.Empty)} is a hub, and a hub has no VLANs: remove vlan/trunk/native-vlan from this port, or set hub: false");
                }
            }
        }
    }

    private static void CheckName(
        string? name, string what, ConfigLocation where, Dictionary<string, int> seen, int index,
        Func<int, ConfigLocation> locationOf, Func<ConfigLocation, string> describe, Action<ConfigLocation, string> report)
    {
        if (ConfigNames.CheckName(name) is { } problem)
        {
            report(where, $"{what} {problem}");
        }
        else if (!seen.TryAdd(name!, index))
        {
            string scope = what == "port" ? "within a network" : "within the topology";
            report(where, $"duplicate {what} name '{name}' (also used by {describe(locationOf(seen[name!]))}; {what} names must be unique {scope})");
        }
    }

    /// <summary>A socket address Switchyard binds: a unix path (stream server, vhost-user server, dgram
    /// local) or a TCP/UDP host and port. Port 0 never conflicts: the kernel picks a free one.</summary>
    private readonly record struct Listener(string Protocol, string? UnixPath, bool Abstract, IPAddress? Ip, string? HostName, int Port)
    {
        /// <summary>The listener a bound socket takes, or null for an inet port 0 (the kernel picks a free one).</summary>
        public static Listener? Of(BoundSocket bound) => bound.Address switch
        {
            // Compare full paths, so "a.sock" and "./a.sock" are recognised as one file.
            UnixSocketAddress unix => new("unix", unix.Abstract ? unix.Path : FullPath(unix.Path), unix.Abstract, null, null, 0),
            InetSocketAddress { Port: 0 } => null,
            InetSocketAddress inet => new(bound.Protocol == ProtocolType.Udp ? "udp" : "tcp", null, false, inet.Literal, inet.Literal is null ? inet.Host : null, inet.Port),
            _ => null,
        };

        public bool ConflictsWith(Listener other)
        {
            if (UnixPath is not null || other.UnixPath is not null)
            {
                // Any socket type: a stream listener and a dgram socket cannot share a path either.
                return UnixPath is not null && other.UnixPath is not null && Abstract == other.Abstract && UnixPath == other.UnixPath;
            }

            if (Protocol != other.Protocol || Port != other.Port || Port == 0)
            {
                return false;
            }

            if (Ip is not null && other.Ip is not null)
            {
                // A wildcard bind takes the port for every address of its family (and :: for both).
                return Ip.Equals(other.Ip)
                    || IsWildcard(Ip, other.Ip.AddressFamily) || IsWildcard(other.Ip, Ip.AddressFamily);
            }

            // A host name: unknown address, so it conflicts with the same name or with any wildcard.
            return string.Equals(HostName, other.HostName, StringComparison.OrdinalIgnoreCase)
                || (Ip is not null && (Ip.Equals(IPAddress.Any) || Ip.Equals(IPAddress.IPv6Any)))
                || (other.Ip is not null && (other.Ip.Equals(IPAddress.Any) || other.Ip.Equals(IPAddress.IPv6Any)));
        }

        public override string ToString() => UnixPath is not null
            ? $"unix socket {(Abstract ? "@" : string.Empty)}{UnixPath}"
            : $"{Protocol} {(Ip is null ? HostName : Ip.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{Ip}]" : Ip.ToString())}:{Port}";

        private static string FullPath(string path)
        {
            try
            {
                return Path.GetFullPath(path);
            }
            catch (ArgumentException)
            {
                return path;
            }
        }

        private static bool IsWildcard(IPAddress ip, AddressFamily otherFamily) =>
            ip.Equals(IPAddress.IPv6Any) || (ip.Equals(IPAddress.Any) && otherFamily == AddressFamily.InterNetwork);
    }
}
