// Plain-text rendering of control API answers: aligned tables a human reads at a glance.
using System.Globalization;
using System.Text;
using Switchyard.Engine.Control;

namespace Switchyard.Cli;

internal static class Tables
{
    public static string Message(ControlResponse r) => (r.Message ?? "ok") + "\n";

    public static string Show(ControlResponse r)
    {
        var sb = new StringBuilder();
        ShowResult show = r.Show ?? new ShowResult("", []);
        foreach (NetworkInfo n in show.Networks)
        {
            sb.Append(CultureInfo.InvariantCulture, $"network {n.Name}{(n.Hub ? " (hub)" : "")}: {n.Ports.Count} ports, {n.Counters.GetValueOrDefault("fdb_entries")} MACs\n");
            var attachments = new List<string[]> { new[] { "ATTACHMENT", "VLAN", "STATE" } };
            attachments.AddRange(n.Attachments.Select(a => new[] { a.Name, a.Vlan, a.State }));
            Append(sb, attachments, "  ");
            var rows = new List<string[]> { new[] { "PORT", "KIND", "LINK", "VLAN", "RX FRAMES", "RX BYTES", "TX FRAMES", "TX BYTES", "DROPS", "PEER" } };
            rows.AddRange(n.Ports.Select(p => new[]
            {
                p.Name, p.Kind, p.LinkUp ? "up" : "DOWN", p.Vlan, N(p.RxFrames), N(p.RxBytes), N(p.TxFrames), N(p.TxBytes),
                p.Drops.Count == 0 ? "0" : string.Join(",", p.Drops.Select(d => $"{d.Key}={d.Value}")),
                p.Peer,
            }));
            Append(sb, rows, "  ");
            foreach (PortInfo p in n.Ports)
            {
                // Each rule the port's peer broke, by set (vhost-user: virtqueue, net_tx, net_rx, vhost_user, guest_memory).
                string rules = Rules(p.Rules);
                if (rules.Length > 0)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"  {p.Name} rules: {rules}\n");
                }
            }

            var counters = string.Join(" ", n.Counters.Select(c => $"{c.Key}={c.Value}"));
            sb.Append(CultureInfo.InvariantCulture, $"  switch: {counters}\n");
            if (n.ClosedPortDrops.Count > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"  closed ports: {string.Join(" ", n.ClosedPortDrops.Select(c => $"{c.Key}={c.Value}"))}\n");
            }

            if (Rules(n.ClosedPortRules) is { Length: > 0 } closedRules)
            {
                sb.Append(CultureInfo.InvariantCulture, $"  closed ports rules: {closedRules}\n");
            }

            if (n.Gateway is { } g)
            {
                string v6 = g.Ipv6 ? $"; ipv6 {g.Network6}, router {g.Host6}, dns {g.Dns6}" : "; ipv6 off";
                sb.Append(CultureInfo.InvariantCulture, $"  gateway: {g.Host} on {g.Network}, dns {g.Dns}, dhcp from {g.DhcpStart}{v6}; mtu {g.Mtu}{(g.Restrict ? ", restricted" : "")}; {g.Forwards} forwards\n");
                sb.Append(CultureInfo.InvariantCulture, $"  gateway events: {Pairs(g.Events)}\n");
                sb.Append(CultureInfo.InvariantCulture, $"  gateway drops: {Pairs(g.Drops)}\n");
            }
        }

        if (show.Daemon is { Count: > 0 } daemon)
        {
            sb.Append(CultureInfo.InvariantCulture, $"daemon: {string.Join(" ", daemon.Select(c => $"{c.Key}={c.Value}"))}\n");
        }

        return sb.ToString();
    }

    /// <summary>Nonzero rule counters as set.rule=count pairs.</summary>
    private static string Rules(IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>>? sets) =>
        sets is null ? string.Empty : string.Join(" ", sets.SelectMany(set => set.Value.Where(r => r.Value != 0).Select(r => $"{set.Key}.{r.Key}={r.Value}")));

    public static string Leases(ControlResponse r)
    {
        IReadOnlyList<LeaseRow> leases = r.Leases ?? [];
        var rows = new List<string[]> { new[] { "NETWORK", "MAC", "ADDRESS", "HOSTNAME", "EXPIRES IN", "STATE" } };
        rows.AddRange(leases.Select(l => new[]
        {
            l.Network, l.Mac, l.Address, l.Hostname ?? "-", Duration(l.ExpiresInSeconds), l.Active ? "active" : "expired",
        }));
        return Render(rows, leases.Count == 0 ? "(no leases yet: a guest gets one when it asks for an address over DHCP)" : null);
    }

    public static string Flows(ControlResponse r)
    {
        IReadOnlyList<FlowRow> flows = r.Flows ?? [];
        var rows = new List<string[]> { new[] { "NETWORK", "PROTO", "GUEST", "REMOTE", "STATE", "DIR", "FROM GUEST", "TO GUEST", "IDLE" } };
        rows.AddRange(flows.Select(f => new[]
        {
            f.Network, f.Protocol, f.Guest, f.Remote, f.State, f.Inbound ? "in" : "out", N(f.BytesFromGuest), N(f.BytesToGuest), Duration(f.IdleSeconds),
        }));
        return Render(rows, flows.Count == 0 ? "(no flows)" : null);
    }

    public static string Forwards(ControlResponse r)
    {
        IReadOnlyList<ForwardRow> forwards = r.Forwards ?? [];
        var rows = new List<string[]> { new[] { "NETWORK", "PROTO", "HOST", "GUEST", "RULE" } };
        rows.AddRange(forwards.Select(f => new[]
        {
            f.Network, f.Protocol, $"{Host(f.HostAddress)}:{f.HostPort}", $"{Host(f.GuestAddress)}:{f.GuestPort}", f.Rule,
        }));
        return Render(rows, forwards.Count == 0 ? "(no forwards; add one with 'switchyard forward add tcp:127.0.0.1:2222-:22')" : null);
    }

    public static string Taps(IReadOnlyList<Switchyard.Engine.Host.TapRow> taps, bool privileged)
    {
        var rows = new List<string[]> { new[] { "INTERFACE", "MODE", "NAMESPACE", "PID", "PROCESS", "FD", "ROLE" } };
        foreach (Switchyard.Engine.Host.TapRow t in taps)
        {
            string ns = t.InThisNamespace ? "this" : "other";
            if (t.Holders.Count == 0)
            {
                rows.Add([t.Interface, t.Mode, ns, "-", "(not held open)", "-", "-"]);
            }

            foreach (Switchyard.Engine.Host.TapHolder h in t.Holders)
            {
                rows.Add([t.Interface, t.Mode, ns, h.Pid.ToString(CultureInfo.InvariantCulture), h.Process, h.Fd.ToString(CultureInfo.InvariantCulture), h.Role]);
            }
        }

        string? note = taps.Count == 0 ? "(no tap or tun devices)" : null;
        if (!privileged)
        {
            note = (note is null ? string.Empty : note + "\n") + "(not root: other users' processes are not shown as holders)";
        }

        return Render(rows, note);
    }

    private static string Render(List<string[]> rows, string? note)
    {
        var sb = new StringBuilder();
        Append(sb, rows, "");
        if (note is not null)
        {
            sb.Append(note).Append('\n');
        }

        return sb.ToString();
    }

    private static string Host(string? address) => address is null ? "*" : address.Contains(':', StringComparison.Ordinal) ? $"[{address}]" : address;

    private static string Pairs(IReadOnlyDictionary<string, long> counters) =>
        counters.Count == 0 ? "none" : string.Join(" ", counters.Select(c => $"{c.Key}={c.Value}"));

    private static string Duration(double seconds)
    {
        if (seconds < 0)
        {
            return "-";
        }

        var t = TimeSpan.FromSeconds(Math.Floor(seconds));
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : t.TotalMinutes >= 1 ? $"{t.Minutes}m{t.Seconds:00}s" : $"{t.Seconds}s";
    }

    public static string Fdb(ControlResponse r)
    {
        var rows = new List<string[]> { new[] { "NETWORK", "VLAN", "MAC", "PORT", "AGE" } };
        rows.AddRange((r.Fdb ?? []).Select(e => new[] { e.Network, N(e.Vlan), e.Mac, e.Port, e.AgeSeconds.ToString("0.0", CultureInfo.InvariantCulture) + "s" }));
        var sb = new StringBuilder();
        Append(sb, rows, "");
        return sb.ToString();
    }

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static void Append(StringBuilder sb, List<string[]> rows, string indent)
    {
        int columns = rows[0].Length;
        var widths = new int[columns];
        foreach (string[] row in rows)
        {
            for (int i = 0; i < columns; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        foreach (string[] row in rows)
        {
            sb.Append(indent);
            for (int i = 0; i < columns; i++)
            {
                sb.Append(i == columns - 1 ? row[i] : row[i].PadRight(widths[i] + 2));
            }

            sb.Append('\n');
        }
    }
}
