// Admission control for NAT flows: a table-wide limit and a per-guest limit.
//
// Theory of operation: every TCP, UDP and ICMP echo flow asks TryAdmit before it takes a host socket
// and calls Release when it ends. The per-guest limit (keyed by the guest's MAC) keeps one guest's
// SYN flood or port scan from using up the table, so other guests keep opening connections.
namespace Switchyard.UserNet;

public sealed class FlowLimiter
{
    private readonly GatewayCounters counters;
    private readonly int maxFlows;
    private readonly int maxPerGuest;
    private readonly Dictionary<ulong, int> perGuest = [];

    public FlowLimiter(GatewayOptions options, GatewayCounters counters)
    {
        ArgumentNullException.ThrowIfNull(options);
        maxFlows = options.MaxFlows;
        maxPerGuest = options.MaxFlowsPerGuest;
        this.counters = counters;
    }

    /// <summary>Flows admitted and not yet released.</summary>
    public int Count { get; private set; }

    /// <summary>Admits one more flow for <paramref name="guestMac"/>, or counts the drop and returns false.</summary>
    public bool TryAdmit(ulong guestMac)
    {
        if (Count >= maxFlows)
        {
            counters.Drop(GatewayDrop.FlowTableFull);
            return false;
        }

        perGuest.TryGetValue(guestMac, out int mine);
        if (mine >= maxPerGuest)
        {
            counters.Drop(GatewayDrop.GuestFlowLimit);
            return false;
        }

        perGuest[guestMac] = mine + 1;
        Count++;
        return true;
    }

    /// <summary>Ends one flow admitted for <paramref name="guestMac"/>.</summary>
    public void Release(ulong guestMac)
    {
        if (perGuest.TryGetValue(guestMac, out int mine))
        {
            if (mine <= 1)
            {
                perGuest.Remove(guestMac);
            }
            else
            {
                perGuest[guestMac] = mine - 1;
            }

            Count--;
        }
    }

    /// <summary>Flows held by <paramref name="guestMac"/>.</summary>
    public int CountFor(ulong guestMac) => perGuest.TryGetValue(guestMac, out int n) ? n : 0;
}
