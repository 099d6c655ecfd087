// `switchyard leases`: the DHCP leases the NAT gateways handed out (the control API's `leases`).
using System.CommandLine;
using Switchyard.Engine.Commands;

namespace Switchyard.Cli;

internal static partial class Program
{
    private static Command LeasesVerb()
    {
        var network = new Argument<string?>("network") { Description = "Only this network (default: every network with a gateway)", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("leases", "List the DHCP leases the NAT gateways handed out.") { network, JsonOption };
        command.SetAction((r, ct) => ClientAsync(r, RunDir(r), new LeasesCommand(Network: r.GetValue(network)), r.GetValue(JsonOption), Tables.Leases, ct));
        return command;
    }
}
