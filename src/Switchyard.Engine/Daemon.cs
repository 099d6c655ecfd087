// The daemon: one event loop, the networks of a topology, and the control socket.
//
// Theory of operation: StartAsync creates the run directory, starts the loop thread, builds every
// network on the loop (so all ports are loop-owned from birth), then opens DIR/control.sock. Control
// requests become closures on the loop via InvokeAsync, so reads of counters and changes of ports
// are serialised with the data path without a lock. Gateway commands (leases, flows, forward-*)
// reach a network's NatGateway the same way; a network without one answers with what to add to the
// topology. DisposeAsync reverses it and removes every socket file the daemon created.
using Microsoft.Extensions.Logging;
using Switchyard.Core.Config;
using Switchyard.Core.Frames;
using Switchyard.Core.Loop;
using Switchyard.Core.Ports;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Engine.Loop;
using Switchyard.Engine.Networks;
using Switchyard.Native;
using Switchyard.Protocols;
using Switchyard.Switching;
using Switchyard.UserNet;

namespace Switchyard.Engine;

public sealed record DaemonOptions(string RunDirectory, TopologyConfig Topology, ILoggerFactory LoggerFactory, TimeProvider? Clock = null, string? ConfigPath = null)
{
    /// <summary>Caps on connections and control clients (flags of `switchyard up`).</summary>
    public DaemonLimits Limits { get; init; } = DaemonLimits.Default;
}

public sealed partial class Daemon : IAsyncDisposable
{
    private readonly EpollLoop loop;
    private readonly List<Network> networks = [];
    private readonly ILogger logger;
    private readonly ILoggerFactory loggerFactory;
    private ControlServer? control;
    private DescriptorBudget budget = DescriptorBudget.Shared;
    private bool disposed;

    private Daemon(DaemonOptions options)
    {
        RunDirectory = options.RunDirectory;
        loggerFactory = options.LoggerFactory;
        logger = options.LoggerFactory.CreateLogger("switchyard");
        loop = new EpollLoop("switchyard-loop", options.Clock ?? TimeProvider.System, options.LoggerFactory.CreateLogger("switchyard.loop"));
        InitReload(options);
    }

    public string RunDirectory { get; }

    public string ControlSocketPath => Path.Combine(RunDirectory, Defaults.ControlSocketFileName);

    /// <summary>Starts the daemon. Throws <see cref="ConfigException"/> listing every port that could not be opened.</summary>
    public static async Task<Daemon> StartAsync(DaemonOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Directory.CreateDirectory(options.RunDirectory);
        if (PrivateDirectory.DescribeSharedDirectory(options.RunDirectory) is { } unsafeDir)
        {
            // Our sockets in a directory another user controls could be swapped under QEMU's feet.
            throw new ConfigException($"run directory {options.RunDirectory} is not safe to use: {unsafeDir}; remove it, or choose another with --run-dir");
        }

        var daemon = new Daemon(options);
        daemon.budget = SizeDescriptorBudget(options.Limits, daemon.logger);
        daemon.loop.Start();
        try
        {
            await daemon.loop.InvokeAsync(() =>
            {
                foreach (NetworkConfig config in options.Topology.Networks)
                {
                    var network = new Network(config, daemon.loop, options.LoggerFactory.CreateLogger($"switchyard.{config.Name}"), daemon.Events);
                    network.Start();
                    daemon.networks.Add(network);
                }

                return true;
            }).ConfigureAwait(false);
            daemon.control = ControlServer.Start(daemon.ControlSocketPath, daemon.HandleAsync, daemon.logger,
                new ControlServerLimits(options.Limits.MaxControlClients, options.Limits.ControlIdleTimeout), daemon.loop.Clock);
        }
        catch
        {
            await daemon.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return daemon;
    }

    // The descriptor table is the process's, so its budget is too: raise the soft RLIMIT_NOFILE to the hard
    // limit (as most daemons do) and size the budget from what is then in force (DescriptorBudget).
    private static DescriptorBudget SizeDescriptorBudget(DaemonLimits limits, ILogger logger)
    {
        OpenFilesLimit? limit = ProcessLimits.RaiseOpenFilesToHard();
        ulong soft = limit?.Soft ?? 1024;
        var budget = new DescriptorBudget((long)Math.Min(soft, int.MaxValue), limits.MaxConnections, limits.MaxListenerConnections);
        DescriptorBudget.Shared = budget;
        LogBudget(logger, budget.ToString());
        return budget;
    }

    /// <summary>How to attach a QEMU guest to each network: one line per attachment a guest can use,
    /// and one per gateway saying what a guest attached there gets.</summary>
    public Task<IReadOnlyList<string>> QemuHintsAsync() => loop.InvokeAsync<IReadOnlyList<string>>(() =>
    {
        var lines = new List<string>();
        foreach (Network network in networks)
        {
            if (network.Gateway is { } gateway)
            {
                GatewayOptions o = gateway.Options;
                string v6 = o.Ipv6 ? $", IPv6 {o.Network6} by SLAAC" : string.Empty;
                string forwards = gateway.Forwards.Count == 0 ? string.Empty : $"; forwards {string.Join(", ", gateway.Forwards)}";
                lines.Add($"network {network.Name}, gateway: router {o.Host}, DNS {o.Dns}, DHCP from {o.DhcpStart} on {o.Network}{v6}{forwards}");
            }

            foreach (Attachment a in network.Attachments)
            {
                if (QemuArgsBuilder.Hint(a.Config.Netdev) is { } hint)
                {
                    lines.Add($"network {network.Name}, port {a.Name}: {hint}");
                }
            }
        }

        return lines;
    });

    public Task<ControlResponse> HandleAsync(ControlRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.Command switch
        {
            "show" => loop.InvokeAsync(() => new ControlResponse(true, Show: Show())),
            "fdb" => loop.InvokeAsync(() => new ControlResponse(true, Fdb: Fdb(request.Network))),
            "port-add" => PortAddAsync(request),
            "port-del" => loop.InvokeAsync(() => PortDel(request)),
            "leases" => loop.InvokeAsync(() => new ControlResponse(true, Leases: Leases(request.Network))),
            "flows" => loop.InvokeAsync(() => new ControlResponse(true, Flows: Flows(request.Network))),
            "forward-list" => loop.InvokeAsync(() => new ControlResponse(true, Forwards: ForwardList(request.Network))),
            "forward-add" => ForwardAddAsync(request),
            "forward-del" => ForwardDelAsync(request),
            "port-set" => loop.InvokeAsync(() => PortSet(request)),
            "events" => loop.InvokeAsync(() => EventsStream(request)),
            "reload" => ReloadAsync(),
            "qemu-args" => loop.InvokeAsync(() => QemuArgsOnLoop(request)),
            "capture" or "capture-stats" => CaptureCommandAsync(request),
            _ => Task.FromResult(new ControlResponse(false, $"unknown command '{request.Command}' (known: {string.Join(", ", Commands)})")),
        };
    }

    /// <summary>Every command <see cref="HandleAsync"/> answers.</summary>
    public static IReadOnlyList<string> Commands { get; } =
        ["show", "fdb", "port-add", "port-del", "leases", "flows", "forward-list", "forward-add", "forward-del", "port-set", "events", "reload", "qemu-args", "capture", "capture-stats"];

    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        if (control is not null)
        {
            await control.DisposeAsync().ConfigureAwait(false);
        }

        loop.Stop(() =>
        {
            foreach (Network n in networks)
            {
                n.Stop();
            }
        });
        loop.Dispose();
        LogStopped(RunDirectory);
    }

    private static Dictionary<string, long> DropsOf(PortCounters counters) => counters.DropCounts.Snapshot(includeZeros: false);

    /// <summary>Process-wide figures for `show` (see <see cref="ShowResult"/>): what peers make the daemon hold.</summary>
    private Dictionary<string, long> DaemonCounters() => new(StringComparer.Ordinal)
    {
        ["loop_registrations"] = loop.Registrations,
        ["loop_hangups_dropped"] = loop.HangUpsDropped,
        ["guest_mappings"] = MappingBudget.Global.Used,
        ["guest_mappings_limit"] = MappingBudget.Global.Limit,
        ["guest_mappings_refused"] = MappingBudget.Global.Refused,
    };

    /// <summary>A network's switch and network counters by their snake_case names, as `show` and /metrics give them
    /// (the names come from the SwitchCounter and NetworkCounter enums).</summary>
    private static Dictionary<string, long> SwitchCountersOf(Network n)
    {
        Dictionary<string, long> counters = n.Switch.Counters.Values.Snapshot(includeZeros: true);
        n.ReadCounters().CopyTo(counters, includeZeros: true);
        return counters;
    }

    private Network FindNetwork(string? name) =>
        networks.Find(n => n.Name == (name ?? Defaults.NetworkName))
        ?? throw new InvalidOperationException($"no network named '{name}' (networks: {string.Join(", ", networks.Select(n => n.Name))})");

    private ShowResult Show()
    {
        var result = new List<NetworkInfo>();
        foreach (Network n in networks)
        {
            var attachments = n.Attachments
                .Select(a => new AttachmentInfo(a.Name, a.Config.Netdev.ToString(), a.Config.Vlan.ToString() ?? "", a.Describe()))
                .ToList();
            var ports = n.Switch.Ports
                .Select(p => new PortInfo(p.Name, p.Kind, p.Peer, n.Switch.MembershipOf(p).ToString(), p.Counters.RxFrames, p.Counters.RxBytes, p.Counters.TxFrames, p.Counters.TxBytes, DropsOf(p.Counters), n.Switch.IsLinkUp(p), RulesOf(p, includeZeros: false)))
                .ToList();
            Dictionary<string, long> counters = SwitchCountersOf(n);
            GatewayInfo? gateway = n.Gateway is { } g ? DescribeGateway(g) : null;
            result.Add(new NetworkInfo(n.Name, n.Config.Hub, attachments, ports, counters, DropsOf(n.ClosedPortDrops), gateway, n.ClosedPortRules(includeZeros: false)));
        }

        return new ShowResult(RunDirectory, result, DaemonCounters(), ResourceCounters());
    }

    /// <summary>The daemon-wide budgets and what they refused, by their snake_case names.</summary>
    private Dictionary<string, long> ResourceCounters()
    {
        var c = new Dictionary<string, long>(StringComparer.Ordinal)
        {
            ["descriptor_limit"] = budget.Limit,
            ["descriptor_reserve"] = budget.Reserve,
            ["connections"] = budget.Connections,
            ["max_connections"] = budget.MaxConnections,
            ["max_listener_connections"] = budget.MaxConnectionsPerListener,
            ["connections_refused_global_cap"] = budget.ConnectionsRefusedGlobalCap,
            ["connections_refused_no_descriptors"] = budget.ConnectionsRefusedNoDescriptors,
            ["accept_out_of_descriptors"] = budget.AcceptOutOfDescriptors,
            ["gateway_sockets_refused"] = budget.HostSocketsRefused,
        };
        if (control is { } server)
        {
            c["control_clients"] = server.Clients;
            c["max_control_clients"] = server.Limits.MaxClients;
            c["control_clients_refused"] = server.ClientsRefused;
            c["control_idle_closed"] = server.IdleClosed;
        }

        return c;
    }

    private List<FdbRow> Fdb(string? networkName)
    {
        var rows = new List<FdbRow>();
        foreach (Network n in networks)
        {
            if (networkName is not null && n.Name != networkName)
            {
                continue;
            }

            foreach (FdbEntry e in n.Switch.SnapshotFdb())
            {
                rows.Add(new FdbRow(n.Name, e.Vid, Ethernet.FormatMac(e.Mac), e.Port, e.Age.TotalSeconds));
            }
        }

        if (networkName is not null && rows.Count == 0)
        {
            _ = FindNetwork(networkName); // Throws a clear error for an unknown network.
        }

        return rows;
    }

    private Task<ControlResponse> PortAddAsync(ControlRequest request)
    {
        if (string.IsNullOrEmpty(request.Name) || string.IsNullOrEmpty(request.Netdev))
        {
            return Task.FromResult(new ControlResponse(false, "port-add needs a name and a netdev spec"));
        }

        PortConfig port;
        try
        {
            port = PortConfig.Create(request.Name, request.Netdev, VlanConfig.FromFlags(request.Vlan, request.Trunk, request.NativeVlan));
        }
        catch (ConfigException ex)
        {
            return Task.FromResult(new ControlResponse(false, ex.Message));
        }

        return loop.InvokeAsync(() =>
        {
            Network network = FindNetwork(request.Network);
            Attachment a = network.AddPort(port);
            LogPortAdded(network.Name, a.Name, a.Config.Netdev.ToString());
            string? hint = QemuArgsBuilder.Hint(port.Netdev);
            return new ControlResponse(true, Message: hint is null ? $"added {a.Name}: {a.Describe()}" : $"added {a.Name}: {a.Describe()}\nQEMU: {hint}");
        });
    }

    private ControlResponse PortDel(ControlRequest request)
    {
        Network network = FindNetwork(request.Network);
        if (string.IsNullOrEmpty(request.Name))
        {
            return new ControlResponse(false, "port-del needs a port name");
        }

        if (network.IsGatewayPort(request.Name))
        {
            // The gateway is part of the network's configuration, not a port anyone attached: removing its
            // port would leave a network whose DHCP, DNS and NAT silently stopped (issue 10).
            return new ControlResponse(false, GatewayNotDeletable(network.Name));
        }

        return network.RemovePort(request.Name)
            ? new ControlResponse(true, Message: $"removed {request.Name} from {network.Name}")
            : new ControlResponse(false, $"network {network.Name} has no port named '{request.Name}'");
    }

    // ---- Gateway commands (docs/control-api.md) ----

    // The gateway of one network (null: the default network), or an error a user can act on.
    private NatGateway GatewayOf(string? name)
    {
        Network network = FindNetwork(name);
        return network.Gateway ?? throw new InvalidOperationException(NoGateway(network.Name));
    }

    private static string GatewayNotDeletable(string network) =>
        $"port {Defaults.GatewayPortName} of network {network} is its NAT gateway and cannot be removed with port del; " +
        "remove `gateway:` from the network in the topology file and run `switchyard reload`" +
        (network == Defaults.NetworkName ? " (or start `switchyard up --no-gateway`)" : string.Empty);

    private static string NoGateway(string network) =>
        $"network {network} has no gateway; add `gateway: true` to it in the topology" +
        (network == Defaults.NetworkName ? " (or start `switchyard up` without --no-gateway)" : string.Empty);

    // One named network's gateway, or (name null) every network that has one.
    private List<(string Network, NatGateway Gateway)> Gateways(string? name)
    {
        if (name is not null)
        {
            return [(FindNetwork(name).Name, GatewayOf(name))];
        }

        var result = new List<(string, NatGateway)>();
        foreach (Network n in networks)
        {
            if (n.Gateway is { } g)
            {
                result.Add((n.Name, g));
            }
        }

        return result.Count > 0
            ? result
            : throw new InvalidOperationException("no network has a gateway; add `gateway: true` to a network in the topology (docs/gateway.md)");
    }

    private List<LeaseRow> Leases(string? networkName)
    {
        DateTimeOffset now = loop.Clock.GetUtcNow();
        var rows = new List<LeaseRow>();
        foreach ((string network, NatGateway gateway) in Gateways(networkName))
        {
            foreach (LeaseInfo l in gateway.Leases())
            {
                rows.Add(new LeaseRow(network, Ethernet.FormatMac(l.Mac), l.Address.ToString(), l.Hostname, l.Expires, (l.Expires - now).TotalSeconds, l.Active));
            }
        }

        return rows;
    }

    private List<FlowRow> Flows(string? networkName)
    {
        var rows = new List<FlowRow>();
        foreach ((string network, NatGateway gateway) in Gateways(networkName))
        {
            foreach (FlowInfo f in gateway.Flows())
            {
                rows.Add(new FlowRow(network, f.Protocol, f.Guest, f.Remote, f.State, f.Inbound, f.BytesFromGuest, f.BytesToGuest, f.Idle.TotalSeconds));
            }
        }

        return rows;
    }

    private List<ForwardRow> ForwardList(string? networkName)
    {
        var rows = new List<ForwardRow>();
        foreach ((string network, NatGateway gateway) in Gateways(networkName))
        {
            foreach (ForwardRule rule in gateway.Forwards)
            {
                rows.Add(ToRow(network, gateway, rule));
            }
        }

        return rows;
    }

    private static ForwardRow ToRow(string network, NatGateway gateway, ForwardRule rule) =>
        new(network, rule.ToString(), rule.Protocol == ForwardProtocol.Tcp ? "tcp" : "udp",
            rule.HostAddress == IpAddr.None ? null : rule.HostAddress.ToString(), rule.HostPort,
            (rule.GuestAddress == IpAddr.None ? gateway.Options.DhcpStart : rule.GuestAddress).ToString(), rule.GuestPort);

    private Task<ControlResponse> ForwardAddAsync(ControlRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.Rule))
        {
            return Task.FromResult(new ControlResponse(false, $"forward-add needs a rule ({ForwardRuleParser.Syntax})"));
        }

        if (!ForwardRuleParser.TryParse(request.Rule, out ForwardRule? rule, out string? error))
        {
            return Task.FromResult(new ControlResponse(false, error));
        }

        return loop.InvokeAsync(() =>
        {
            NatGateway gateway = GatewayOf(request.Network);
            string network = request.Network ?? Defaults.NetworkName;
            if (ForwardRuleParser.Check(rule, gateway.Options) is { } problem)
            {
                return new ControlResponse(false, problem);
            }

            try
            {
                gateway.AddForward(rule);
            }
            catch (HostNetworkException ex)
            {
                return new ControlResponse(false, $"forward {rule} on network {network}: {ex.Message}");
            }

            LogForwardAdded(network, rule.ToString());
            return new ControlResponse(true, Message: $"added forward {rule} on network {network}", Forwards: [ToRow(network, gateway, rule)]);
        });
    }

    private Task<ControlResponse> ForwardDelAsync(ControlRequest request)
    {
        ForwardRule? rule = null;
        ForwardProtocol protocol = ForwardProtocol.Tcp;
        if (!string.IsNullOrWhiteSpace(request.Rule))
        {
            if (request.Protocol is not null || request.HostPort is not null)
            {
                return Task.FromResult(new ControlResponse(false, "forward-del takes either a rule, or a protocol and a host port, not both"));
            }

            if (!ForwardRuleParser.TryParse(request.Rule, out rule, out string? error))
            {
                return Task.FromResult(new ControlResponse(false, error));
            }
        }
        else
        {
            if (request.HostPort is not (>= 1 and <= 65535))
            {
                return Task.FromResult(new ControlResponse(false, $"forward-del needs a rule ({ForwardRuleParser.Syntax}), or a hostPort (1 to 65535) with an optional protocol (tcp or udp)"));
            }

            switch (request.Protocol)
            {
                case null or "tcp":
                    break;
                case "udp":
                    protocol = ForwardProtocol.Udp;
                    break;
                default:
                    return Task.FromResult(new ControlResponse(false, $"unknown protocol {request.Protocol} (tcp or udp)"));
            }
        }

        return loop.InvokeAsync(() =>
        {
            NatGateway gateway = GatewayOf(request.Network);
            string network = request.Network ?? Defaults.NetworkName;
            var matches = new List<ForwardRule>();
            foreach (ForwardRule f in gateway.Forwards)
            {
                bool match = rule is not null
                    ? f.HostKey == rule.HostKey
                    : f.Protocol == protocol && f.HostPort == request.HostPort;
                if (match)
                {
                    matches.Add(f);
                }
            }

            string what = rule is not null
                ? $"{rule.ToString().Split('-')[0]}"
                : $"{(protocol == ForwardProtocol.Tcp ? "tcp" : "udp")} host port {request.HostPort}";
            string open = gateway.Forwards.Count == 0 ? "none" : string.Join(", ", gateway.Forwards);
            if (matches.Count == 0)
            {
                return new ControlResponse(false, $"network {network} has no forward for {what} (forwards: {open})");
            }

            if (matches.Count > 1)
            {
                return new ControlResponse(false, $"several forwards use {what} ({string.Join(", ", matches)}); give the whole rule");
            }

            ForwardRule existing = matches[0];
            gateway.RemoveForward(existing);
            LogForwardRemoved(network, existing.ToString());
            return new ControlResponse(true, Message: $"removed forward {existing} from network {network}", Forwards: [ToRow(network, gateway, existing)]);
        });
    }

    private static GatewayInfo DescribeGateway(NatGateway gateway)
    {
        GatewayOptions o = gateway.Options;
        return new GatewayInfo(
            o.Network.ToString(), o.Host.ToString(), o.Dns.ToString(), o.DhcpStart.ToString(), o.Ipv6,
            o.Ipv6 ? o.Network6.ToString() : null, o.Ipv6 ? o.Host6.ToString() : null, o.Ipv6 ? o.Dns6.ToString() : null,
            o.Mtu, o.Restrict, gateway.Forwards.Count, gateway.GatewayCounters.DropSnapshot(), gateway.GatewayCounters.EventSnapshot());
    }

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "network {Network}: forward {Rule} added")]
    private partial void LogForwardAdded(string network, string rule);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "network {Network}: forward {Rule} removed")]
    private partial void LogForwardRemoved(string network, string rule);

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "network {Network}: port {Port} added ({Netdev})")]
    private partial void LogPortAdded(string network, string port, string netdev);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "stopped; sockets in {RunDirectory} removed")]
    private partial void LogStopped(string runDirectory);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "{Budget}")]
    private static partial void LogBudget(ILogger logger, string budget);
}
