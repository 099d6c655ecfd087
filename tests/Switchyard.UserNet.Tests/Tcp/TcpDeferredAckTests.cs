// Behind the gateway, guest data is acknowledged once per loop iteration, not once per segment.
namespace Switchyard.UserNet.Tests.Tcp;

public class TcpDeferredAckTests
{
    [Fact]
    public void DeferAcks_ThreeDataSegmentsInOneBatch_OneAckAtFlushCoveringAll()
    {
        var h = new TcpHarness();
        int flushRequests = 0;
        h.Context.RequestFlush = () => flushRequests++;
        h.Nat.DeferAcks = true;
        var c = TcpConn.Open(h);
        h.Link.Take();

        for (int i = 0; i < 3; i++)
        {
            c.Send(new byte[100]);
        }

        Assert.Empty(h.Link.Take());
        Assert.Equal(1, flushRequests);

        h.Nat.FlushAcks();
        Segment ack = Assert.Single(h.Link.Take());
        Assert.True(ack.AckFlag);
        Assert.Equal(c.Seq, ack.Ack);
        Assert.Equal(300, c.Socket.Received.Count);
    }

    [Fact]
    public void DeferAcks_FlushWithNothingOwed_SendsNothing()
    {
        var h = new TcpHarness();
        h.Nat.DeferAcks = true;
        TcpConn.Open(h);
        h.Link.Take();
        h.Nat.FlushAcks();
        Assert.Empty(h.Link.Take());
    }
}
