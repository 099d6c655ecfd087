// `port-set`: a live port's link set up or down, or its VLAN membership changed.
using Switchyard.Core.Config;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Engine.Networks;

namespace Switchyard.Engine.Commands;

/// <param name="Network">The network (null: the default network).</param>
/// <param name="Name">The port, as `show` lists it.</param>
/// <param name="Link">up or down.</param>
public sealed record PortSetCommand(
    string? Network = null, string? Name = null, int? Vlan = null, string? Trunk = null, int? NativeVlan = null, string? Link = null) : ControlRequest
{
    internal override Task<ControlResponse> HandleAsync(CommandContext context) => context.Loop.InvokeAsync(() => PortSet(context));

    // On the loop.
    private ControlResponse PortSet(CommandContext context)
    {
        Network network = context.FindNetwork(Network);
        if (string.IsNullOrEmpty(Name))
        {
            return ControlResponse.Fail("port-set needs the port's name (see 'switchyard show')");
        }

        bool changeVlan = Vlan is not null || Trunk is not null || NativeVlan is not null;
        if (Link is null && !changeVlan)
        {
            return ControlResponse.Fail("port-set needs something to change: link (up or down), vlan, or trunk (with nativeVlan)");
        }

        bool? up = Link switch
        {
            null => null,
            "up" => true,
            "down" => false,
            _ => throw new ConfigException([$"link must be 'up' or 'down', not '{Link}'"]),
        };

        // Validate the whole request before changing anything.
        VlanConfig? vlan = changeVlan ? VlanConfig.FromFlags(Vlan, Trunk, NativeVlan) : null;
        var said = new List<string>();
        if (vlan is not null)
        {
            network.SetVlan(Name, vlan);
            said.Add($"moved to {network.Switch.MembershipOf(network.Switch.FindPort(Name)!)}");
        }

        if (up is bool state)
        {
            said.Add(network.SetLinkUp(Name, state) ? $"link {Link}" : $"link already {Link}");
        }

        return ControlResponse.Done($"network {network.Name}, port {Name}: {string.Join("; ", said)}");
    }
}
