// ARP, NDP, ICMP echo to the gateway itself, DHCPv4, RA and stateless DHCPv6.
// (Contract stub: the link-services work replaces the bodies; the signatures are what NatGateway calls.)
using Switchyard.Protocols;

namespace Switchyard.UserNet;

public sealed class LinkServices : INeighbours
{
    private readonly GatewayContext context;

    public LinkServices(GatewayContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        this.context = context;
    }

    /// <summary>Arms timers (unsolicited RAs). On the loop.</summary>
    public void Start()
    {
    }

    /// <summary>Cancels timers. On the loop.</summary>
    public void Stop()
    {
    }

    /// <summary>An ARP packet (the Ethernet payload) from <paramref name="sourceMac"/>.</summary>
    public void OnArp(ulong sourceMac, ReadOnlySpan<byte> arp)
    {
        _ = sourceMac;
        _ = arp;
        _ = context;
    }

    /// <summary>Handles what the link services own: ICMP/ICMPv6 to the gateway's addresses (echo, NDP),
    /// DHCP (UDP 67), DHCPv6 (UDP 547). True when the packet was consumed (answered or dropped and counted).</summary>
    public bool TryHandle(in GuestPacket packet) => false;

    /// <summary>Remembers that <paramref name="address"/> is at <paramref name="mac"/> (from any valid packet).</summary>
    public void Learn(ulong mac, IpAddr address)
    {
        _ = mac;
        _ = address;
    }

    public bool TryResolve(IpAddr address, out ulong mac)
    {
        mac = 0;
        return false;
    }

    /// <summary>The DHCP leases, for `switchyard leases`.</summary>
    public IReadOnlyList<LeaseInfo> Leases() => [];
}
