// JSON of /api/state: the daemon snapshot in the control API's style (camelCase, nulls left out).
using System.Text.Json.Serialization;
using Switchyard.Engine.Metrics;

namespace Switchyard.Web;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = false)]
[JsonSerializable(typeof(DaemonSnapshot))]
internal sealed partial class WebJson : JsonSerializerContext;
