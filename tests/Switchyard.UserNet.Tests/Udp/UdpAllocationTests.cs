// STYLE.md habit 7: no allocation per packet once a flow exists, in either direction.
using Switchyard.Core.Loop;
using Switchyard.Protocols;
using static Switchyard.UserNet.Tests.Udp.Harness;

namespace Switchyard.UserNet.Tests.Udp;

public sealed class UdpAllocationTests
{
    [Fact]
    public void EstablishedFlow_GuestDatagramsAndReplies_AllocateNothing()
    {
        var h = new Harness();
        byte[] l4 = BuildUdp(Guest, 5000, Remote, 7, new byte[100]);
        byte[] reply = new byte[100];
        h.SendRawUdp(Guest, Remote, l4);
        FakeDatagramSocket socket = h.Host.Udp[0];
        socket.Record = false;
        h.Link.Record = false;

        void Round()
        {
            h.SendRawUdp(Guest, Remote, l4);
            socket.Enqueue(reply, Remote, 7);
            h.Udp.OnHostIo(socket, IoEvents.Readable);
        }

        for (int i = 0; i < 100; i++)
        {
            Round();
        }

        // The fake's queue may grow its backing array once; warm-up above covers that.
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            Round();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(1101, socket.SendCount);
        Assert.Equal(1100, h.Link.Count);
    }

    [Fact]
    public void EstablishedPingFlow_RequestsAndReplies_AllocateNothing()
    {
        var h = new Harness();
        byte[] data = new byte[56];
        h.SendEcho(Guest, Remote, 9, 1, data);
        FakeDatagramSocket socket = h.Host.Pings[0];
        byte[] reply = [.. socket.Sent[0].Data];
        reply[0] = 0;
        socket.Record = false;
        h.Link.Record = false;

        // SendEcho builds its packet per call; build one request here and replay it.
        byte[] request = [.. socket.Sent[0].Data];
        void Round()
        {
            var packet = new GuestPacket(GuestMac, Guest, Remote, 1, 64, request, request, true);
            h.Echo.OnEchoRequest(in packet);
            socket.Enqueue(reply, Remote, 0);
            h.Echo.OnHostIo(socket, IoEvents.Readable);
        }

        for (int i = 0; i < 100; i++)
        {
            Round();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            Round();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1100, h.Link.Count);
    }
}
