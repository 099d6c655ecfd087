// The records of the UDP NAT: a flow key by value, an outbound flow, a forward and its inbound flows.
//
// Theory of operation: a flow is found by its key, a value (four fields, no allocation per lookup);
// the flow itself is a class allocated once when the flow opens and kept until it idles out. An
// outbound flow is a guest's (address, port) talking to one destination (address, port) through one
// connected host socket. A forward is one bound host socket; each host client (address, port) that
// sends to it gets an inbound flow, which the guest answers by addressing the source it was shown.
using Switchyard.Protocols;

namespace Switchyard.UserNet.Udp;

/// <summary>A UDP flow as the guest sees it: its address and port, and the address and port it talks to.</summary>
internal readonly record struct UdpFlowKey(IpAddr Guest, ushort GuestPort, IpAddr Remote, ushort RemotePort);

/// <summary>A guest-initiated flow on a connected host socket.</summary>
internal sealed class UdpFlow(UdpFlowKey key, ulong guestMac, int admittedPort, IHostDatagramSocket socket, long now)
{
    public UdpFlowKey Key { get; } = key;

    public ulong GuestMac { get; } = guestMac;

    /// <summary>The switch port the flow was admitted under (FlowLimiter key).</summary>
    public int AdmittedPort { get; } = admittedPort;

    public IHostDatagramSocket Socket { get; } = socket;

    public long LastActive { get; set; } = now;

    public long BytesFromGuest { get; set; }

    public long BytesToGuest { get; set; }
}

/// <summary>A UDP forward: a bound host socket and the clients it has heard from.</summary>
internal sealed class UdpForward(ForwardRule rule, IHostDatagramSocket socket, IpAddr guest)
{
    public ForwardRule Rule { get; } = rule;

    public IHostDatagramSocket Socket { get; } = socket;

    /// <summary>Where datagrams go: the rule's guest address, or the default guest.</summary>
    public IpAddr Guest { get; } = guest;

    public Dictionary<(IpAddr Address, ushort Port), InboundFlow> Clients { get; } = [];
}

/// <summary>One host client of a forward, as the guest sees it (Key.Remote is the source shown to the guest).</summary>
internal sealed class InboundFlow(UdpForward forward, IpAddr client, ushort clientPort, UdpFlowKey key, long now)
{
    public UdpForward Forward { get; } = forward;

    public IpAddr Client { get; } = client;

    public ushort ClientPort { get; } = clientPort;

    public UdpFlowKey Key { get; } = key;

    public long LastActive { get; set; } = now;

    public long BytesFromGuest { get; set; }

    public long BytesToGuest { get; set; }
}
