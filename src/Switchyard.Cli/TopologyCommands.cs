// The topology-file verbs: `check` (validate a file without starting anything), `reload` (make the
// running daemon re-read its file; SIGHUP to `switchyard up` does the same) and `qemu-args` (the QEMU
// arguments for one more guest on a network of the running daemon). docs/topology.md, docs/deploy.md.
using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Switchyard.Engine;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Engine.Networks;
using Switchyard.Native;
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

    private static string DescribePort(PortConfig p)
    {
        string what = p.Netdev switch
        {
            StreamSpec { Server: true } s => $"stream listener on {s.Address}",
            StreamSpec s => $"stream client to {s.Address}",
            VhostUserSpec { Server: true } v => $"vhost-user listener on {v.Path}",
            VhostUserSpec v => $"vhost-user client to {v.Path}",
            DgramSpec d => $"dgram {d.Local} <-> {d.Remote}",
            TapSpec t => $"tap {t.IfName}",
            NetnsSpec ns => ns.Name is { } name ? $"netns {name}" : $"netns of pid {ns.Pid}",
            _ => p.Netdev.Kind,
        };
        return p.Vlan.Equals(VlanConfig.Default) ? what : $"{what}, {p.Vlan}";
    }

    private static string Plural(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";

    private static Command ReloadVerb()
    {
        var command = new Command(
            "reload",
            "Make the running daemon re-read the topology file it was started with (-c) and apply the changes; unchanged ports are not touched. Same as SIGHUP to 'switchyard up'.")
        {
            JsonOption,
        };
        command.SetAction((r, ct) => ClientAsync(r, RunDir(r), new ReloadCommand(), r.GetValue(JsonOption), Tables.Message, ct));
        return command;
    }

    /// <summary>SIGHUP: reload the topology file (the daemon logs the outcome). Dispose to stop listening.
    /// SIGHUP is first put back to its default disposition: started under nohup (or a runner that ignores
    /// SIGHUP) it would otherwise stay ignored and never reach us. Handling it never terminates us, so
    /// what nohup is for still holds.</summary>
    internal static PosixSignalRegistration ReloadOnHangup(Daemon daemon)
    {
        Signals.RestoreDefault(Signals.Hangup);
        return PosixSignalRegistration.Create(PosixSignal.SIGHUP, c =>
        {
            c.Cancel = true; // Not the default action (terminate).
            _ = Task.Run(() => daemon.ReloadAsync());
        });
    }

    private static Command QemuArgsVerb()
    {
        var network = new Argument<string?>("network") { Description = "The network (default: the only one, or 'default')", Arity = ArgumentArity.ZeroOrOne };
        var kind = new Option<string?>("--kind") { Description = "Attach with this kind of port: vhost-user, stream or dgram (default: the first port a guest can use, listeners first)", HelpName = "vhost-user|stream|dgram" };
        kind.AcceptOnlyFromAmong([.. QemuArgsBuilder.Kinds]);
        var name = new Option<string?>("--name") { Description = "The VM's name: ids and a stable locally administered MAC are derived from it, so each VM differs", HelpName = "VM" };
        var queues = new Option<int?>("--queues") { Description = "vhost-user: queue pairs the guest uses (mq=on when above 1)", HelpName = "N" };
        var memory = new Option<string?>("--memory") { Description = "vhost-user: the guest's memory size, as for -m (e.g. 1G); without it the memory backend's size is the placeholder SIZE", HelpName = "SIZE" };
        var port = new Option<string?>("--port") { Description = "Use this port of the network", HelpName = "NAME" };
        var command = new Command("qemu-args", "Print ready-to-paste QEMU arguments that put a guest on a network of the running daemon.")
        {
            network, kind, name, queues, memory, port, JsonOption,
        };
        command.SetAction(async (r, ct) =>
        {
            var request = new QemuArgsCommand(
                r.GetValue(network), Name: r.GetValue(name), Kind: r.GetValue(kind), Queues: r.GetValue(queues), Memory: r.GetValue(memory), Port: r.GetValue(port));
            ControlResponse response;
            try
            {
                response = await ControlClient.SendAsync(Path.Combine(RunDir(r), Defaults.ControlSocketFileName), request, ct).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                return Fail(r, ex.Message, 1);
            }

            if (r.GetValue(JsonOption))
            {
                await Out(r).WriteLineAsync(JsonSerializer.Serialize(response, ControlJson.Default.ControlResponse)).ConfigureAwait(false);
                return response.Ok ? 0 : 1;
            }

            if (!response.Ok)
            {
                return Fail(r, response.Error ?? "failed", 1);
            }

            await Out(r).WriteLineAsync(response.Message).ConfigureAwait(false);

            // Notes go to stderr, so $(switchyard qemu-args ...) holds the arguments only.
            if ((response.QemuArgs ?? []).Any(a => a.Contains($"size={QemuArgsBuilder.MemoryPlaceholder},", StringComparison.Ordinal)))
            {
                await Err(r).WriteLineAsync($"switchyard: note: replace {QemuArgsBuilder.MemoryPlaceholder} with the guest's -m size (e.g. 1G), or pass --memory SIZE").ConfigureAwait(false);
            }

            if (r.GetValue(name) is null)
            {
                await Err(r).WriteLineAsync("switchyard: note: pass --name VM to give each guest its own ids and MAC").ConfigureAwait(false);
            }

            return 0;
        });
        return command;
    }
}
