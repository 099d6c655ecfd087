// `reload` (and SIGHUP to `switchyard up`): re-read the topology file the daemon was started with and
// apply what changed, network by network, without touching what did not.
//
// Theory of operation: the file is read and checked completely first, off the loop (the same checks
// as `switchyard check`, host checks included); any problem and nothing changes, and the answer lists
// every problem as FILE:LINE. Then, in one closure on the loop (so no other control command sees a
// half-applied state): (1) what runs now is read back from the live networks: of the ports and
// forwards the file declared, the ones that are still there (one removed at run time counts as
// missing, so a reload puts it back); anything live that the file never declared was added at run
// time with `port add` / `forward add` and is kept and reported, because reload manages only what
// the file declares. A run-time port whose name the file now uses for a different port is a
// conflict, reported before anything changes; one the file now declares identically is adopted.
// (2) TopologyDiff.Plan turns (what runs, the file) into a plan, which holds nothing for an unchanged
// port, so its connections and guests are never touched. (3) The plan is applied in two passes,
// every removal in every network first (so a socket path or host port can move from one port or
// network to another), then every addition. A failure to open something (a port in use) does not
// stop the others; it is reported and that one item stays missing until the next reload. Reloads
// are serialised; each is logged line by line.
using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Switchyard.Core.Config;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Engine.Networks;
using Switchyard.UserNet;

namespace Switchyard.Engine.Commands;

/// <summary>Applies a re-read topology file to the running networks (see the file header).</summary>
internal sealed class Reloader
{
    private readonly CommandContext context;
    private readonly SemaphoreSlim reloadGate = new(1, 1);
    private readonly string? configPath;

    // What the file declared at the last (re)load; what of it runs is read from the live context.Networks.
    private ImmutableArray<NetworkConfig> fileNetworks = [];

    /// <summary>The topology file this daemon was started with (full path), or null.</summary>
    public string? ConfigPath => configPath;

    /// <summary>Re-reads <see cref="ConfigPath"/> and applies the difference (see the file header).
    /// Never throws for a bad file or a port that cannot be opened: the answer says what happened.</summary>
    public async Task<ControlResponse> ReloadAsync()
    {
        if (configPath is not { } file)
        {
            const string NoFile = "there is no file to reload: this daemon was started without a topology file (start it with 'switchyard up -c FILE')";
            CommandLog.ReloadFailed(context.Logger, NoFile);
            return ControlResponse.Fail(NoFile);
        }

        await reloadGate.WaitAsync().ConfigureAwait(false);
        try
        {
            (TopologyConfig? next, IReadOnlyList<ConfigDiagnostic> problems) = await Task.Run(() =>
            {
                TopologyConfig? loaded = TopologyLoader.TryLoadFile(file, hostChecks: true, out IReadOnlyList<ConfigDiagnostic> found);
                return (loaded, found);
            }).ConfigureAwait(false);
            if (next is null)
            {
                string error = $"{file} has {Count(problems.Count, "error")}; nothing was changed:\n" + string.Join('\n', problems.Select(p => p.Format(file)));
                CommandLog.ReloadFailed(context.Logger, error);
                return new ControlResponse(false, error);
            }

            TopologyConfig wanted = next;
            ReloadResult result = await context.Loop.InvokeAsync(() => ApplyOnLoop(wanted)).ConfigureAwait(false);
            foreach (string line in result.Changes)
            {
                CommandLog.ReloadChange(context.Logger, line);
            }

            if (result.Errors.Count > 0)
            {
                string error = result.Rejected
                    ? $"reload of {file} refused; nothing was changed:\n" + string.Join('\n', result.Errors)
                    : $"reload of {file}: {Count(result.Errors.Count, "change")} failed:\n" + string.Join('\n', result.Errors)
                        + (result.Changes.Count > 0 ? "\napplied:\n" + string.Join('\n', result.Changes) : string.Empty);
                CommandLog.ReloadFailed(context.Logger, error);
                return new ControlResponse(false, error, Changes: result.Changes);
            }

            string message = result.Changes.Count == 0
                ? $"reloaded {file}: no changes"
                : $"reloaded {file}:\n" + string.Join('\n', result.Changes);
            if (result.Changes.Count == 0)
            {
                CommandLog.ReloadChange(context.Logger, message);
            }

            return new ControlResponse(true, Message: message, Changes: result.Changes);
        }
        finally
        {
            reloadGate.Release();
        }
    }

    public Reloader(CommandContext context, DaemonOptions options)
    {
        this.context = context;
        configPath = options.ConfigPath is { Length: > 0 } path ? Path.GetFullPath(path) : null;
        fileNetworks = options.Topology.Networks;
    }

    private static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";

    private sealed record ReloadResult(IReadOnlyList<string> Changes, IReadOnlyList<string> Errors, bool Rejected);

    /// <summary>What runs of what the file declared, and what was added at run time. On the loop.</summary>
    private sealed class LiveState
    {
        public List<NetworkConfig> Current { get; } = [];

        public Dictionary<string, List<PortConfig>> RuntimePorts { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, List<ForwardRule>> RuntimeForwards { get; } = new(StringComparer.Ordinal);
    }

    private LiveState ReadLiveState(TopologyConfig next)
    {
        var state = new LiveState();
        Dictionary<string, NetworkConfig> declaredByName = fileNetworks.ToDictionary(n => n.Name, StringComparer.Ordinal);
        Dictionary<string, NetworkConfig> wantedByName = next.Networks.ToDictionary(n => n.Name, StringComparer.Ordinal);
        foreach (Network live in context.Networks)
        {
            NetworkConfig declared = declaredByName.GetValueOrDefault(live.Name) ?? live.Config;
            NetworkConfig? wanted = wantedByName.GetValueOrDefault(live.Name);
            var ports = ImmutableArray.CreateBuilder<PortConfig>();
            var runtimePorts = new List<PortConfig>();
            foreach (Attachment a in live.Attachments)
            {
                bool fromFile = Declares(declared, a.Config) || (wanted is not null && Declares(wanted, a.Config));
                (fromFile ? (ICollection<PortConfig>)ports : runtimePorts).Add(a.Config);
            }

            GatewayOptions? gateway = null;
            var runtimeForwards = new List<ForwardRule>();
            if (live.Gateway is { } g)
            {
                var forwards = ImmutableArray.CreateBuilder<ForwardRule>();
                foreach (ForwardRule f in g.Forwards)
                {
                    bool fromFile = Declares(declared.Gateway, f) || Declares(wanted?.Gateway, f);
                    (fromFile ? (ICollection<ForwardRule>)forwards : runtimeForwards).Add(f);
                }

                gateway = g.Options with { Forwards = forwards.ToImmutable() };
            }

            state.Current.Add(declared with { Ports = ports.ToImmutable(), Gateway = gateway });
            state.RuntimePorts[live.Name] = runtimePorts;
            state.RuntimeForwards[live.Name] = runtimeForwards;
        }

        return state;
    }

    private static bool Declares(NetworkConfig network, PortConfig port) => !network.Ports.IsDefault && network.Ports.Contains(port);

    private static bool Declares(GatewayOptions? gateway, ForwardRule rule) =>
        gateway is not null && !gateway.Forwards.IsDefault && gateway.Forwards.Contains(rule);

    private ReloadResult ApplyOnLoop(TopologyConfig next)
    {
        LiveState state = ReadLiveState(next);
        TopologyPlan plan = TopologyDiff.Plan(state.Current, next.Networks);
        Dictionary<string, NetworkConfig> wantedByName = next.Networks.ToDictionary(n => n.Name, StringComparer.Ordinal);

        // Conflicts with what was added at run time: refuse before changing anything.
        var conflicts = new List<string>();
        foreach ((string network, List<PortConfig> ports) in state.RuntimePorts)
        {
            if (!wantedByName.TryGetValue(network, out NetworkConfig? wanted))
            {
                continue;
            }

            foreach (PortConfig port in ports)
            {
                if (!wanted.Ports.IsDefault && wanted.Ports.Any(p => p.Name == port.Name))
                {
                    conflicts.Add($"network {network}: the file declares port {port.Name}, but a different port {port.Name} was added at run time ({port.Netdev}); remove it first (switchyard port del {network} {port.Name}) or rename the one in the file");
                }
            }
        }

        foreach ((string network, List<ForwardRule> forwards) in state.RuntimeForwards)
        {
            if (wantedByName.GetValueOrDefault(network)?.Gateway is not { } gateway || gateway.Forwards.IsDefault)
            {
                continue;
            }

            foreach (ForwardRule rule in forwards)
            {
                if (gateway.Forwards.FirstOrDefault(f => f.HostKey == rule.HostKey) is { } declared)
                {
                    conflicts.Add($"network {network}: the file declares forward {declared}, but forward {rule} on the same host port was added at run time; remove it first (switchyard forward del {network} {rule}) or change the file");
                }
            }
        }

        if (conflicts.Count > 0)
        {
            return new ReloadResult([], conflicts, Rejected: true);
        }

        var changes = new List<string>();
        var errors = new List<string>();

        // Pass 1: everything that goes away, in every network, so its sockets and host ports are free.
        foreach (NetworkPlan p in plan.Networks)
        {
            Network? live = context.Networks.Find(n => n.Name == p.Name);
            switch (p.Action)
            {
                case NetworkAction.Remove or NetworkAction.Recreate when live is not null:
                    live.Stop();
                    context.Networks.Remove(live);
                    break;
                case NetworkAction.Update when live is not null:
                    foreach (PortChange port in p.Ports.Where(c => c.Action != PortAction.Add))
                    {
                        live.RemovePort(port.Old!.Name);
                    }

                    if (p.Gateway is { Action: GatewayAction.Remove or GatewayAction.Recreate })
                    {
                        live.RemoveGateway();
                    }
                    else if (p.Gateway is { Action: GatewayAction.Forwards } closing && live.Gateway is { } liveGateway)
                    {
                        foreach (ForwardRule rule in closing.ForwardsRemoved)
                        {
                            liveGateway.RemoveForward(rule);
                            CommandLog.ForwardRemoved(context.Logger, p.Name, rule.ToString());
                        }
                    }

                    break;
            }
        }

        // Pass 2: everything that is new.
        foreach (NetworkPlan p in plan.Networks)
        {
            switch (p.Action)
            {
                case NetworkAction.Add or NetworkAction.Recreate:
                    if (StartNetwork(p.New!, errors) is { } started && p.Action == NetworkAction.Recreate)
                    {
                        // Run-time additions live on in the new network.
                        foreach (PortConfig port in state.RuntimePorts.GetValueOrDefault(p.Name) ?? [])
                        {
                            TryAddPort(started, port, errors);
                        }

                        if (started.Gateway is { } startedGateway)
                        {
                            foreach (ForwardRule rule in state.RuntimeForwards.GetValueOrDefault(p.Name) ?? [])
                            {
                                TryAddForward(p.Name, startedGateway, rule, errors);
                            }
                        }
                    }

                    break;
                case NetworkAction.Update when context.Networks.Find(n => n.Name == p.Name) is { } live:
                    foreach (PortChange port in p.Ports.Where(c => c.Action != PortAction.Remove))
                    {
                        TryAddPort(live, port.New!, errors);
                    }

                    if (p.Gateway is { Action: GatewayAction.Add or GatewayAction.Recreate } change)
                    {
                        try
                        {
                            live.AddGateway(change.New!);
                        }
                        catch (Exception ex) when (ex is HostNetworkException or InvalidOperationException)
                        {
                            errors.Add($"network {p.Name}, gateway: {ex.Message}");
                        }

                        if (change.Action == GatewayAction.Recreate && live.Gateway is { } newGateway)
                        {
                            foreach (ForwardRule rule in state.RuntimeForwards.GetValueOrDefault(p.Name) ?? [])
                            {
                                TryAddForward(p.Name, newGateway, rule, errors);
                            }
                        }
                    }
                    else if (p.Gateway is { Action: GatewayAction.Forwards } opening && live.Gateway is { } runningGateway)
                    {
                        foreach (ForwardRule rule in opening.ForwardsAdded)
                        {
                            TryAddForward(p.Name, runningGateway, rule, errors);
                        }
                    }

                    break;
            }
        }

        // Networks in the file's order, as at start.
        var order = next.Networks.Select((n, i) => (n.Name, i)).ToDictionary(x => x.Name, x => x.i, StringComparer.Ordinal);
        context.Networks.Sort((a, b) => order.GetValueOrDefault(a.Name, int.MaxValue).CompareTo(order.GetValueOrDefault(b.Name, int.MaxValue)));
        fileNetworks = next.Networks;

        changes.AddRange(plan.Describe());
        foreach ((string network, List<PortConfig> ports) in state.RuntimePorts)
        {
            bool gone = !wantedByName.ContainsKey(network);
            foreach (PortConfig port in ports)
            {
                changes.Add(gone
                    ? $"network {network}: port {port.Name} (added at run time) closed with its network"
                    : $"network {network}: kept port {port.Name} (added at run time, not in the file)");
            }
        }

        foreach ((string network, List<ForwardRule> forwards) in state.RuntimeForwards)
        {
            bool gone = wantedByName.GetValueOrDefault(network)?.Gateway is null;
            foreach (ForwardRule rule in forwards)
            {
                changes.Add(gone
                    ? $"network {network}: forward {rule} (added at run time) closed with its gateway"
                    : $"network {network}: kept forward {rule} (added at run time, not in the file)");
            }
        }

        return new ReloadResult(changes, errors, Rejected: false);
    }

    private Network? StartNetwork(NetworkConfig config, List<string> errors)
    {
        var network = new Network(config, context.Loop, context.LoggerFactory.CreateLogger($"switchyard.{config.Name}"), context.Events);
        try
        {
            network.Start();
        }
        catch (ConfigException ex)
        {
            errors.AddRange(ex.Errors);
            return null;
        }

        context.Networks.Add(network);
        return network;
    }

    private void TryAddPort(Network network, PortConfig port, List<string> errors)
    {
        try
        {
            Attachment a = network.AddPort(port);
            CommandLog.PortAdded(context.Logger, network.Name, a.Name, a.Config.Netdev.ToString());
        }
        catch (Exception ex) when (ex is ConfigException or IOException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            errors.Add($"network {network.Name}, port {port.Name}: {ex.Message}");
        }
    }

    private void TryAddForward(string network, NatGateway gateway, ForwardRule rule, List<string> errors)
    {
        try
        {
            gateway.AddForward(rule);
            CommandLog.ForwardAdded(context.Logger, network, rule.ToString());
        }
        catch (HostNetworkException ex)
        {
            errors.Add($"network {network}, forward {rule}: {ex.Message}");
        }
    }
}
