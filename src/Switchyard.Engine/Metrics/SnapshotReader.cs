// The daemon's read-only snapshot for metrics and the web view (Switchyard.Web).
//
// Everything is read inside one loop.InvokeAsync (DESIGN.md, "Threads": the control side reads
// snapshots and never touches loop-owned state from its own thread). The work is proportional to
// ports + FDB entries + leases + flows and allocates only the snapshot; a scrape a second is noise
// next to the data path.
using System.Diagnostics;
using Switchyard.Core.Counters;
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Control;
using Switchyard.Engine.Networks;
using Switchyard.Ports.VhostUser;
using Switchyard.Switching;
using Switchyard.UserNet;

namespace Switchyard.Engine.Metrics;

/// <summary>Takes <see cref="DaemonSnapshot"/>s of a running daemon (see the file header).</summary>
internal sealed class SnapshotReader(CommandContext context)
{
    private static readonly string[] FlowProtocols = ["tcp", "udp", "icmp"];

    private readonly DateTimeOffset startedAt = TimeProvider.System.GetUtcNow();
    private readonly long startedTimestamp = Stopwatch.GetTimestamp();

    /// <summary>When this daemon started (wall clock).</summary>
    public DateTimeOffset StartedAt => startedAt;

    /// <summary>Every network, port, counter, lease and forward as they are now, read in one pass on the loop.</summary>
    public Task<DaemonSnapshot> SnapshotAsync() => context.Loop.InvokeAsync(TakeSnapshot);

    private DaemonSnapshot TakeSnapshot()
    {
        var result = new List<NetworkSnapshot>(context.Networks.Count);
        DateTimeOffset now = context.Loop.Clock.GetUtcNow();
        foreach (Network n in context.Networks)
        {
            // Who is behind each port: learned MACs, and the leases the gateway gave those MACs.
            FdbEntry[] fdb = n.Switch.SnapshotFdb();
            var macsByPort = new Dictionary<string, List<ulong>>(StringComparer.Ordinal);
            foreach (FdbEntry e in fdb)
            {
                if (!macsByPort.TryGetValue(e.Port, out List<ulong>? macs))
                {
                    macsByPort[e.Port] = macs = [];
                }

                if (!macs.Contains(e.Mac))
                {
                    macs.Add(e.Mac);
                }
            }

            IReadOnlyList<LeaseInfo> leases = n.Gateway?.Leases() ?? [];
            var ports = new List<PortSnapshot>(n.Switch.Ports.Count);
            foreach (Port p in n.Switch.Ports)
            {
                ports.Add(SnapshotPort(n, p, macsByPort, leases));
            }

            Dictionary<string, long> counters = ShowCommand.SwitchCountersOf(n);
            var attachments = new List<AttachmentInfo>();
            foreach (Attachment a in n.Attachments)
            {
                attachments.Add(new AttachmentInfo(a.Name, a.Config.Netdev.ToString(), a.Config.Vlan.ToString() ?? string.Empty, a.Describe()));
            }

            GatewaySnapshot? gateway = n.Gateway is { } g ? SnapshotGateway(n.Name, g, leases, now) : null;
            result.Add(new NetworkSnapshot(n.Name, n.Config.Hub, attachments, ports, counters, fdb.Length, AllDrops(n.ClosedPortDrops), gateway, n.ClosedPortRules(includeZeros: true)));
        }

        return new DaemonSnapshot(TimeProvider.System.GetUtcNow(), startedAt, Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds, context.RunDirectory, result);
    }

    private static PortSnapshot SnapshotPort(Network n, Port p, Dictionary<string, List<ulong>> macsByPort, IReadOnlyList<LeaseInfo> leases)
    {
        var macs = new List<string>();
        var addresses = new List<string>();
        var hostnames = new List<string>();
        if (p is NatGateway g)
        {
            GatewayOptions o = g.Options;
            macs.Add(Ethernet.FormatMac(o.Mac));
            addresses.Add(o.Host.ToString());
            if (o.Dns != o.Host)
            {
                addresses.Add(o.Dns.ToString());
            }

            if (o.Ipv6)
            {
                addresses.Add(o.Host6.ToString());
            }
        }
        else if (macsByPort.TryGetValue(p.Name, out List<ulong>? learned))
        {
            foreach (ulong mac in learned)
            {
                macs.Add(Ethernet.FormatMac(mac));
                foreach (LeaseInfo l in leases)
                {
                    if (l.Mac == mac && l.Active)
                    {
                        addresses.Add(l.Address.ToString());
                        if (!string.IsNullOrEmpty(l.Hostname))
                        {
                            hostnames.Add(l.Hostname);
                        }
                    }
                }
            }
        }

        List<QueueSnapshot>? queues = null;
        ulong? features = null;
        if (p is VhostUserPort vhost)
        {
            queues = [];
            foreach (VhostUserQueueState q in vhost.QueueStates())
            {
                if (!q.Started && !q.Enabled)
                {
                    continue; // Offered (up to 16 pairs) but unused by this guest: nothing to say.
                }

                queues.Add(new QueueSnapshot(q.Index, q.Tx ? "tx" : "rx", q.Started, q.Enabled, q.Size, q.NextAvail, q.UsedIdx, q.Broken));
            }

            features = (ulong)vhost.Features;
        }

        PortCounters c = p.Counters;
        return new PortSnapshot(
            p.Name, p.Kind, p.Peer, n.Switch.MembershipOf(p).ToString() ?? string.Empty, c.RxFrames, c.RxBytes, c.TxFrames, c.TxBytes, AllDrops(c),
            macs, addresses, hostnames, queues, features, n.Switch.IsLinkUp(p), RulesOf(p, includeZeros: true));
    }

    private static GatewaySnapshot SnapshotGateway(string network, NatGateway g, IReadOnlyList<LeaseInfo> leases, DateTimeOffset now)
    {
        GatewayOptions o = g.Options;
        var leaseRows = new List<LeaseRow>(leases.Count);
        foreach (LeaseInfo l in leases)
        {
            leaseRows.Add(new LeaseRow(network, Ethernet.FormatMac(l.Mac), l.Address.ToString(), l.Hostname, l.Expires, (l.Expires - now).TotalSeconds, l.Active));
        }

        var forwards = new List<ForwardRow>(g.Forwards.Count);
        foreach (ForwardRule rule in g.Forwards)
        {
            forwards.Add(ForwardListCommand.ToRow(network, g, rule));
        }

        var flows = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string protocol in FlowProtocols)
        {
            flows[protocol] = 0;
        }

        foreach (FlowInfo f in g.Flows())
        {
            flows[f.Protocol] = flows.GetValueOrDefault(f.Protocol) + 1;
        }

        Dictionary<string, long> drops = g.GatewayCounters.AllDrops();
        Dictionary<string, long> events = g.GatewayCounters.AllEvents();

        return new GatewaySnapshot(
            g.Name, Ethernet.FormatMac(o.Mac), o.Network.ToString(), o.Host.ToString(), o.Dns.ToString(), o.DhcpStart.ToString(),
            o.Ipv6 ? o.Network6.ToString() : null, o.Ipv6 ? o.Host6.ToString() : null, o.Ipv6 ? o.Dns6.ToString() : null,
            o.Mtu, o.Restrict, leaseRows, forwards, flows, drops, events);
    }

    /// <summary>The rule counters of a port that has them (<see cref="IRuleCounters"/>), set by set; null for other ports.
    /// `show` leaves zeros out, the snapshot for /metrics keeps them.</summary>
    internal static Dictionary<string, IReadOnlyDictionary<string, long>>? RulesOf(Port p, bool includeZeros)
    {
        if (p is not IRuleCounters counted)
        {
            return null;
        }

        var result = new Dictionary<string, IReadOnlyDictionary<string, long>>(StringComparer.Ordinal);
        foreach (ICounterSet set in counted.RuleCounters)
        {
            var values = new Dictionary<string, long>(StringComparer.Ordinal);
            set.CopyTo(values, includeZeros);
            result[set.Name] = values;
        }

        return result;
    }

    private static Dictionary<string, long> AllDrops(PortCounters counters) => counters.DropCounts.Snapshot(includeZeros: true);
}
