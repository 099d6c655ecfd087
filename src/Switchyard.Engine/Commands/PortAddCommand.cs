// `port-add`: a port added to a running network (attach and exec send it too, with a netns spec).
using Switchyard.Core.Config;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Engine.Networks;

namespace Switchyard.Engine.Commands;

/// <param name="Network">The network (null: the default network).</param>
/// <param name="Name">The port's name.</param>
/// <param name="Netdev">Any port spec (docs/ports.md).</param>
public sealed record PortAddCommand(
    string? Network = null, string? Name = null, string? Netdev = null, int? Vlan = null, string? Trunk = null, int? NativeVlan = null) : ControlRequest
{
    internal override Task<ControlResponse> HandleAsync(CommandContext context)
    {
        if (string.IsNullOrEmpty(Name) || string.IsNullOrEmpty(Netdev))
        {
            return Task.FromResult(ControlResponse.Fail("port-add needs a name and a netdev spec"));
        }

        PortConfig port;
        try
        {
            port = PortConfig.Create(Name, Netdev, VlanConfig.FromFlags(Vlan, Trunk, NativeVlan));
        }
        catch (ConfigException ex)
        {
            return Task.FromResult(ControlResponse.Fail(ex.Message));
        }

        return context.Loop.InvokeAsync(() =>
        {
            Network network = context.FindNetwork(Network);
            Attachment a = network.AddPort(port);
            CommandLog.PortAdded(context.Logger, network.Name, a.Name, a.Config.Netdev.ToString());
            string? hint = QemuArgsBuilder.Hint(port.Netdev);
            return ControlResponse.Done(hint is null ? $"added {a.Name}: {a.Describe()}" : $"added {a.Name}: {a.Describe()}\nQEMU: {hint}");
        });
    }
}
