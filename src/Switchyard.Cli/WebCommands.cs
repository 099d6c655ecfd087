// `switchyard up --http HOST:PORT`: the opt-in HTTP listener for metrics and the web view
// (Switchyard.Web; docs/web.md, docs/metrics.md).
//
// The listener is off unless --http or `http:` in the topology file asks for it (the flag wins).
// Only loopback addresses are accepted without --http-allow-remote: there is no authentication.
// StartWebAsync is the only place that touches Switchyard.Web, and its signature uses BCL types
// only, so a daemon without --http never loads ASP.NET Core.
using System.CommandLine;
using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Switchyard.Core.Config;
using Switchyard.Engine;
using Switchyard.Engine.Config;
using Switchyard.Web;

namespace Switchyard.Cli;

internal static partial class Program
{
    private static readonly Option<string?> HttpOption = new("--http")
    {
        Description = "Serve the web view (/) and Prometheus metrics (/metrics) on HOST:PORT, e.g. 127.0.0.1:9100 " +
            "(loopback only unless --http-allow-remote; no authentication; docs/web.md)",
        HelpName = "HOST:PORT",
    };

    private static readonly Option<bool> HttpAllowRemoteOption = new("--http-allow-remote")
    {
        Description = "Allow --http on a non-loopback address. There is no authentication: anyone who can reach it sees the topology, MACs, addresses and counters",
    };

    /// <summary>Where `up` serves HTTP (--http, else the file's <c>http:</c>), or null for nowhere.
    /// Throws <see cref="ConfigException"/> for a malformed or non-loopback address without --http-allow-remote.</summary>
    internal static IPEndPoint? HttpEndpoint(string? flag, bool allowRemote, TopologyConfig topology)
    {
        ArgumentNullException.ThrowIfNull(topology);
        IPEndPoint? endpoint = topology.Http;
        if (flag is not null && !HttpListen.TryParse(flag, out endpoint, out string? error))
        {
            throw new ConfigException($"--http: {error}");
        }

        if (endpoint is null)
        {
            return allowRemote ? throw new ConfigException("--http-allow-remote needs --http HOST:PORT (or http: in the topology file)") : null;
        }

        return HttpListen.Check(endpoint, allowRemote) is { } refused ? throw new ConfigException(refused) : endpoint;
    }

    /// <summary>Starts the listener; returns it (to dispose) and the URL it serves. Throws IOException when it cannot bind.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // Keeps ASP.NET Core out of a daemon that does not serve HTTP.
    private static async Task<(IAsyncDisposable Server, Uri Url)> StartWebAsync(IPEndPoint endpoint, bool allowRemote, Daemon daemon, ILoggerFactory logs, CancellationToken ct)
    {
        WebServer server = await WebServer.StartAsync(endpoint, daemon.SnapshotAsync, logs, allowRemote, ct).ConfigureAwait(false);
        return (server, server.Url);
    }

    /// <summary>What `up` disposes when it serves no HTTP.</summary>
    private sealed class NoWebServer : IAsyncDisposable
    {
        public static readonly NoWebServer Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
