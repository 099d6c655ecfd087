// A listener's connection caps (issue 10, hole 4): past its own cap or the process's budget a new
// connection is accepted and closed at once (the peer reads EOF), counted; a connection that ends gives
// its place back.
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Core.Loop;
using Switchyard.Ports.Stream;

namespace Switchyard.Ports.Tests;

public sealed class SocketListenerTests : IDisposable
{
    private readonly LoopFixture fixture = new();
    private readonly List<Socket> clients = [];

    public void Dispose()
    {
        foreach (Socket c in clients)
        {
            c.Dispose();
        }

        fixture.Dispose();
    }

    [Fact]
    public async Task SocketListener_ListenerCapReached_RefusesWithEofAndCounts()
    {
        var budget = new DescriptorBudget(1 << 16, maxConnections: 100, maxConnectionsPerListener: 2);
        (SocketListener listener, string path) = await OpenAsync("s", budget);
        Socket first = Connect(path);
        Socket second = Connect(path);
        await WaitAsync(listener, l => l.Connections == 2, "two connections");
        Socket third = Connect(path);

        third.ReceiveTimeout = 5000;
        Assert.Equal(0, third.Receive(new byte[1])); // Closed by the daemon: EOF, not a hang in the backlog.
        Assert.Equal(1, await OnLoop(() => listener.RefusedListenerFull));
        Assert.Equal(2, await OnLoop(() => listener.Connections));
        Assert.Equal(2, budget.Connections);
        Assert.True(first.Connected && second.Connected);
    }

    [Fact]
    public async Task SocketListener_GlobalCapReached_RefusesOnAnotherListenerAndCounts()
    {
        var budget = new DescriptorBudget(1 << 16, maxConnections: 1, maxConnectionsPerListener: 10);
        (SocketListener a, string pathA) = await OpenAsync("a", budget);
        (SocketListener b, string pathB) = await OpenAsync("b", budget);
        _ = Connect(pathA);
        await WaitAsync(a, l => l.Connections == 1, "a's connection");
        Socket refused = Connect(pathB);

        refused.ReceiveTimeout = 5000;
        Assert.Equal(0, refused.Receive(new byte[1]));
        Assert.Equal(1, await OnLoop(() => b.RefusedByBudget));
        Assert.Equal(1, budget.ConnectionsRefusedGlobalCap);
        Assert.Equal(0, await OnLoop(() => b.Connections));
    }

    [Fact]
    public async Task SocketListener_ConnectionEnds_ItsPlaceIsGivenBack()
    {
        var budget = new DescriptorBudget(1 << 16, maxConnections: 100, maxConnectionsPerListener: 1);
        (SocketListener listener, string path) = await OpenAsync("s", budget);
        Socket first = Connect(path);
        await WaitAsync(listener, l => l.Connections == 1, "one connection");
        first.Dispose(); // The stream port sees EOF and stops.
        await WaitAsync(listener, l => l.Connections == 0, "the connection to end");

        Socket second = Connect(path);
        await WaitAsync(listener, l => l.Connections == 1, "the second connection");
        Assert.Equal(0, await OnLoop(() => listener.RefusedListenerFull));
        Assert.Equal(1, budget.Connections);
        Assert.True(second.Connected);
    }

    [Fact]
    public async Task SocketListener_Disposed_GivesEveryConnectionBack()
    {
        var budget = new DescriptorBudget(1 << 16, maxConnections: 100, maxConnectionsPerListener: 5);
        (SocketListener listener, string path) = await OpenAsync("s", budget);
        _ = Connect(path);
        _ = Connect(path);
        await WaitAsync(listener, l => l.Connections == 2, "two connections");
        await OnLoop(() =>
        {
            listener.Dispose();
            return 0;
        });
        Assert.Equal(0, budget.Connections);
    }

    private async Task<(SocketListener Listener, string Path)> OpenAsync(string name, DescriptorBudget budget)
    {
        string path = fixture.NewPath();
        SocketListener listener = await OnLoop(() => SocketListener.Open(name, fixture.Loop, NullLogger.Instance, new UnixDomainSocketEndPoint(path), accepted =>
        {
            var port = new StreamPort(accepted.PortName, fixture.Loop, NullLogger.Instance, accepted.Peer, persistent: false);
            port.Connect(accepted.Socket);
            return port;
        }, budget));
        return (listener, path);
    }

    private Socket Connect(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(path));
        clients.Add(s);
        return s;
    }

    private Task<T> OnLoop<T>(Func<T> f) => fixture.Loop.InvokeAsync(f);

    private async Task WaitAsync(SocketListener listener, Func<SocketListener, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!await OnLoop(() => condition(listener)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }
}
