// The switchyard executable: `up` runs the daemon; the other verbs are clients of its control socket.
using System.CommandLine;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Switchyard.Engine;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;

namespace Switchyard.Cli;

internal static class Program
{
    private static readonly Option<string?> RunDirOption = new("--run-dir")
    {
        Description = "Directory for the daemon's sockets (default: $XDG_RUNTIME_DIR/switchyard, or /run/switchyard for root)",
        Recursive = true,
    };

    private static readonly Option<bool> JsonOption = new("--json") { Description = "Print the raw JSON answer of the control API" };

    private static readonly Option<bool> PrintCapabilitiesOption = new("--print-capabilities")
    {
        Description = "Print the vhost-user back-end capabilities as JSON (vhost-user.rst, \"Backend program conventions\") and exit",
    };

    private static async Task<int> Main(string[] args)
    {
        var root = new RootCommand("Switchyard: the host side of virtual-machine networking (switch, vhost-user back-end, QEMU stream/socket/dgram peers).")
        {
            RunDirOption,
            PrintCapabilitiesOption,
            UpCommand(),
            ShowCommand(),
            FdbCommand(),
            PortCommand(),
        };
        root.SetAction(r =>
        {
            if (r.GetValue(PrintCapabilitiesOption))
            {
                // The vhost-user.json schema: a net back-end; no type-specific features are defined for net.
                Console.Out.Write("{\n  \"type\": \"net\"\n}\n");
                return 0;
            }

            Console.Error.WriteLine("switchyard: a command is required (try 'switchyard up', or 'switchyard --help')");
            return 2;
        });
        return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
    }

    private static string RunDir(ParseResult r) => r.GetValue(RunDirOption) is { Length: > 0 } dir ? Path.GetFullPath(dir) : Defaults.RunDirectory();

    private static Command UpCommand()
    {
        var config = new Option<string?>("--config", "-c") { Description = "A YAML topology file (default: one network 'default' with DIR/stream.sock)" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log debug detail" };
        var command = new Command("up", "Start the daemon in the foreground and print the QEMU arguments for each network.") { config, verbose };
        command.SetAction((r, ct) => UpAsync(RunDir(r), r.GetValue(config), r.GetValue(verbose), ct));
        return command;
    }

    private static async Task<int> UpAsync(string runDir, string? configPath, bool verbose, CancellationToken ct)
    {
        TopologyConfig topology;
        try
        {
            topology = configPath is null ? TopologyConfig.Default(runDir) : TopologyLoader.LoadFile(configPath);
        }
        catch (ConfigException ex)
        {
            return Fail(configPath is null ? ex.Message : $"{configPath}:\n{ex.Message}", 2);
        }

        using ILoggerFactory logs = LoggerFactory.Create(b => b
            .SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information)
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
                o.ColorBehavior = LoggerColorBehavior.Disabled;
            })
            .AddFilter<ConsoleLoggerProvider>(null, verbose ? LogLevel.Debug : LogLevel.Information));

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });

        Daemon daemon;
        try
        {
            daemon = await Daemon.StartAsync(new DaemonOptions(runDir, topology, logs)).ConfigureAwait(false);
        }
        catch (ConfigException ex)
        {
            return Fail(ex.Message, 2);
        }
        catch (Exception ex) when (ex is IOException or SocketException or UnauthorizedAccessException)
        {
            return Fail(ex.Message, 1);
        }

        await using (daemon.ConfigureAwait(false))
        {
            var banner = new StringBuilder();
            banner.AppendLine($"switchyard: run directory {runDir}");
            foreach (string hint in await daemon.QemuHintsAsync().ConfigureAwait(false))
            {
                banner.AppendLine($"switchyard: {hint}");
            }

            banner.AppendLine("switchyard: ready");
            await Console.Out.WriteAsync(banner.ToString()).ConfigureAwait(false);
            await Console.Out.FlushAsync(ct).ConfigureAwait(false);
            SystemdNotify.Ready();

            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // SIGINT/SIGTERM: stop cleanly below.
            }
        }

        return 0;
    }

    private static Command ShowCommand()
    {
        var command = new Command("show", "List networks, ports and their counters.") { JsonOption };
        command.SetAction((r, ct) => ClientAsync(RunDir(r), new ControlRequest("show"), r.GetValue(JsonOption), Tables.Show, ct));
        return command;
    }

    private static Command FdbCommand()
    {
        var network = new Option<string?>("--network", "-n") { Description = "Only this network" };
        var command = new Command("fdb", "List learned MAC addresses (the forwarding database).") { network, JsonOption };
        command.SetAction((r, ct) => ClientAsync(RunDir(r), new ControlRequest("fdb", Network: r.GetValue(network)), r.GetValue(JsonOption), Tables.Fdb, ct));
        return command;
    }

    private static Command PortCommand()
    {
        var network = new Argument<string>("network") { Description = "The network (e.g. default)" };
        var name = new Argument<string>("name") { Description = "The port name" };
        var spec = new Argument<string>("netdev") { Description = "A QEMU -netdev style spec, from Switchyard's side, e.g. 'stream,addr.type=unix,addr.path=/tmp/g.sock,server=on'" };
        var vlan = new Option<int?>("--vlan") { Description = "Access port in this VLAN (1-4094; default 1)" };
        var trunk = new Option<string?>("--trunk") { Description = "Trunk port carrying these VLANs tagged, e.g. 10,20,30-40" };
        var native = new Option<int?>("--native-vlan") { Description = "With --trunk: the VLAN that travels untagged" };
        var add = new Command("add", "Add a port to a running network.") { network, name, spec, vlan, trunk, native };
        add.SetAction((r, ct) => ClientAsync(
            RunDir(r),
            new ControlRequest("port-add", r.GetValue(network), r.GetValue(name), r.GetValue(spec), r.GetValue(vlan), r.GetValue(trunk), r.GetValue(native)),
            json: false,
            Tables.Message,
            ct));

        var delNetwork = new Argument<string>("network") { Description = "The network" };
        var delName = new Argument<string>("name") { Description = "The port (or listener) name" };
        var del = new Command("del", "Remove a port (a listener removes all its connections).") { delNetwork, delName };
        del.SetAction((r, ct) => ClientAsync(RunDir(r), new ControlRequest("port-del", r.GetValue(delNetwork), r.GetValue(delName)), json: false, Tables.Message, ct));

        return new Command("port", "Add or remove ports at run time.") { add, del };
    }

    private static async Task<int> ClientAsync(string runDir, ControlRequest request, bool json, Func<ControlResponse, string> render, CancellationToken ct)
    {
        ControlResponse response;
        try
        {
            response = await ControlClient.SendAsync(Path.Combine(runDir, Defaults.ControlSocketFileName), request, ct).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            return Fail(ex.Message, 1);
        }

        if (json)
        {
            await Console.Out.WriteLineAsync(JsonSerializer.Serialize(response, ControlJson.Default.ControlResponse)).ConfigureAwait(false);
            return response.Ok ? 0 : 1;
        }

        if (!response.Ok)
        {
            return Fail(response.Error ?? "failed", 1);
        }

        await Console.Out.WriteAsync(render(response)).ConfigureAwait(false);
        return 0;
    }

    private static int Fail(string message, int code)
    {
        foreach (string line in message.Split('\n'))
        {
            Console.Error.WriteLine($"switchyard: error: {line}");
        }

        return code;
    }
}
