// STYLE.md habit 7: the data path allocates nothing per packet. Steady-state traffic both ways
// through one flow, measured with the thread's allocation counter.
using System.Buffers.Binary;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Core.Frames;
using Switchyard.Core.Loop;
using Switchyard.Protocols;
using Switchyard.TestKit;

namespace Switchyard.UserNet.Tests.Tcp;

public class TcpAllocationTests
{
    private sealed class LastFrameLink : IGuestLink
    {
        public byte[] Last { get; } = new byte[GatewayContext.TxBufferSize];

        public int Count { get; private set; }

        public void Send(ReadOnlySpan<byte> frame, in OffloadInfo offload)
        {
            frame.CopyTo(Last);
            Count++;
        }

        /// <summary>Sequence number of the last frame (IPv4, no options).</summary>
        public uint LastSeq => BinaryPrimitives.ReadUInt32BigEndian(Last.AsSpan(14 + 20 + 4));

        public int LastLength { get; set; }
    }

    [Fact]
    public void SteadyTrafficBothWays_AllocatesNothing()
    {
        var loop = new ManualLoop();
        var link = new LastFrameLink();
        var host = new FakeHostNetwork();
        var context = new GatewayContext(GatewayOptions.Default, link, host, loop, NullLogger.Instance);
        var nat = new TcpNat(context, new FlowLimiter(GatewayOptions.Default, context.Counters)) { Random = new Random(3) };
        IpAddr guest = TcpHarness.GuestIp;
        IpAddr remote = TcpHarness.RemoteIp;
        byte[] l4 = new byte[20 + 1460];
        byte[] synOptions = TcpHarness.SynOptions(1460, 7);
        byte[] syn = new byte[20 + synOptions.Length];
        Write(syn, 100, 0, TcpHeader.FlagSyn, synOptions.Length);
        synOptions.CopyTo(syn, 20);
        Deliver(nat, syn, guest, remote, trusted: false);
        FakeTcpSocket socket = host.Last!;
        socket.Record = false;
        socket.Fire(IoEvents.Writable);
        uint rcv = link.LastSeq + 1;
        uint seq = 101;
        byte[] ack = new byte[20];
        byte[] hostChunk = new byte[32 * 1024];

        void Round()
        {
            // Guest → host: one full segment, then host → guest: 32 KiB, ACKed.
            Write(l4, seq, rcv, TcpHeader.FlagAck, 0);
            Deliver(nat, l4, guest, remote, trusted: true);
            seq += 1460;
            socket.PeerSends(hostChunk);
            socket.Fire(IoEvents.Readable);
            rcv += (uint)hostChunk.Length;
            Write(ack, seq, rcv, TcpHeader.FlagAck, 0);
            Deliver(nat, ack, guest, remote, trusted: true);
        }

        for (int i = 0; i < 50; i++)
        {
            Round();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 500; i++)
        {
            Round();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(550L * 1460, socket.SentBytes);
        Assert.Equal(0, nat.Pool.Outstanding);
    }

    private static void Write(byte[] l4, uint seq, uint ack, byte flags, int optionsLength)
    {
        BinaryPrimitives.WriteUInt16BigEndian(l4, 40001);
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(2), 80);
        BinaryPrimitives.WriteUInt32BigEndian(l4.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(l4.AsSpan(8), ack);
        l4[12] = (byte)(((20 + optionsLength) / 4) << 4);
        l4[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(14), 65535);
    }

    private static void Deliver(TcpNat nat, byte[] l4, IpAddr guest, IpAddr remote, bool trusted)
    {
        if (!trusted)
        {
            PacketWriter.WriteL4Checksum(l4, guest, remote, InternetChecksum.ProtocolTcp, TcpHeader.ChecksumOffset);
        }

        var packet = new GuestPacket(TcpHarness.GuestMac, guest, remote, InternetChecksum.ProtocolTcp, 64, l4, l4, trusted);
        nat.OnSegment(in packet);
    }
}
