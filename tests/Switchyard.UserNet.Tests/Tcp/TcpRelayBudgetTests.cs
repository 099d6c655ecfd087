// The relay byte budget (issue 10 item 10): one port's stalled flows hold at most the per-port budget,
// advertise a zero window instead of buffering more, are counted, and are woken when chunks come back;
// another port's flows keep buffering; chunks go back to a bounded idle pool when flows close.
using Switchyard.Core.Loop;
using Switchyard.Protocols;
using Switchyard.UserNet.Tcp;

namespace Switchyard.UserNet.Tests.Tcp;

public sealed class TcpRelayBudgetTests
{
    private const int Chunk = ChunkPool.ChunkSize;

    private static byte[] Bytes(int n)
    {
        byte[] b = new byte[n];
        new Random(n).NextBytes(b);
        return b;
    }

    private static TcpHarness Harness(int portChunks, int globalChunks) =>
        new(GatewayOptions.Default with { RelayBufferBytesPerPort = portChunks * (long)Chunk, RelayBufferBytes = globalChunks * (long)Chunk });

    /// <summary>A flow on <paramref name="ingress"/> whose host peer never reads, given 64 KiB by its guest.</summary>
    private static TcpConn Stalled(TcpHarness h, ushort port, int ingress)
    {
        h.Link.Take();
        TcpConn c = TcpConn.Open(h, port: port, ingress: ingress);
        c.Socket.SendRoom = 0;
        h.Link.Take();
        for (int i = 0; i < 4; i++)
        {
            c.Send(Bytes(16 * 1024));
        }

        return c;
    }

    [Fact]
    public void Budget_OnePortsStalledFlows_HeldToPortBudgetAndCounted_OtherPortStillRelays()
    {
        TcpHarness h = Harness(portChunks: 4, globalChunks: 64);
        var stalled = new List<TcpConn>();
        for (ushort i = 0; i < 20; i++)
        {
            stalled.Add(Stalled(h, (ushort)(2000 + i), ingress: 1));
        }

        Assert.Equal(4, h.Nat.Pool.Outstanding);
        Assert.True(h.Counters.Drops(GatewayDrop.TcpRelayPortBudget) > 0);

        // A flow past the budget advertises a zero window rather than taking bytes it cannot hold.
        TcpConn last = stalled[^1];
        last.Send(Bytes(1000));
        Segment answer = h.Link.Take()[^1];
        Assert.Equal(0, answer.Window);

        // Another port's download is unaffected: its host data is buffered and reaches the guest.
        h.Link.Take();
        TcpConn honest = TcpConn.Open(h, port: 3000, ingress: 2);
        h.Link.Take();
        honest.Socket.PeerSends(Bytes(200_000));
        honest.Socket.Fire(IoEvents.Readable);
        var got = new List<byte>();
        honest.Receive(got);
        Assert.True(got.Count > 0);
        Assert.True(h.Nat.Pool.Outstanding > 4);
    }

    [Fact]
    public void Budget_GlobalLimit_RefusesEveryPortPastItAndCounts()
    {
        TcpHarness h = Harness(portChunks: 64, globalChunks: 3);
        Stalled(h, 2000, ingress: 1);
        Stalled(h, 2001, ingress: 2);

        Assert.Equal(3, h.Nat.Pool.Outstanding);
        Assert.True(h.Counters.Drops(GatewayDrop.TcpRelayGlobalBudget) > 0);
    }

    [Fact]
    public void Budget_ChunksComeBack_WaitingFlowReopensItsWindow()
    {
        TcpHarness h = Harness(portChunks: 2, globalChunks: 64);
        TcpConn first = Stalled(h, 2000, ingress: 1);
        TcpConn starved = Stalled(h, 2001, ingress: 1);
        starved.Send(Bytes(100));
        Assert.Equal(0, h.Link.Take()[^1].Window);

        // The first flow's host peer reads everything: its chunks return, the starved flow is woken.
        first.Socket.SendRoom = int.MaxValue;
        first.Socket.Fire(IoEvents.Writable);
        h.Link.Take();
        h.Nat.FlushAcks();

        Segment update = h.Link.Take().Find(s => s.DestinationPort == starved.GuestPort)!;
        Assert.NotNull(update);
        Assert.True(update.Window > 0);
    }

    [Fact]
    public void Budget_FlowsClose_ChunksReturnedAndIdlePoolBounded()
    {
        TcpHarness h = Harness(portChunks: 256, globalChunks: 1024);
        var conns = new List<TcpConn>();
        for (ushort i = 0; i < 40; i++)
        {
            conns.Add(Stalled(h, (ushort)(2000 + i), ingress: 1));
        }

        Assert.Equal(80, h.Nat.Pool.Outstanding);
        foreach (TcpConn c in conns)
        {
            c.Rst();
        }

        Assert.Equal(0, h.Nat.Pool.Outstanding);
        Assert.True(h.Nat.Pool.IdleCount <= h.Nat.Pool.MaxIdle);
        Assert.Equal(0, h.Nat.FlowCount);
    }
}
