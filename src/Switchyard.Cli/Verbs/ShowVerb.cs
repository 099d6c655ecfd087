// `switchyard show`: networks, ports and their counters (the control API's `show`).
using System.CommandLine;
using Switchyard.Engine.Commands;

namespace Switchyard.Cli;

internal static partial class Program
{
    private static Command ShowVerb()
    {
        var command = new Command("show", "List networks, ports and their counters.") { JsonOption };
        command.SetAction((r, ct) => ClientAsync(r, RunDir(r), new ShowCommand(), r.GetValue(JsonOption), Tables.Show, ct));
        return command;
    }
}
