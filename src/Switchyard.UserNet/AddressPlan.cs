// Which guest destinations the gateway carries to the host, and which addresses guests see.
//
// Theory of operation: guests address the outside world directly (NAT keeps the remote address);
// the gateway's own address stands for the host's loopback (as in slirp) unless HostLoopback is off;
// the DNS address only answers DNS (UDP and TCP port 53, handled by the DNS forwarder). Packets to
// other guests, multicast, broadcast or loopback are never carried out. Toward a guest, a forwarded
// connection shows the client's real address, except a loopback client (or one of the other family),
// which shows as the gateway, so the guest can answer it.
using Switchyard.Protocols;

namespace Switchyard.UserNet;

public enum OutboundVerdict
{
    /// <summary>Carry to the host at the mapped address.</summary>
    Carry,

    /// <summary>The gateway's DNS address: only the DNS forwarder handles it.</summary>
    DnsAddress,

    /// <summary>Not carried: loopback, multicast, broadcast, unspecified, another guest, or restricted.</summary>
    Refuse,
}

public sealed class AddressPlan
{
    private static readonly IpAddr LoopbackV4 = IpAddr.FromV4(0x7F00_0001);
    private static readonly IpAddr LoopbackV6 = new(0, 1);

    private readonly GatewayOptions options;

    public AddressPlan(GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.options = options;
    }

    /// <summary>True for the gateway's own addresses (host and DNS, both families).</summary>
    public bool IsGatewayAddress(IpAddr address) =>
        address == options.Host || address == options.Dns
        || (options.Ipv6 && (address == options.Host6 || address == options.Dns6));

    /// <summary>The gateway address of the family of <paramref name="like"/>.</summary>
    public IpAddr GatewayFor(IpAddr like) => like.IsV4 ? options.Host : options.Host6;

    /// <summary>The DNS address of the family of <paramref name="like"/>.</summary>
    public IpAddr DnsFor(IpAddr like) => like.IsV4 ? options.Dns : options.Dns6;

    /// <summary>Where a guest's packet to <paramref name="destination"/> goes on the host.</summary>
    public OutboundVerdict MapOutbound(IpAddr destination, out IpAddr hostDestination)
    {
        hostDestination = destination;
        if (destination == options.Dns || (options.Ipv6 && destination == options.Dns6))
        {
            return OutboundVerdict.DnsAddress;
        }

        if (options.Restrict)
        {
            return OutboundVerdict.Refuse;
        }

        if (destination == options.Host || (options.Ipv6 && destination == options.Host6))
        {
            hostDestination = destination.IsV4 ? LoopbackV4 : LoopbackV6;
            return options.HostLoopback ? OutboundVerdict.Carry : OutboundVerdict.Refuse;
        }

        if (destination.IsUnspecified || destination.IsLoopback || destination.IsMulticastOrBroadcast || destination.IsLinkLocalV6
            || (!destination.IsV4 && !options.Ipv6)
            || IsGuestSide(destination))
        {
            return OutboundVerdict.Refuse;
        }

        return OutboundVerdict.Carry;
    }

    /// <summary>True for addresses on the guests' own networks (including the v4 broadcast of the network).</summary>
    public bool IsGuestSide(IpAddr address) =>
        options.Network.Contains(address) || (options.Ipv6 && options.Network6.Contains(address));

    /// <summary>The source a forwarded connection from <paramref name="client"/> shows to a guest at
    /// an address of the family of <paramref name="guest"/>: the real client, unless it is loopback or of
    /// the other family, in which case the gateway's address.</summary>
    public IpAddr GuestSourceFor(IpAddr client, IpAddr guest) =>
        client.IsLoopback || client.IsUnspecified || client.IsV4 != guest.IsV4 || IsGuestSide(client) ? GatewayFor(guest) : client;

    /// <summary>The guest address of a forward whose rule names none: the first DHCP address.</summary>
    public IpAddr DefaultGuest => options.DhcpStart;
}
