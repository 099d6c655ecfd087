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
            var rows = new List<string[]> { new[] { "PORT", "KIND", "VLAN", "RX FRAMES", "RX BYTES", "TX FRAMES", "TX BYTES", "DROPS", "PEER" } };
            rows.AddRange(n.Ports.Select(p => new[]
            {
                p.Name, p.Kind, p.Vlan, N(p.RxFrames), N(p.RxBytes), N(p.TxFrames), N(p.TxBytes),
                p.Drops.Count == 0 ? "0" : string.Join(",", p.Drops.Select(d => $"{d.Key}={d.Value}")),
                p.Peer,
            }));
            Append(sb, rows, "  ");
            var counters = string.Join(" ", n.Counters.Select(c => $"{c.Key}={c.Value}"));
            sb.Append(CultureInfo.InvariantCulture, $"  switch: {counters}\n");
            if (n.ClosedPortDrops.Count > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"  closed ports: {string.Join(" ", n.ClosedPortDrops.Select(c => $"{c.Key}={c.Value}"))}\n");
            }
        }

        return sb.ToString();
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
