// `reload`: re-read the daemon's topology file and apply what changed (Reloader).
using Switchyard.Engine.Control;

namespace Switchyard.Engine.Commands;

public sealed record ReloadCommand : ControlRequest
{
    internal override Task<ControlResponse> HandleAsync(CommandContext context) => context.Reloader.ReloadAsync();
}
