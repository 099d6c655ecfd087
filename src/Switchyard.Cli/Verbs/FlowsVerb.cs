// `switchyard flows`: the NAT gateways' live flows (the control API's `flows`).
using System.CommandLine;
using Switchyard.Engine.Commands;

namespace Switchyard.Cli;

internal static partial class Program
{
    private static Command FlowsVerb()
    {
        var network = new Argument<string?>("network") { Description = "Only this network (default: every network with a gateway)", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("flows", "List the NAT gateways' live TCP, UDP and ICMP flows.") { network, JsonOption };
        command.SetAction((r, ct) => ClientAsync(r, RunDir(r), new FlowsCommand(Network: r.GetValue(network)), r.GetValue(JsonOption), Tables.Flows, ct));
        return command;
    }
}
