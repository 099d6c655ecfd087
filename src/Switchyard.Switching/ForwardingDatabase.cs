// The forwarding database (FDB): which port each (VLAN, MAC address) was last seen on, and when.
//
// Theory of operation: a Dictionary keyed by one ulong, (VID << 48) | MAC, so a lookup hashes a
// number and never boxes. Each entry holds its port and the TimeProvider timestamp of the last frame
// from that address. An entry is live while now - lastSeen < ageing, the Linux bridge's rule
// (has_expired(): updated + hold_time <= jiffies means expired), so an entry expires exactly
// MacAgeing after it was last refreshed, whether or not AgeOut has swept it yet. When the table holds
// MaxMacs entries a new address is not learned (counted in FdbFull) and its frames keep being
// flooded; known addresses still refresh and move. Each port may hold at most MaxMacsPerPort entries
// (SwitchPort.MacCount, kept here on every add, move and removal): a new address from a port at its
// limit is not learned (FdbPortLimit), and an address does not move onto such a port either, so a
// peer spoofing thousands of MACs, or another guest's MAC, takes neither the table nor that guest's
// entry. Its frames are still forwarded (flooded toward unknown sources' replies). Trusts its caller (the switch) to pass a valid
// VID and a unicast MAC; owns the table and is touched only on the switch's loop.
using System.Runtime.InteropServices;

namespace Switchyard.Switching;

internal sealed class ForwardingDatabase
{
    private const int MacBits = 48;
    private const ulong MacMask = (1UL << MacBits) - 1;

    private readonly Dictionary<ulong, Slot> table;
    private readonly long ageing;
    private readonly int maxMacs;
    private readonly int maxMacsPerPort;
    private readonly SwitchCounters counters;

    /// <param name="ageing">Entry lifetime in TimeProvider timestamp units.</param>
    public ForwardingDatabase(long ageing, int maxMacs, int maxMacsPerPort, SwitchCounters counters)
    {
        this.ageing = ageing;
        this.maxMacs = maxMacs;
        this.maxMacsPerPort = maxMacsPerPort;
        this.counters = counters;

        // Start small; growth happens only when new addresses appear, never per frame.
        table = new Dictionary<ulong, Slot>(Math.Min(maxMacs, 256));
    }

    public int Count => table.Count;

    /// <summary>Records that <paramref name="mac"/> on <paramref name="vid"/> was seen on <paramref name="port"/>.</summary>
    public void Learn(ushort vid, ulong mac, SwitchPort port, long now)
    {
        ulong key = Key(vid, mac);
        if (table.Count < maxMacs && port.MacCount < maxMacsPerPort)
        {
            // One hash lookup whether the address is new or known.
            ref Slot slot = ref CollectionsMarshal.GetValueRefOrAddDefault(table, key, out bool exists);
            if (exists)
            {
                Refresh(ref slot, port, now);
            }
            else
            {
                slot = new Slot(port, now);
                port.MacCount++;
                counters.Increment(SwitchCounter.Learned);
                counters.Values.Set(SwitchCounter.FdbEntries, table.Count);
            }

            return;
        }

        if (port.MacCount >= maxMacsPerPort)
        {
            // The port is at its limit: a known address of this port refreshes, nothing new is learned
            // and no address moves here.
            if (table.TryGetValue(key, out Slot mine) && ReferenceEquals(mine.Port, port))
            {
                mine.LastSeen = now;
                table[key] = mine;
            }
            else
            {
                counters.Increment(SwitchCounter.FdbPortLimit);
            }

            return;
        }

        // Full: known addresses still refresh and move; new ones are not learned.
        if (table.TryGetValue(key, out Slot known))
        {
            Refresh(ref known, port, now);
            table[key] = known;
        }
        else
        {
            counters.Increment(SwitchCounter.FdbFull);
        }
    }

    /// <summary>The port <paramref name="mac"/> on <paramref name="vid"/> was last seen on, or null when
    /// unknown or expired.</summary>
    public SwitchPort? Lookup(ushort vid, ulong mac, long now) =>
        table.TryGetValue(Key(vid, mac), out Slot slot) && IsLive(slot.LastSeen, now) ? slot.Port : null;

    /// <summary>Removes every expired entry; returns how many.</summary>
    public int AgeOut(long now)
    {
        int removed = 0;

        // Dictionary allows Remove while enumerating (since .NET Core 3.0).
        foreach (KeyValuePair<ulong, Slot> entry in table)
        {
            if (!IsLive(entry.Value.LastSeen, now))
            {
                table.Remove(entry.Key);
                entry.Value.Port.MacCount--;
                removed++;
            }
        }

        counters.Add(SwitchCounter.AgedOut, removed);
        counters.Values.Set(SwitchCounter.FdbEntries, table.Count);
        return removed;
    }

    /// <summary>Removes every entry that points at <paramref name="port"/>; returns how many.</summary>
    public int RemovePort(SwitchPort port)
    {
        int removed = 0;
        foreach (KeyValuePair<ulong, Slot> entry in table)
        {
            if (ReferenceEquals(entry.Value.Port, port))
            {
                table.Remove(entry.Key);
                removed++;
            }
        }

        port.MacCount = 0;
        counters.Add(SwitchCounter.Flushed, removed);
        counters.Values.Set(SwitchCounter.FdbEntries, table.Count);
        return removed;
    }

    /// <summary>Live entries, sorted by VLAN then address. Control plane; allocates.</summary>
    public FdbEntry[] Snapshot(TimeProvider clock, long now)
    {
        var entries = new List<FdbEntry>(table.Count);
        foreach (KeyValuePair<ulong, Slot> entry in table)
        {
            if (IsLive(entry.Value.LastSeen, now))
            {
                entries.Add(new FdbEntry(
                    (ushort)(entry.Key >> MacBits),
                    entry.Key & MacMask,
                    entry.Value.Port.Port.Name,
                    clock.GetElapsedTime(entry.Value.LastSeen, now)));
            }
        }

        entries.Sort(static (a, b) => a.Vid != b.Vid ? a.Vid.CompareTo(b.Vid) : a.Mac.CompareTo(b.Mac));
        return [.. entries];
    }

    private static ulong Key(ushort vid, ulong mac) => ((ulong)vid << MacBits) | (mac & MacMask);

    private bool IsLive(long lastSeen, long now) => now - lastSeen < ageing;

    private void Refresh(ref Slot slot, SwitchPort port, long now)
    {
        if (!ReferenceEquals(slot.Port, port))
        {
            // An expired entry seen again elsewhere is a new sighting, not a move.
            if (IsLive(slot.LastSeen, now))
            {
                counters.Increment(SwitchCounter.Moved);
            }
            else
            {
                counters.Increment(SwitchCounter.Learned);
            }

            slot.Port.MacCount--;
            port.MacCount++;
            slot.Port = port;
        }

        slot.LastSeen = now;
    }

    private struct Slot(SwitchPort port, long lastSeen)
    {
        public SwitchPort Port = port;
        public long LastSeen = lastSeen;
    }
}
