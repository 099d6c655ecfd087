// `switchyard fdb`: the learned MAC addresses (the control API's `fdb`).
using System.CommandLine;
using Switchyard.Engine.Commands;

namespace Switchyard.Cli;

internal static partial class Program
{
    private static Command FdbVerb()
    {
        var network = new Argument<string?>("network") { Description = "Only this network (default: every network)", Arity = ArgumentArity.ZeroOrOne };
        var deprecated = DeprecatedNetworkOption();
        var command = new Command("fdb", "List learned MAC addresses (the forwarding database).") { network, deprecated, JsonOption };
        command.SetAction((r, ct) => TryNetwork(r, network, deprecated, "switchyard fdb NETWORK", out string? chosen)
            ? ClientAsync(r, RunDir(r), new FdbCommand(Network: chosen), r.GetValue(JsonOption), Tables.Fdb, ct)
            : Task.FromResult(2));
        return command;
    }
}
