// What a topology reload needs from a running network beyond adding and removing ports: taking its
// NAT gateway away and giving it a new one, without touching any other port. On the loop.
using Switchyard.Engine.Events;
using Switchyard.UserNet;

namespace Switchyard.Engine.Networks;

public sealed partial class Network
{
    /// <summary>Detaches and stops the gateway, if there is one; its leases, flows and forwards go with it. On the loop.</summary>
    public void RemoveGateway()
    {
        if (Gateway is { } gateway)
        {
            Gateway = null;
            Switch.RemovePort(gateway);
            gateway.Stop();
            Publish(EventTypes.PortRemoved, gateway, "the gateway is being reconfigured");
        }
    }

    /// <summary>Starts a gateway with <paramref name="options"/> (after <see cref="RemoveGateway"/>). Throws
    /// <see cref="HostNetworkException"/> naming the forwards that could not be opened; the gateway runs
    /// without them. On the loop.</summary>
    public void AddGateway(GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (Gateway is not null)
        {
            throw new InvalidOperationException($"network {Name} already has a gateway");
        }

        StartGateway(options);
    }
}
