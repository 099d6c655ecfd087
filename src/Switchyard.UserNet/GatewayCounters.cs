// Counters of one gateway: every drop has a reason (STYLE.md habit 12), every service counts its work.
//
// Theory of operation: only the gateway's loop writes (plain increments); other threads read with
// Volatile and see values at most a few packets stale. Names are the enum member in snake_case, as
// metrics and `switchyard show --json` print them. Each service owns a region of each enum; add new
// values at the end of your region.
using Switchyard.Core.Counters;

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

/// <summary>The gateway's drops and events: two <see cref="CounterSet{T}"/>s, named by their enum members.</summary>
public sealed class GatewayCounters
{
    private readonly CounterSet<GatewayDrop> drops = new("gateway_drops");
    private readonly CounterSet<GatewayEvent> events = new("gateway_events");

    /// <summary>Counts one drop; on the loop.</summary>
    public void Drop(GatewayDrop reason) => drops.Increment(reason);

    /// <summary>Counts one event; on the loop.</summary>
    public void Count(GatewayEvent what, long n = 1) => events.Add(what, n);

    public long Drops(GatewayDrop reason) => drops[reason];

    public long Events(GatewayEvent what) => events[what];

    public long TotalDrops => drops.Total;

    /// <summary>Nonzero drops by snake_case name.</summary>
    public Dictionary<string, long> DropSnapshot() => drops.Snapshot(includeZeros: false);

    /// <summary>Nonzero events by snake_case name.</summary>
    public Dictionary<string, long> EventSnapshot() => events.Snapshot(includeZeros: false);

    /// <summary>Every drop, zeros included, by snake_case name.</summary>
    public Dictionary<string, long> AllDrops() => drops.Snapshot(includeZeros: true);

    /// <summary>Every event, zeros included, by snake_case name.</summary>
    public Dictionary<string, long> AllEvents() => events.Snapshot(includeZeros: true);

    public static string NameOf(GatewayDrop reason) => CounterNames<GatewayDrop>.Name(reason);

    public static string NameOf(GatewayEvent what) => CounterNames<GatewayEvent>.Name(what);
}
