// The control API's wire model: one JSON object per line in each direction over DIR/control.sock.
//
// Requests name a command and its arguments; unknown fields are rejected so a typo in a script
// fails loudly instead of being ignored. Responses carry ok/error and one result object.
using System.Text.Json.Serialization;

namespace Switchyard.Engine.Control;

public sealed record ControlRequest(
    string Command,
    string? Network = null,
    string? Name = null,
    string? Netdev = null,
    int? Vlan = null,
    string? Trunk = null,
    int? NativeVlan = null);

public sealed record ControlResponse(
    bool Ok,
    string? Error = null,
    string? Message = null,
    ShowResult? Show = null,
    IReadOnlyList<FdbRow>? Fdb = null);

public sealed record ShowResult(string RunDirectory, IReadOnlyList<NetworkInfo> Networks);

public sealed record NetworkInfo(
    string Name,
    bool Hub,
    IReadOnlyList<AttachmentInfo> Attachments,
    IReadOnlyList<PortInfo> Ports,
    IReadOnlyDictionary<string, long> Counters,
    IReadOnlyDictionary<string, long> ClosedPortDrops);

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
    IReadOnlyDictionary<string, long> Drops);

public sealed record FdbRow(string Network, int Vlan, string Mac, string Port, double AgeSeconds);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    WriteIndented = false)]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(ControlResponse))]
public sealed partial class ControlJson : JsonSerializerContext;
