// TCP flows between guests and host sockets, and TCP forwards.
// (Contract stub: the TCP work replaces the bodies; the signatures are what NatGateway calls.)
using Switchyard.Core.Loop;

namespace Switchyard.UserNet;

public sealed class TcpNat : IHostSocketOwner
{
    private readonly GatewayContext context;
    private readonly FlowLimiter limiter;

    public TcpNat(GatewayContext context, FlowLimiter limiter)
    {
        this.context = context;
        this.limiter = limiter;
    }

    /// <summary>A TCP segment from a guest to any address but the gateway's own services.</summary>
    public void OnSegment(in GuestPacket packet)
    {
        _ = context;
        _ = limiter;
        context.Counters.Drop(GatewayDrop.TcpNoFlow);
    }

    /// <summary>Opens a forward's listener. Throws HostNetworkException.</summary>
    public void AddForward(ForwardRule rule) => throw new HostNetworkException($"TCP forwards are not built yet ({rule})");

    /// <summary>Closes a forward's listener (live connections stay). False if there is no such forward.</summary>
    public bool RemoveForward(ForwardRule rule) => false;

    /// <summary>Appends every live TCP flow.</summary>
    public void AddFlows(List<FlowInfo> into)
    {
    }

    public void OnHostIo(IHostSocket socket, IoEvents events)
    {
    }

    /// <summary>Closes every flow and listener. On the loop.</summary>
    public void Stop()
    {
    }
}
