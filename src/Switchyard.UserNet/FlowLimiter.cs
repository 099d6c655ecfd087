// Admission control for NAT flows: a table-wide limit and a per-port limit.
//
// Theory of operation: every TCP, UDP and ICMP echo flow asks TryAdmit before it takes a host socket
// and calls Release when it ends. The per-port limit keeps one guest's SYN flood or port scan from
// using up the table, so other guests keep opening connections. It is keyed on the switch port the
// guest's frames came in on (Port.Id, carried by EgressFrame.IngressPort into GuestPacket.IngressPort),
// not on the source MAC or IP: a guest chooses those freely (eight spoofed MACs used to be eight
// budgets), but it cannot choose its attachment. Flows that host clients open through forwards have
// no ingress port; they share one budget, ForwardsPort, so host-side clients cannot fill the table either.
namespace Switchyard.UserNet;

public sealed class FlowLimiter
{
    /// <summary>The budget that connections accepted on forwards (host → guest) count against.</summary>
    public const int ForwardsPort = -1;

    private readonly GatewayCounters counters;
    private readonly int maxFlows;
    private readonly int maxPerPort;
    private readonly Dictionary<int, int> perPort = [];

    public FlowLimiter(GatewayOptions options, GatewayCounters counters)
    {
        ArgumentNullException.ThrowIfNull(options);
        maxFlows = options.MaxFlows;
        maxPerPort = options.MaxFlowsPerGuest;
        this.counters = counters;
    }

    /// <summary>Flows admitted and not yet released.</summary>
    public int Count { get; private set; }

    /// <summary>Admits one more flow for the guest on switch port <paramref name="port"/>, or counts the
    /// drop (flow_table_full, guest_flow_limit) and returns false.</summary>
    public bool TryAdmit(int port)
    {
        if (Count >= maxFlows)
        {
            counters.Drop(GatewayDrop.FlowTableFull);
            return false;
        }

        perPort.TryGetValue(port, out int mine);
        if (mine >= maxPerPort)
        {
            counters.Drop(GatewayDrop.GuestFlowLimit);
            return false;
        }

        perPort[port] = mine + 1;
        Count++;
        return true;
    }

    /// <summary>Ends one flow admitted for <paramref name="port"/>.</summary>
    public void Release(int port)
    {
        if (perPort.TryGetValue(port, out int mine))
        {
            if (mine <= 1)
            {
                perPort.Remove(port);
            }
            else
            {
                perPort[port] = mine - 1;
            }

            Count--;
        }
    }

    /// <summary>Flows held by the guest(s) on <paramref name="port"/>.</summary>
    public int CountFor(int port) => perPort.TryGetValue(port, out int n) ? n : 0;
}
