// The host resources a port takes, as plain values.
//
// Theory of operation: a port binds sockets, dials unix sockets, or attaches to interfaces. Each spec
// kind lists what it takes (NetdevSpec.HostClaims); the topology's checks compare these claims with
// each other (two ports on one socket address, one tap backing two ports) and with the host (a
// listener's directory exists, an interface is a tap) in one place, whatever the kind. A new kind
// reuses these claims; a resource of a new sort is a new record here and a rule in those checks.
using System.Net.Sockets;

namespace Switchyard.Ports;

/// <summary>One host resource a port takes (see the file header).</summary>
public abstract record HostClaim
{
    private protected HostClaim()
    {
    }
}

/// <summary>A socket address Switchyard binds: a listener, or a datagram socket's local address.
/// <paramref name="Protocol"/> (Tcp or Udp) applies to an inet address; <paramref name="What"/> names the
/// socket in messages ("stream listener 127.0.0.1:5000").</summary>
public sealed record BoundSocket(NetdevAddress Address, ProtocolType Protocol, string What) : HostClaim;

/// <summary>A unix socket Switchyard connects to; the QEMU server there accepts one connection.</summary>
public sealed record DialledSocket(string Path) : HostClaim;

/// <summary>A host interface the port attaches to (a tap), by name.</summary>
public sealed record HostInterface(string IfName) : HostClaim;

/// <summary>An interface the port creates inside a network namespace; <paramref name="Namespace"/> says
/// which ("netns NAME" or "the namespace of pid PID").</summary>
public sealed record NamespaceInterface(string Namespace, string IfName) : HostClaim;
