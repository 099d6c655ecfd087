// `show`: every network with its attachments, ports and their counters, the switch counters, the
// gateway, and the daemon-wide figures (docs/control-api.md). Read in one closure on the loop.
using Switchyard.Core.Frames;
using Switchyard.Core.Loop;
using Switchyard.Core.Ports;
using Switchyard.Engine.Control;
using Switchyard.Engine.Metrics;
using Switchyard.Engine.Networks;
using Switchyard.Native;
using Switchyard.Switching;
using Switchyard.UserNet;

namespace Switchyard.Engine.Commands;

public sealed record ShowCommand : ControlRequest
{
    internal override Task<ControlResponse> HandleAsync(CommandContext context) =>
        context.Loop.InvokeAsync(() => new ControlResponse(true, Show: Show(context)));

    private static ShowResult Show(CommandContext context)
    {
        var result = new List<NetworkInfo>();
        foreach (Network n in context.Networks)
        {
            var attachments = n.Attachments
                .Select(a => new AttachmentInfo(a.Name, a.Config.Netdev.ToString(), a.Config.Vlan.ToString() ?? "", a.Describe()))
                .ToList();
            var ports = n.Switch.Ports
                .Select(p => new PortInfo(p.Name, p.Kind, p.Peer, n.Switch.MembershipOf(p).ToString(), p.Counters.RxFrames, p.Counters.RxBytes, p.Counters.TxFrames, p.Counters.TxBytes, DropsOf(p.Counters), n.Switch.IsLinkUp(p), SnapshotReader.RulesOf(p, includeZeros: false)))
                .ToList();
            Dictionary<string, long> counters = SwitchCountersOf(n);
            GatewayInfo? gateway = n.Gateway is { } g ? DescribeGateway(g) : null;
            result.Add(new NetworkInfo(n.Name, n.Config.Hub, attachments, ports, counters, DropsOf(n.ClosedPortDrops), gateway, n.ClosedPortRules(includeZeros: false)));
        }

        return new ShowResult(context.RunDirectory, result, DaemonCounters(context), ResourceCounters(context));
    }

    private static Dictionary<string, long> DropsOf(PortCounters counters) => counters.DropCounts.Snapshot(includeZeros: false);

    /// <summary>Process-wide figures for `show` (see <see cref="ShowResult"/>): what peers make the daemon hold.</summary>
    private static Dictionary<string, long> DaemonCounters(CommandContext context) => new(StringComparer.Ordinal)
    {
        ["loop_registrations"] = context.Loop.Registrations,
        ["loop_hangups_dropped"] = context.Loop.HangUpsDropped,
        ["guest_mappings"] = MappingBudget.Global.Used,
        ["guest_mappings_limit"] = MappingBudget.Global.Limit,
        ["guest_mappings_refused"] = MappingBudget.Global.Refused,
    };

    /// <summary>A network's switch and network counters by their snake_case names, as `show` and /metrics give them
    /// (the names come from the SwitchCounter and NetworkCounter enums).</summary>
    internal static Dictionary<string, long> SwitchCountersOf(Network n)
    {
        Dictionary<string, long> counters = n.Switch.Counters.Values.Snapshot(includeZeros: true);
        n.ReadCounters().CopyTo(counters, includeZeros: true);
        return counters;
    }

    /// <summary>The daemon-wide budgets and what they refused, by their snake_case names.</summary>
    private static Dictionary<string, long> ResourceCounters(CommandContext context)
    {
        DescriptorBudget budget = context.Budget;
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
        if (context.Control is { } server)
        {
            c["control_clients"] = server.Clients;
            c["max_control_clients"] = server.Limits.MaxClients;
            c["control_clients_refused"] = server.ClientsRefused;
            c["control_idle_closed"] = server.IdleClosed;
        }

        return c;
    }

    private static GatewayInfo DescribeGateway(NatGateway gateway)
    {
        GatewayOptions o = gateway.Options;
        return new GatewayInfo(
            o.Network.ToString(), o.Host.ToString(), o.Dns.ToString(), o.DhcpStart.ToString(), o.Ipv6,
            o.Ipv6 ? o.Network6.ToString() : null, o.Ipv6 ? o.Host6.ToString() : null, o.Ipv6 ? o.Dns6.ToString() : null,
            o.Mtu, o.Restrict, gateway.Forwards.Count, gateway.GatewayCounters.DropSnapshot(), gateway.GatewayCounters.EventSnapshot());
    }
}
