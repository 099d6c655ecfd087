// `qemu-args`: the QEMU arguments for one more guest on a network of this daemon (docs/deploy.md).
// The daemon answers because it knows the ports and their socket paths; the arguments themselves come
// from QemuArgsBuilder, a pure function.
using Switchyard.Core.Config;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Engine.Networks;

namespace Switchyard.Engine;

public sealed partial class Daemon
{
    /// <summary>Answers a qemu-args request: <c>qemuArgs</c> (one word each) and <c>message</c> (one shell line). On the loop.</summary>
    private ControlResponse QemuArgsOnLoop(ControlRequest request)
    {
        // No network named: the only one, else the default network.
        Network network = FindNetwork(request.Network ?? (networks.Count == 1 ? networks[0].Name : null));
        var ports = network.Attachments.Select(a => a.Config).ToList();
        try
        {
            IReadOnlyList<string> args = QemuArgsBuilder.Build(
                network.Name, ports, new QemuArgsOptions(request.Kind, request.Name, request.Queues, request.Memory, request.Port));
            return new ControlResponse(true, Message: QemuArgsBuilder.ToShell(args), QemuArgs: args);
        }
        catch (ConfigException ex)
        {
            return new ControlResponse(false, ex.Message);
        }
    }
}
