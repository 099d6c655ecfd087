// What every part of the gateway shares: options, the way out to the guests, the host, the loop.
//
// Theory of operation: NatGateway owns one GatewayContext and hands it to each service (link
// services: ARP/NDP/DHCP/RA; TCP NAT; UDP NAT, DNS and ICMP echo). All of them run on the gateway's
// event loop, so the context needs no locks. Frames toward guests are built in TxBuffer (one scratch
// buffer: a service builds a frame and sends it before it builds the next) and handed to Link.Send,
// which delivers them to the switch synchronously. Frames from guests are parsed by NatGateway into a
// GuestPacket, which points into the gateway's receive buffer: a different buffer, so a service may
// answer a packet while still reading it.
using Microsoft.Extensions.Logging;
using Switchyard.Core.Frames;
using Switchyard.Core.Host;
using Switchyard.Core.Loop;
using Switchyard.Protocols;

namespace Switchyard.UserNet;

/// <summary>Where the gateway's frames go: the switch, through the gateway's port.</summary>
public interface IGuestLink
{
    /// <summary>Sends one frame toward the guests; the span is not kept. GSO frames (offload.IsGso)
    /// are segmented by the switch for ports that cannot take them.</summary>
    void Send(ReadOnlySpan<byte> frame, in OffloadInfo offload);
}

/// <summary>Guest MAC lookup for packets the gateway starts (forwards, ICMP errors).</summary>
public interface INeighbours
{
    /// <summary>The MAC of <paramref name="address"/> if known. If not, a resolution (ARP request or
    /// neighbour solicitation) is sent (rate-limited) and false is returned; the caller retries later.</summary>
    bool TryResolve(IpAddr address, out ulong mac);
}

/// <summary>The shared state of one gateway. See the file header.</summary>
public sealed class GatewayContext
{
    /// <summary>Largest frame the gateway builds: a 64 KiB GSO frame plus headers.</summary>
    public const int TxBufferSize = 65536 + 128;

    public GatewayContext(GatewayOptions options, IGuestLink link, IHostNetwork host, IEventLoop loop, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        Link = link;
        Host = host;
        Loop = loop;
        Logger = logger;
        Plan = new AddressPlan(options);

        // Boxed once here: converting the ImmutableArray on every query would allocate per DNS query.
        configuredUpstreams = options.DnsUpstreams.IsDefaultOrEmpty ? null : options.DnsUpstreams;
    }

    public GatewayOptions Options { get; }

    public IGuestLink Link { get; }

    public IHostNetwork Host { get; }

    /// <summary>Timers and the clock (STYLE.md habit 13: tests pass a manual loop).</summary>
    public IEventLoop Loop { get; }

    public TimeProvider Clock => Loop.Clock;

    public ILogger Logger { get; }

    public AddressPlan Plan { get; }

    public GatewayCounters Counters { get; } = new();

    /// <summary>Asks for the gateway port's Flush at the end of this loop iteration (set by NatGateway).</summary>
    public Action? RequestFlush { get; set; }

    /// <summary>Set by NatGateway once the link services exist.</summary>
    public INeighbours Neighbours { get; set; } = NoNeighbours.Instance;

    /// <summary>Told on the loop when a DHCP lease is granted or renewed (ACK, Active true) or released
    /// (Active false). Control-plane observers (the event stream) subscribe; null when nobody listens.</summary>
    public Action<LeaseInfo>? LeaseChanged { get; set; }

    /// <summary>Where DNS queries go when Options.DnsUpstreams is empty.</summary>
    public IResolverSource? Resolvers { get; set; }

    /// <summary>The daemon's own bound endpoints, which no flow may reach (tests give each gateway its own).</summary>
    public OwnEndpoints OwnEndpoints { get; set; } = OwnEndpoints.Process;

    /// <summary>True when a flow to <paramref name="hostAddress"/>:<paramref name="port"/> on the host would
    /// reach one of the daemon's own listeners or bound sockets (exactly, or through a wildcard bind on an
    /// address of this host). Counted by the caller as to_own_listener. At flow setup, not per packet.</summary>
    public bool IsOwnEndpoint(OwnProtocol protocol, IpAddr hostAddress, ushort port) =>
        OwnEndpoints.Match(protocol, hostAddress.High, hostAddress.Low, port) switch
        {
            OwnEndpointMatch.Bound => true,
            OwnEndpointMatch.Wildcard => hostAddress.IsLoopback || Host.IsLocalAddress(hostAddress),
            _ => false,
        };

    /// <summary>Sends the guest an ICMP port unreachable for <paramref name="packet"/> (a UDP datagram the
    /// gateway will not carry), from the address the guest sent to.</summary>
    public void SendPortUnreachable(in GuestPacket packet)
    {
        bool v6 = packet.IsV6;
        int l4 = PacketWriter.L4Offset(v6);
        Span<byte> frame = TxBuffer;
        int length = IcmpBuilder.WritePortUnreachable(frame[l4..], packet.Ip, packet.Destination, packet.Source);
        int frameLength = PacketWriter.WriteEthernetAndIp(
            frame, packet.SourceMac, Options.Mac, packet.Destination, packet.Source,
            v6 ? PacketWriter.ProtocolIcmpV6 : PacketWriter.ProtocolIcmp, length, NextIpId());
        Link.Send(frame[..frameLength], OffloadInfo.None);
    }

    /// <summary>The one scratch buffer frames toward guests are built in.</summary>
    public byte[] TxBuffer { get; } = GC.AllocateArray<byte>(TxBufferSize, pinned: true);

    private readonly IReadOnlyList<DnsUpstream>? configuredUpstreams;
    private ushort ipIdentification;

    /// <summary>The DNS servers to use now: the configured upstreams, else the host's resolvers.</summary>
    public IReadOnlyList<DnsUpstream> CurrentUpstreams() => configuredUpstreams ?? Resolvers?.Upstreams ?? [];

    /// <summary>The next IPv4 identification for a datagram the gateway originates.</summary>
    public ushort NextIpId() => ++ipIdentification;

    private sealed class NoNeighbours : INeighbours
    {
        public static readonly NoNeighbours Instance = new();

        public bool TryResolve(IpAddr address, out ulong mac)
        {
            mac = 0;
            return false;
        }
    }
}

/// <summary>One IPv4 or IPv6 packet from a guest, validated by NatGateway: Ethernet and IP headers
/// parsed, the IPv4 header checksum verified, not a fragment, L4 bounded by the IP length.</summary>
public readonly ref struct GuestPacket
{
    public GuestPacket(ulong sourceMac, IpAddr source, IpAddr destination, byte protocol, byte ttl, ReadOnlySpan<byte> ip, ReadOnlySpan<byte> l4, bool l4ChecksumTrusted)
    {
        SourceMac = sourceMac;
        Source = source;
        Destination = destination;
        Protocol = protocol;
        Ttl = ttl;
        Ip = ip;
        L4 = l4;
        L4ChecksumTrusted = l4ChecksumTrusted;
    }

    public ulong SourceMac { get; }

    /// <summary>Port.Id of the switch port the frame came in on (EgressFrame.IngressPort): the key of the
    /// per-guest budgets (flows, leases, relay bytes), which a guest cannot forge as it can its addresses.</summary>
    public int IngressPort { get; init; }

    public IpAddr Source { get; }

    public IpAddr Destination { get; }

    /// <summary>IPv4 protocol or IPv6 next header (extension headers are not followed: such packets are dropped).</summary>
    public byte Protocol { get; }

    /// <summary>TTL or hop limit.</summary>
    public byte Ttl { get; }

    /// <summary>The whole IP packet (for quoting in ICMP errors).</summary>
    public ReadOnlySpan<byte> Ip { get; }

    /// <summary>The L4 packet: header and payload, exactly as long as the IP header says.</summary>
    public ReadOnlySpan<byte> L4 { get; }

    /// <summary>True when the guest's virtio-net header said the L4 checksum is partial (NEEDS_CSUM) or
    /// already validated (DATA_VALID): it is not verified again. Otherwise services verify it.</summary>
    public bool L4ChecksumTrusted { get; }

    public bool IsV6 => !Source.IsV4;

    /// <summary>True when the L4 checksum is trusted or verifies over the pseudo-header.</summary>
    public bool L4ChecksumOk()
    {
        if (L4ChecksumTrusted)
        {
            return true;
        }

        uint pseudo = Protocol == PacketWriter.ProtocolIcmp ? 0 : PacketWriter.PseudoHeaderSum(Source, Destination, Protocol, L4.Length);
        return InternetChecksum.Compute(L4, pseudo) == 0;
    }
}

/// <summary>A DHCP lease, for `switchyard leases`.</summary>
public sealed record LeaseInfo(ulong Mac, IpAddr Address, string? Hostname, DateTimeOffset Expires, bool Active);

/// <summary>A live NAT flow, for `switchyard flows`. Guest side and host side, as the user reads them.</summary>
public sealed record FlowInfo(
    string Protocol, string Guest, string Remote, string State, bool Inbound, long BytesFromGuest, long BytesToGuest, TimeSpan Idle);
