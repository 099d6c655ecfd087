// `switchyard qemu-args`: the QEMU arguments for one more guest on a network of the running daemon (docs/deploy.md).
using System.CommandLine;
using System.Globalization;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Engine.Networks;
using System.Text.Json;

namespace Switchyard.Cli;

internal static partial class Program
{
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
