// One network: a learning switch and the port attachments that feed it.
//
// Theory of operation: a network turns port configurations (QEMU -netdev style specs) into live
// ports on its event loop and keeps them attached to its switch. An attachment is what the user
// named: a single port (a client stream, a dgram socket), or a listener whose every accepted
// connection becomes a port "NAME.N". Ports that close themselves (peer hung up, bad input) are
// removed from the switch (and their FDB entries with them) by the switch's callback. Everything
// here runs on the loop; the control plane reaches it through EpollLoop.InvokeAsync.
//
// Each port is opened by the port factory (Switchyard.Ports.PortFactory) from its spec; the network
// gives it the loop and a callback that puts the new port on the switch, and keeps the handle it gets
// back. Some ports can outlive their host resource: a namespace port's namespace can be deleted while
// the tap's own socket keeps it alive. Once a second (with MAC ageing) the network asks every handle
// whether its resource is gone (PortHandle.CheckGone); a port whose resource is gone is closed with the
// reason and an event, counted as namespace_ports_closed.
using Microsoft.Extensions.Logging;
using Switchyard.Core.Config;
using Switchyard.Core.Loop;
using Switchyard.Core.Ports;
using Switchyard.Engine.Config;
using Switchyard.Engine.Events;
using Switchyard.Native;
using Switchyard.Ports;
using Switchyard.Ports.NatHost;
using Switchyard.UserNet;
using Switchyard.Switching;

namespace Switchyard.Engine.Networks;

public sealed partial class Network
{
    private readonly IEventLoop loop;
    private readonly ILogger logger;
    private readonly Dictionary<string, Attachment> attachments = new(StringComparer.Ordinal);
    private readonly LoopTimer ageingTimer;
    private readonly EventHub? events;

    /// <summary>Drops of ports that have gone away, so a closed connection's reason stays visible.</summary>
    private readonly PortCounters closedPorts = new();
    private long portsClosedByPeer;
    private long namespacePortsClosed;

    public Network(NetworkConfig config, IEventLoop loop, ILogger logger, EventHub? events = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        this.loop = loop;
        this.logger = logger;
        this.events = events;
        var options = new SwitchOptions { Hub = config.Hub, MacAgeing = config.MacAgeing, MaxMacs = config.MaxMacs, MaxMacsPerPort = config.MaxMacsPerPort };
        Switch = new LearningSwitch(config.Name, loop.Clock, options, OnPortClosed);
        ageingTimer = loop.CreateTimer(AgeOut);
    }

    public string Name => Config.Name;

    public NetworkConfig Config { get; }

    public LearningSwitch Switch { get; }

    public PortCounters ClosedPortDrops => closedPorts;

    public long PortsClosedByPeer => Volatile.Read(ref portsClosedByPeer);

    /// <summary>Namespace ports closed because their namespace was deleted (or its process exited).</summary>
    public long NamespacePortsClosed => Volatile.Read(ref namespacePortsClosed);

    public IEnumerable<Attachment> Attachments => attachments.Values;

    /// <summary>What this network's listeners refused, summed (their own cap, the daemon's budget, accept
    /// out of descriptors); on the loop. Listeners removed since are not counted.</summary>
    public (long RefusedListenerFull, long RefusedByBudget, long AcceptOutOfDescriptors) ListenerCounters
    {
        get
        {
            (long full, long budget, long paused) = (0, 0, 0);
            foreach (Attachment a in attachments.Values)
            {
                if (a.Handle is ListenerPortHandle l)
                {
                    full += l.Listener.RefusedListenerFull;
                    budget += l.Listener.RefusedByBudget;
                    paused += l.Listener.AcceptOutOfDescriptors;
                }
            }

            return (full, budget, paused);
        }
    }

    /// <summary>The network's NAT gateway, if it has one (an internal port on the default VLAN).</summary>
    public NatGateway? Gateway { get; private set; }

    /// <summary>Creates every configured port; on the loop. Errors are collected and thrown together.</summary>
    public void Start()
    {
        var errors = new List<string>();
        if (Config.Gateway is { } gatewayOptions)
        {
            try
            {
                StartGateway(gatewayOptions);
            }
            catch (HostNetworkException ex)
            {
                errors.Add($"network {Name}, gateway: {ex.Message}");
            }
        }

        foreach (PortConfig port in Config.Ports)
        {
            try
            {
                AddPort(port);
            }
            catch (Exception ex) when (ex is ConfigException or IOException or System.Net.Sockets.SocketException or InvalidOperationException)
            {
                errors.Add($"network {Name}, port {port.Name}: {ex.Message}");
            }
        }

        if (errors.Count > 0)
        {
            Stop();
            throw new ConfigException(errors);
        }

        ageingTimer.Arm(TimeSpan.FromSeconds(1));
    }

    /// <summary>Adds a port described by <paramref name="port"/>; on the loop. Throws with a user-facing message.</summary>
    public Attachment AddPort(PortConfig port)
    {
        ArgumentNullException.ThrowIfNull(port);
        if (attachments.ContainsKey(port.Name) || Switch.FindPort(port.Name) is not null)
        {
            throw new InvalidOperationException($"network {Name} already has a port named {port.Name}");
        }

        VlanMembership membership = ToMembership(port.Vlan);
        PortHandle handle = PortFactory.Open(port.Netdev, new PortContext(port.Name, loop, logger, p => AttachPort(p, membership)));
        var attachment = new Attachment(port, handle);
        attachments.Add(port.Name, attachment);
        return attachment;
    }

    /// <summary>True when <paramref name="name"/> is this network's NAT gateway port (not removable by name).</summary>
    public bool IsGatewayPort(string name) => Gateway is { } g && g.Name == name && !attachments.ContainsKey(name);

    /// <summary>Removes a named port: a configured attachment (with all its connections) or one
    /// connection of a listener. Returns false if there is no such port. On the loop.</summary>
    public bool RemovePort(string name)
    {
        if (attachments.Remove(name, out Attachment? attachment))
        {
            attachment.Dispose();
            foreach (Port p in attachment.LivePorts(Switch))
            {
                Switch.RemovePort(p);
                p.Stop();
                Publish(EventTypes.PortRemoved, p, "removed");
            }

            return true;
        }

        if (Switch.FindPort(name) is { } port)
        {
            Switch.RemovePort(port);
            port.Stop();
            ReleaseEndedConnections();
            Publish(EventTypes.PortRemoved, port, "removed");
            return true;
        }

        return false;
    }

    /// <summary>Stops every port and listener; on the loop.</summary>
    public void Stop()
    {
        ageingTimer.Cancel();
        Gateway = null;
        foreach (string name in attachments.Keys.ToList())
        {
            RemovePort(name);
        }

        foreach (Port p in Switch.Ports.ToList())
        {
            Switch.RemovePort(p);
            p.Stop();
        }
    }

    private void StartGateway(GatewayOptions options)
    {
        var gateway = new NatGateway(Defaults.GatewayPortName, options, loop, new LoopHostNetwork(loop), new ResolvConfSource(clock: loop.Clock), logger);
        AttachPort(gateway, new Switching.AccessVlan(1));
        if (events is not null)
        {
            gateway.Context.LeaseChanged = OnLeaseChanged;
        }

        Gateway = gateway;
        gateway.Start();
    }

    private static VlanMembership ToMembership(VlanConfig vlan) => vlan switch
    {
        Config.AccessVlan a => new Switching.AccessVlan(a.Vid),
        Config.TrunkVlans t => new Switching.TrunkVlans(t.Vids, t.Native),
        _ => throw new ConfigException([$"unknown VLAN configuration {vlan}"]),
    };

    // Closes every port whose host resource is gone (see the theory of operation); on the loop.
    private void CheckNamespaces()
    {
        List<(string Port, string Reason)>? gone = null;
        foreach ((string portName, Attachment attachment) in attachments)
        {
            if (attachment.Handle.CheckGone() is { } reason)
            {
                (gone ??= []).Add((portName, reason));
            }
        }

        foreach ((string portName, string reason) in gone ?? [])
        {
            if (!attachments.Remove(portName, out Attachment? attachment))
            {
                continue;
            }

            attachment.Dispose();
            foreach (Port p in attachment.LivePorts(Switch))
            {
                closedPorts.AddDrops(p.Counters);
                KeepRuleCounters(p);
                Switch.RemovePort(p);
                p.Stop();
                LogPortRemoved(Name, p.Name, reason);
                Publish(EventTypes.PortRemoved, p, reason);
            }

            namespacePortsClosed++;
        }
    }

    private void OnPortClosed(Port port, string reason)
    {
        ReleaseEndedConnections();
        portsClosedByPeer++;
        closedPorts.AddDrops(port.Counters);
        KeepRuleCounters(port);
        LogPortRemoved(Name, port.Name, reason);
        Publish(EventTypes.PortRemoved, port, reason);
    }

    // A listener's connection that ended gives its place in the listener's and the daemon's caps back now,
    // not at the listener's next accept.
    private void ReleaseEndedConnections()
    {
        foreach (Attachment a in attachments.Values)
        {
            if (a.Handle is ListenerPortHandle l)
            {
                l.Listener.ReleaseEnded();
            }
        }
    }

    /// <summary>Sets a live port's administrative link state (a port name as in `show`); on the loop.
    /// Returns false when it already was in that state.</summary>
    /// <exception cref="InvalidOperationException">No such port.</exception>
    public bool SetLinkUp(string portName, bool up)
    {
        Port port = LivePort(portName);
        if (!Switch.SetLinkUp(port, up))
        {
            return false;
        }

        LogLinkChanged(Name, port.Name, up ? "up" : "down");
        Publish(up ? EventTypes.LinkUp : EventTypes.LinkDown, port, "set by the control API");
        return true;
    }

    /// <summary>Moves a live port to other VLANs; on the loop. A listener's later connections keep the
    /// listener's configured VLAN.</summary>
    /// <exception cref="InvalidOperationException">No such port.</exception>
    public void SetVlan(string portName, VlanConfig vlan)
    {
        ArgumentNullException.ThrowIfNull(vlan);
        Port port = LivePort(portName);
        if (port is NatGateway)
        {
            throw new InvalidOperationException($"network {Name}: the gateway port stays on VLAN 1");
        }

        VlanMembership membership = ToMembership(vlan);
        Switch.SetMembership(port, membership);
        LogVlanChanged(Name, port.Name, membership.ToString() ?? string.Empty);
        Publish(EventTypes.VlanChanged, port, null);
    }

    private Port LivePort(string portName) =>
        Switch.FindPort(portName) ?? throw new InvalidOperationException(
            $"network {Name} has no port named '{portName}' (ports: {string.Join(", ", Switch.Ports.Select(p => p.Name))}); see 'switchyard show'");

    private void AttachPort(Port port, VlanMembership membership)
    {
        Switch.AddPort(port, membership);
        Publish(EventTypes.PortAdded, port, null);
    }

    private void Publish(string type, Port port, string? reason)
    {
        if (events is { HasSubscribers: true })
        {
            string? vlan = Switch.FindPort(port.Name) is { } live && ReferenceEquals(live, port) ? Switch.MembershipOf(port).ToString() : null;
            events.Publish(new SwitchyardEvent(loop.Clock.GetUtcNow(), type, Name, port.Name, port.Kind, port.Peer, Vlan: vlan, Reason: reason));
        }
    }

    private void OnLeaseChanged(LeaseInfo lease) =>
        events?.Publish(new SwitchyardEvent(
            loop.Clock.GetUtcNow(),
            lease.Active ? EventTypes.LeaseGranted : EventTypes.LeaseReleased,
            Name,
            Defaults.GatewayPortName,
            Mac: Core.Frames.Ethernet.FormatMac(lease.Mac),
            Address: lease.Address.ToString(),
            Hostname: lease.Hostname));

    private void AgeOut()
    {
        Switch.AgeOut();
        CheckNamespaces();
        ageingTimer.Arm(TimeSpan.FromSeconds(1));
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "network {Network}: port {Port} removed: {Reason}")]
    private partial void LogPortRemoved(string network, string port, string reason);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "network {Network}: port {Port} link {State}")]
    private partial void LogLinkChanged(string network, string port, string state);

    [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "network {Network}: port {Port} moved to {Vlan}")]
    private partial void LogVlanChanged(string network, string port, string vlan);
}
