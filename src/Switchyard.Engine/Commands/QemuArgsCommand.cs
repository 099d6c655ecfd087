// `qemu-args`: the QEMU arguments for one more guest on a network of this daemon (docs/deploy.md).
// The daemon answers because it knows the ports and their socket paths; the arguments themselves come
// from QemuArgsBuilder, a pure function.
using Switchyard.Core.Config;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Engine.Networks;

namespace Switchyard.Engine.Commands;

/// <param name="Network">The network (null: the only one, else the default network).</param>
/// <param name="Name">The VM's name.</param>
/// <param name="Kind">vhost-user, stream or dgram.</param>
public sealed record QemuArgsCommand(
    string? Network = null, string? Name = null, string? Kind = null, int? Queues = null, string? Memory = null, string? Port = null) : ControlRequest
{
    internal override Task<ControlResponse> HandleAsync(CommandContext context) => context.Loop.InvokeAsync(() => QemuArgsOnLoop(context));

    /// <summary>Answers <c>qemuArgs</c> (one word each) and <c>message</c> (one shell line). On the loop.</summary>
    private ControlResponse QemuArgsOnLoop(CommandContext context)
    {
        // No network named: the only one, else the default network.
        Network network = context.FindNetwork(Network ?? (context.Networks.Count == 1 ? context.Networks[0].Name : null));
        var ports = network.Attachments.Select(a => a.Config).ToList();
        try
        {
            IReadOnlyList<string> args = QemuArgsBuilder.Build(
                network.Name, ports, new QemuArgsOptions(Kind, Name, Queues, Memory, Port));
            return new ControlResponse(true, Message: QemuArgsBuilder.ToShell(args), QemuArgs: args);
        }
        catch (ConfigException ex)
        {
            return ControlResponse.Fail(ex.Message);
        }
    }
}
