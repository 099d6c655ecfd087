// The gateway's neighbour cache: which guest MAC holds which IPv4/IPv6 address.
//
// Theory of operation: the cache learns from every ARP packet and every valid guest IP packet (the
// dispatcher calls Learn with the Ethernet source), so for a guest that has talked to us a lookup
// never needs a resolution. Entries age out after Lifetime without traffic. The table is bounded:
// at Capacity, entries not seen for a minute are swept (at most once a second, so a guest spraying
// spoofed IPv6 sources costs a dictionary probe per packet, not a scan); if nothing could be swept the
// new address is not learned and the refusal is counted. Resolutions (ARP requests, neighbour
// solicitations) are rate-limited to one per address per second, in a second bounded table.
// Timestamps are the loop clock's (TimeProvider.GetTimestamp) so tests move time by hand. On the loop.
using System.Runtime.InteropServices;
using Switchyard.Protocols;

namespace Switchyard.UserNet.Link;

internal sealed class NeighbourTable
{
    public const int Capacity = 4096;
    public const int PendingCapacity = 1024;

    private readonly Dictionary<IpAddr, Entry> entries = [];
    private readonly Dictionary<IpAddr, long> pending = [];
    private readonly TimeProvider clock;
    private readonly long lifetime;
    private readonly long sweepAge;
    private readonly long second;
    private long lastSweep;

    public NeighbourTable(TimeProvider clock, TimeSpan lifetime)
    {
        this.clock = clock;
        this.lifetime = ToTimestamp(lifetime);
        sweepAge = ToTimestamp(TimeSpan.FromMinutes(1));
        second = ToTimestamp(TimeSpan.FromSeconds(1));
        lastSweep = clock.GetTimestamp() - second;
    }

    public int Count => entries.Count;

    /// <summary>Remembers <paramref name="address"/> at <paramref name="mac"/>. False when the table is
    /// full and nothing could be swept (the caller counts it).</summary>
    public bool Learn(ulong mac, IpAddr address)
    {
        long now = clock.GetTimestamp();
        ref Entry existing = ref CollectionsMarshal.GetValueRefOrNullRef(entries, address);
        if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref existing))
        {
            existing = new Entry(mac, now);
            return true;
        }

        if (entries.Count >= Capacity && !Sweep(now))
        {
            return false;
        }

        entries[address] = new Entry(mac, now);
        pending.Remove(address);
        return true;
    }

    /// <summary>The MAC of <paramref name="address"/> if learned within the lifetime.</summary>
    public bool TryGet(IpAddr address, out ulong mac)
    {
        if (entries.TryGetValue(address, out Entry entry) && clock.GetTimestamp() - entry.Seen < lifetime)
        {
            mac = entry.Mac;
            return true;
        }

        mac = 0;
        return false;
    }

    /// <summary>True when a resolution for <paramref name="address"/> may be sent now (none in the last
    /// second); records it.</summary>
    public bool TryStartResolution(IpAddr address)
    {
        long now = clock.GetTimestamp();
        if (pending.TryGetValue(address, out long sent) && now - sent < second)
        {
            return false;
        }

        if (pending.Count >= PendingCapacity && !pending.ContainsKey(address))
        {
            // Forget resolutions older than a second; they no longer limit anything.
            foreach (KeyValuePair<IpAddr, long> p in pending)
            {
                if (now - p.Value >= second)
                {
                    pending.Remove(p.Key);
                }
            }

            if (pending.Count >= PendingCapacity)
            {
                return false;
            }
        }

        pending[address] = now;
        return true;
    }

    private bool Sweep(long now)
    {
        if (now - lastSweep < second)
        {
            return false;
        }

        lastSweep = now;
        foreach (KeyValuePair<IpAddr, Entry> e in entries)
        {
            if (now - e.Value.Seen >= sweepAge)
            {
                entries.Remove(e.Key);
            }
        }

        return entries.Count < Capacity;
    }

    private long ToTimestamp(TimeSpan span) => (long)(span.TotalSeconds * clock.TimestampFrequency);

    private readonly record struct Entry(ulong Mac, long Seen);
}
