// `port-del`: a port (or a listener with its connections) removed from a running network.
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Engine.Networks;

namespace Switchyard.Engine.Commands;

/// <param name="Network">The network (null: the default network).</param>
/// <param name="Name">The port or listener name.</param>
public sealed record PortDelCommand(string? Network = null, string? Name = null) : ControlRequest
{
    internal override Task<ControlResponse> HandleAsync(CommandContext context) => context.Loop.InvokeAsync(() => PortDel(context));

    private ControlResponse PortDel(CommandContext context)
    {
        Network network = context.FindNetwork(Network);
        if (string.IsNullOrEmpty(Name))
        {
            return ControlResponse.Fail("port-del needs a port name");
        }

        if (network.IsGatewayPort(Name))
        {
            // The gateway is part of the network's configuration, not a port anyone attached: removing its
            // port would leave a network whose DHCP, DNS and NAT silently stopped (issue 10).
            return ControlResponse.Fail(GatewayNotDeletable(network.Name));
        }

        return network.RemovePort(Name)
            ? ControlResponse.Done($"removed {Name} from {network.Name}")
            : ControlResponse.Fail($"network {network.Name} has no port named '{Name}'");
    }

    private static string GatewayNotDeletable(string network) =>
        $"port {Defaults.GatewayPortName} of network {network} is its NAT gateway and cannot be removed with port del; " +
        "remove `gateway:` from the network in the topology file and run `switchyard reload`" +
        (network == Defaults.NetworkName ? " (or start `switchyard up --no-gateway`)" : string.Empty);
}
