// `events`: a streaming command, one JSON object per line for as long as the client stays connected.
using System.Text.Json;
using Switchyard.Engine.Control;
using Switchyard.Engine.Events;

namespace Switchyard.Engine.Commands;

/// <param name="Network">Only this network's events (null: every network).</param>
public sealed record EventsCommand(string? Network = null) : ControlRequest
{
    internal override Task<ControlResponse> HandleAsync(CommandContext context) => context.Loop.InvokeAsync(() => EventsStream(context));

    // On the loop (it reads the network list); the stream itself runs off the loop. It ends when the client hangs up or
    // the daemon stops; a client that falls behind by more than EventHub.SubscriberCapacity events
    // gets a line {"type":"events-lost","count":N} where they went missing.
    private ControlResponse EventsStream(CommandContext context)
    {
        if (Network is { } name && !context.Networks.Exists(n => n.Name == name))
        {
            return ControlResponse.Fail($"no network named '{name}' (networks: {string.Join(", ", context.Networks.Select(n => n.Name))})");
        }

        // Subscribe here, on the loop, before the answer goes out: a client that acts as soon as it reads
        // the answer (connects a peer) must see that peer's events. Subscribing in the streaming body, after
        // the answer, lost them when the loop got there first.
        EventHub.Subscription subscription = context.Events.Subscribe(Network);
        return new ControlResponse(true, Message: $"events of {(Network is null ? "every network" : "network " + Network)}, one JSON object per line")
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
