// A read-only picture of a running daemon, taken in one pass on its event loop: every network with
// its ports, counters, forwarding database, gateway (leases, forwards, flows) and vhost-user rings.
//
// Theory of operation: Daemon.SnapshotAsync builds it inside one loop.InvokeAsync, so it is
// consistent (no port counted twice or missed while it comes and goes) and never touches loop state
// from another thread. It is immutable and plain data: Switchyard.Web renders it as Prometheus text
// (/metrics) and as JSON (/api/state) for the web view. Counter dictionaries hold every reason and
// event, zeros included, so a metric series exists from the first scrape on.
using Switchyard.Engine.Control;

namespace Switchyard.Engine.Metrics;

public sealed record DaemonSnapshot(
    DateTimeOffset TakenAt,
    DateTimeOffset StartedAt,
    double UptimeSeconds,
    string RunDirectory,
    IReadOnlyList<NetworkSnapshot> Networks);

/// <summary>One network. <c>SwitchCounters</c> uses the names of <c>switchyard show</c>
/// (flooded, unicast_forwarded, ..., fdb_entries, ports_closed_by_peer).</summary>
public sealed record NetworkSnapshot(
    string Name,
    bool Hub,
    IReadOnlyList<AttachmentInfo> Attachments,
    IReadOnlyList<PortSnapshot> Ports,
    IReadOnlyDictionary<string, long> SwitchCounters,
    int FdbEntries,
    IReadOnlyDictionary<string, long> ClosedPortDrops,
    GatewaySnapshot? Gateway,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>>? ClosedPortRules = null);

/// <summary>One port on a network's switch. <c>Macs</c> are the addresses the switch learned on it;
/// <c>Addresses</c> and <c>Hostnames</c> come from the gateway's DHCP leases of those MACs (for the
/// gateway's own port: its MAC and addresses). <c>Queues</c> and <c>Features</c> are set for
/// vhost-user ports only. <c>LinkUp</c> is false while the port is set down (<c>port set --link down</c>).
/// <c>Rules</c> is set for ports that count each rule their peer can break (vhost-user: virtqueue, net_tx, net_rx,
/// vhost_user, guest_memory), every rule by name, zeros included.</summary>
public sealed record PortSnapshot(
    string Name,
    string Kind,
    string Peer,
    string Vlan,
    long RxFrames,
    long RxBytes,
    long TxFrames,
    long TxBytes,
    IReadOnlyDictionary<string, long> Drops,
    IReadOnlyList<string> Macs,
    IReadOnlyList<string> Addresses,
    IReadOnlyList<string> Hostnames,
    IReadOnlyList<QueueSnapshot>? Queues = null,
    ulong? Features = null,
    bool LinkUp = true,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>>? Rules = null);

/// <summary>One vhost-user ring the front-end started or enabled (see Switchyard.Ports.VhostUser.VhostUserQueueState).</summary>
public sealed record QueueSnapshot(int Index, string Direction, bool Started, bool Enabled, int Size, int NextAvail, int UsedIdx, bool Broken);

/// <summary>A network's NAT gateway: its address plan, leases, forwards, live flows by protocol
/// (tcp, udp, icmp), and every drop and event counter by snake_case name.</summary>
public sealed record GatewaySnapshot(
    string Port,
    string Mac,
    string Network,
    string Host,
    string Dns,
    string DhcpStart,
    string? Network6,
    string? Host6,
    string? Dns6,
    int Mtu,
    bool Restrict,
    IReadOnlyList<LeaseRow> Leases,
    IReadOnlyList<ForwardRow> Forwards,
    IReadOnlyDictionary<string, int> Flows,
    IReadOnlyDictionary<string, long> Drops,
    IReadOnlyDictionary<string, long> Events);
