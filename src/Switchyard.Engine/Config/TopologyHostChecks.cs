// The checks of a topology that look at this host, for `switchyard check`, `reload` and `up -c`.
//
// Theory of operation: TopologyConfig.Check holds the rules that depend on the file alone. A few
// mistakes only show when the daemon opens its sockets: a listener in a directory that does not
// exist, a path taken by a file that is not a socket, an interface name that belongs to something
// other than a tap, two client ports dialling the same QEMU server (which accepts one connection),
// and host ports wanted twice (two gateways forwarding one port, or a forward on a port a stream
// or dgram port binds). These are found here by reading the file system and /sys only: nothing is
// created, bound or changed, so a check can run next to a live daemon. A port number the kernel
// would refuse for another process's sake (someone else listening) is not checked; that needs a
// bind and is reported when the daemon opens the port.
using System.Collections.Immutable;
using System.Net.Sockets;
using Switchyard.Native;
using Switchyard.Ports;
using Switchyard.Protocols;
using Switchyard.UserNet;

namespace Switchyard.Engine.Config;

/// <summary>Offline checks of a topology against this host (see the file header).</summary>
internal static class TopologyHostChecks
{
    /// <summary>Reports each problem at its location, as <see cref="TopologyConfig.Check"/> does.</summary>
    public static void Check(ImmutableArray<NetworkConfig> networks, Func<ConfigLocation, string> describe, Action<ConfigLocation, string> report)
    {
        if (networks.IsDefaultOrEmpty)
        {
            return;
        }

        var listened = new HashSet<string>(StringComparer.Ordinal);
        var clients = new Dictionary<string, ConfigLocation>(StringComparer.Ordinal);
        var clientPorts = new List<(string Path, ConfigLocation Where)>();
        var hostPorts = new List<(HostPort Key, ConfigLocation Where, string What)>();
        for (int n = 0; n < networks.Length; n++)
        {
            NetworkConfig? network = networks[n];
            if (network is null)
            {
                continue;
            }

            ImmutableArray<PortConfig> ports = network.Ports.IsDefault ? [] : network.Ports;
            for (int p = 0; p < ports.Length; p++)
            {
                if (ports[p]?.Netdev is not { } spec)
                {
                    continue;
                }

                var where = new ConfigLocation(n, p, "netdev");
                foreach (HostClaim claim in spec.HostClaims())
                {
                    switch (claim)
                    {
                        case BoundSocket { Address: UnixSocketAddress { Abstract: false } u }:
                            CheckListenerPath(u.Path, where, listened, report);
                            break;
                        case BoundSocket { Address: InetSocketAddress { Port: > 0 } i } bound:
                            ForwardProtocol protocol = bound.Protocol == ProtocolType.Udp ? ForwardProtocol.Udp : ForwardProtocol.Tcp;
                            hostPorts.Add((new HostPort(protocol, AddressOf(i), i.Port), where, bound.What));
                            break;
                        case DialledSocket dialled:
                            clientPorts.Add((FullPath(dialled.Path), where));
                            break;
                        case HostInterface tap:
                            CheckTap(tap.IfName, where, report);
                            break;
                    }
                }
            }

            if (network.Gateway is { Forwards: { IsDefault: false } forwards })
            {
                foreach (ForwardRule rule in forwards)
                {
                    if (rule is not null)
                    {
                        hostPorts.Add((new HostPort(rule.Protocol, rule.HostAddress, rule.HostPort), new ConfigLocation(n, -1, "gateway.hostfwd"), $"forward {rule}"));
                    }
                }
            }
        }

        // A QEMU chardev or stream server accepts one connection; a second client port would wait forever.
        foreach ((string path, ConfigLocation where) in clientPorts)
        {
            if (listened.Contains(path))
            {
                continue; // Our own listener: it accepts any number of connections.
            }

            if (!clients.TryAdd(path, where))
            {
                report(where, $"{path} is already dialled by {describe(clients[path] with { Field = null })}; the QEMU server there accepts one connection, so give each client port its own socket");
            }
        }

        for (int i = 0; i < hostPorts.Count; i++)
        {
            for (int j = 0; j < i; j++)
            {
                (HostPort a, ConfigLocation aWhere, string aWhat) = hostPorts[i];
                (HostPort b, ConfigLocation bWhere, string bWhat) = hostPorts[j];
                // Two listeners are TopologyConfig.Check's; the same forward twice in one gateway is GatewaySpec's.
                bool reportedElsewhere = (aWhere.Port >= 0 && bWhere.Port >= 0) || (aWhere == bWhere && a == b);
                if (!reportedElsewhere && a.ConflictsWith(b))
                {
                    report(aWhere, $"{aWhat} needs host {a} which {bWhat} ({describe(bWhere with { Field = null })}) already takes; give one of them another host port");
                    break;
                }
            }
        }
    }

    private static void CheckListenerPath(string path, ConfigLocation where, HashSet<string> listened, Action<ConfigLocation, string> report)
    {
        string full = FullPath(path);
        listened.Add(full);
        string? directory = Path.GetDirectoryName(full);
        if (directory is not null && !Directory.Exists(directory))
        {
            report(where, $"the directory of socket {path} does not exist ({directory}); create it (mkdir -p {directory}) or choose another path");
        }
        else if (Directory.Exists(full) || (File.Exists(full) && !FileKinds.IsSocket(full)))
        {
            report(where, $"{path} exists and is not a socket; remove it or choose another path");
        }
    }

    private static void CheckTap(string name, ConfigLocation where, Action<ConfigLocation, string> report)
    {
        string device = Path.Combine("/sys/class/net", name);
        if (Directory.Exists(device) && !File.Exists(Path.Combine(device, "tun_flags")))
        {
            report(where, $"interface '{name}' exists on this host and is not a tap; choose another ifname or remove that interface");
        }
    }

    private static IpAddr AddressOf(InetSocketAddress address) =>
        address.Literal is { } ip ? IpAddr.From(ip) : IpAddr.None;

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

    /// <summary>A host port Switchyard binds; an unset or unspecified address binds every address.</summary>
    private readonly record struct HostPort(ForwardProtocol Protocol, IpAddr Address, int Port)
    {
        public bool ConflictsWith(HostPort other) =>
            Protocol == other.Protocol && Port == other.Port
            && (Address == other.Address || Address == IpAddr.None || other.Address == IpAddr.None || Address.IsUnspecified || other.Address.IsUnspecified);

        public override string ToString()
        {
            string proto = Protocol == ForwardProtocol.Tcp ? "tcp" : "udp";
            string host = Address == IpAddr.None ? "*" : Address.IsV4 ? Address.ToString() : $"[{Address}]";
            return $"{proto} port {host}:{Port}";
        }
    }
}
