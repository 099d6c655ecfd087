// The control API's run-time port changes (port-set: link up/down, VLAN) and its event stream
// (events: one JSON object per line for as long as the client stays connected).
using System.Text.Json;
using Switchyard.Core.Config;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Engine.Events;
using Switchyard.Engine.Networks;

namespace Switchyard.Engine;

public sealed partial class Daemon
{
    /// <summary>What happens to networks, ports and leases; see docs/control-api.md.</summary>
    public EventHub Events { get; } = new();

    // On the loop.
    private ControlResponse PortSet(ControlRequest request)
    {
        Network network = FindNetwork(request.Network);
        if (string.IsNullOrEmpty(request.Name))
        {
            return new ControlResponse(false, "port-set needs the port's name (see 'switchyard show')");
        }

        bool changeVlan = request.Vlan is not null || request.Trunk is not null || request.NativeVlan is not null;
        if (request.Link is null && !changeVlan)
        {
            return new ControlResponse(false, "port-set needs something to change: link (up or down), vlan, or trunk (with nativeVlan)");
        }

        bool? up = request.Link switch
        {
            null => null,
            "up" => true,
            "down" => false,
            _ => throw new ConfigException([$"link must be 'up' or 'down', not '{request.Link}'"]),
        };

        // Validate the whole request before changing anything.
        VlanConfig? vlan = changeVlan ? VlanConfig.FromFlags(request.Vlan, request.Trunk, request.NativeVlan) : null;
        var said = new List<string>();
        if (vlan is not null)
        {
            network.SetVlan(request.Name, vlan);
            said.Add($"moved to {network.Switch.MembershipOf(network.Switch.FindPort(request.Name)!)}");
        }

        if (up is bool state)
        {
            said.Add(network.SetLinkUp(request.Name, state) ? $"link {request.Link}" : $"link already {request.Link}");
        }

        return new ControlResponse(true, Message: $"network {network.Name}, port {request.Name}: {string.Join("; ", said)}");
    }

    // On the loop (it reads the network list); the stream itself runs off the loop. It ends when the client hangs up or
    // the daemon stops; a client that falls behind by more than EventHub.SubscriberCapacity events
    // gets a line {"type":"events-lost","count":N} where they went missing.
    private ControlResponse EventsStream(ControlRequest request)
    {
        if (request.Network is { } name && !networks.Exists(n => n.Name == name))
        {
            return new ControlResponse(false, $"no network named '{name}' (networks: {string.Join(", ", networks.Select(n => n.Name))})");
        }

        // Subscribe here, on the loop, before the answer goes out: a client that acts as soon as it reads
        // the answer (connects a peer) must see that peer's events. Subscribing in the streaming body, after
        // the answer, lost them when the loop got there first.
        EventHub.Subscription subscription = Events.Subscribe(request.Network);
        return new ControlResponse(true, Message: $"events of {(request.Network is null ? "every network" : "network " + request.Network)}, one JSON object per line")
        {
            Streaming = (stream, stopping) => PumpEventsAsync(subscription, stream, stopping),
        };
    }

    private static async Task PumpEventsAsync(EventHub.Subscription subscription, Stream stream, CancellationToken stopping)
    {
        using EventHub.Subscription _ = subscription;
        long reportedLost = 0;
        try
        {
            while (await subscription.Reader.WaitToReadAsync(stopping).ConfigureAwait(false))
            {
                using var batch = new MemoryStream();
                while (subscription.Reader.TryRead(out SwitchyardEvent? e))
                {
                    JsonSerializer.Serialize(batch, e, EventJson.Default.SwitchyardEvent);
                    batch.WriteByte((byte)'\n');
                }

                long lost = subscription.Dropped;
                if (lost != reportedLost)
                {
                    batch.Write(System.Text.Encoding.UTF8.GetBytes($"{{\"type\":\"events-lost\",\"count\":{lost - reportedLost}}}\n"));
                    reportedLost = lost;
                }

                await stream.WriteAsync(batch.GetBuffer().AsMemory(0, (int)batch.Length), stopping).ConfigureAwait(false);
                await stream.FlushAsync(stopping).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The client hung up, or the daemon is stopping.
        }
    }
}
