// UDP flows, DNS forwarding and UDP forwards.
// (Contract stub: the UDP/DNS work replaces the bodies; the signatures are what NatGateway calls.)
using Switchyard.Core.Loop;

namespace Switchyard.UserNet;

public sealed class UdpNat : IHostSocketOwner
{
    private readonly GatewayContext context;
    private readonly FlowLimiter limiter;

    public UdpNat(GatewayContext context, FlowLimiter limiter)
    {
        this.context = context;
        this.limiter = limiter;
    }

    /// <summary>A UDP datagram from a guest, except DHCP/DHCPv6 (link services): DNS to the DNS
    /// address is forwarded upstream, the rest is carried on a flow's host socket.</summary>
    public void OnDatagram(in GuestPacket packet)
    {
        _ = limiter;
        context.Counters.Drop(GatewayDrop.UdpSendFailed);
    }

    /// <summary>Opens a forward's socket. Throws HostNetworkException.</summary>
    public void AddForward(ForwardRule rule) => throw new HostNetworkException($"UDP forwards are not built yet ({rule})");

    public bool RemoveForward(ForwardRule rule) => false;

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
