// The control socket's budget (issue 10): an idle client is closed and counted, a client following a
// streaming command is not idle, and one client more than the cap is told why and closed.
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Control;

namespace Switchyard.Engine.Tests.Control;

public sealed class ControlLimitsTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("sy-ctl-").FullName;

    private string SocketPath => Path.Combine(dir, "control.sock");

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public async Task ControlServer_ClientIdlePastTimeout_ClosedAndCounted()
    {
        await using ControlServer server = Start(new ControlServerLimits(4, TimeSpan.FromSeconds(1)));
        using Socket idle = Connect();
        idle.ReceiveTimeout = 10_000;
        Assert.Equal(0, idle.Receive(new byte[16])); // EOF after about a second of silence.
        await WaitAsync(() => server.IdleClosed == 1 && server.Clients == 0, "the idle client to be counted");
    }

    [Fact]
    public async Task ControlServer_StreamingCommand_NotClosedByTheIdleTimeout()
    {
        await using ControlServer server = Start(new ControlServerLimits(4, TimeSpan.FromSeconds(1)));
        await using ControlStreamSession session = await ControlClient.OpenStreamAsync(SocketPath, new EventsCommand());
        Assert.True(session.Response.Ok);
        byte[] buffer = new byte[64];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(2.5))
        {
            Assert.True(await session.Body.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(5)) > 0, "the stream ended");
        }

        Assert.Equal(0, server.IdleClosed);
    }

    [Fact]
    public async Task ControlServer_OneClientPastTheCap_ToldWhyAndClosed()
    {
        await using ControlServer server = Start(new ControlServerLimits(2, TimeSpan.FromSeconds(60)));
        using Socket a = Connect();
        using Socket b = Connect();
        await WaitAsync(() => server.Clients == 2, "two clients");
        using Socket c = Connect();
        c.ReceiveTimeout = 10_000;
        var answer = new StringBuilder();
        byte[] buffer = new byte[512];
        int n;
        while ((n = c.Receive(buffer)) > 0)
        {
            answer.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }

        Assert.Contains("too many control clients", answer.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, server.ClientsRefused);

        // The ones inside the cap are still served.
        a.Send("{\"command\":\"show\"}\n"u8.ToArray());
        a.ReceiveTimeout = 10_000;
        Assert.Contains("pong", Encoding.UTF8.GetString(buffer, 0, a.Receive(buffer)), StringComparison.Ordinal);
    }

    private ControlServer Start(ControlServerLimits limits) => ControlServer.Start(
        SocketPath,
        request => Task.FromResult(request.Command switch
        {
            "events" => new ControlResponse(true, Message: "streaming")
            {
                Streaming = async (s, ct) =>
                {
                    while (!ct.IsCancellationRequested)
                    {
                        await s.WriteAsync("tick\n"u8.ToArray(), ct);
                        await Task.Delay(100, ct);
                    }
                },
            },
            _ => new ControlResponse(true, Message: "pong"),
        }),
        NullLogger.Instance,
        limits);

    private Socket Connect()
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(SocketPath));
        return s;
    }

    private static async Task WaitAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }
}
