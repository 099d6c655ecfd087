// The network's own counters, next to its switch's (SwitchCounter): what happened to its ports and listeners.
// `switchyard show` gives both sets in one "counters" object and /metrics as switchyard_switch_<metric>_total,
// both by enumerating the enums, so a new counter is a member here plus the line that reads it.
using Switchyard.Core.Counters;
using Switchyard.Core.Ports;

namespace Switchyard.Engine.Networks;

/// <summary>Counters of a network beyond its switch's. The member's snake_case is its name in `show`.</summary>
public enum NetworkCounter
{
    [Counter("Ports removed because their peer hung up or broke the protocol.")]
    PortsClosedByPeer,

    [Counter("Namespace ports closed because their namespace was deleted or its process exited.")]
    NamespacePortsClosed,

    [Counter("Connections a listener refused because it held its --max-listener-connections.")]
    ConnectionsRefusedListenerFull,

    [Counter("Connections a listener refused because the daemon's connection cap or descriptor reserve was reached.")]
    ConnectionsRefusedBudget,

    [Counter("accept() failures for lack of descriptors (the listener pauses 250 ms each).")]
    AcceptOutOfDescriptors,
}

public sealed partial class Network
{
    // The rule counters of ports that have gone away, by set and rule: a connection closed for a protocol violation
    // takes its port with it, and its count must outlive it (as ClosedPortDrops does for drops).
    private readonly Dictionary<string, Dictionary<string, long>> closedPortRules = new(StringComparer.Ordinal);

    /// <summary>The rule counters of ports that have gone away, by set (virtqueue, net_tx, ...) and rule; on the loop.</summary>
    public Dictionary<string, IReadOnlyDictionary<string, long>> ClosedPortRules(bool includeZeros)
    {
        var result = new Dictionary<string, IReadOnlyDictionary<string, long>>(StringComparer.Ordinal);
        foreach ((string set, Dictionary<string, long> rules) in closedPortRules)
        {
            var copy = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach ((string rule, long count) in rules)
            {
                if (includeZeros || count != 0)
                {
                    copy[rule] = count;
                }
            }

            result[set] = copy;
        }

        return result;
    }

    /// <summary>Adds a departing port's rule counters to <see cref="ClosedPortRules"/>; on the loop.</summary>
    private void KeepRuleCounters(Port port)
    {
        if (port is not IRuleCounters counted)
        {
            return;
        }

        foreach (ICounterSet set in counted.RuleCounters)
        {
            if (!closedPortRules.TryGetValue(set.Name, out Dictionary<string, long>? totals))
            {
                closedPortRules[set.Name] = totals = new Dictionary<string, long>(StringComparer.Ordinal);
            }

            set.AddTo(totals);
        }
    }

    /// <summary>The network's counters as they are now, in a fresh set; on the loop (the listener sums walk the attachments).</summary>
    public CounterSet<NetworkCounter> ReadCounters()
    {
        var set = new CounterSet<NetworkCounter>("network");
        (long full, long budget, long paused) = ListenerCounters;
        set.Set(NetworkCounter.PortsClosedByPeer, PortsClosedByPeer);
        set.Set(NetworkCounter.NamespacePortsClosed, NamespacePortsClosed);
        set.Set(NetworkCounter.ConnectionsRefusedListenerFull, full);
        set.Set(NetworkCounter.ConnectionsRefusedBudget, budget);
        set.Set(NetworkCounter.AcceptOutOfDescriptors, paused);
        return set;
    }
}
