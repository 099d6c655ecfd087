// The daemon's capture commands: `capture` (a streaming command) and `capture-stats`.
//
// Theory of operation. `capture` checks its numbers, then resolves its target on the loop (a port by
// name, a network, or a positional name that is one of the two) and answers one JSON line with the
// capture's id. Then the streaming body owns the connection: it creates the capture's bounded queue
// (Switchyard.Core.Capture.PacketCapture), attaches it to the network's switch on the loop (checking
// the port is still there), writes the pcap file header and every record as it is queued, and ends
// when the capture ends: --count frames queued, --duration elapsed, the client hung up (a read of the
// connection returns end of file, or a write fails), the port left the switch, or the daemon stops
// (the server's token). The body never blocks the loop: the loop only copies frames into the queue,
// and the body runs on the thread pool. Detaching is posted to the loop and not awaited, so a
// capture that ends while the daemon stops (the loop already gone) cannot hang; a detached capture
// that stayed attached would only cost a flag read per frame until the switch goes.
//
// What it owns: the table of running captures and the last few that ended (for `capture-stats`, which
// the CLI asks once its stream ends, to print how many frames were dropped), guarded by a lock since
// control requests arrive on several threads; never touched by the loop.
using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Switchyard.Core.Capture;
using Switchyard.Core.Ports;
using Switchyard.Engine.Control;
using Switchyard.Engine.Networks;

namespace Switchyard.Engine.Commands;

/// <summary>The running captures and the last ones that ended (see the file header).</summary>
internal sealed class CaptureService(CommandContext context)
{
    /// <summary>Ended captures kept for `capture-stats`.</summary>
    private const int KeptEndedCaptures = 32;

    /// <summary>The longest --duration: what a CancellationTokenSource timer can wait (about 24 days).</summary>
    private const double MaxCaptureSeconds = int.MaxValue / 1000.0;

    private readonly Lock captureGate = new();
    private readonly Dictionary<int, CaptureRun> runningCaptures = [];
    private readonly Queue<CaptureInfo> endedCaptures = new();
    private int lastCaptureId;

    /// <summary>Answers a `capture` request; the answer's streaming body runs the capture.</summary>
    public async Task<ControlResponse> CaptureAsync(CaptureCommand request)
    {
        if (CaptureRequestError(request) is { } error)
        {
            return ControlResponse.Fail(error);
        }

        (Network network, Port? port) = await context.Loop.InvokeAsync(() => ResolveCaptureTarget(request)).ConfigureAwait(false);
        var run = new CaptureRun(Interlocked.Increment(ref lastCaptureId), network, port, request.Snaplen ?? Pcap.DefaultSnapLength, request.Count, request.Duration);
        string what = port is null
            ? $"every frame entering network {network.Name}"
            : $"port {port.Name} on network {network.Name}, both directions";
        return new ControlResponse(true, Message: $"capture {run.Id}: {what}", Capture: run.Describe())
        {
            Streaming = (stream, ct) => RunCaptureAsync(run, stream, ct),
        };
    }

    private static string? CaptureRequestError(CaptureCommand request)
    {
        if (request.Count is < 1)
        {
            return $"capture count must be 1 or more (got {request.Count})";
        }

        if (request.Duration is double seconds && !(seconds > 0 && seconds <= MaxCaptureSeconds))
        {
            return string.Create(CultureInfo.InvariantCulture, $"capture duration must be more than 0 and at most {MaxCaptureSeconds:0} seconds (got {seconds})");
        }

        if (request.Snaplen is < 1 or > Pcap.DefaultSnapLength)
        {
            return $"capture snaplen must be 1 to {Pcap.DefaultSnapLength} bytes (got {request.Snaplen})";
        }

        return null;
    }

    /// <summary>What a capture request names: a port (ingress and egress) or a network (every ingress).
    /// On the loop. Throws with a message that lists what exists.</summary>
    private (Network Network, Port? Port) ResolveCaptureTarget(CaptureCommand request)
    {
        if (!string.IsNullOrEmpty(request.Target))
        {
            if (request.Name is not null || request.Network is not null)
            {
                throw new InvalidOperationException("capture takes a target, or a name (a port) with an optional network, or a network alone; not a target with the others");
            }

            string target = request.Target;
            List<(Network Network, Port Port)> ports = PortsNamed(target);
            Network? network = context.Networks.Find(n => n.Name == target);
            return (ports.Count, network) switch
            {
                (1, null) => ports[0],
                (0, { } n) => (n, null),
                (0, null) => throw new InvalidOperationException($"no port or network named '{target}' ({CaptureTargets()})"),
                (_, { }) => throw new InvalidOperationException(
                    $"'{target}' is both a network and a port on network {string.Join(", ", ports.Select(p => p.Network.Name))}; say which: --network {target} (every frame entering it) or --port {target} --network NETWORK"),
                _ => throw OnSeveralNetworks(target, ports),
            };
        }

        if (!string.IsNullOrEmpty(request.Name))
        {
            string name = request.Name;
            if (request.Network is not null)
            {
                Network network = context.FindNetwork(request.Network);
                return network.Switch.FindPort(name) is { } port
                    ? (network, port)
                    : throw new InvalidOperationException($"network {network.Name} has no port named '{name}' (ports: {PortNames(network)})");
            }

            List<(Network Network, Port Port)> ports = PortsNamed(name);
            return ports.Count switch
            {
                1 => ports[0],
                0 => throw new InvalidOperationException($"no port named '{name}' ({CaptureTargets()})"),
                _ => throw OnSeveralNetworks(name, ports),
            };
        }

        if (!string.IsNullOrEmpty(request.Network))
        {
            return (context.FindNetwork(request.Network), null);
        }

        throw new InvalidOperationException($"capture needs a port or a network: target (either), name (a port) or network ({CaptureTargets()})");
    }

    private static InvalidOperationException OnSeveralNetworks(string name, List<(Network Network, Port Port)> ports) =>
        new($"there is a port '{name}' on networks {string.Join(", ", ports.Select(p => p.Network.Name))}; add --network NETWORK");

    private List<(Network Network, Port Port)> PortsNamed(string name)
    {
        var found = new List<(Network, Port)>();
        foreach (Network n in context.Networks)
        {
            if (n.Switch.FindPort(name) is { } port)
            {
                found.Add((n, port));
            }
        }

        return found;
    }

    private static string PortNames(Network network) =>
        network.Switch.Ports.Count == 0 ? "none" : string.Join(", ", network.Switch.Ports.Select(p => p.Name));

    /// <summary>Every port and network a capture can name, for error messages.</summary>
    private string CaptureTargets()
    {
        IEnumerable<string> ports = context.Networks
            .Where(n => n.Switch.Ports.Count > 0)
            .Select(n => $"{PortNames(n)} on network {n.Name}");
        string portList = string.Join("; ", ports);
        return $"ports: {(portList.Length == 0 ? "none" : portList)}; networks: {string.Join(", ", context.Networks.Select(n => n.Name))}";
    }

    /// <summary>The streaming body: attach, write the pcap stream until the capture ends, detach.</summary>
    private async Task RunCaptureAsync(CaptureRun run, Stream stream, CancellationToken stopping)
    {
        PacketCapture capture = run.Start(context.Loop.Clock);
        lock (captureGate)
        {
            runningCaptures.Add(run.Id, run);
        }

        CommandLog.CaptureStarted(context.Logger, run.Id, run.Network.Name, run.Port?.Name ?? "(every port)");
        using var done = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        using CancellationTokenRegistration onStop = stopping.Register(() => capture.End("daemon stopping"));
        using var deadline = run.Duration is double seconds ? new CancellationTokenSource(TimeSpan.FromSeconds(seconds)) : null;
        using CancellationTokenRegistration onDeadline = deadline?.Token.Register(() => capture.End("duration elapsed")) ?? default;
        bool attached = false;
        Task? watch = null;
        try
        {
            attached = await context.Loop.InvokeAsync(() => AttachCapture(run, capture)).WaitAsync(done.Token).ConfigureAwait(false);
            if (!attached)
            {
                capture.End($"port {run.Port?.Name} left network {run.Network.Name}");
            }

            watch = WatchHangUpAsync(stream, capture, done.Token);
            await capture.WriteToAsync(stream, done.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away (or the daemon stops); ended below.
        }
        finally
        {
            capture.End(stopping.IsCancellationRequested ? "daemon stopping" : "client hung up");
            await done.CancelAsync().ConfigureAwait(false);
            if (watch is not null)
            {
                await watch.ConfigureAwait(false);
            }

            if (attached)
            {
                // Not awaited: when the daemon stops, the loop may be gone already (then the post is a no-op).
                context.Loop.Post(() => run.Network.Switch.RemoveCapture(capture));
            }

            CaptureInfo final = run.Describe();
            lock (captureGate)
            {
                runningCaptures.Remove(run.Id);
                endedCaptures.Enqueue(final);
                while (endedCaptures.Count > KeptEndedCaptures)
                {
                    endedCaptures.Dequeue();
                }
            }

            CommandLog.CaptureEnded(context.Logger, run.Id, final.EndReason ?? "?", final.Frames, final.Dropped);
        }
    }

    /// <summary>Attaches the capture unless its port has left the switch since the request. On the loop.</summary>
    private bool AttachCapture(CaptureRun run, PacketCapture capture)
    {
        if (!context.Networks.Contains(run.Network)
            || (run.Port is { } port && !ReferenceEquals(run.Network.Switch.FindPort(port.Name), port)))
        {
            return false;
        }

        run.Network.Switch.AddCapture(capture, run.Port);
        return true;
    }

    /// <summary>Ends the capture when the client closes its side: a capture client sends nothing after
    /// its request, so a read returns only at end of file (or fails when the connection breaks). This is
    /// how a client that stops while no frames flow is noticed.</summary>
    private static async Task WatchHangUpAsync(Stream stream, PacketCapture capture, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[256];
        try
        {
            while (await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false) > 0)
            {
                // Anything a client sends now is ignored.
            }

            capture.End("client hung up");
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            if (!cancellationToken.IsCancellationRequested)
            {
                capture.End("client hung up");
            }
        }
    }

    /// <summary>Answers `capture-stats`: a running capture, or one of the last that ended.</summary>
    public ControlResponse CaptureStats(int? id)
    {
        if (id is not int wanted)
        {
            return new ControlResponse(false, "capture-stats needs a captureId (the id in the capture answer)");
        }

        lock (captureGate)
        {
            if (runningCaptures.TryGetValue(wanted, out CaptureRun? run))
            {
                return new ControlResponse(true, Capture: run.Describe());
            }

            foreach (CaptureInfo ended in endedCaptures)
            {
                if (ended.Id == wanted)
                {
                    return new ControlResponse(true, Capture: ended);
                }
            }

            string running = runningCaptures.Count == 0 ? "none" : string.Join(", ", runningCaptures.Keys.Order());
            return new ControlResponse(false, $"no capture {wanted} (running: {running}; the last {KeptEndedCaptures} that ended are kept)");
        }
    }

    /// <summary>One capture request: what it watches and, once its stream starts, its queue.</summary>
    private sealed class CaptureRun(int id, Network network, Port? port, int snaplen, long? count, double? duration)
    {
        private PacketCapture? capture;

        public int Id { get; } = id;

        public Network Network { get; } = network;

        public Port? Port { get; } = port;

        public double? Duration { get; } = duration;

        /// <summary>Creates the queue (the byte budget is allocated here, when the stream starts).</summary>
        public PacketCapture Start(TimeProvider clock)
        {
            var created = new PacketCapture(snaplen, PacketCapture.DefaultBufferBytes, count ?? 0, clock);
            Volatile.Write(ref capture, created);
            return created;
        }

        public CaptureInfo Describe()
        {
            PacketCapture? c = Volatile.Read(ref capture);
            string? reason = c?.EndReason;
            return new CaptureInfo(
                Id, Network.Name, Port?.Name, snaplen, count, Duration, c?.BufferBytes ?? PacketCapture.DefaultBufferBytes,
                c?.Frames ?? 0, c?.Dropped ?? 0, c?.BytesWritten ?? 0, reason is null, reason);
        }
    }
}
