// The gateway's DHCPv4 server (RFC 2131, options RFC 2132), on UDP port 67 of the gateway address.
//
// Theory of operation: one binding per client MAC (chaddr), kept after release and expiry, so a guest
// gets the same address every time while the pool allows. An address is chosen once per MAC: the
// client's requested address (option 50) if it is free, else the next free address from a cursor
// walking the pool (DhcpStart up to the network's last host address, without the network, broadcast,
// gateway and DNS addresses). Bindings are bounded (MaxBindings); when no free address or binding slot
// remains, the least recently used binding that is not an active lease (released, expired, or an
// offer nobody took) is taken over; if every binding is active the pool is exhausted and the request
// is dropped and counted. Declined addresses (DHCPDECLINE: another host answers for them) are held out
// of the pool for DeclineHold (at most MaxBindings of them at a time). Each binding remembers the switch
// port its first message came in on (GuestPacket.IngressPort), and one port may hold at most
// Options.MaxLeasesPerPort bindings: a new MAC from a port at its limit takes over that port's own least
// recently used inactive binding, or is refused and counted (dhcp_port_lease_limit), so one namespace
// cycling through MACs cannot empty the pool for the next guest.
//
// Messages follow RFC 2131 §4.3: DISCOVER → OFFER; REQUEST in SELECTING state (server identifier
// present) → ACK if it names our offer, silence if it names another server, NAK otherwise; in
// INIT-REBOOT (requested address, no server identifier) and RENEWING/REBINDING (ciaddr) → ACK if the
// address is this MAC's (or free, so a guest keeps its address across a daemon restart), NAK if it is
// off the network or someone else's; DECLINE, RELEASE; INFORM → ACK with configuration but no lease.
// Replies go from the gateway address, port 67, to port 68: broadcast when the client set the
// broadcast flag or has no ciaddr yet (and always for NAK, §4.3.2), else unicast to ciaddr at chaddr.
// Every reply carries the full configured option set; the parameter request list is not needed to
// choose (RFC 2131 §4.3.1 lets a server send what it has). Expiry is judged lazily against the loop
// clock, so no timers are needed. Per message, nothing is allocated except a binding for a new MAC and
// a hostname string when it changes. On the loop.
using Switchyard.Core.Frames;
using Switchyard.Protocols;

namespace Switchyard.UserNet.Link;

internal sealed class DhcpServer
{
    public const int MaxBindings = 4096;

    /// <summary>LeastRecentlyUsedInactive's "any port".</summary>
    private const int AnyPort = int.MinValue;
    public static readonly TimeSpan OfferHold = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan DeclineHold = TimeSpan.FromMinutes(10);
    private const int MaxHostnameLength = 63;

    private readonly GatewayContext context;
    private readonly GatewayCounters counters;
    private readonly Dictionary<ulong, Binding> byMac = [];
    private readonly Dictionary<uint, Binding> byAddress = [];
    private readonly Dictionary<uint, DateTimeOffset> declined = [];
    private readonly Dictionary<int, int> bindingsPerPort = [];
    private readonly uint server;
    private readonly uint dns;
    private readonly uint mask;
    private readonly uint network;
    private readonly uint broadcast;
    private readonly uint poolFirst;
    private readonly uint poolLast;
    private readonly byte[] domainSearch;
    private readonly uint leaseSeconds;
    private uint cursor;

    public DhcpServer(GatewayContext context, byte[] encodedDomainSearch)
    {
        this.context = context;
        counters = context.Counters;
        GatewayOptions o = context.Options;
        server = o.Host.V4;
        dns = o.Dns.V4;
        mask = o.Network.Mask4;
        network = o.Network.NetworkAddress.V4;
        broadcast = o.Network.BroadcastAddress.V4;
        poolFirst = Math.Max(o.DhcpStart.V4, network + 1);
        poolLast = broadcast - 1;
        if (!o.DhcpStart.IsV4 || !o.Network.Contains(o.DhcpStart) || o.Network.Length > 30)
        {
            // No usable pool: every DISCOVER is counted as exhausted.
            poolFirst = 1;
            poolLast = 0;
        }

        cursor = poolFirst;
        domainSearch = encodedDomainSearch;
        leaseSeconds = (uint)Math.Clamp(o.LeaseTime.TotalSeconds, 60, uint.MaxValue - 1);
    }

    /// <summary>A DHCP message (UDP payload) that arrived on port 67 of a gateway address.</summary>
    public void OnMessage(in GuestPacket packet, ReadOnlySpan<byte> payload)
    {
        if (!DhcpMessage.TryParse(payload, out DhcpMessage m)
            || m.Op != DhcpMessage.OpRequest
            || m.HardwareType != 1
            || m.HardwareLength != Ethernet.AddressLength
            || m.ClientMac == 0
            || Ethernet.IsGroup(m.ClientMac))
        {
            counters.Drop(GatewayDrop.DhcpMalformed);
            return;
        }

        switch (m.MessageType)
        {
            case DhcpMessage.Discover:
                OnDiscover(in m, packet.IngressPort);
                break;
            case DhcpMessage.Request:
                OnRequest(in m, packet.IngressPort);
                break;
            case DhcpMessage.Decline:
                OnDecline(in m);
                break;
            case DhcpMessage.Release:
                OnRelease(in m);
                break;
            case DhcpMessage.Inform:
                OnInform(in m);
                break;
            case 0:
                counters.Drop(GatewayDrop.DhcpMalformed);
                break;
            default:
                // OFFER/ACK/NAK from a guest (a rogue server) or a type we do not know.
                counters.Drop(GatewayDrop.DhcpMessageUnsupported);
                break;
        }
    }

    /// <summary>Every binding, for `switchyard leases`. Control plane (allocates).</summary>
    public IReadOnlyList<LeaseInfo> Leases()
    {
        DateTimeOffset now = context.Clock.GetUtcNow();
        var list = new List<LeaseInfo>(byMac.Count);
        foreach (Binding b in byMac.Values)
        {
            list.Add(new LeaseInfo(b.Mac, IpAddr.FromV4(b.Address), b.Hostname, b.Expires, b.State == BindingState.Bound && now < b.Expires));
        }

        list.Sort(static (a, b) => a.Address.V4.CompareTo(b.Address.V4));
        return list;
    }

    private void OnDiscover(in DhcpMessage m, int port)
    {
        DateTimeOffset now = context.Clock.GetUtcNow();
        m.TryGetAddressOption(DhcpMessage.OptionRequestedAddress, out uint requested);
        Binding? b = FindOrAllocate(m.ClientMac, requested, now, port);
        if (b is null)
        {
            // Counted by FindOrAllocate (pool exhausted, or the port's lease limit).
            return;
        }

        if (!b.IsActive(now))
        {
            b.State = BindingState.Offered;
            b.Expires = now + OfferHold;
        }

        b.LastUsed = now;
        RememberHostname(b, in m);
        Reply(in m, DhcpMessage.Offer, b.Address, withLease: true, nak: false);
        counters.Count(GatewayEvent.DhcpOffers);
    }

    private void OnRequest(in DhcpMessage m, int port)
    {
        DateTimeOffset now = context.Clock.GetUtcNow();
        ulong mac = m.ClientMac;
        bool hasServerId = m.TryGetAddressOption(DhcpMessage.OptionServerIdentifier, out uint serverId);
        bool hasRequested = m.TryGetAddressOption(DhcpMessage.OptionRequestedAddress, out uint requested);
        byMac.TryGetValue(mac, out Binding? b);

        if (hasServerId)
        {
            // SELECTING (RFC 2131 §4.3.2): the client answers an OFFER.
            if (serverId != server)
            {
                // It chose another server: our offer is free again (the binding stays for stability).
                if (b is not null && b.State == BindingState.Offered)
                {
                    b.Expires = now;
                }

                counters.Count(GatewayEvent.DhcpForOtherServer);
                return;
            }

            if (b is not null && hasRequested && requested == b.Address && !IsDeclined(b.Address, now))
            {
                Ack(in m, b, now);
            }
            else
            {
                Nak(in m);
            }

            return;
        }

        uint wanted;
        if (hasRequested)
        {
            wanted = requested; // INIT-REBOOT
        }
        else if (m.ClientAddress != 0)
        {
            wanted = m.ClientAddress; // RENEWING or REBINDING
        }
        else
        {
            counters.Drop(GatewayDrop.DhcpMalformed);
            return;
        }

        if (b is not null && b.Address == wanted && !IsDeclined(wanted, now))
        {
            Ack(in m, b, now);
            return;
        }

        // Not this MAC's address: take it for the MAC if it is free in the pool (a guest keeping its
        // address over our restart), else the client must start over (NAK).
        if (b is null && InPool(wanted) && !byAddress.ContainsKey(wanted) && !IsDeclined(wanted, now))
        {
            Binding? fresh = FindOrAllocate(mac, wanted, now, port);
            if (fresh is not null && fresh.Address == wanted)
            {
                Ack(in m, fresh, now);
                return;
            }
        }

        Nak(in m);
    }

    private void OnDecline(in DhcpMessage m)
    {
        DateTimeOffset now = context.Clock.GetUtcNow();
        if (!m.TryGetAddressOption(DhcpMessage.OptionRequestedAddress, out uint address)
            || !byMac.TryGetValue(m.ClientMac, out Binding? b)
            || b.Address != address)
        {
            counters.Drop(GatewayDrop.DhcpMalformed);
            return;
        }

        // Someone else answers ARP for this address (RFC 2131 §3.1 step 5): hold it out of the pool
        // and forget the binding, so the next DISCOVER gets this MAC a different address.
        Remove(b);
        if (declined.Count >= MaxBindings)
        {
            // Bounded like the bindings: a guest cycling MACs through DISCOVER/DECLINE cannot grow it.
            foreach (KeyValuePair<uint, DateTimeOffset> d in declined)
            {
                if (now >= d.Value)
                {
                    declined.Remove(d.Key);
                }
            }
        }

        if (declined.Count < MaxBindings)
        {
            declined[address] = now + DeclineHold;
        }

        counters.Count(GatewayEvent.DhcpDeclines);
    }

    private void OnRelease(in DhcpMessage m)
    {
        if (!byMac.TryGetValue(m.ClientMac, out Binding? b) || b.Address != m.ClientAddress)
        {
            counters.Drop(GatewayDrop.DhcpMalformed);
            return;
        }

        DateTimeOffset now = context.Clock.GetUtcNow();
        b.State = BindingState.Released;
        b.Expires = now;
        b.LastUsed = now;
        counters.Count(GatewayEvent.DhcpReleases);
        context.LeaseChanged?.Invoke(new LeaseInfo(b.Mac, IpAddr.FromV4(b.Address), b.Hostname, now, Active: false));
    }

    private void OnInform(in DhcpMessage m)
    {
        // RFC 2131 §4.3.5: configuration only, no lease, no yiaddr; sent to ciaddr.
        Reply(in m, DhcpMessage.Ack, 0, withLease: false, nak: false);
        counters.Count(GatewayEvent.DhcpAcks);
    }

    private void Ack(in DhcpMessage m, Binding b, DateTimeOffset now)
    {
        b.State = BindingState.Bound;
        b.Expires = now + TimeSpan.FromSeconds(leaseSeconds);
        b.LastUsed = now;
        RememberHostname(b, in m);
        Reply(in m, DhcpMessage.Ack, b.Address, withLease: true, nak: false);
        counters.Count(GatewayEvent.DhcpAcks);
        context.LeaseChanged?.Invoke(new LeaseInfo(b.Mac, IpAddr.FromV4(b.Address), b.Hostname, b.Expires, Active: true));
    }

    private void Nak(in DhcpMessage m)
    {
        Reply(in m, DhcpMessage.Nak, 0, withLease: false, nak: true);
        counters.Count(GatewayEvent.DhcpNaks);
    }

    private void Reply(in DhcpMessage m, byte type, uint yourAddress, bool withLease, bool nak)
    {
        GatewayOptions o = context.Options;
        Span<byte> frame = context.TxBuffer;
        Span<byte> payload = frame[PacketWriter.UdpPayloadOffset(false)..];
        uint ciaddr = nak || type == DhcpMessage.Offer ? 0 : m.ClientAddress;
        var b = new DhcpBuilder(payload, DhcpMessage.OpReply, m.TransactionId, m.Flags, ciaddr, yourAddress, 0, m.RelayAddress, m.ClientMac);
        b.AddByte(DhcpMessage.OptionMessageType, type);
        b.AddUInt32(DhcpMessage.OptionServerIdentifier, server);
        if (nak)
        {
            b.AddAscii(DhcpMessage.OptionMessage, "address not available from this server");
        }
        else
        {
            if (withLease)
            {
                b.AddUInt32(DhcpMessage.OptionLeaseTime, leaseSeconds);
                b.AddUInt32(DhcpMessage.OptionRenewalTime, leaseSeconds / 2);
                b.AddUInt32(DhcpMessage.OptionRebindingTime, (uint)(leaseSeconds * 7UL / 8));
            }

            b.AddUInt32(DhcpMessage.OptionSubnetMask, mask);
            b.AddUInt32(DhcpMessage.OptionRouter, server);
            b.AddUInt32(DhcpMessage.OptionDnsServers, dns);
            b.AddUInt32(DhcpMessage.OptionBroadcastAddress, broadcast);
            b.AddUInt16(DhcpMessage.OptionInterfaceMtu, (ushort)Math.Clamp(o.Mtu, 68, ushort.MaxValue));
            if (!string.IsNullOrEmpty(o.Hostname))
            {
                b.AddAscii(DhcpMessage.OptionHostname, o.Hostname);
            }

            if (!string.IsNullOrEmpty(o.DomainName))
            {
                b.AddAscii(DhcpMessage.OptionDomainName, o.DomainName);
            }

            if (domainSearch.Length > 0)
            {
                b.Add(DhcpMessage.OptionDomainSearch, domainSearch);
            }
        }

        int length = b.Finish();

        // RFC 2131 §4.1: NAK and clients without an address (or asking for it) get a broadcast.
        bool toBroadcast = nak || m.Broadcast || m.ClientAddress == 0;
        IpAddr destination = IpAddr.FromV4(toBroadcast ? uint.MaxValue : m.ClientAddress);
        ulong destinationMac = toBroadcast ? 0xFFFF_FFFF_FFFFUL : m.ClientMac;
        int frameLength = PacketWriter.WriteUdpFrame(
            frame, destinationMac, o.Mac, o.Host, DhcpMessage.ServerPort, destination, DhcpMessage.ClientPort, length);
        // WriteUdpFrame leaves the identification 0; give the datagram a real one (the UDP checksum does not cover it).
        PacketWriter.WriteIPv4(frame[PacketWriter.IpOffset..], o.Host, destination, InternetChecksum.ProtocolUdp, UdpHeader.Length + length, context.NextIpId());
        context.Link.Send(frame[..frameLength], OffloadInfo.None);
    }

    private Binding? FindOrAllocate(ulong mac, uint requested, DateTimeOffset now, int port)
    {
        if (byMac.TryGetValue(mac, out Binding? existing))
        {
            if (!IsDeclined(existing.Address, now))
            {
                return existing;
            }

            Remove(existing);
        }

        if (bindingsPerPort.TryGetValue(port, out int held) && held >= context.Options.MaxLeasesPerPort)
        {
            // The port is at its limit: a new MAC may only take over one of the port's own spent bindings.
            Binding? own = LeastRecentlyUsedInactive(now, port);
            if (own is null)
            {
                counters.Drop(GatewayDrop.DhcpPortLeaseLimit);
                return null;
            }

            Remove(own);
        }

        uint address = 0;
        if (requested != 0 && InPool(requested) && !byAddress.ContainsKey(requested) && !IsDeclined(requested, now))
        {
            address = requested;
        }

        if (address == 0 && byMac.Count < MaxBindings)
        {
            address = NextFree(now);
        }

        if (address == 0)
        {
            Binding? victim = LeastRecentlyUsedInactive(now, AnyPort);
            if (victim is null)
            {
                counters.Drop(GatewayDrop.DhcpPoolExhausted);
                return null;
            }

            Remove(victim);
            address = victim.Address;
        }

        var b = new Binding(mac, address, port) { Expires = now, LastUsed = now };
        byMac[mac] = b;
        byAddress[address] = b;
        bindingsPerPort[port] = bindingsPerPort.GetValueOrDefault(port) + 1;
        return b;
    }

    /// <summary>The next address after the cursor that no binding holds and is not declined; 0 if none.
    /// Takes at most (bindings + declined + excluded + 1) steps: every skipped address is one of those.</summary>
    private uint NextFree(DateTimeOffset now)
    {
        if (poolFirst > poolLast)
        {
            return 0;
        }

        ulong size = (ulong)poolLast - poolFirst + 1;
        ulong budget = Math.Min(size, (ulong)byAddress.Count + (ulong)declined.Count + 3);
        for (ulong i = 0; i < budget; i++)
        {
            uint candidate = cursor;
            cursor = cursor >= poolLast ? poolFirst : cursor + 1;
            if (InPool(candidate) && !byAddress.ContainsKey(candidate) && !IsDeclined(candidate, now))
            {
                return candidate;
            }
        }

        return 0;
    }

    /// <summary>The least recently used binding that is not an active lease, of <paramref name="port"/>
    /// (or of any port with AnyPort); null if none.</summary>
    private Binding? LeastRecentlyUsedInactive(DateTimeOffset now, int port)
    {
        Binding? best = null;
        foreach (Binding b in byMac.Values)
        {
            if ((port == AnyPort || b.Port == port) && !b.IsActive(now) && (best is null || b.LastUsed < best.LastUsed))
            {
                best = b;
            }
        }

        return best;
    }

    private bool InPool(uint address) =>
        address >= poolFirst && address <= poolLast && address != server && address != dns && address != network && address != broadcast;

    private bool IsDeclined(uint address, DateTimeOffset now)
    {
        if (!declined.TryGetValue(address, out DateTimeOffset until))
        {
            return false;
        }

        if (now < until)
        {
            return true;
        }

        declined.Remove(address);
        return false;
    }

    private void Remove(Binding b)
    {
        byMac.Remove(b.Mac);
        byAddress.Remove(b.Address);
        int left = bindingsPerPort.GetValueOrDefault(b.Port) - 1;
        if (left <= 0)
        {
            bindingsPerPort.Remove(b.Port);
        }
        else
        {
            bindingsPerPort[b.Port] = left;
        }
    }

    /// <summary>Keeps the client's option 12, reduced to a DNS label's characters and at most 63 of
    /// them; allocates only when it changed.</summary>
    private static void RememberHostname(Binding b, in DhcpMessage m)
    {
        if (!m.TryGetOption(DhcpMessage.OptionHostname, out ReadOnlySpan<byte> raw) || raw.IsEmpty)
        {
            return;
        }

        Span<char> clean = stackalloc char[MaxHostnameLength];
        int n = 0;
        foreach (byte c in raw)
        {
            if (n == MaxHostnameLength)
            {
                break;
            }

            if (char.IsAsciiLetterOrDigit((char)c) || c is (byte)'-' or (byte)'.' or (byte)'_')
            {
                clean[n++] = (char)c;
            }
        }

        if (n == 0 || (b.Hostname is not null && b.Hostname.AsSpan().SequenceEqual(clean[..n])))
        {
            return;
        }

        b.Hostname = new string(clean[..n]);
    }

    private enum BindingState
    {
        Offered,
        Bound,
        Released,
    }

    private sealed class Binding(ulong mac, uint address, int port)
    {
        public ulong Mac { get; } = mac;

        public uint Address { get; } = address;

        /// <summary>The switch port whose budget the binding counts against.</summary>
        public int Port { get; } = port;

        public BindingState State { get; set; } = BindingState.Offered;

        public DateTimeOffset Expires { get; set; }

        public DateTimeOffset LastUsed { get; set; }

        public string? Hostname { get; set; }

        /// <summary>A lease in force, or an offer not yet taken up: either way the address is spoken for.</summary>
        public bool IsActive(DateTimeOffset now) => State != BindingState.Released && now < Expires;
    }
}
