// The control API's wire model: one JSON object per line in each direction over DIR/control.sock.
//
// Requests name a command and its arguments; unknown fields are rejected so a typo in a script
// fails loudly instead of being ignored. Each command is one record (Engine/Commands), tied to its
// name by a JSON type discriminator, so the name is written once (the [JsonDerivedType] list below).
// Responses carry ok/error and one result object: one ControlResponse shape for every command, since
// the CLI's --json prints it as it comes and several commands share fields (message, forwards,
// capture). The commands and their fields are listed in docs/control-api.md.
using System.Text.Json.Serialization;
using Switchyard.Engine.Commands;

namespace Switchyard.Engine.Control;

/// <summary>
/// A control request: one record per command, in Switchyard.Engine.Commands, each with its fields and its
/// handler. The command's name is the JSON discriminator <c>"command"</c>, written once below; it may come
/// anywhere in the object. A field the command does not take is rejected like any unknown field.
/// Each record declares its fields in the order the single request record of old had them, so a request
/// is written byte for byte as before (ControlWireTests).
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "command")]
[JsonDerivedType(typeof(ShowCommand), "show")]
[JsonDerivedType(typeof(FdbCommand), "fdb")]
[JsonDerivedType(typeof(PortAddCommand), "port-add")]
[JsonDerivedType(typeof(PortDelCommand), "port-del")]
[JsonDerivedType(typeof(LeasesCommand), "leases")]
[JsonDerivedType(typeof(FlowsCommand), "flows")]
[JsonDerivedType(typeof(ForwardListCommand), "forward-list")]
[JsonDerivedType(typeof(ForwardAddCommand), "forward-add")]
[JsonDerivedType(typeof(ForwardDelCommand), "forward-del")]
[JsonDerivedType(typeof(PortSetCommand), "port-set")]
[JsonDerivedType(typeof(EventsCommand), "events")]
[JsonDerivedType(typeof(ReloadCommand), "reload")]
[JsonDerivedType(typeof(QemuArgsCommand), "qemu-args")]
[JsonDerivedType(typeof(CaptureCommand), "capture")]
[JsonDerivedType(typeof(CaptureStatsCommand), "capture-stats")]
public abstract record ControlRequest
{
    // Only this assembly declares commands: each must come with its handler.
    private protected ControlRequest()
    {
    }

    /// <summary>The command's name on the wire (its discriminator).</summary>
    [JsonIgnore]
    public string Command => ControlCommands.NameOf(GetType());

    /// <summary>Carries out the command in the daemon. Runs on a thread-pool thread; what touches the
    /// networks goes through <see cref="CommandContext.Loop"/>.</summary>
    internal abstract Task<ControlResponse> HandleAsync(CommandContext context);
}

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

    /// <summary>A failed request: <c>{"ok":false,"error":...}</c>.</summary>
    public static ControlResponse Fail(string error) => new(false, error);

    /// <summary>A request done, saying what it did: <c>{"ok":true,"message":...}</c>.</summary>
    public static ControlResponse Done(string message) => new(true, Message: message);
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
    WriteIndented = false,
    AllowOutOfOrderMetadataProperties = true)]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(ControlResponse))]
public sealed partial class ControlJson : JsonSerializerContext;
