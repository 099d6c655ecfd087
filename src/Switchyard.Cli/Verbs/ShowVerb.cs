// `switchyard show`: networks, ports and their counters (the control API's `show`).
using System.CommandLine;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Switchyard.Engine;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Native;
using Switchyard.UserNet;

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
