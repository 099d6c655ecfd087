// What a command's handler may use: the daemon's loop and networks, its event hub, the daemon-wide
// budgets, and the services that outlive one request (captures, reload). Built once by Daemon.
//
// Theory of operation: handlers run on a thread-pool thread (the control server's); everything that
// reads or changes a network goes through Loop.InvokeAsync, so it is serialised with the data path
// without a lock (DESIGN.md, "Threads"). The lookups below (FindNetwork, GatewayOf, Gateways) are
// on the loop: they read the network list, which only the loop changes (start, reload, stop). Their
// errors are the ones a user reads, listing what does exist.
using Microsoft.Extensions.Logging;
using Switchyard.Core.Loop;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Engine.Events;
using Switchyard.Engine.Loop;
using Switchyard.Engine.Networks;
using Switchyard.UserNet;

namespace Switchyard.Engine.Commands;

internal sealed class CommandContext
{
    public CommandContext(DaemonOptions options, EpollLoop loop, List<Network> networks, EventHub events, ILogger logger)
    {
        RunDirectory = options.RunDirectory;
        LoggerFactory = options.LoggerFactory;
        Loop = loop;
        Networks = networks;
        Events = events;
        Logger = logger;
        Captures = new CaptureService(this);
        Reloader = new Reloader(this, options);
    }

    public string RunDirectory { get; }

    public ILoggerFactory LoggerFactory { get; }

    /// <summary>The daemon's logger ("switchyard"): what commands change is logged there.</summary>
    public ILogger Logger { get; }

    public EpollLoop Loop { get; }

    /// <summary>The running networks, in the topology's order. On the loop only.</summary>
    public List<Network> Networks { get; }

    public EventHub Events { get; }

    /// <summary>The daemon-wide descriptor and connection budget (sized at start).</summary>
    public DescriptorBudget Budget { get; set; } = DescriptorBudget.Shared;

    /// <summary>The control server, once it listens (for its client counters in `show`).</summary>
    public ControlServer? Control { get; set; }

    public CaptureService Captures { get; }

    public Reloader Reloader { get; }

    /// <summary>The network named <paramref name="name"/> (null: the default network). On the loop.</summary>
    public Network FindNetwork(string? name) =>
        Networks.Find(n => n.Name == (name ?? Defaults.NetworkName))
        ?? throw new InvalidOperationException($"no network named '{name}' (networks: {string.Join(", ", Networks.Select(n => n.Name))})");

    /// <summary>The gateway of one network (null: the default network), or an error a user can act on. On the loop.</summary>
    public NatGateway GatewayOf(string? name)
    {
        Network network = FindNetwork(name);
        return network.Gateway ?? throw new InvalidOperationException(NoGateway(network.Name));
    }

    /// <summary>One named network's gateway, or (name null) every network that has one. On the loop.</summary>
    public List<(string Network, NatGateway Gateway)> Gateways(string? name)
    {
        if (name is not null)
        {
            return [(FindNetwork(name).Name, GatewayOf(name))];
        }

        var result = new List<(string, NatGateway)>();
        foreach (Network n in Networks)
        {
            if (n.Gateway is { } g)
            {
                result.Add((n.Name, g));
            }
        }

        return result.Count > 0
            ? result
            : throw new InvalidOperationException("no network has a gateway; add `gateway: true` to a network in the topology (docs/gateway.md)");
    }

    private static string NoGateway(string network) =>
        $"network {network} has no gateway; add `gateway: true` to it in the topology" +
        (network == Defaults.NetworkName ? " (or start `switchyard up` without --no-gateway)" : string.Empty);
}
