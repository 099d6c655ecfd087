// The control API's wire model: one JSON object per line in each direction over DIR/control.sock.
//
// Requests name a command and its arguments; unknown fields are rejected so a typo in a script
// fails loudly instead of being ignored. Responses carry ok/error and one result object. The
// commands and their fields are listed in docs/control-api.md.
using System.Text.Json.Serialization;

namespace Switchyard.Engine.Control;

public sealed record ControlRequest(
    string Command,
    string? Network = null,
    string? Name = null,
    string? Netdev = null,
    int? Vlan = null,
    string? Trunk = null,
    int? NativeVlan = null,
    string? Rule = null,
    string? Protocol = null,
    int? HostPort = null,
    string? Link = null,
    string? Kind = null,
    int? Queues = null,
    string? Memory = null,
    string? Port = null,
    string? Target = null,
    long? Count = null,
    double? Duration = null,
    int? Snaplen = null,
    int? CaptureId = null);

public sealed record ControlResponse(
    bool Ok,
    string? Error = null,
    string? Message = null,
    ShowResult? Show = null,
    IReadOnlyList<FdbRow>? Fdb = null,
    IReadOnlyList<LeaseRow>? Leases = null,
    IReadOnlyList<FlowRow>? Flows = null,
    IReadOnlyList<ForwardRow>? Forwards = null,
    IReadOnlyList<string>? Changes = null,
    IReadOnlyList<string>? QemuArgs = null,
    CaptureInfo? Capture = null)
{
    /// <summary>
    /// A streaming command's body (capture, events): after the JSON answer line, the server hands the
    /// connection's stream to this function and closes the connection when it returns. The token is
    /// cancelled when the daemon stops; a client that hangs up makes writes fail (IOException).
    /// Never serialised.
    /// </summary>
    [JsonIgnore]
    public Func<Stream, CancellationToken, Task>? Streaming { get; init; }
}

/// <summary>A `show` answer. <c>Daemon</c> holds process-wide figures: the event loop's live registrations
/// (<c>loop_registrations</c>) and the ones it dropped for unhandled hang-ups (<c>loop_hangups_dropped</c>),
/// guest-memory mappings held (<c>guest_mappings</c>), their limit (<c>guest_mappings_limit</c>) and the ones refused
/// past it (<c>guest_mappings_refused</c>). <c>Resources</c> holds the daemon-wide budgets and their counters
/// (descriptor limit, connections, control clients; docs/control-api.md).</summary>
public sealed record ShowResult(string RunDirectory, IReadOnlyList<NetworkInfo> Networks, IReadOnlyDictionary<string, long>? Daemon = null, IReadOnlyDictionary<string, long>? Resources = null);

public sealed record NetworkInfo(
    string Name,
    bool Hub,
    IReadOnlyList<AttachmentInfo> Attachments,
    IReadOnlyList<PortInfo> Ports,
    IReadOnlyDictionary<string, long> Counters,
    IReadOnlyDictionary<string, long> ClosedPortDrops,
    GatewayInfo? Gateway = null,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>>? ClosedPortRules = null);

/// <summary>A network's NAT gateway in a `show` answer: its address plan and its counters (nonzero
/// drops by reason, nonzero events, snake_case names as in GatewayCounters).</summary>
public sealed record GatewayInfo(
    string Network,
    string Host,
    string Dns,
    string DhcpStart,
    bool Ipv6,
    string? Network6,
    string? Host6,
    string? Dns6,
    int Mtu,
    bool Restrict,
    int Forwards,
    IReadOnlyDictionary<string, long> Drops,
    IReadOnlyDictionary<string, long> Events);

/// <summary>A DHCP lease. <c>ExpiresInSeconds</c> is negative once the lease has run out.</summary>
public sealed record LeaseRow(string Network, string Mac, string Address, string? Hostname, DateTimeOffset Expires, double ExpiresInSeconds, bool Active);

/// <summary>A live NAT flow: the guest's side and the remote side, as the user reads them.</summary>
public sealed record FlowRow(
    string Network, string Protocol, string Guest, string Remote, string State, bool Inbound, long BytesFromGuest, long BytesToGuest, double IdleSeconds);

/// <summary>An open port forward. <c>HostAddress</c> is null for every host address; <c>GuestAddress</c>
/// is the address the gateway forwards to (the first DHCP address when the rule names none).</summary>
public sealed record ForwardRow(string Network, string Rule, string Protocol, string? HostAddress, int HostPort, string GuestAddress, int GuestPort);

public sealed record AttachmentInfo(string Name, string Netdev, string Vlan, string State);

public sealed record PortInfo(
    string Name,
    string Kind,
    string Peer,
    string Vlan,
    long RxFrames,
    long RxBytes,
    long TxFrames,
    long TxBytes,
    IReadOnlyDictionary<string, long> Drops,
    bool LinkUp = true,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>>? Rules = null);

public sealed record FdbRow(string Network, int Vlan, string Mac, string Port, double AgeSeconds);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    WriteIndented = false)]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(ControlResponse))]
public sealed partial class ControlJson : JsonSerializerContext;
