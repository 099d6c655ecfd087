// The gateway's settings, in the vocabulary of QEMU's `-netdev user` (libslirp).
//
// Theory of operation: one immutable record holds everything a NatGateway needs to know, with the
// defaults of QEMU user networking (10.0.2.0/24, gateway .2, DNS .3, DHCP from .15) written once in
// GatewayOptions.Default. The Engine's config model parses user text (`net=10.0.2.0/24,hostfwd=...`)
// into this record; UserNet never parses configuration text itself, except forward rules, whose
// syntax (ForwardRule) is shared by the config file, the CLI and the control API.
using System.Collections.Immutable;
using Switchyard.Protocols;

namespace Switchyard.UserNet;

/// <summary>A DNS server the gateway forwards queries to.</summary>
public readonly record struct DnsUpstream(IpAddr Address, ushort Port = 53)
{
    public override string ToString() => Address.IsV4 ? $"{Address}:{Port}" : $"[{Address}]:{Port}";
}

/// <summary>Everything a <see cref="NatGateway"/> is configured with. See the file header.</summary>
public sealed record GatewayOptions
{
    /// <summary>slirp's gateway MAC, 52:55:0a:00:02:02, which guests and tools already recognise.</summary>
    public const ulong DefaultMac = 0x5255_0A00_0202UL;

    /// <summary>QEMU user networking's plan: 10.0.2.0/24, host 10.0.2.2, DNS 10.0.2.3, DHCP from
    /// 10.0.2.15; IPv6 fd00::/64 (QEMU uses the deprecated site-local fec0::/64; a ULA works with every
    /// SLAAC client), host ::2, DNS ::3.</summary>
    public static GatewayOptions Default { get; } = new();

    /// <summary>net=: the IPv4 network of the guests.</summary>
    public IpPrefix Network { get; init; } = new(IpAddr.FromV4(0x0A00_0200), 24);

    /// <summary>host=: the gateway's own IPv4 address (the guests' router).</summary>
    public IpAddr Host { get; init; } = IpAddr.FromV4(0x0A00_0202);

    /// <summary>dns=: the IPv4 address where the gateway answers DNS.</summary>
    public IpAddr Dns { get; init; } = IpAddr.FromV4(0x0A00_0203);

    /// <summary>dhcpstart=: the first address the DHCP server hands out.</summary>
    public IpAddr DhcpStart { get; init; } = IpAddr.FromV4(0x0A00_020F);

    /// <summary>ipv6-prefix= and ipv6-prefixlen=: the prefix announced by RA (SLAAC).</summary>
    public IpPrefix Network6 { get; init; } = new(new IpAddr(0xFD00_0000_0000_0000UL, 0), 64);

    /// <summary>ipv6-host=: the gateway's IPv6 address.</summary>
    public IpAddr Host6 { get; init; } = new(0xFD00_0000_0000_0000UL, 2);

    /// <summary>ipv6-dns=: the IPv6 address where the gateway answers DNS.</summary>
    public IpAddr Dns6 { get; init; } = new(0xFD00_0000_0000_0000UL, 3);

    /// <summary>ipv6=off turns the IPv6 side (RA, NDP, DHCPv6, v6 NAT) off.</summary>
    public bool Ipv6 { get; init; } = true;

    /// <summary>The gateway's MAC address.</summary>
    public ulong Mac { get; init; } = DefaultMac;

    /// <summary>hostname=: DHCP option 12 offered to guests (null: none).</summary>
    public string? Hostname { get; init; }

    /// <summary>domainname=: DHCP option 15.</summary>
    public string? DomainName { get; init; }

    /// <summary>dnssearch=: DHCP option 119 and the RA DNSSL option.</summary>
    public ImmutableArray<string> DnsSearch { get; init; } = [];

    /// <summary>mtu=: DHCP option 26, RA MTU option and the TCP MSS toward guests (576 to 65520).</summary>
    public int Mtu { get; init; } = 1500;

    /// <summary>restrict=on: guests cannot open connections out; only forwards reach them.</summary>
    public bool Restrict { get; init; }

    /// <summary>Whether the gateway address stands for the host's loopback (like slirp's 10.0.2.2).</summary>
    public bool HostLoopback { get; init; } = true;

    /// <summary>Upstream DNS servers; empty means the host's resolvers (/etc/resolv.conf).</summary>
    public ImmutableArray<DnsUpstream> DnsUpstreams { get; init; } = [];

    /// <summary>hostfwd=: forwards opened when the gateway starts.</summary>
    public ImmutableArray<ForwardRule> Forwards { get; init; } = [];

    /// <summary>DHCP lease time.</summary>
    public TimeSpan LeaseTime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Most NAT flows (TCP, UDP, ICMP together) the gateway keeps; new ones beyond are refused and counted.</summary>
    public int MaxFlows { get; init; } = 16384;

    /// <summary>Most NAT flows one guest may hold, so one guest's SYN flood cannot starve another. Counted per
    /// switch port (the attachment the frames came in on), not per source MAC, which a guest can forge.</summary>
    public int MaxFlowsPerGuest { get; init; } = 4096;

    /// <summary>Most DHCP bindings (leases and outstanding offers) the guests on one switch port may hold, so
    /// one namespace cycling MACs cannot empty the pool; 32 leaves most of a /24 pool for other ports.</summary>
    public int MaxLeasesPerPort { get; init; } = 32;

    /// <summary>Idle time after which a UDP flow's host socket is closed.</summary>
    public TimeSpan UdpIdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Bytes a TCP flow may buffer in each direction before it pushes back.</summary>
    public int TcpBufferBytes { get; init; } = 1 << 20;

    /// <summary>relay-buffer=: most bytes all TCP flows together may buffer; beyond it flows advertise a
    /// smaller window and stop reading their host sockets instead of buffering more.</summary>
    public long RelayBufferBytes { get; init; } = 256L << 20;

    /// <summary>relay-buffer-per-port=: most bytes the TCP flows of one switch port may buffer, so one
    /// guest's stalled flows cannot take the relay memory (or the speed) of the others.</summary>
    public long RelayBufferBytesPerPort { get; init; } = 32L << 20;

    public bool Equals(GatewayOptions? other) =>
        other is not null && Network == other.Network && Host == other.Host && Dns == other.Dns && DhcpStart == other.DhcpStart
        && Network6 == other.Network6 && Host6 == other.Host6 && Dns6 == other.Dns6 && Ipv6 == other.Ipv6 && Mac == other.Mac
        && Hostname == other.Hostname && DomainName == other.DomainName && DnsSearch.SequenceEqual(other.DnsSearch)
        && Mtu == other.Mtu && Restrict == other.Restrict && HostLoopback == other.HostLoopback
        && DnsUpstreams.SequenceEqual(other.DnsUpstreams) && Forwards.SequenceEqual(other.Forwards)
        && LeaseTime == other.LeaseTime && MaxFlows == other.MaxFlows && MaxFlowsPerGuest == other.MaxFlowsPerGuest
        && UdpIdleTimeout == other.UdpIdleTimeout && TcpBufferBytes == other.TcpBufferBytes
        && MaxLeasesPerPort == other.MaxLeasesPerPort
        && RelayBufferBytes == other.RelayBufferBytes && RelayBufferBytesPerPort == other.RelayBufferBytesPerPort;

    public override int GetHashCode() => HashCode.Combine(Network, Host, Dns, DhcpStart, Network6, Mtu, Restrict, Forwards.Length);
}
