// `capture-stats`: what a capture queued, wrote and dropped; the CLI asks once its stream ends.
using Switchyard.Engine.Control;

namespace Switchyard.Engine.Commands;

/// <param name="CaptureId">The id in the capture's answer.</param>
public sealed record CaptureStatsCommand(int? CaptureId = null) : ControlRequest
{
    internal override Task<ControlResponse> HandleAsync(CommandContext context) => Task.FromResult(context.Captures.CaptureStats(CaptureId));
}
