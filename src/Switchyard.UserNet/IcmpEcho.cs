// ICMP and ICMPv6 echo to the outside through unprivileged ping sockets.
// (Contract stub: the UDP/DNS/ICMP work replaces the bodies.)
using Switchyard.Core.Loop;

namespace Switchyard.UserNet;

public sealed class IcmpEcho : IHostSocketOwner
{
    private readonly GatewayContext context;
    private readonly FlowLimiter limiter;

    public IcmpEcho(GatewayContext context, FlowLimiter limiter)
    {
        this.context = context;
        this.limiter = limiter;
    }

    /// <summary>An ICMP echo request (v4 type 8 or v6 type 128) to an address outside the gateway.</summary>
    public void OnEchoRequest(in GuestPacket packet)
    {
        _ = limiter;
        context.Counters.Drop(GatewayDrop.PingSendFailed);
    }

    public void AddFlows(List<FlowInfo> into)
    {
    }

    public void OnHostIo(IHostSocket socket, IoEvents events)
    {
    }

    public void Stop()
    {
    }
}
