// Turns a DaemonSnapshot into the Prometheus text served at GET /metrics (names in docs/metrics.md).
//
// Every metric starts with switchyard_ except the process_* ones, which follow the names Prometheus
// client libraries use for process metrics. Per-port series carry network, port and kind; a port's
// peer (a socket path, an address) appears once, in switchyard_port_info, so the per-port series stay
// small. Drop and event counters are written for every reason, zeros included, so rate() works from
// the first frame dropped.
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Switchyard.Core.Counters;
using Switchyard.Engine.Metrics;
using Switchyard.Engine.Networks;
using Switchyard.Switching;

namespace Switchyard.Web;

internal static class MetricsRenderer
{
    private static readonly IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> EmptyRules = new Dictionary<string, IReadOnlyDictionary<string, long>>();

    public static string Render(DaemonSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var w = new PrometheusWriter();
        WriteProcess(w, snapshot);
        WritePorts(w, snapshot);
        WriteSwitches(w, snapshot);
        WriteGateways(w, snapshot);
        WriteVhostUser(w, snapshot);
        return w.ToString();
    }

    private static void WriteProcess(PrometheusWriter w, DaemonSnapshot s)
    {
        string version = typeof(MetricsRenderer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        w.Family("switchyard_build_info", MetricType.Gauge, "Always 1; the version label says which switchyard this is.");
        w.Sample(1, ("version", version));

        using Process self = Process.GetCurrentProcess();
        w.Family("process_start_time_seconds", MetricType.Gauge, "Start time of the process since the Unix epoch in seconds.");
        w.Sample(new DateTimeOffset(self.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0);
        w.Family("process_cpu_seconds_total", MetricType.Counter, "User and system CPU time the process has used, in seconds.");
        w.Sample(self.TotalProcessorTime.TotalSeconds);
        w.Family("process_resident_memory_bytes", MetricType.Gauge, "Resident memory size in bytes.");
        w.Sample(self.WorkingSet64);
        if (OpenFds() is { } fds)
        {
            w.Family("process_open_fds", MetricType.Gauge, "Open file descriptors.");
            w.Sample(fds);
        }

        w.Family("switchyard_start_time_seconds", MetricType.Gauge, "When the daemon started, since the Unix epoch in seconds.");
        w.Sample(s.StartedAt.ToUnixTimeMilliseconds() / 1000.0);
        w.Family("switchyard_uptime_seconds", MetricType.Gauge, "Seconds since the daemon started.");
        w.Sample(s.UptimeSeconds);
    }

    private static void WritePorts(PrometheusWriter w, DaemonSnapshot s)
    {
        w.Family("switchyard_ports", MetricType.Gauge, "Ports on a network's switch now, by kind (vhost-user, stream, dgram, tap, gateway, ...).");
        foreach (NetworkSnapshot n in s.Networks)
        {
            var kinds = new SortedDictionary<string, int>(StringComparer.Ordinal);
            foreach (PortSnapshot p in n.Ports)
            {
                kinds[p.Kind] = kinds.GetValueOrDefault(p.Kind) + 1;
            }

            foreach ((string kind, int count) in kinds)
            {
                w.Sample(count, ("network", n.Name), ("kind", kind));
            }
        }

        w.Family("switchyard_port_info", MetricType.Gauge, "Always 1 per port: its kind, peer (socket path or address) and VLAN membership.");
        foreach (NetworkSnapshot n in s.Networks)
        {
            foreach (PortSnapshot p in n.Ports)
            {
                w.Sample(1, ("network", n.Name), ("port", p.Name), ("kind", p.Kind), ("peer", p.Peer), ("vlan", p.Vlan));
            }
        }

        w.Family("switchyard_port_link_up", MetricType.Gauge, "1 when the port's link is up, 0 while it is set down (switchyard port set --link down).");
        foreach (NetworkSnapshot n in s.Networks)
        {
            foreach (PortSnapshot p in n.Ports)
            {
                w.Sample(p.LinkUp ? 1 : 0, ("network", n.Name), ("port", p.Name), ("kind", p.Kind));
            }
        }

        PortCounter(w, s, "switchyard_port_rx_frames_total", "Frames the port received from its peer (into the switch).", p => p.RxFrames);
        PortCounter(w, s, "switchyard_port_rx_bytes_total", "Bytes the port received from its peer (into the switch).", p => p.RxBytes);
        PortCounter(w, s, "switchyard_port_tx_frames_total", "Frames the port sent to its peer (out of the switch).", p => p.TxFrames);
        PortCounter(w, s, "switchyard_port_tx_bytes_total", "Bytes the port sent to its peer (out of the switch).", p => p.TxBytes);

        w.Family("switchyard_port_drops_total", MetricType.Counter, "Frames a port dropped, by reason (rx_* on the way in, tx_* on the way out).");
        foreach (NetworkSnapshot n in s.Networks)
        {
            foreach (PortSnapshot p in n.Ports)
            {
                foreach ((string reason, long count) in p.Drops)
                {
                    w.Sample(count, ("network", n.Name), ("port", p.Name), ("kind", p.Kind), ("reason", reason));
                }
            }
        }

        // Every rule a port's peer can break, under its own name (a vhost-user port: the virtio queue and TX header
        // rules, the messages it refused, the guest-memory rules); the sets and rules come from the port's enums.
        w.Family("switchyard_port_rule_violations_total", MetricType.Counter, "Rules a port's peer broke, by rule set (virtqueue, net_tx, net_rx, vhost_user, guest_memory) and rule.");
        foreach (NetworkSnapshot n in s.Networks)
        {
            foreach (PortSnapshot p in n.Ports)
            {
                foreach ((string set, IReadOnlyDictionary<string, long> rules) in p.Rules ?? EmptyRules)
                {
                    foreach ((string rule, long count) in rules)
                    {
                        w.Sample(count, ("network", n.Name), ("port", p.Name), ("kind", p.Kind), ("set", set), ("rule", rule));
                    }
                }
            }
        }

        w.Family("switchyard_closed_port_rule_violations_total", MetricType.Counter, "Rules broken by the peers of ports that have since gone away, by rule set and rule, per network.");
        foreach (NetworkSnapshot n in s.Networks)
        {
            foreach ((string set, IReadOnlyDictionary<string, long> rules) in n.ClosedPortRules ?? EmptyRules)
            {
                foreach ((string rule, long count) in rules)
                {
                    w.Sample(count, ("network", n.Name), ("set", set), ("rule", rule));
                }
            }
        }

        w.Family("switchyard_closed_port_drops_total", MetricType.Counter, "Drops of ports that have since gone away, by reason, per network.");
        foreach (NetworkSnapshot n in s.Networks)
        {
            foreach ((string reason, long count) in n.ClosedPortDrops)
            {
                w.Sample(count, ("network", n.Name), ("reason", reason));
            }
        }
    }

    private static void PortCounter(PrometheusWriter w, DaemonSnapshot s, string name, string help, Func<PortSnapshot, long> value)
    {
        w.Family(name, MetricType.Counter, help);
        foreach (NetworkSnapshot n in s.Networks)
        {
            foreach (PortSnapshot p in n.Ports)
            {
                w.Sample(value(p), ("network", n.Name), ("port", p.Name), ("kind", p.Kind));
            }
        }
    }

    private static void WriteSwitches(PrometheusWriter w, DaemonSnapshot s)
    {
        // One family per counter of the switch and of the network, named and described by its enum member
        // ([Counter]); a member without help text (fdb_entries, a gauge) has its own family below.
        SwitchFamilies<SwitchCounter>(w, s);
        SwitchFamilies<NetworkCounter>(w, s);

        w.Family("switchyard_fdb_entries", MetricType.Gauge, "Entries in the network's forwarding database (learned MAC addresses) now.");
        foreach (NetworkSnapshot n in s.Networks)
        {
            w.Sample(n.FdbEntries, ("network", n.Name));
        }
    }

    private static void SwitchFamilies<T>(PrometheusWriter w, DaemonSnapshot s)
        where T : struct, Enum
    {
        for (int i = 0; i < CounterNames<T>.Count; i++)
        {
            if (CounterNames<T>.Help(i) is not { } help || !CounterNames<T>.IsCounted(i))
            {
                continue;
            }

            string key = CounterNames<T>.Name(i);
            w.Family($"switchyard_switch_{CounterNames<T>.Metric(i)}_total", MetricType.Counter, help);
            foreach (NetworkSnapshot n in s.Networks)
            {
                w.Sample(n.SwitchCounters.GetValueOrDefault(key), ("network", n.Name));
            }
        }
    }

    private static void WriteGateways(PrometheusWriter w, DaemonSnapshot s)
    {
        w.Family("switchyard_gateway_info", MetricType.Gauge, "Always 1 per NAT gateway: its subnet, router address and DNS address.");
        foreach (NetworkSnapshot n in s.Networks)
        {
            if (n.Gateway is { } g)
            {
                w.Sample(1, ("network", n.Name), ("subnet", g.Network), ("router", g.Host), ("dns", g.Dns), ("subnet6", g.Network6 ?? string.Empty));
            }
        }

        w.Family("switchyard_gateway_leases", MetricType.Gauge, "DHCP leases the gateway holds, by state (active, expired).");
        foreach (NetworkSnapshot n in s.Networks)
        {
            if (n.Gateway is { } g)
            {
                int active = g.Leases.Count(l => l.Active);
                w.Sample(active, ("network", n.Name), ("state", "active"));
                w.Sample(g.Leases.Count - active, ("network", n.Name), ("state", "expired"));
            }
        }

        w.Family("switchyard_gateway_flows", MetricType.Gauge, "Live NAT flows, by protocol (tcp, udp, icmp).");
        foreach (NetworkSnapshot n in s.Networks)
        {
            if (n.Gateway is { } g)
            {
                foreach ((string protocol, int count) in g.Flows)
                {
                    w.Sample(count, ("network", n.Name), ("protocol", protocol));
                }
            }
        }

        w.Family("switchyard_gateway_forwards", MetricType.Gauge, "Open port forwards (hostfwd rules), by protocol (tcp, udp).");
        foreach (NetworkSnapshot n in s.Networks)
        {
            if (n.Gateway is { } g)
            {
                int tcp = g.Forwards.Count(f => f.Protocol == "tcp");
                w.Sample(tcp, ("network", n.Name), ("protocol", "tcp"));
                w.Sample(g.Forwards.Count - tcp, ("network", n.Name), ("protocol", "udp"));
            }
        }

        w.Family("switchyard_gateway_drops_total", MetricType.Counter, "Packets the gateway dropped, by reason.");
        foreach (NetworkSnapshot n in s.Networks)
        {
            if (n.Gateway is { } g)
            {
                foreach ((string reason, long count) in g.Drops)
                {
                    w.Sample(count, ("network", n.Name), ("reason", reason));
                }
            }
        }

        w.Family("switchyard_gateway_events_total", MetricType.Counter, "Work the gateway did, by event (dhcp_acks, tcp_flows_opened, dns_queries_forwarded, ...).");
        foreach (NetworkSnapshot n in s.Networks)
        {
            if (n.Gateway is { } g)
            {
                foreach ((string what, long count) in g.Events)
                {
                    w.Sample(count, ("network", n.Name), ("event", what));
                }
            }
        }
    }

    private static void WriteVhostUser(PrometheusWriter w, DaemonSnapshot s)
    {
        w.Family("switchyard_vhost_user_features", MetricType.Gauge, "The virtio feature bits the guest's driver negotiated (0 until it does).");
        foreach (NetworkSnapshot n in s.Networks)
        {
            foreach (PortSnapshot p in n.Ports)
            {
                if (p.Features is { } features)
                {
                    w.Sample((double)features, ("network", n.Name), ("port", p.Name));
                }
            }
        }

        QueueGauge(w, s, "switchyard_vhost_user_queue_size", "Descriptors in the ring (0 until the front-end starts it).", q => q.Size);
        QueueGauge(w, s, "switchyard_vhost_user_queue_started", "1 when the front-end has started the ring.", q => q.Started ? 1 : 0);
        QueueGauge(w, s, "switchyard_vhost_user_queue_enabled", "1 when the ring is enabled (SET_VRING_ENABLE).", q => q.Enabled ? 1 : 0);
        QueueGauge(w, s, "switchyard_vhost_user_queue_broken", "1 when the ring broke a virtio rule and is no longer processed.", q => q.Broken ? 1 : 0);
        QueueGauge(w, s, "switchyard_vhost_user_queue_next_avail", "The device's next avail ring index (free-running, wraps at 65536).", q => q.NextAvail);
        QueueGauge(w, s, "switchyard_vhost_user_queue_used_idx", "The used ring index the device last wrote (free-running, wraps at 65536).", q => q.UsedIdx);
    }

    private static void QueueGauge(PrometheusWriter w, DaemonSnapshot s, string name, string help, Func<QueueSnapshot, long> value)
    {
        w.Family(name, MetricType.Gauge, help);
        foreach (NetworkSnapshot n in s.Networks)
        {
            foreach (PortSnapshot p in n.Ports)
            {
                foreach (QueueSnapshot q in p.Queues ?? [])
                {
                    w.Sample(value(q), ("network", n.Name), ("port", p.Name), ("queue", q.Index.ToString(CultureInfo.InvariantCulture)), ("direction", q.Direction));
                }
            }
        }
    }

    private static int? OpenFds()
    {
        try
        {
            return Directory.GetFileSystemEntries("/proc/self/fd").Length;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
