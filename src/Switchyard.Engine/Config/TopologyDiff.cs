// What a reload changes: a pure function from (the topology running now, the topology wanted) to a plan.
//
// Theory of operation: networks are matched by name, ports by name within their network, forwards
// by their whole rule. A network that is only in the new topology is added, one only in the old is
// removed. A network whose switch settings (hub, mac-ageing, max-macs, max-macs-per-port) changed is recreated, since
// a running switch cannot change them; every other change is applied inside the running network:
// ports added and removed, a port whose netdev spec or VLAN changed recreated (that one port only),
// gateway forwards added and removed, and a gateway whose other options changed recreated. A port or
// forward that is equal in both is not in the plan at all, which is what lets the applier promise
// that its guests are not touched. The planner does no I/O and knows nothing of the event loop;
// Engine/Commands/Reloader applies a plan.
using System.Collections.Immutable;
using System.Text;
using Switchyard.Core.Config;
using Switchyard.UserNet;

namespace Switchyard.Engine.Config;

public enum NetworkAction
{
    /// <summary>Create the network and its ports.</summary>
    Add,

    /// <summary>Stop the network and every port on it.</summary>
    Remove,

    /// <summary>Stop it and create it again: a switch setting changed.</summary>
    Recreate,

    /// <summary>Change ports, forwards or the gateway inside the running network.</summary>
    Update,
}

public enum PortAction
{
    Add,
    Remove,

    /// <summary>Remove the port and add it with its new netdev spec or VLAN.</summary>
    Recreate,
}

public enum GatewayAction
{
    Add,
    Remove,

    /// <summary>Stop the gateway and start one with the new options (leases and NAT flows are lost).</summary>
    Recreate,

    /// <summary>Only forwards changed: add and remove them on the running gateway.</summary>
    Forwards,
}

/// <summary>One port's change; <see cref="Old"/> is null for an add, <see cref="New"/> for a remove.</summary>
public sealed record PortChange(PortAction Action, PortConfig? Old, PortConfig? New, string? Reason = null)
{
    public string Name => (New ?? Old)!.Name;

    public string Describe() => Action switch
    {
        PortAction.Add => $"added port {Name}",
        PortAction.Remove => $"removed port {Name}",
        _ => $"recreated port {Name} ({Reason})",
    };
}

/// <summary>A gateway's change. For <see cref="GatewayAction.Forwards"/>, the forwards to close and to open.</summary>
public sealed record GatewayChange(GatewayAction Action, GatewayOptions? Old, GatewayOptions? New, string? Reason = null)
{
    public ImmutableArray<ForwardRule> ForwardsRemoved { get; init; } = [];

    public ImmutableArray<ForwardRule> ForwardsAdded { get; init; } = [];

    public IEnumerable<string> Describe()
    {
        switch (Action)
        {
            case GatewayAction.Add:
                yield return "added gateway";
                break;
            case GatewayAction.Remove:
                yield return "removed gateway";
                break;
            case GatewayAction.Recreate:
                yield return $"recreated gateway ({Reason}; its leases and NAT flows were dropped)";
                break;
            default:
                foreach (ForwardRule rule in ForwardsRemoved)
                {
                    yield return $"forward {rule} removed";
                }

                foreach (ForwardRule rule in ForwardsAdded)
                {
                    yield return $"forward {rule} added";
                }

                break;
        }
    }
}

/// <summary>What happens to one network.</summary>
public sealed record NetworkPlan(string Name, NetworkAction Action, NetworkConfig? Old, NetworkConfig? New)
{
    /// <summary>Why a network is recreated ("hub false -> true").</summary>
    public string? Reason { get; init; }

    /// <summary>For <see cref="NetworkAction.Update"/>: the ports that change, adds first, then removes, then recreations.</summary>
    public ImmutableArray<PortChange> Ports { get; init; } = [];

    /// <summary>For <see cref="NetworkAction.Update"/>: the gateway's change, if any.</summary>
    public GatewayChange? Gateway { get; init; }

    /// <summary>"network lab: added port p3; removed port p1; forward tcp::2222-:22 added".</summary>
    public string Describe()
    {
        string what = Action switch
        {
            NetworkAction.Add => $"added ({Count(New!.Ports.Length, "port")}{(New.Gateway is null ? string.Empty : ", gateway")})",
            NetworkAction.Remove => "removed (its ports were closed)",
            NetworkAction.Recreate => $"recreated ({Reason}; its ports were reopened and their guests must reconnect)",
            _ => string.Join("; ", Ports.Select(p => p.Describe()).Concat(Gateway?.Describe() ?? [])),
        };
        return $"network {Name}: {what}";
    }

    private static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";
}

/// <summary>Every change of a reload, network by network: removed networks first (in the old order), then the others in the new order.</summary>
public sealed record TopologyPlan(ImmutableArray<NetworkPlan> Networks)
{
    public bool IsEmpty => Networks.IsDefaultOrEmpty;

    /// <summary>One line per network that changes.</summary>
    public IReadOnlyList<string> Describe() => [.. Networks.Select(n => n.Describe())];

    public bool Equals(TopologyPlan? other) => other is not null && NetworkConfig.SequenceEqual(Networks, other.Networks);

    public override int GetHashCode() => Networks.IsDefaultOrEmpty ? 0 : Networks.Length;
}

/// <summary>The reload planner (see the file header).</summary>
public static class TopologyDiff
{
    /// <summary>The changes that turn <paramref name="current"/> into <paramref name="next"/>.</summary>
    public static TopologyPlan Plan(TopologyConfig current, TopologyConfig next)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(next);
        return Plan(current.Networks, next.Networks);
    }

    /// <summary>The same for plain network lists (what runs now need not be a whole valid topology:
    /// a reload that failed half-way leaves what it could apply).</summary>
    public static TopologyPlan Plan(IReadOnlyList<NetworkConfig> current, IReadOnlyList<NetworkConfig> next)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(next);
        var plans = ImmutableArray.CreateBuilder<NetworkPlan>();
        var nextByName = next.ToDictionary(n => n.Name, StringComparer.Ordinal);
        var currentByName = current.ToDictionary(n => n.Name, StringComparer.Ordinal);
        foreach (NetworkConfig old in current)
        {
            if (!nextByName.ContainsKey(old.Name))
            {
                plans.Add(new NetworkPlan(old.Name, NetworkAction.Remove, old, null));
            }
        }

        foreach (NetworkConfig wanted in next)
        {
            if (!currentByName.TryGetValue(wanted.Name, out NetworkConfig? old))
            {
                plans.Add(new NetworkPlan(wanted.Name, NetworkAction.Add, null, wanted));
            }
            else if (SwitchChange(old, wanted) is { } reason)
            {
                plans.Add(new NetworkPlan(wanted.Name, NetworkAction.Recreate, old, wanted) { Reason = reason });
            }
            else if (!old.Equals(wanted))
            {
                ImmutableArray<PortChange> ports = PortChanges(old.Ports, wanted.Ports);
                GatewayChange? gateway = GatewayChanges(old.Gateway, wanted.Gateway);
                if (ports.Length > 0 || gateway is not null)
                {
                    plans.Add(new NetworkPlan(wanted.Name, NetworkAction.Update, old, wanted) { Ports = ports, Gateway = gateway });
                }
            }
        }

        return new TopologyPlan(plans.ToImmutable());
    }

    // Settings a running LearningSwitch cannot change.
    private static string? SwitchChange(NetworkConfig old, NetworkConfig next)
    {
        var reasons = new List<string>();
        if (old.Hub != next.Hub)
        {
            reasons.Add($"hub {ConfigText.FormatBool(old.Hub)} -> {ConfigText.FormatBool(next.Hub)}");
        }

        if (old.MacAgeing != next.MacAgeing)
        {
            reasons.Add($"mac-ageing {old.MacAgeing.TotalSeconds:0.###} s -> {next.MacAgeing.TotalSeconds:0.###} s");
        }

        if (old.MaxMacs != next.MaxMacs)
        {
            reasons.Add($"max-macs {old.MaxMacs} -> {next.MaxMacs}");
        }

        if (old.MaxMacsPerPort != next.MaxMacsPerPort)
        {
            reasons.Add($"max-macs-per-port {old.MaxMacsPerPort} -> {next.MaxMacsPerPort}");
        }

        return reasons.Count == 0 ? null : string.Join(", ", reasons);
    }

    private static ImmutableArray<PortChange> PortChanges(ImmutableArray<PortConfig> current, ImmutableArray<PortConfig> next)
    {
        current = current.IsDefault ? [] : current;
        next = next.IsDefault ? [] : next;
        var oldByName = current.ToDictionary(p => p.Name, StringComparer.Ordinal);
        var nextByName = next.ToDictionary(p => p.Name, StringComparer.Ordinal);
        var added = new List<PortChange>();
        var removed = new List<PortChange>();
        var recreated = new List<PortChange>();
        foreach (PortConfig port in next)
        {
            if (!oldByName.TryGetValue(port.Name, out PortConfig? old))
            {
                added.Add(new PortChange(PortAction.Add, null, port));
            }
            else if (!old.Equals(port))
            {
                var why = new List<string>();
                if (!old.Netdev.Equals(port.Netdev))
                {
                    why.Add($"netdev {old.Netdev} -> {port.Netdev}");
                }

                if (!old.Vlan.Equals(port.Vlan))
                {
                    why.Add($"vlan {old.Vlan} -> {port.Vlan}");
                }

                recreated.Add(new PortChange(PortAction.Recreate, old, port, string.Join(", ", why)));
            }
        }

        foreach (PortConfig old in current)
        {
            if (!nextByName.ContainsKey(old.Name))
            {
                removed.Add(new PortChange(PortAction.Remove, old, null));
            }
        }

        return [.. added, .. removed, .. recreated];
    }

    private static GatewayChange? GatewayChanges(GatewayOptions? old, GatewayOptions? next)
    {
        if (old is null && next is null)
        {
            return null;
        }

        if (old is null)
        {
            return new GatewayChange(GatewayAction.Add, null, next);
        }

        if (next is null)
        {
            return new GatewayChange(GatewayAction.Remove, old, null);
        }

        ImmutableArray<ForwardRule> oldForwards = old.Forwards.IsDefault ? [] : old.Forwards;
        ImmutableArray<ForwardRule> nextForwards = next.Forwards.IsDefault ? [] : next.Forwards;
        if (!(old with { Forwards = [] }).Equals(next with { Forwards = [] }))
        {
            return new GatewayChange(GatewayAction.Recreate, old, next, OptionChanges(old, next));
        }

        ImmutableArray<ForwardRule> removed = [.. oldForwards.Where(f => !nextForwards.Contains(f))];
        ImmutableArray<ForwardRule> added = [.. nextForwards.Where(f => !oldForwards.Contains(f))];
        return removed.IsEmpty && added.IsEmpty
            ? null
            : new GatewayChange(GatewayAction.Forwards, old, next) { ForwardsRemoved = removed, ForwardsAdded = added };
    }

    // "mtu 1500 -> 1400, restrict off -> on": the options (other than forwards) whose text differs.
    private static string OptionChanges(GatewayOptions old, GatewayOptions next)
    {
        Dictionary<string, string> a = Options(old);
        Dictionary<string, string> b = Options(next);
        var changes = new List<string>();
        foreach ((string key, string value) in b)
        {
            string before = a.GetValueOrDefault(key) ?? "(none)";
            if (before != value)
            {
                changes.Add($"{key} {before} -> {value}");
            }
        }

        foreach ((string key, string value) in a)
        {
            if (!b.ContainsKey(key))
            {
                changes.Add($"{key} {value} -> (none)");
            }
        }

        return changes.Count > 0 ? "options " + string.Join(", ", changes) : "options changed";
    }

    // The canonical option text, split into key -> value(s); ",," inside a value is a comma.
    private static Dictionary<string, string> Options(GatewayOptions options)
    {
        string text = GatewaySpec.Format(options with { Forwards = [] });
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var item = new StringBuilder();
        void Flush()
        {
            string s = item.ToString();
            item.Clear();
            int eq = s.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                string key = s[..eq];
                result[key] = result.TryGetValue(key, out string? prior) ? prior + "," + s[(eq + 1)..] : s[(eq + 1)..];
            }
        }

        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == ',' && i + 1 < text.Length && text[i + 1] == ',')
            {
                item.Append(',');
                i++;
            }
            else if (text[i] == ',')
            {
                Flush();
            }
            else
            {
                item.Append(text[i]);
            }
        }

        Flush();
        return result;
    }
}
