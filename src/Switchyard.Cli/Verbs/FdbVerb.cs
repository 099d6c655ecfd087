// `switchyard fdb`: the learned MAC addresses (the control API's `fdb`).
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
    private static Command FdbVerb()
    {
        var network = new Option<string?>("--network", "-n") { Description = "Only this network" };
        var command = new Command("fdb", "List learned MAC addresses (the forwarding database).") { network, JsonOption };
        command.SetAction((r, ct) => ClientAsync(r, RunDir(r), new FdbCommand(Network: r.GetValue(network)), r.GetValue(JsonOption), Tables.Fdb, ct));
        return command;
    }
}
