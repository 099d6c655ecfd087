// A host-to-guest port forward: QEMU's hostfwd=tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT.
using Switchyard.Protocols;

namespace Switchyard.UserNet;

public enum ForwardProtocol
{
    Tcp,
    Udp,
}

/// <summary>One forward. <see cref="HostAddress"/> unset (None) means every address of both families
/// (listening on [::] with v4-mapped addresses accepted); <see cref="GuestAddress"/> unset means the
/// gateway's first DHCP address (dhcpstart), as in QEMU.</summary>
public sealed record ForwardRule(ForwardProtocol Protocol, IpAddr HostAddress, ushort HostPort, IpAddr GuestAddress, ushort GuestPort)
{
    /// <summary>The rule in hostfwd syntax: "tcp:127.0.0.1:2222-10.0.2.15:22", "udp:[::1]:53-:53".</summary>
    public override string ToString()
    {
        string proto = Protocol == ForwardProtocol.Tcp ? "tcp" : "udp";
        return $"{proto}:{Format(HostAddress)}:{HostPort}-{Format(GuestAddress)}:{GuestPort}";
    }

    /// <summary>Key of the host side: two rules with the same key cannot coexist.</summary>
    public (ForwardProtocol, IpAddr, ushort) HostKey => (Protocol, HostAddress, HostPort);

    private static string Format(IpAddr address) =>
        address == IpAddr.None ? string.Empty : address.IsV4 ? address.ToString() : $"[{address}]";
}
