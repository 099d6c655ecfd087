// The daemon: one event loop, the networks of a topology, and the control socket.
//
// Theory of operation: StartAsync creates the run directory, starts the loop thread, builds every
// network on the loop (so all ports are loop-owned from birth), then opens DIR/control.sock. Each
// control request is a command record (Engine/Commands) that carries its own handler; the daemon
// hands it a CommandContext (the loop, the networks, the event hub, the budgets, the capture and
// reload services), and the handler posts its work to the loop via InvokeAsync, so reads of counters
// and changes of ports are serialised with the data path without a lock. DisposeAsync reverses it
// and removes every socket file the daemon created.
using Microsoft.Extensions.Logging;
using Switchyard.Core.Config;
using Switchyard.Core.Loop;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Engine.Events;
using Switchyard.Engine.Loop;
using Switchyard.Engine.Metrics;
using Switchyard.Engine.Networks;
using Switchyard.Native;
using Switchyard.UserNet;

namespace Switchyard.Engine;

public sealed record DaemonOptions(string RunDirectory, TopologyConfig Topology, ILoggerFactory LoggerFactory, TimeProvider? Clock = null, string? ConfigPath = null)
{
    /// <summary>Caps on connections and control clients (flags of `switchyard up`).</summary>
    public DaemonLimits Limits { get; init; } = DaemonLimits.Default;
}

public sealed partial class Daemon : IAsyncDisposable
{
    private readonly EpollLoop loop;
    private readonly List<Network> networks = [];
    private readonly ILogger logger;
    private readonly CommandContext commands;
    private readonly SnapshotReader snapshots;
    private ControlServer? control;
    private bool disposed;

    private Daemon(DaemonOptions options)
    {
        RunDirectory = options.RunDirectory;
        logger = options.LoggerFactory.CreateLogger("switchyard");
        loop = new EpollLoop("switchyard-loop", options.Clock ?? TimeProvider.System, options.LoggerFactory.CreateLogger("switchyard.loop"));
        commands = new CommandContext(options, loop, networks, Events, logger);
        snapshots = new SnapshotReader(commands);
    }

    public string RunDirectory { get; }

    /// <summary>What happens to networks, ports and leases; see docs/control-api.md.</summary>
    public EventHub Events { get; } = new();

    /// <summary>When this daemon started (wall clock).</summary>
    public DateTimeOffset StartedAt => snapshots.StartedAt;

    /// <summary>The topology file this daemon was started with (full path), or null.</summary>
    public string? ConfigPath => commands.Reloader.ConfigPath;

    public string ControlSocketPath => Path.Combine(RunDirectory, Defaults.ControlSocketFileName);

    /// <summary>Starts the daemon. Throws <see cref="ConfigException"/> listing every port that could not be opened.</summary>
    public static async Task<Daemon> StartAsync(DaemonOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Directory.CreateDirectory(options.RunDirectory);
        if (PrivateDirectory.DescribeSharedDirectory(options.RunDirectory) is { } unsafeDir)
        {
            // Our sockets in a directory another user controls could be swapped under QEMU's feet.
            throw new ConfigException($"run directory {options.RunDirectory} is not safe to use: {unsafeDir}; remove it, or choose another with --run-dir");
        }

        var daemon = new Daemon(options);
        daemon.commands.Budget = SizeDescriptorBudget(options.Limits, daemon.logger);
        daemon.loop.Start();
        try
        {
            await daemon.loop.InvokeAsync(() =>
            {
                foreach (NetworkConfig config in options.Topology.Networks)
                {
                    var network = new Network(config, daemon.loop, options.LoggerFactory.CreateLogger($"switchyard.{config.Name}"), daemon.Events);
                    network.Start();
                    daemon.networks.Add(network);
                }

                return true;
            }).ConfigureAwait(false);
            daemon.control = ControlServer.Start(daemon.ControlSocketPath, daemon.HandleAsync, daemon.logger,
                new ControlServerLimits(options.Limits.MaxControlClients, options.Limits.ControlIdleTimeout), daemon.loop.Clock);
            daemon.commands.Control = daemon.control;
        }
        catch
        {
            await daemon.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return daemon;
    }

    // The descriptor table is the process's, so its budget is too: raise the soft RLIMIT_NOFILE to the hard
    // limit (as most daemons do) and size the budget from what is then in force (DescriptorBudget).
    private static DescriptorBudget SizeDescriptorBudget(DaemonLimits limits, ILogger logger)
    {
        OpenFilesLimit? limit = ProcessLimits.RaiseOpenFilesToHard();
        ulong soft = limit?.Soft ?? 1024;
        var budget = new DescriptorBudget((long)Math.Min(soft, int.MaxValue), limits.MaxConnections, limits.MaxListenerConnections);
        DescriptorBudget.Shared = budget;
        LogBudget(logger, budget.ToString());
        return budget;
    }

    /// <summary>How to attach a QEMU guest to each network: one line per attachment a guest can use,
    /// and one per gateway saying what a guest attached there gets.</summary>
    public Task<IReadOnlyList<string>> QemuHintsAsync() => loop.InvokeAsync<IReadOnlyList<string>>(() =>
    {
        var lines = new List<string>();
        foreach (Network network in networks)
        {
            if (network.Gateway is { } gateway)
            {
                GatewayOptions o = gateway.Options;
                string v6 = o.Ipv6 ? $", IPv6 {o.Network6} by SLAAC" : string.Empty;
                string forwards = gateway.Forwards.Count == 0 ? string.Empty : $"; forwards {string.Join(", ", gateway.Forwards)}";
                lines.Add($"network {network.Name}, gateway: router {o.Host}, DNS {o.Dns}, DHCP from {o.DhcpStart} on {o.Network}{v6}{forwards}");
            }

            foreach (Attachment a in network.Attachments)
            {
                if (QemuArgsBuilder.Hint(a.Config.Netdev) is { } hint)
                {
                    lines.Add($"network {network.Name}, port {a.Name}: {hint}");
                }
            }
        }

        return lines;
    });

    /// <summary>Carries out one control request (each command record holds its handler).</summary>
    public Task<ControlResponse> HandleAsync(ControlRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.HandleAsync(commands);
    }

    /// <summary>Re-reads <see cref="ConfigPath"/> and applies the difference (`reload`, SIGHUP). Never throws
    /// for a bad file or a port that cannot be opened: the answer says what happened.</summary>
    public Task<ControlResponse> ReloadAsync() => commands.Reloader.ReloadAsync();

    /// <summary>Every network, port, counter, lease and forward as they are now, read in one pass on the loop.</summary>
    public Task<DaemonSnapshot> SnapshotAsync() => snapshots.SnapshotAsync();

    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        if (control is not null)
        {
            await control.DisposeAsync().ConfigureAwait(false);
        }

        loop.Stop(() =>
        {
            foreach (Network n in networks)
            {
                n.Stop();
            }
        });
        loop.Dispose();
        LogStopped(RunDirectory);
    }

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "stopped; sockets in {RunDirectory} removed")]
    private partial void LogStopped(string runDirectory);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "{Budget}")]
    private static partial void LogBudget(ILogger logger, string budget);
}
