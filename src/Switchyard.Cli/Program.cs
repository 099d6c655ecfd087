// The switchyard executable: `up` runs the daemon; the other verbs are clients of its control socket.
// Every verb writes through the ParseResult's InvocationConfiguration, so tests run verbs in-process.
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

    private static Task<int> Main(string[] args) => RunAsync(args);

    /// <summary>Runs the CLI with <paramref name="args"/>; output and errors go to the writers of
    /// <paramref name="configuration"/> (the console by default), so tests can run verbs in-process.</summary>
    internal static async Task<int> RunAsync(string[] args, InvocationConfiguration? configuration = null) =>
        await BuildRoot().Parse(args).InvokeAsync(configuration ?? new InvocationConfiguration()).ConfigureAwait(false);

    /// <summary>The whole command tree; tests parse documented command lines against it.</summary>
    internal static RootCommand BuildRoot()
    {
        var root = new RootCommand("Switchyard: the host side of virtual-machine networking (switch, NAT gateway, vhost-user back-end, QEMU stream/socket/dgram peers).")
        {
            RunDirOption,
            PrintCapabilitiesOption,
            UpVerb(),
            ShowVerb(),
            FdbVerb(),
            PortVerb(),
            LeasesVerb(),
            FlowsVerb(),
            ForwardVerb(),
            AttachVerb(),
            ExecVerb(),
            TapsVerb(),
            EventsVerb(),
            CheckVerb(), ReloadVerb(), QemuArgsVerb(),
            CaptureVerb(),
        };
        root.SetAction(r =>
        {
            if (r.GetValue(PrintCapabilitiesOption))
            {
                // The vhost-user.json schema: a net back-end; no type-specific features are defined for net.
                Out(r).Write("{\n  \"type\": \"net\"\n}\n");
                return 0;
            }

            Err(r).WriteLine("switchyard: a command is required (try 'switchyard up', or 'switchyard --help')");
            return 2;
        });
        return root;
    }

    private static TextWriter Out(ParseResult r) => r.InvocationConfiguration.Output;

    private static TextWriter Err(ParseResult r) => r.InvocationConfiguration.Error;

    private static string RunDir(ParseResult r) => r.GetValue(RunDirOption) is { Length: > 0 } dir ? Path.GetFullPath(dir) : Defaults.RunDirectory();

    private static Command UpVerb()
    {
        var config = new Option<string?>("--config", "-c") { Description = "A YAML topology file (default: one network 'default' with DIR/stream.sock)" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log debug detail" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Log only warnings and errors" };
        var logFormat = new Option<string>("--log-format") { Description = "Log lines as text, or as JSON objects (one per line, with the message's fields)", DefaultValueFactory = _ => "text", HelpName = "text|json" };
        logFormat.AcceptOnlyFromAmong("text", "json");
        var gateway = new Option<string?>("--gateway")
        {
            Description = "The default network's NAT gateway in QEMU's -netdev user words, e.g. 'user,net=10.0.3.0/24,hostfwd=tcp:127.0.0.1:2222-:22' (docs/gateway.md)",
            HelpName = "SPEC",
        };
        var noGateway = new Option<bool>("--no-gateway") { Description = "Start the default network without a NAT gateway (a plain switch)" };
        var vhostUserMemory = new Option<string?>("--vhost-user-memory")
        {
            Description = "Guest memory the default vhost-user port maps: sealed (default; only memfds the front-end cannot shrink) or trusted (any file, e.g. DPDK hugepage files; a front-end that truncates it can crash the daemon)",
            HelpName = "sealed|trusted",
        };
        vhostUserMemory.AcceptOnlyFromAmong("sealed", "trusted");
        var maxGuestMappings = new Option<int?>("--max-guest-mappings")
        {
            Description = $"Most guest-memory regions mapped at once across all vhost-user connections (default {MappingBudget.DefaultLimit()}: vm.max_map_count / 4, at most 8192)",
            HelpName = "N",
        };
        var maxConnections = new Option<int>("--max-connections")
        {
            Description = $"Connections all stream and vhost-user listeners together may hold (default {Switchyard.Core.Loop.DescriptorBudget.DefaultMaxConnections}; never more than a quarter of the descriptor limit less its reserve)",
            DefaultValueFactory = _ => Switchyard.Core.Loop.DescriptorBudget.DefaultMaxConnections,
            HelpName = "N",
        };
        var maxListenerConnections = new Option<int>("--max-listener-connections")
        {
            Description = $"Connections one listener (a server=on stream or vhost-user port) may hold (default {Switchyard.Core.Loop.DescriptorBudget.DefaultMaxConnectionsPerListener})",
            DefaultValueFactory = _ => Switchyard.Core.Loop.DescriptorBudget.DefaultMaxConnectionsPerListener,
            HelpName = "N",
        };
        var maxControlClients = new Option<int>("--max-control-clients")
        {
            Description = $"Clients the control socket serves at once (default {Defaults.MaxControlClients})",
            DefaultValueFactory = _ => Defaults.MaxControlClients,
            HelpName = "N",
        };
        var controlIdle = new Option<int>("--control-idle-timeout")
        {
            Description = $"Close a control client that sends nothing for this many seconds, unless it follows events or a capture (default {(int)Defaults.ControlIdleTimeout.TotalSeconds})",
            DefaultValueFactory = _ => (int)Defaults.ControlIdleTimeout.TotalSeconds,
            HelpName = "SECONDS",
        };
        var command = new Command("up", "Start the daemon in the foreground and print the QEMU arguments for each network.")
        {
            config, verbose, quiet, logFormat, gateway, noGateway, vhostUserMemory, maxGuestMappings, HttpOption, HttpAllowRemoteOption,
            maxConnections, maxListenerConnections, maxControlClients, controlIdle,
        };
        command.SetAction((r, ct) =>
        {
            if (r.GetValue(maxGuestMappings) is { } mappings)
            {
                if (mappings < 1)
                {
                    return Task.FromResult(Fail(r, $"--max-guest-mappings {mappings}: give at least 1", 2));
                }

                MappingBudget.Global.Limit = mappings;
            }

            DaemonLimits limits;
            try
            {
                limits = new DaemonLimits(r.GetValue(maxConnections), r.GetValue(maxListenerConnections), r.GetValue(maxControlClients), TimeSpan.FromSeconds(r.GetValue(controlIdle)));
            }
            catch (ConfigException ex)
            {
                return Task.FromResult(Fail(r, ex.Message, 2));
            }

            MemoryFilePolicy? memory = r.GetValue(vhostUserMemory) is { } text && VhostUserSpec.TryParseMemoryPolicy(text, out MemoryFilePolicy parsed) ? parsed : null;
            return UpAsync(r, RunDir(r), r.GetValue(config), r.GetValue(gateway), r.GetValue(noGateway), memory, LogSetup.Level(r.GetValue(verbose), r.GetValue(quiet)), r.GetValue(logFormat) == "json", limits, ct);
        });
        return command;
    }

    /// <summary>The topology `up` runs: the file, or the default network with its gateway as the flags
    /// say. Throws <see cref="ConfigException"/> with every problem.</summary>
    internal static TopologyConfig BuildTopology(string runDir, string? configPath, string? gatewaySpec, bool noGateway, MemoryFilePolicy? vhostUserMemory = null)
    {
        if (configPath is not null && (gatewaySpec is not null || noGateway))
        {
            throw new ConfigException("--gateway and --no-gateway apply to the built-in default network; with --config, set `gateway:` on the network in the file (docs/gateway.md)");
        }

        if (configPath is not null && vhostUserMemory is not null)
        {
            throw new ConfigException("--vhost-user-memory applies to the built-in default network; with --config, add memory=trusted to the vhost-user port's netdev spec in the file (docs/vhost-user.md)");
        }

        if (gatewaySpec is not null && noGateway)
        {
            throw new ConfigException("give either --gateway SPEC or --no-gateway, not both");
        }

        if (configPath is not null)
        {
            try
            {
                return TopologyLoader.LoadFile(configPath, hostChecks: true);
            }
            catch (ConfigException ex)
            {
                throw new ConfigException([$"{configPath}:", .. ex.Errors]);
            }
        }

        TopologyConfig topology = TopologyConfig.Default(runDir);
        if (vhostUserMemory is { } memory)
        {
            topology = new TopologyConfig([.. topology.Networks.Select(n => n with { Ports = [.. n.Ports.Select(p => WithMemory(p, memory))] })]);
        }

        if (!noGateway && gatewaySpec is null)
        {
            return topology;
        }

        GatewayOptions? options = null;
        if (gatewaySpec is not null && !GatewaySpec.TryParse(gatewaySpec, out options, out IReadOnlyList<string> errors))
        {
            throw new ConfigException(errors.Select(e => $"--gateway: {e}"));
        }

        return new TopologyConfig([.. topology.Networks.Select(n => n.Name == Defaults.NetworkName ? n with { Gateway = options } : n)]);
    }

    /// <summary><paramref name="port"/> with its vhost-user memory policy set to <paramref name="memory"/> (other kinds as they are).</summary>
    private static PortConfig WithMemory(PortConfig port, MemoryFilePolicy memory) => port.Netdev is VhostUserSpec v
        ? port with { Netdev = new VhostUserSpec(v.Path, v.Server, v.Queues, memory) }
        : port;

    private static async Task<int> UpAsync(ParseResult r, string runDir, string? configPath, string? gatewaySpec, bool noGateway, MemoryFilePolicy? vhostUserMemory, LogLevel logLevel, bool jsonLogs, DaemonLimits limits, CancellationToken ct)
    {
        TopologyConfig topology;
        System.Net.IPEndPoint? http;
        try
        {
            topology = BuildTopology(runDir, configPath, gatewaySpec, noGateway, vhostUserMemory);
            http = HttpEndpoint(r.GetValue(HttpOption), r.GetValue(HttpAllowRemoteOption), topology);
        }
        catch (ConfigException ex)
        {
            return Fail(r, ex.Message, 2);
        }

        using ILoggerFactory logs = LogSetup.CreateFactory(logLevel, jsonLogs);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });

        Daemon daemon;
        try
        {
            daemon = await Daemon.StartAsync(new DaemonOptions(runDir, topology, logs, ConfigPath: configPath) { Limits = limits }).ConfigureAwait(false);
        }
        catch (ConfigException ex)
        {
            return Fail(r, ex.Message, 2);
        }
        catch (Exception ex) when (ex is IOException or SocketException or UnauthorizedAccessException)
        {
            return Fail(r, ex.Message, 1);
        }

        await using (daemon.ConfigureAwait(false))
        {
            using PosixSignalRegistration sighup = ReloadOnHangup(daemon);
            (IAsyncDisposable Server, Uri Url)? web = null;
            try
            {
                web = http is null ? null : await StartWebAsync(http, r.GetValue(HttpAllowRemoteOption), daemon, logs, ct).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                return Fail(r, ex.Message, 1);
            }

            await using var webServer = (web?.Server ?? NoWebServer.Instance).ConfigureAwait(false);
            var banner = new StringBuilder();
            banner.AppendLine($"switchyard: run directory {runDir}");
            if (web is { Url: var url })
            {
                banner.AppendLine($"switchyard: web view {url} (metrics: {url}metrics)");
            }

            foreach (string hint in await daemon.QemuHintsAsync().ConfigureAwait(false))
            {
                banner.AppendLine($"switchyard: {hint}");
            }

            banner.AppendLine("switchyard: ready");
            await Out(r).WriteAsync(banner.ToString()).ConfigureAwait(false);
            await Out(r).FlushAsync(ct).ConfigureAwait(false);
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

    private static Command ShowVerb()
    {
        var command = new Command("show", "List networks, ports and their counters.") { JsonOption };
        command.SetAction((r, ct) => ClientAsync(r, RunDir(r), new ShowCommand(), r.GetValue(JsonOption), Tables.Show, ct));
        return command;
    }

    private static Command FdbVerb()
    {
        var network = new Option<string?>("--network", "-n") { Description = "Only this network" };
        var command = new Command("fdb", "List learned MAC addresses (the forwarding database).") { network, JsonOption };
        command.SetAction((r, ct) => ClientAsync(r, RunDir(r), new FdbCommand(Network: r.GetValue(network)), r.GetValue(JsonOption), Tables.Fdb, ct));
        return command;
    }

    private static Command PortVerb()
    {
        var network = new Argument<string>("network") { Description = "The network (e.g. default)" };
        var name = new Argument<string>("name") { Description = "The port name" };
        var spec = new Argument<string>("netdev") { Description = "A QEMU -netdev style spec, from Switchyard's side, e.g. 'stream,addr.type=unix,addr.path=/tmp/g.sock,server=on'" };
        var vlan = new Option<int?>("--vlan") { Description = "Access port in this VLAN (1-4094; default 1)" };
        var trunk = new Option<string?>("--trunk") { Description = "Trunk port carrying these VLANs tagged, e.g. 10,20,30-40" };
        var native = new Option<int?>("--native-vlan") { Description = "With --trunk: the VLAN that travels untagged" };
        var add = new Command("add", "Add a port to a running network.") { network, name, spec, vlan, trunk, native, JsonOption };
        add.SetAction((r, ct) => ClientAsync(
            r,
            RunDir(r),
            new PortAddCommand(r.GetValue(network), r.GetValue(name), r.GetValue(spec), r.GetValue(vlan), r.GetValue(trunk), r.GetValue(native)),
            r.GetValue(JsonOption),
            Tables.Message,
            ct));

        var delNetwork = new Argument<string>("network") { Description = "The network" };
        var delName = new Argument<string>("name") { Description = "The port (or listener) name" };
        var del = new Command("del", "Remove a port (a listener removes all its connections).") { delNetwork, delName, JsonOption };
        del.SetAction((r, ct) => ClientAsync(r, RunDir(r), new PortDelCommand(r.GetValue(delNetwork), r.GetValue(delName)), r.GetValue(JsonOption), Tables.Message, ct));

        return new Command("port", "Add, change or remove ports at run time.") { add, PortSetVerb(), del };
    }

    private static Command LeasesVerb()
    {
        var network = new Argument<string?>("network") { Description = "Only this network (default: every network with a gateway)", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("leases", "List the DHCP leases the NAT gateways handed out.") { network, JsonOption };
        command.SetAction((r, ct) => ClientAsync(r, RunDir(r), new LeasesCommand(Network: r.GetValue(network)), r.GetValue(JsonOption), Tables.Leases, ct));
        return command;
    }

    private static Command FlowsVerb()
    {
        var network = new Argument<string?>("network") { Description = "Only this network (default: every network with a gateway)", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("flows", "List the NAT gateways' live TCP, UDP and ICMP flows.") { network, JsonOption };
        command.SetAction((r, ct) => ClientAsync(r, RunDir(r), new FlowsCommand(Network: r.GetValue(network)), r.GetValue(JsonOption), Tables.Flows, ct));
        return command;
    }

    private static Command ForwardVerb()
    {
        const string RuleHelp = "[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, e.g. tcp:127.0.0.1:2222-:22 (empty guest address: the first DHCP address)";
        Option<string> NetworkOption() => new("--network", "-n")
        {
            Description = $"The network whose gateway forwards (default: {Defaults.NetworkName})",
            DefaultValueFactory = _ => Defaults.NetworkName,
        };

        var addNetwork = NetworkOption();
        var addRule = new Argument<string>("rule") { Description = RuleHelp };
        var add = new Command("add", "Open a port forward from the host to a guest.") { addNetwork, addRule, JsonOption };
        add.SetAction((r, ct) => ClientAsync(
            r, RunDir(r), new ForwardAddCommand(r.GetValue(addNetwork), Rule: r.GetValue(addRule)), r.GetValue(JsonOption), Tables.Message, ct));

        var delNetwork = NetworkOption();
        var delRule = new Argument<string>("rule")
        {
            Description = "The forward: its rule as listed, its host side (tcp:127.0.0.1:2222), or PROTOCOL:HOSTPORT (tcp:2222, udp:5353; 2222 means tcp)",
        };
        var del = new Command("del", "Close a port forward.") { delNetwork, delRule, JsonOption };
        del.SetAction((r, ct) => ClientAsync(r, RunDir(r), ForwardDelRequest(r.GetValue(delNetwork), r.GetValue(delRule) ?? string.Empty), r.GetValue(JsonOption), Tables.Message, ct));

        var listNetwork = NetworkOption();
        var list = new Command("list", "List the open port forwards.") { listNetwork, JsonOption };
        list.SetAction((r, ct) => ClientAsync(r, RunDir(r), new ForwardListCommand(r.GetValue(listNetwork)), r.GetValue(JsonOption), Tables.Forwards, ct));

        return new Command("forward", "Add, remove or list the NAT gateway's port forwards (QEMU hostfwd rules) at run time.") { add, del, list };
    }

    /// <summary>What `forward del TEXT` asks for: a whole rule; PROTOCOL:HOSTPORT or HOSTPORT (any host
    /// address); or a host side [PROTOCOL]:[HOSTADDR]:HOSTPORT (sent as a rule; only its host side counts).</summary>
    internal static ForwardDelCommand ForwardDelRequest(string? network, string text)
    {
        if (text.Contains('-', StringComparison.Ordinal))
        {
            return new ForwardDelCommand(network, Rule: text);
        }

        string[] parts = text.Split(':');
        string protocol = parts.Length == 2 ? parts[0] : "tcp";
        string portText = parts[^1];
        if (parts.Length <= 2 && protocol is "tcp" or "udp" or "" && int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port))
        {
            return new ForwardDelCommand(network, Protocol: protocol.Length == 0 ? "tcp" : protocol, HostPort: port);
        }

        // A host side: any guest side will do, the daemon matches the host side only.
        return new ForwardDelCommand(network, Rule: ForwardRuleParser.TryParse(text + "-:1", out ForwardRule? rule, out _) ? rule.ToString() : text);
    }

    private static async Task<int> ClientAsync(ParseResult r, string runDir, ControlRequest request, bool json, Func<ControlResponse, string> render, CancellationToken ct)
    {
        ControlResponse response;
        try
        {
            response = await ControlClient.SendAsync(Path.Combine(runDir, Defaults.ControlSocketFileName), request, ct).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            return Fail(r, ex.Message, 1);
        }

        if (json)
        {
            await Out(r).WriteLineAsync(JsonSerializer.Serialize(response, ControlJson.Default.ControlResponse)).ConfigureAwait(false);
            return response.Ok ? 0 : 1;
        }

        if (!response.Ok)
        {
            return Fail(r, response.Error ?? "failed", 1);
        }

        await Out(r).WriteAsync(render(response)).ConfigureAwait(false);
        return 0;
    }

    private static int Fail(ParseResult r, string message, int code)
    {
        foreach (string line in message.Split('\n'))
        {
            Err(r).WriteLine($"switchyard: error: {line}");
        }

        return code;
    }
}
