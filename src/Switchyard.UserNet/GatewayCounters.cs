// Counters of one gateway: every drop has a reason (STYLE.md habit 12), every service counts its work.
//
// Theory of operation: only the gateway's loop writes (plain increments); other threads read with
// Volatile and see values at most a few packets stale. Names are the enum member in snake_case, as
// metrics and `switchyard show --json` print them. Each service owns a region of each enum; add new
// values at the end of your region.
using System.Text;

namespace Switchyard.UserNet;

/// <summary>Why the gateway dropped something a guest (or a host peer) sent.</summary>
public enum GatewayDrop
{
    // Gateway (frame and IP validation)
    EthernetMalformed,
    UnsupportedEtherType,
    IpMalformed,
    IpChecksumBad,
    IpFragment,
    IpExtensionHeader,
    IpSourceInvalid,
    UnsupportedProtocol,
    NotCarried,
    FrameTooLarge,

    // Link services (ARP, NDP, ICMP to the gateway, DHCP, DHCPv6, RA)
    ArpMalformed,
    IcmpMalformed,
    IcmpChecksumBad,
    NdpMalformed,
    DhcpMalformed,
    DhcpPoolExhausted,
    Dhcpv6Malformed,
    IcmpTypeUnsupported,
    DhcpMessageUnsupported,
    Dhcpv6MessageUnsupported,
    NeighbourTableFull,
    DhcpPortLeaseLimit,

    // TCP NAT
    TcpMalformed,
    TcpChecksumBad,
    TcpNoFlow,
    TcpOutOfWindow,
    TcpBufferFull,
    TcpConnectFailed,
    TcpHostError,
    TcpToOwnListener,
    TcpRelayPortBudget,
    TcpRelayGlobalBudget,

    // UDP NAT, DNS, ICMP echo
    UdpMalformed,
    UdpChecksumBad,
    UdpSendFailed,
    DnsMalformed,
    DnsNoUpstream,
    DnsUpstreamReplyInvalid,
    PingNotPermitted,
    PingSendFailed,
    UdpReplyTooBig,
    DnsPendingFull,
    PingReplyInvalid,
    UdpToOwnListener,

    // Flow table (shared)
    FlowTableFull,
    GuestFlowLimit,
    Restricted,
    NeighbourUnknown,
}

/// <summary>Work the gateway did, for metrics and tests.</summary>
public enum GatewayEvent
{
    // Gateway
    FramesFromGuests,
    FramesToGuests,
    FramesNotForGateway,

    // Link services
    ArpReplies,
    ArpRequestsSent,
    NeighbourAdvertisements,
    RouterAdvertisements,
    EchoRepliesFromGateway,
    DhcpOffers,
    DhcpAcks,
    DhcpNaks,
    DhcpReleases,
    Dhcpv6Replies,
    NeighbourSolicitationsSent,
    DhcpDeclines,
    DhcpForOtherServer,
    Dhcpv6Advertises,
    Dhcpv6ForOtherServer,
    NdpIgnored,

    // TCP NAT
    TcpFlowsOpened,
    TcpFlowsClosed,
    TcpFlowsReset,
    TcpRetransmits,
    TcpFastRetransmits,
    TcpZeroWindowProbes,
    TcpForwardsAccepted,

    // UDP NAT, DNS, ICMP echo
    UdpFlowsOpened,
    UdpFlowsExpired,
    DnsQueriesForwarded,
    DnsRepliesReturned,
    PingsForwarded,
    PingRepliesReturned,
    UdpForwardsReceived,
    DnsServerFailuresReturned,
    DnsRetries,
    PingFlowsOpened,

    // A port left the switch: the flows its guest opened were closed with it (TCP and UDP).
    FlowsClosedPortGone,
}

public sealed class GatewayCounters
{
    private static readonly string[] DropNames = NamesOf<GatewayDrop>();
    private static readonly string[] EventNames = NamesOf<GatewayEvent>();

    private readonly long[] drops = new long[DropNames.Length];
    private readonly long[] events = new long[EventNames.Length];

    /// <summary>Counts one drop; on the loop.</summary>
    public void Drop(GatewayDrop reason) => drops[(int)reason]++;

    /// <summary>Counts one event; on the loop.</summary>
    public void Count(GatewayEvent what, long n = 1) => events[(int)what] += n;

    public long Drops(GatewayDrop reason) => Volatile.Read(ref drops[(int)reason]);

    public long Events(GatewayEvent what) => Volatile.Read(ref events[(int)what]);

    public long TotalDrops
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < drops.Length; i++)
            {
                sum += Volatile.Read(ref drops[i]);
            }

            return sum;
        }
    }

    /// <summary>Nonzero drops by snake_case name.</summary>
    public Dictionary<string, long> DropSnapshot() => Snapshot(drops, DropNames);

    /// <summary>Nonzero events by snake_case name.</summary>
    public Dictionary<string, long> EventSnapshot() => Snapshot(events, EventNames);

    public static string NameOf(GatewayDrop reason) => DropNames[(int)reason];

    public static string NameOf(GatewayEvent what) => EventNames[(int)what];

    private static Dictionary<string, long> Snapshot(long[] values, string[] names)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < values.Length; i++)
        {
            long v = Volatile.Read(ref values[i]);
            if (v != 0)
            {
                result[names[i]] = v;
            }
        }

        return result;
    }

    private static string[] NamesOf<T>()
        where T : struct, Enum
    {
        T[] values = Enum.GetValues<T>();
        var names = new string[values.Length];
        foreach (T value in values)
        {
            names[Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture)] = SnakeCase(value.ToString());
        }

        return names;
    }

    private static string SnakeCase(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 8);
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            if (char.IsUpper(c) && i > 0 && (char.IsLower(pascal[i - 1]) || char.IsDigit(pascal[i - 1])))
            {
                sb.Append('_');
            }

            sb.Append(char.ToLowerInvariant(c));
        }

        return sb.ToString();
    }
}
