// `switchyard reload`: make the running daemon re-read its topology file; SIGHUP to `switchyard up` does the same (docs/topology.md).
using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Switchyard.Engine;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Networks;
using Switchyard.Native;

namespace Switchyard.Cli;

internal static partial class Program
{
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
}
