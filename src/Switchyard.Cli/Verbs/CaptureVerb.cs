// The `capture` verb: pcap of a port or a network, to a file or live to standard output.
//
// Theory of operation: the verb sends the control API's `capture` request, reads the one JSON answer
// line, and then the connection carries a pcap stream (docs/capture.md). It copies that stream to the
// file or to standard output in whole records only: it reads the file header, then splits what arrives
// into records by their headers and writes every complete record at once (one write per batch,
// unbuffered), keeping a trailing partial record until the rest arrives. So whatever stops it (Ctrl-C,
// SIGTERM, --count, the daemon hanging up, the reader of a pipe going away) the output is a valid pcap
// file that ends on a record boundary. When the stream ends it asks `capture-stats` how many frames the
// daemon had to drop (its queue was full) and prints "N frames captured (M dropped)" to stderr, like
// tcpdump. stdout carries nothing but pcap bytes, and is refused when it is a terminal.
using System.CommandLine;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Switchyard.Core.Capture;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;

namespace Switchyard.Cli;

internal static partial class Program
{
    internal const string TerminalRefusal = "refusing to write binary pcap to a terminal; use -w FILE or pipe into 'tshark -r -'";

    private static Command CaptureVerb()
    {
        var target = new Argument<string?>("target")
        {
            HelpName = "PORT|NETWORK",
            Arity = ArgumentArity.ZeroOrOne,
            Description = "A port as 'switchyard show' names it (vhost-user.1, stream.1, gateway, a tap port's name): the frames it delivers into the switch and the frames the switch sends it. "
                + "Or a network (e.g. default): every frame entering its switch from any port, each once. When a name is both, use --port or --network",
        };
        var write = new Option<string?>("--write", "-w")
        {
            HelpName = "FILE",
            Description = "Write the pcap to FILE, e.g. -w guest.pcap (a valid file even when stopped by Ctrl-C); '-' or no -w: standard output, e.g. '| tshark -r -'",
        };
        var count = new Option<string?>("--count", "-c")
        {
            HelpName = "N",
            Description = "Stop after N frames, e.g. --count 100 (default: no limit)",
        };
        var duration = new Option<string?>("--duration", "-d")
        {
            HelpName = "S",
            Description = "Stop after S seconds, e.g. --duration 10 or --duration 0.5 (default: until Ctrl-C)",
        };
        var snaplen = new Option<string?>("--snaplen", "-s")
        {
            HelpName = "BYTES",
            Description = $"Keep at most BYTES of each frame, e.g. --snaplen 128 for headers only; the original length is kept (default and most: {Pcap.DefaultSnapLength})",
        };
        var network = new Option<string?>("--network", "-n")
        {
            HelpName = "NETWORK",
            Description = "Alone: capture every frame entering NETWORK, e.g. --network default. With a port: the network the port is on, e.g. --port gateway --network lab",
        };
        var port = new Option<string?>("--port", "-p")
        {
            HelpName = "PORT",
            Description = "Capture the port PORT, e.g. --port stream.1 (for a port named like a network)",
        };
        var command = new Command(
            "capture",
            "Capture frames as pcap for Wireshark, tshark or tcpdump, at a port's boundary with the switch (both directions) or at a network's switch (every frame entering it). "
            + "Examples: 'switchyard capture vhost-user.1 | tshark -r -', 'switchyard capture stream.1 -w guest.pcap --count 100', 'switchyard capture default --duration 10 -w net.pcap'. "
            + "Prints 'N frames captured (M dropped)' to stderr at the end; M counts frames the daemon dropped because this capture's queue was full (docs/capture.md).")
        {
            target, write, count, duration, snaplen, network, port,
        };

        // Numbers and stray words are checked here rather than by the parser, so that they are usage
        // errors (exit code 2) with a message that says what is expected.
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction((r, ct) =>
        {
            if (r.UnmatchedTokens.Count > 0)
            {
                return Task.FromResult(Fail(r, $"unexpected argument '{r.UnmatchedTokens[0]}' (see 'switchyard capture --help')", 2));
            }

            if (!TryParseNumber(r.GetValue(count), "--count", "a whole number of frames, e.g. --count 100", out long? frames, out string? error)
                || !TryParseNumber(r.GetValue(duration), "--duration", "seconds, e.g. --duration 10 or --duration 0.5", out double? seconds, out error)
                || !TryParseNumber(r.GetValue(snaplen), "--snaplen", "a number of bytes, e.g. --snaplen 128", out int? bytes, out error))
            {
                return Task.FromResult(Fail(r, error!, 2));
            }

            return CaptureAsync(r, new CaptureArguments(r.GetValue(target), r.GetValue(network), r.GetValue(port), r.GetValue(write), frames, seconds, bytes), ct);
        });
        return command;
    }

    private static bool TryParseNumber<T>(string? text, string option, string expected, out T? value, out string? error)
        where T : struct, INumber<T>
    {
        value = null;
        error = null;
        if (text is null)
        {
            return true;
        }

        NumberStyles style = typeof(T) == typeof(double) ? NumberStyles.Float : NumberStyles.Integer;
        if (T.TryParse(text, style, CultureInfo.InvariantCulture, out T parsed))
        {
            value = parsed;
            return true;
        }

        error = $"{option} takes {expected}; '{text}' is not one";
        return false;
    }

    /// <summary>The request a capture command line makes, or a usage error (exit code 2).</summary>
    internal static CaptureCommand CaptureRequest(CaptureArguments a, out string? usageError)
    {
        usageError = null;
        if (a.Target is not null && a.Port is not null)
        {
            usageError = "give the port either as PORT or as --port PORT, not both";
        }
        else if (a.Target is null && a.Port is null && a.Network is null)
        {
            usageError = "give a port or a network to capture, e.g. 'switchyard capture vhost-user.1 -w guest.pcap' ('switchyard show' lists them)";
        }
        else if (a.Count is < 1)
        {
            usageError = "--count must be 1 or more";
        }
        else if (a.Duration is double d && !(d > 0 && d <= int.MaxValue / 1000.0))
        {
            usageError = "--duration must be more than 0 seconds (and at most about 24 days)";
        }
        else if (a.Snaplen is < 1 or > Pcap.DefaultSnapLength)
        {
            usageError = $"--snaplen must be 1 to {Pcap.DefaultSnapLength}";
        }

        // PORT alone: the daemon decides whether it names a port or a network. PORT with --network: the port on that network.
        string? name = a.Port ?? (a.Network is not null ? a.Target : null);
        string? target = a.Port is null && a.Network is null ? a.Target : null;
        return new CaptureCommand(Network: a.Network, Name: name, Target: target, Count: a.Count, Duration: a.Duration, Snaplen: a.Snaplen);
    }

    private static async Task<int> CaptureAsync(ParseResult r, CaptureArguments arguments, CancellationToken ct)
    {
        CaptureCommand request = CaptureRequest(arguments, out string? usageError);
        if (usageError is not null)
        {
            return Fail(r, usageError, 2);
        }

        bool toStdout = arguments.Write is null or "-";
        if (toStdout && !Console.IsOutputRedirected)
        {
            return Fail(r, TerminalRefusal, 2);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        if (arguments.Duration is double seconds)
        {
            // The daemon ends the stream at the deadline; this is only the backstop if it does not.
            stop.CancelAfter(TimeSpan.FromSeconds(seconds + 10));
        }

        string socket = Path.Combine(RunDir(r), Defaults.ControlSocketFileName);
        ControlStreamSession session;
        try
        {
            session = await ControlClient.OpenStreamAsync(socket, request, stop.Token).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            return Fail(r, ex.Message, 1);
        }
        catch (OperationCanceledException)
        {
            return 1;
        }

        CaptureCopy copy;
        CaptureInfo? started;
        await using (session.ConfigureAwait(false))
        {
            if (!session.Response.Ok)
            {
                return Fail(r, session.Response.Error ?? "capture failed", 1);
            }

            started = session.Response.Capture;
            await Err(r).WriteLineAsync($"switchyard: {session.Response.Message} (snap length {started?.Snaplen ?? Pcap.DefaultSnapLength})").ConfigureAwait(false);

            Stream output;
            try
            {
                // Not Console.OpenStandardOutput(): it ignores EPIPE, and a capture must stop when its reader exits.
                output = toStdout
                    ? new FileStream(new SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0)
                    : new FileStream(arguments.Write!, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return Fail(r, $"cannot write {arguments.Write}: {ex.Message}", 1);
            }

            try
            {
                copy = await CopyRecordsAsync(session.Body, output, arguments.Count ?? 0, toStdout, stop.Token).ConfigureAwait(false);
            }
            finally
            {
                try
                {
                    await output.DisposeAsync().ConfigureAwait(false); // standard output's descriptor stays open
                }
                catch (IOException)
                {
                    // Nothing is buffered; a pipe whose reader left has nothing more to say.
                }
            }
        }

        // The connection is closed now, so the daemon ends the capture (if it still ran) and its drop count is final.
        if (copy.Error is not null)
        {
            _ = Fail(r, copy.Error, 1);
        }

        if (started is not null)
        {
            copy = copy with { Stats = await CaptureStatsAsync(socket, started.Id).ConfigureAwait(false) };
        }

        CaptureInfo? stats = copy.Stats;
        if (copy.EndedByDaemon && stats?.EndReason is { } reason && reason is not (PacketCapture.CountReached or "duration elapsed"))
        {
            await Err(r).WriteLineAsync($"switchyard: capture ended: {reason}").ConfigureAwait(false);
        }

        string dropped = stats is null ? "? dropped: the daemon did not say" : string.Create(CultureInfo.InvariantCulture, $"{stats.Dropped} dropped");
        await Err(r).WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{copy.Records} frames captured ({dropped})")).ConfigureAwait(false);
        return copy.Error is null ? 0 : 1;
    }

    /// <summary>
    /// Copies the pcap stream from <paramref name="body"/> to <paramref name="output"/> in whole records (see the
    /// theory of operation), until the stream ends, <paramref name="maxRecords"/> records are written (0: no
    /// limit), or <paramref name="cancellationToken"/> is cancelled (Ctrl-C, SIGTERM: a normal end).
    /// </summary>
    internal static async Task<CaptureCopy> CopyRecordsAsync(Stream body, Stream output, long maxRecords, bool outputIsPipe, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[Pcap.RecordHeaderLength + Pcap.DefaultSnapLength + (64 * 1024)];
        int filled = 0;
        int snapLength = 0;
        long records = 0;
        bool headerRead = false;
        while (maxRecords == 0 || records < maxRecords)
        {
            int n;
            try
            {
                n = await body.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return new CaptureCopy(records, EndedByDaemon: false, Error: null, Stats: null); // Ctrl-C, SIGTERM
            }
            catch (IOException)
            {
                n = 0; // the connection broke: the daemon went away
            }

            if (n == 0)
            {
                return new CaptureCopy(records, EndedByDaemon: true, Error: null, Stats: null);
            }

            filled += n;

            // The buffer starts at the first byte not yet written out: the file header, then records.
            int end = 0;
            if (!headerRead)
            {
                if (filled < Pcap.FileHeaderLength)
                {
                    continue;
                }

                if (!Pcap.TryReadFileHeader(buffer, out snapLength) || snapLength > Pcap.DefaultSnapLength)
                {
                    return new CaptureCopy(records, false, "the daemon's capture stream does not start with a pcap header", null);
                }

                headerRead = true;
                end = Pcap.FileHeaderLength;
            }

            long complete = 0;
            while ((maxRecords == 0 || records + complete < maxRecords)
                && Pcap.TryReadRecordLength(buffer.AsSpan(end, filled - end), snapLength, out int length, out bool valid))
            {
                if (!valid)
                {
                    return new CaptureCopy(records, false, "the daemon's capture stream has a malformed record header", null);
                }

                if (filled - end < length)
                {
                    break;
                }

                end += length;
                complete++;
            }

            if (end > 0)
            {
                try
                {
                    // Not cancellable: a batch of whole records is written whole, or the write fails.
                    await output.WriteAsync(buffer.AsMemory(0, end), CancellationToken.None).ConfigureAwait(false);
                    await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (IOException ex)
                {
                    // A pipe whose reader (tshark, head) went away is a normal end, as for tcpdump.
                    return new CaptureCopy(records, false, outputIsPipe ? null : $"capture stopped: {ex.Message}", null);
                }

                records += complete;
                buffer.AsSpan(end, filled - end).CopyTo(buffer);
                filled -= end;
            }
        }

        return new CaptureCopy(records, false, null, null);
    }

    /// <summary>The daemon's view of the capture once its stream ended (how many it dropped), or null.</summary>
    private static async Task<CaptureInfo?> CaptureStatsAsync(string socket, int id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            ControlResponse stats = await ControlClient.SendAsync(socket, new CaptureStatsCommand(CaptureId: id), timeout.Token).ConfigureAwait(false);
            return stats.Ok ? stats.Capture : null;
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or System.Text.Json.JsonException)
        {
            return null;
        }
    }

    internal sealed record CaptureArguments(string? Target, string? Network, string? Port, string? Write, long? Count, double? Duration, int? Snaplen);

    /// <summary>How a copy ended: records written, whether the daemon ended the stream, an error to report.</summary>
    internal sealed record CaptureCopy(long Records, bool EndedByDaemon, string? Error, CaptureInfo? Stats);
}
