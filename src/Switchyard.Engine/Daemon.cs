// The daemon: one event loop, the networks of a topology, and the control socket.
//
// Theory of operation: StartAsync creates the run directory, starts the loop thread, builds every
// network on the loop (so all ports are loop-owned from birth), then opens DIR/control.sock. Control
// requests become closures on the loop via InvokeAsync, so reads of counters and changes of ports
// are serialised with the data path without a lock. DisposeAsync reverses it and removes every
// socket file the daemon created.
using Microsoft.Extensions.Logging;
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Engine.Loop;
using Switchyard.Engine.Networks;
using Switchyard.Switching;

namespace Switchyard.Engine;

public sealed record DaemonOptions(string RunDirectory, TopologyConfig Topology, ILoggerFactory LoggerFactory, TimeProvider? Clock = null);

public sealed partial class Daemon : IAsyncDisposable
{
    private readonly EpollLoop loop;
    private readonly List<Network> networks = [];
    private readonly ILogger logger;
    private readonly ILoggerFactory loggerFactory;
    private ControlServer? control;
    private bool disposed;

    private Daemon(DaemonOptions options)
    {
        RunDirectory = options.RunDirectory;
        loggerFactory = options.LoggerFactory;
        logger = options.LoggerFactory.CreateLogger("switchyard");
        loop = new EpollLoop("switchyard-loop", options.Clock ?? TimeProvider.System, options.LoggerFactory.CreateLogger("switchyard.loop"));
    }

    public string RunDirectory { get; }

    public string ControlSocketPath => Path.Combine(RunDirectory, Defaults.ControlSocketFileName);

    /// <summary>Starts the daemon. Throws <see cref="ConfigException"/> listing every port that could not be opened.</summary>
    public static async Task<Daemon> StartAsync(DaemonOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Directory.CreateDirectory(options.RunDirectory);
        var daemon = new Daemon(options);
        daemon.loop.Start();
        try
        {
            await daemon.loop.InvokeAsync(() =>
            {
                foreach (NetworkConfig config in options.Topology.Networks)
                {
                    var network = new Network(config, daemon.loop, options.LoggerFactory.CreateLogger($"switchyard.{config.Name}"));
                    network.Start();
                    daemon.networks.Add(network);
                }

                return true;
            }).ConfigureAwait(false);
            daemon.control = ControlServer.Start(daemon.ControlSocketPath, daemon.HandleAsync, daemon.logger);
        }
        catch
        {
            await daemon.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return daemon;
    }

    /// <summary>How to attach a QEMU guest to each network: one line per attachment a guest can use.</summary>
    public Task<IReadOnlyList<string>> QemuHintsAsync() => loop.InvokeAsync<IReadOnlyList<string>>(() =>
    {
        var lines = new List<string>();
        foreach (Network network in networks)
        {
            foreach (Attachment a in network.Attachments)
            {
                if (QemuHints.For(a.Config.Netdev) is { } hint)
                {
                    lines.Add($"network {network.Name}, port {a.Name}: {hint}");
                }
            }
        }

        return lines;
    });

    public Task<ControlResponse> HandleAsync(ControlRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.Command switch
        {
            "show" => loop.InvokeAsync(() => new ControlResponse(true, Show: Show())),
            "fdb" => loop.InvokeAsync(() => new ControlResponse(true, Fdb: Fdb(request.Network))),
            "port-add" => PortAddAsync(request),
            "port-del" => loop.InvokeAsync(() => PortDel(request)),
            _ => Task.FromResult(new ControlResponse(false, $"unknown command '{request.Command}' (known: show, fdb, port-add, port-del)")),
        };
    }

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

    private static Dictionary<string, long> DropsOf(PortCounters counters)
    {
        var drops = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (DropReason reason in Enum.GetValues<DropReason>())
        {
            long n = counters.Drops(reason);
            if (n != 0)
            {
                drops[DropReasons.Name(reason)] = n;
            }
        }

        return drops;
    }

    private Network FindNetwork(string? name) =>
        networks.Find(n => n.Name == (name ?? Defaults.NetworkName))
        ?? throw new InvalidOperationException($"no network named '{name}' (networks: {string.Join(", ", networks.Select(n => n.Name))})");

    private ShowResult Show()
    {
        var result = new List<NetworkInfo>();
        foreach (Network n in networks)
        {
            var attachments = n.Attachments
                .Select(a => new AttachmentInfo(a.Name, a.Config.Netdev.ToString(), a.Config.Vlan.ToString() ?? "", a.Describe()))
                .ToList();
            var ports = n.Switch.Ports
                .Select(p => new PortInfo(p.Name, p.Kind, p.Peer, n.Switch.MembershipOf(p).ToString(), p.Counters.RxFrames, p.Counters.RxBytes, p.Counters.TxFrames, p.Counters.TxBytes, DropsOf(p.Counters)))
                .ToList();
            SwitchCounters c = n.Switch.Counters;
            var counters = new Dictionary<string, long>(StringComparer.Ordinal)
            {
                ["flooded"] = c.Flooded,
                ["unicast_forwarded"] = c.UnicastForwarded,
                ["filtered_local"] = c.FilteredLocal,
                ["learned"] = c.Learned,
                ["moved"] = c.Moved,
                ["aged_out"] = c.AgedOut,
                ["flushed"] = c.Flushed,
                ["fdb_full"] = c.FdbFull,
                ["fdb_entries"] = c.FdbEntries,
                ["software_checksums"] = c.SoftwareChecksums,
                ["software_segmented_frames"] = c.SoftwareSegmentedFrames,
                ["software_segments"] = c.SoftwareSegments,
                ["ports_closed_by_peer"] = n.PortsClosedByPeer,
            };
            result.Add(new NetworkInfo(n.Name, n.Config.Hub, attachments, ports, counters, DropsOf(n.ClosedPortDrops)));
        }

        return new ShowResult(RunDirectory, result);
    }

    private List<FdbRow> Fdb(string? networkName)
    {
        var rows = new List<FdbRow>();
        foreach (Network n in networks)
        {
            if (networkName is not null && n.Name != networkName)
            {
                continue;
            }

            foreach (FdbEntry e in n.Switch.SnapshotFdb())
            {
                rows.Add(new FdbRow(n.Name, e.Vid, Ethernet.FormatMac(e.Mac), e.Port, e.Age.TotalSeconds));
            }
        }

        if (networkName is not null && rows.Count == 0)
        {
            _ = FindNetwork(networkName); // Throws a clear error for an unknown network.
        }

        return rows;
    }

    private Task<ControlResponse> PortAddAsync(ControlRequest request)
    {
        if (string.IsNullOrEmpty(request.Name) || string.IsNullOrEmpty(request.Netdev))
        {
            return Task.FromResult(new ControlResponse(false, "port-add needs a name and a netdev spec"));
        }

        PortConfig port;
        try
        {
            port = PortConfig.Create(request.Name, request.Netdev, VlanConfig.FromFlags(request.Vlan, request.Trunk, request.NativeVlan));
        }
        catch (ConfigException ex)
        {
            return Task.FromResult(new ControlResponse(false, ex.Message));
        }

        return loop.InvokeAsync(() =>
        {
            Network network = FindNetwork(request.Network);
            Attachment a = network.AddPort(port);
            LogPortAdded(network.Name, a.Name, a.Config.Netdev.ToString());
            string? hint = QemuHints.For(port.Netdev);
            return new ControlResponse(true, Message: hint is null ? $"added {a.Name}: {a.Describe()}" : $"added {a.Name}: {a.Describe()}\nQEMU: {hint}");
        });
    }

    private ControlResponse PortDel(ControlRequest request)
    {
        Network network = FindNetwork(request.Network);
        if (string.IsNullOrEmpty(request.Name))
        {
            return new ControlResponse(false, "port-del needs a port name");
        }

        return network.RemovePort(request.Name)
            ? new ControlResponse(true, Message: $"removed {request.Name} from {network.Name}")
            : new ControlResponse(false, $"network {network.Name} has no port named '{request.Name}'");
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "network {Network}: port {Port} added ({Netdev})")]
    private partial void LogPortAdded(string network, string port, string netdev);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "stopped; sockets in {RunDirectory} removed")]
    private partial void LogStopped(string runDirectory);
}
