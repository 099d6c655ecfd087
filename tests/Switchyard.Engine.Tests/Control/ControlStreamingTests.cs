// The control socket's streaming mode (capture, events): one JSON answer line, then the command owns
// the connection; the client reads the body from exactly after the answer line.
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Control;

namespace Switchyard.Engine.Tests.Control;

public sealed class ControlStreamingTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("sy-ctl-").FullName;

    private string SocketPath => Path.Combine(dir, "control.sock");

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public async Task StreamingAnswer_BodyFollowsTheAnswerLine_ByteExact_AndEndsTheConnection()
    {
        byte[] body = Encoding.ASCII.GetBytes("first\nsecond\n\0binary\u00ff");
        await using ControlServer server = ControlServer.Start(
            SocketPath,
            request => Task.FromResult(request.Command == "events"
                ? new ControlResponse(true, Message: "streaming") { Streaming = async (s, ct) => await s.WriteAsync(body, ct) }
                : new ControlResponse(false, "no such command")),
            NullLogger.Instance);

        await using ControlStreamSession session = await ControlClient.OpenStreamAsync(SocketPath, new EventsCommand());
        Assert.True(session.Response.Ok);
        Assert.Equal("streaming", session.Response.Message);
        using var received = new MemoryStream();
        await session.Body.CopyToAsync(received).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(body, received.ToArray());
    }

    [Fact]
    public async Task FailedStreamingRequest_AnswersTheError_AndPlainRequestsStillWork()
    {
        await using ControlServer server = ControlServer.Start(
            SocketPath,
            request => Task.FromResult(request.Command == "show" ? new ControlResponse(true, Message: "plain") : new ControlResponse(false, "no such command")),
            NullLogger.Instance);

        await using (ControlStreamSession session = await ControlClient.OpenStreamAsync(SocketPath, new EventsCommand()))
        {
            Assert.False(session.Response.Ok);
            Assert.Equal("no such command", session.Response.Error);
        }

        ControlResponse plain = await ControlClient.SendAsync(SocketPath, new ShowCommand());
        Assert.Equal("plain", plain.Message);
    }
}
