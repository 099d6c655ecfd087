// `capture`: a streaming command; the answer line, then a pcap stream of a port or a network (docs/capture.md).
using Switchyard.Engine.Control;

namespace Switchyard.Engine.Commands;

/// <param name="Network">A network (alone: every frame entering it).</param>
/// <param name="Name">A port, on <paramref name="Network"/> or on whichever network has it.</param>
/// <param name="Target">A port or a network, whichever has that name.</param>
/// <param name="Count">End after this many frames.</param>
/// <param name="Duration">End after this many seconds.</param>
/// <param name="Snaplen">Bytes kept of each frame.</param>
public sealed record CaptureCommand(
    string? Network = null, string? Name = null, string? Target = null, long? Count = null, double? Duration = null, int? Snaplen = null) : ControlRequest
{
    internal override Task<ControlResponse> HandleAsync(CommandContext context) => context.Captures.CaptureAsync(this);
}
