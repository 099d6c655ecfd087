// `switchyard events`: follow what happens (guests connecting and leaving, links going up and down,
// leases granted and released).
//
// events prints one line per event for people, or the daemon's JSON lines unchanged with --json, until
// Ctrl-C, --count events, or --timeout seconds; it exits 0 then (1 if the daemon went away).
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Engine.Events;

namespace Switchyard.Cli;

internal static partial class Program
{
    private static Command EventsVerb()
    {
        var network = new Argument<string?>("network") { Description = "Only this network (default: every network)", Arity = ArgumentArity.ZeroOrOne };
        var count = new Option<int?>("--count") { Description = "Exit after this many events" };
        var timeout = new Option<double?>("--timeout") { Description = "Exit after this many seconds", HelpName = "SECONDS" };
        var command = new Command(
            "events",
            $"Follow what happens on the networks, one line per event ({string.Join(", ", EventTypes.All)}), until Ctrl-C. Example: switchyard events default --json --count 1")
        {
            network, count, timeout, JsonOption,
        };
        command.SetAction((r, ct) => EventsAsync(r, r.GetValue(network), r.GetValue(count), r.GetValue(timeout), r.GetValue(JsonOption), ct));
        return command;
    }

    private static async Task<int> EventsAsync(ParseResult r, string? network, int? count, double? timeoutSeconds, bool json, CancellationToken ct)
    {
        if (count is <= 0 || timeoutSeconds is <= 0)
        {
            return Fail(r, "--count and --timeout must be positive", 2);
        }

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (timeoutSeconds is double seconds)
        {
            limit.CancelAfter(TimeSpan.FromSeconds(seconds));
        }

        ControlStreamSession session;
        try
        {
            session = await ControlClient.OpenStreamAsync(Path.Combine(RunDir(r), Defaults.ControlSocketFileName), new EventsCommand(network), limit.Token).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            return Fail(r, ex.Message, 1);
        }
        catch (OperationCanceledException)
        {
            return 0;
        }

        await using (session.ConfigureAwait(false))
        {
            if (!session.Response.Ok)
            {
                return Fail(r, session.Response.Error ?? "failed", 1);
            }

            // To stderr, so stdout stays the events alone; scripts may wait for this line before acting.
            await Err(r).WriteLineAsync($"switchyard: following {(network is null ? "every network" : "network " + network)} (Ctrl-C to stop)").ConfigureAwait(false);
            await Err(r).FlushAsync(CancellationToken.None).ConfigureAwait(false);
            using var reader = new StreamReader(session.Body, Encoding.UTF8);
            int seen = 0;
            try
            {
                while (count is null || seen < count)
                {
                    string? line = await reader.ReadLineAsync(limit.Token).ConfigureAwait(false);
                    if (line is null)
                    {
                        return ct.IsCancellationRequested ? 0 : Fail(r, "the daemon closed the event stream (it stopped)", 1);
                    }

                    await Out(r).WriteLineAsync(json ? line : Describe(line)).ConfigureAwait(false);
                    await Out(r).FlushAsync(CancellationToken.None).ConfigureAwait(false);
                    seen++;
                }
            }
            catch (OperationCanceledException)
            {
                // Ctrl-C or --timeout: a normal end.
            }
            catch (IOException) when (limit.IsCancellationRequested)
            {
                // Cancelling a read on a socket may surface as an IOException.
            }

            return 0;
        }
    }

    /// <summary>One event line for people: time, network, what, and the details that matter for it.</summary>
    internal static string Describe(string jsonLine)
    {
        if (jsonLine.Contains("\"events-lost\"", StringComparison.Ordinal))
        {
            return $"(events lost: this reader fell behind the daemon) {jsonLine}";
        }

        SwitchyardEvent? e;
        try
        {
            e = JsonSerializer.Deserialize(jsonLine, EventJson.Default.SwitchyardEvent);
        }
        catch (JsonException)
        {
            return jsonLine; // shown as it came
        }

        if (e is null || e.Type is null)
        {
            return jsonLine;
        }

        string time = e.Time.ToLocalTime().ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
        string detail = e.Type switch
        {
            EventTypes.LeaseGranted or EventTypes.LeaseReleased => $"{e.Address} to {e.Mac}{(e.Hostname is null ? string.Empty : $" ({e.Hostname})")}",
            EventTypes.VlanChanged => $"{e.Port} now {e.Vlan}",
            _ => $"{e.Port} ({e.Kind} {e.Peer}){(e.Reason is null ? string.Empty : ": " + e.Reason)}",
        };
        return $"{time}  {e.Network,-12} {e.Type,-15} {detail}";
    }
}
