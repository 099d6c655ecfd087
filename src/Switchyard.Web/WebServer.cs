// The opt-in HTTP listener: `switchyard up --http 127.0.0.1:PORT`.
//
// Theory of operation: Kestrel with the smallest host ASP.NET Core offers (CreateEmptyBuilder: no
// configuration files, no environment-variable URLs, no default logging providers) answers GET
// only:
//   /            the web view (Assets/index.html, app.js, app.css, embedded in this assembly)
//   /api/state   the daemon snapshot as JSON, which the page polls every second
//   /metrics     the same snapshot as Prometheus text (MetricsRenderer)
// Every answer comes from one snapshot the daemon takes on its event loop (Daemon.SnapshotAsync),
// so nothing here touches loop-owned state. There is no authentication and nothing can be changed
// through HTTP. The address is loopback unless the user passed --http-allow-remote (HttpListen);
// on loopback the Host header must name a loopback host too, so a web page elsewhere cannot read
// the API through DNS rebinding. The bound endpoint is registered in OwnEndpoints, so guests behind
// the NAT gateway (whose connections to 10.0.2.2 arrive from 127.0.0.1) cannot reach it at all.
using System.Net;
using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Switchyard.Core.Host;
using Switchyard.Engine.Metrics;

namespace Switchyard.Web;

public sealed partial class WebServer : IAsyncDisposable
{
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

    private readonly WebApplication app;
    private readonly ILogger logger;
    private readonly IDisposable own;

    private WebServer(WebApplication app, Uri url, ILogger logger, IDisposable own)
    {
        this.app = app;
        Url = url;
        this.logger = logger;
        this.own = own;
    }

    /// <summary>The address the listener is bound to (the real port when port 0 was asked for).</summary>
    public Uri Url { get; }

    /// <summary>Binds <paramref name="endpoint"/> and starts serving. Throws <see cref="IOException"/> when the
    /// address cannot be bound (in use, not a local address, permission).</summary>
    /// <param name="endpoint">Where to listen; the caller has already applied the loopback rule (HttpListen.Check).</param>
    /// <param name="snapshot">The daemon's snapshot (Daemon.SnapshotAsync).</param>
    /// <param name="loggerFactory">Where Kestrel and this server log.</param>
    /// <param name="allowRemote">Accept any Host header (the user allowed a non-loopback listener).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<WebServer> StartAsync(
        IPEndPoint endpoint, Func<Task<DaemonSnapshot>> snapshot, ILoggerFactory loggerFactory, bool allowRemote = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(loggerFactory);

        WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "switchyard" });
        // ASP.NET Core's own logs go to the daemon's loggers, warnings and up only: at information level
        // the hosting layer logs every request, and the page asks every second.
        builder.Services.AddLogging(b => b
            .AddProvider(new ForwardingLoggerProvider(loggerFactory))
            .AddFilter("Microsoft", LogLevel.Warning));
        builder.Services.AddRoutingCore();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(o =>
        {
            o.AddServerHeader = false;
            o.Limits.MaxRequestBodySize = 0;
            o.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            o.Limits.MaxConcurrentConnections = 64;
            o.Listen(endpoint);
        });

        WebApplication app = builder.Build();
        ILogger logger = loggerFactory.CreateLogger("switchyard.web");
        if (!allowRemote)
        {
            app.Use((context, next) => IsLoopbackHost(context.Request.Host.Host)
                ? next(context)
                : Refuse(context, StatusCodes.Status421MisdirectedRequest, "this listener answers only requests addressed to a loopback host (127.0.0.1, [::1], localhost)\n"));
        }

        app.Use((context, next) => HttpMethods.IsGet(context.Request.Method)
            ? next(context)
            : Refuse(context, StatusCodes.Status405MethodNotAllowed, "read only: GET /, /api/state, /metrics\n"));

        app.MapGet("/", context => Asset(context, "index.html", "text/html; charset=utf-8"));
        app.MapGet("/app.js", context => Asset(context, "app.js", "text/javascript; charset=utf-8"));
        app.MapGet("/app.css", context => Asset(context, "app.css", "text/css; charset=utf-8"));
        app.MapGet("/api/state", async context =>
        {
            DaemonSnapshot state = await snapshot().ConfigureAwait(false);
            NoStore(context);
            context.Response.ContentType = "application/json; charset=utf-8";
            await JsonSerializer.SerializeAsync(context.Response.Body, state, WebJson.Default.DaemonSnapshot, context.RequestAborted).ConfigureAwait(false);
        });
        app.MapGet("/metrics", async context =>
        {
            DaemonSnapshot state = await snapshot().ConfigureAwait(false);
            NoStore(context);
            context.Response.ContentType = PrometheusWriter.ContentType;
            await context.Response.WriteAsync(MetricsRenderer.Render(state), context.RequestAborted).ConfigureAwait(false);
        });

        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"cannot serve HTTP on {FormatAuthority(endpoint)}: {ex.Message}", ex);
        }

        IServerAddressesFeature? addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>();
        string bound = addresses?.Addresses.FirstOrDefault() ?? $"http://{FormatAuthority(endpoint)}";
        var url = new Uri(bound.EndsWith('/') ? bound : bound + "/");
        // Registered as the daemon's own endpoint with its real port, so the NAT gateway refuses to carry a
        // guest here: through 10.0.2.2 a guest's request would come from loopback and pass the Host rule.
        IDisposable own = OwnEndpoints.Process.Register(OwnProtocol.Tcp, new IPEndPoint(endpoint.Address, url.Port));
        var server = new WebServer(app, url, logger, own);
        server.LogListening(url.ToString(), allowRemote ? "any host may connect, no authentication" : "loopback only");
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        own.Dispose();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await app.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Open connections (a browser's keep-alive) are cut when the host is disposed below.
        }

        await app.DisposeAsync().ConfigureAwait(false);
    }

    internal static bool IsLoopbackHost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out IPAddress? address) && IPAddress.IsLoopback(address));

    private static string FormatAuthority(IPEndPoint endpoint) => Engine.Config.HttpListen.Format(endpoint);

    private static Task Refuse(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(message, context.RequestAborted);
    }

    private static void NoStore(HttpContext context)
    {
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers.XContentTypeOptions = "nosniff";
    }

    private static async Task Asset(HttpContext context, string name, string contentType)
    {
        byte[] body = Assets.Get(name);
        NoStore(context);
        context.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        context.Response.Headers.XFrameOptions = "DENY";
        context.Response.Headers["Referrer-Policy"] = "no-referrer";
        context.Response.ContentType = contentType;
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "web view and metrics on {Url} ({Access})")]
    private partial void LogListening(string url, string access);

    /// <summary>Hands ASP.NET Core's loggers out of the daemon's factory (which the caller owns and disposes).</summary>
    private sealed class ForwardingLoggerProvider(ILoggerFactory factory) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => factory.CreateLogger(categoryName);

        public void Dispose()
        {
            // Not ours to dispose.
        }
    }

    /// <summary>The page's files, embedded in this assembly and read once.</summary>
    private static class Assets
    {
        private static readonly Dictionary<string, byte[]> Cache = new(StringComparer.Ordinal)
        {
            ["index.html"] = Read("index.html"),
            ["app.js"] = Read("app.js"),
            ["app.css"] = Read("app.css"),
        };

        public static byte[] Get(string name) => Cache[name];

        private static byte[] Read(string name)
        {
            using Stream stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
                ?? throw new InvalidOperationException($"embedded resource {name} is missing from {typeof(WebServer).Assembly.GetName().Name}");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        }
    }
}
