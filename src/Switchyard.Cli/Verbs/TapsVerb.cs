// `switchyard taps`: the host's tap devices and the processes that hold them; needs no daemon.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Control;
using Switchyard.Engine.Host;

namespace Switchyard.Cli;

internal static partial class Program
{
    private static Command TapsVerb()
    {
        var command = new Command(
            "taps",
            "List the host's tap (and tun) devices with the processes holding each open (from /proc/*/fdinfo), marking QEMU guests and Switchyard's ports. Needs no daemon; run as root to see every process.")
        {
            JsonOption,
        };
        command.SetAction(r =>
        {
            IReadOnlyList<TapRow> taps = TapInventory.Scan();
            if (r.GetValue(JsonOption))
            {
                Out(r).WriteLine(JsonSerializer.Serialize(taps, TapJson.Default.IReadOnlyListTapRow));
                return 0;
            }

            Out(r).Write(Tables.Taps(taps, Environment.IsPrivilegedProcess));
            return 0;
        });
        return command;
    }
}
