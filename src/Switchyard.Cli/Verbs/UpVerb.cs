// `switchyard up`: run the daemon in the foreground, with the default network or a topology file, and
// print the QEMU arguments for each network (docs/quickstart.md).
using System.CommandLine;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Switchyard.Core.Config;
using Switchyard.Engine;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Native;
using Switchyard.Ports.VhostUser;
using Switchyard.UserNet;

namespace Switchyard.Cli;

internal static partial class Program
{
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
}
