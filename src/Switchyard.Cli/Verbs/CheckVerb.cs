// `switchyard check`: validate a topology file without starting anything (docs/topology.md). The
// running daemon's verbs for the file are `reload` (ReloadVerb.cs) and `qemu-args` (QemuArgsVerb.cs).
using System.CommandLine;
using System.Globalization;
using System.Text;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.Engine.Networks;
using System.Text.Json;

namespace Switchyard.Cli;

internal static partial class Program
{
    private static Command CheckVerb()
    {
        var config = new Option<string>("--config", "-c") { Description = "The YAML topology file to check", Required = true };
        var command = new Command(
            "check",
            "Validate a topology file without starting anything: every error as FILE:LINE: path: message (exit 1), or a summary (exit 0). Also checks what this host can tell without changes: socket directories, tap names, socket paths and host ports used twice.")
        {
            config, JsonOption,
        };
        command.SetAction(r => Check(r, r.GetValue(config)!, r.GetValue(JsonOption)));
        return command;
    }

    private static int Check(ParseResult r, string file, bool json)
    {
        TopologyConfig? topology = TopologyLoader.TryLoadFile(file, hostChecks: true, out IReadOnlyList<ConfigDiagnostic> problems);
        if (json)
        {
            // {"ok":true,"file":F,"summary":S} or {"ok":false,"file":F,"errors":[{"line":N,"path":P,"message":M}]}
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteBoolean("ok", topology is not null);
                w.WriteString("file", file);
                if (topology is not null)
                {
                    w.WriteString("summary", Summary(file, topology));
                }
                else
                {
                    w.WriteStartArray("errors");
                    foreach (ConfigDiagnostic problem in problems)
                    {
                        w.WriteStartObject();
                        w.WriteNumber("line", problem.Line);
                        w.WriteString("path", problem.Path);
                        w.WriteString("message", problem.Message);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                }

                w.WriteEndObject();
            }

            Out(r).WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
            return topology is null ? 1 : 0;
        }

        if (topology is null)
        {
            foreach (ConfigDiagnostic problem in problems)
            {
                Err(r).WriteLine(problem.Format(file));
            }

            Err(r).WriteLine($"{file}: {problems.Count} error{(problems.Count == 1 ? string.Empty : "s")}");
            return 1;
        }

        Out(r).WriteLine(Summary(file, topology));
        return 0;
    }

    /// <summary>One paragraph: totals, then each network's ports, gateway and forwards.</summary>
    internal static string Summary(string file, TopologyConfig topology)
    {
        int ports = topology.Networks.Sum(n => n.Ports.Length);
        int gateways = topology.Networks.Count(n => n.Gateway is not null);
        int forwards = topology.Networks.Sum(n => n.Gateway?.Forwards.Length ?? 0);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{file} is valid: {Plural(topology.Networks.Length, "network")}, {Plural(ports, "port")}, {Plural(gateways, "gateway")}, {Plural(forwards, "forward")}.");
        foreach (NetworkConfig n in topology.Networks)
        {
            text.Append(CultureInfo.InvariantCulture, $" Network {n.Name}{(n.Hub ? " (hub)" : string.Empty)}: {Plural(n.Ports.Length, "port")}");
            if (n.Ports.Length > 0)
            {
                text.Append(" (").AppendJoin(", ", n.Ports.Select(p => $"{p.Name}: {DescribePort(p)}")).Append(')');
            }

            if (n.Gateway is { } g)
            {
                text.Append(CultureInfo.InvariantCulture, $"; gateway {g.Host} on {g.Network}");
                if (g.Forwards.Length > 0)
                {
                    text.Append(" forwarding ").AppendJoin(", ", g.Forwards.Select(f => f.ToString()));
                }
            }
            else
            {
                text.Append("; no gateway");
            }

            text.Append('.');
        }

        return text.ToString();
    }

    private static string DescribePort(PortConfig p) =>
        p.Vlan.Equals(VlanConfig.Default) ? p.Netdev.Describe() : $"{p.Netdev.Describe()}, {p.Vlan}";

    private static string Plural(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";

}
