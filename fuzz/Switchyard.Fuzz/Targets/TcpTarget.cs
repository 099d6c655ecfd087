// Fuzz target: the NAT gateway's TCP endpoint (TcpNat, TcpFlow) and the rest of its guest-facing dispatch,
// fed a script of guest segments, host socket events and clock steps.
//
// Theory of operation: one NatGateway on a ManualLoop (time moves only when the script says), a host
// network whose TCP connects always succeed with scripted sockets, and a sink that records what the gateway
// sends to the guest. Each input first announces the guest (an ARP request from 10.0.2.15), then runs up to
// MaxOps operations, each chosen by one byte (modulo 6):
//   0 an IPv4 TCP segment from the guest to 192.0.2.1, built with a correct checksum from fuzzed fields;
//     with the "relative" flag its seq/ack are offsets from the last segment the gateway sent the guest,
//     which is how the fuzzer reaches established flows, retransmission and close
//   1 the same over IPv6    2 a raw guest frame (length-prefixed), any bytes
//   3 host peer of socket k sends bytes (or EOF) and the socket reports readable
//   4 socket k reports writable / an error / a new send-buffer size
//   5 the clock advances (timers: retransmission, keep-alive, TIME_WAIT, idle expiry)
// Rule checked: nothing throws out of the gateway (drops are counted, flows are reset or closed), and
// every frame the gateway sends to the guest is a well-formed Ethernet frame.
using System.Buffers.Binary;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Core.Frames;
using Switchyard.Core.Loop;
using Switchyard.Core.Ports;
using Switchyard.Protocols;
using Switchyard.TestKit;
using Switchyard.UserNet;

namespace Switchyard.Fuzz.Targets;

public sealed class TcpTarget : IFuzzTarget
{
    public const ulong GuestMac = 0x5254_0012_3456UL;
    public static readonly IpAddr GuestIp = IpAddr.FromV4(0x0A00_020F);
    public static readonly IpAddr RemoteIp = IpAddr.FromV4(0xC000_0201);
    public static readonly IpAddr GuestIp6 = new(0xFD00_0000_0000_0000UL, 0x15);
    public static readonly IpAddr RemoteIp6 = new(0x2001_0DB8_0000_0000UL, 1);

    private const int MaxOps = 128;
    private static readonly ushort[] RemotePorts = [80, 443, 22, 8080];

    public string Name => "tcp";

    public void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzReader(input);
        var loop = new ManualLoop();
        var host = new ScriptedHostNetwork();
        var sink = new GuestSink();
        var gateway = new NatGateway("gateway", GatewayOptions.Default, loop, host, resolvers: null, NullLogger.Instance);
        gateway.Attach(sink);
        gateway.Start();
        try
        {
            Deliver(gateway, sink, ArpAnnouncement());
            for (int op = 0; op < MaxOps && !reader.IsEmpty; op++)
            {
                switch (reader.ReadByte() % 6)
                {
                    case 0:
                        Deliver(gateway, sink, GuestSegment(ref reader, sink, v6: false));
                        break;
                    case 1:
                        Deliver(gateway, sink, GuestSegment(ref reader, sink, v6: true));
                        break;
                    case 2:
                        Deliver(gateway, sink, reader.ReadBytes(reader.ReadUInt16() % 2048).ToArray());
                        break;
                    case 3:
                        host.PeerSends(ref reader);
                        break;
                    case 4:
                        host.Poke(ref reader);
                        break;
                    default:
                        loop.Advance(TimeSpan.FromMilliseconds(reader.ReadUInt16() * 10L), TimeSpan.FromMilliseconds(200));
                        break;
                }

                loop.RunPending();
                gateway.Flush();
            }
        }
        finally
        {
            gateway.Stop();
        }
    }

    private static void Deliver(NatGateway gateway, GuestSink sink, byte[] frame)
    {
        gateway.Transmit(new EgressFrame(frame));
        sink.ThrowIfBad();
    }

    private static byte[] ArpAnnouncement()
    {
        byte[] frame = new byte[42];
        Ethernet.WriteMac(frame, 0xFFFF_FFFF_FFFFUL);
        Ethernet.WriteMac(frame.AsSpan(6), GuestMac);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), Ethernet.EtherTypeArp);
        ArpBuilder.Write(frame.AsSpan(14), 1, GuestMac, GuestIp.V4, 0, 0x0A00_0202);
        return frame;
    }

    /// <summary>Fields: [port sel][flags][relative][seq u32][ack u32][window u16][options len][options][payload len u16][payload].</summary>
    private static byte[] GuestSegment(ref FuzzReader reader, GuestSink sink, bool v6)
    {
        byte ports = reader.ReadByte();
        byte flags = reader.ReadByte();
        bool relative = (reader.ReadByte() & 1) != 0;
        uint seq = reader.ReadUInt32();
        uint ack = reader.ReadUInt32();
        ushort window = reader.ReadUInt16();
        ReadOnlySpan<byte> options = reader.ReadBytes((reader.ReadByte() % 11) * 4);
        ReadOnlySpan<byte> payload = reader.ReadBytes(reader.ReadUInt16() % 3000);
        if (relative)
        {
            // Small signed offsets from what the gateway last said: in-window most of the time.
            seq = sink.LastAck + (uint)(sbyte)(seq & 0xFF);
            ack = sink.LastSeq + (uint)(sbyte)(ack & 0xFF);
        }

        ushort sourcePort = (ushort)(40000 + (ports & 3));
        ushort destinationPort = RemotePorts[(ports >> 2) & 3];
        IpAddr source = v6 ? GuestIp6 : GuestIp;
        IpAddr destination = v6 ? RemoteIp6 : RemoteIp;

        byte[] l4 = new byte[20 + options.Length + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(l4, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(l4.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(l4.AsSpan(8), ack);
        l4[12] = (byte)(((20 + options.Length) / 4) << 4);
        l4[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(14), window);
        options.CopyTo(l4.AsSpan(20));
        payload.CopyTo(l4.AsSpan(20 + options.Length));
        PacketWriter.WriteL4Checksum(l4, source, destination, InternetChecksum.ProtocolTcp, TcpHeader.ChecksumOffset);

        int ipLength = v6 ? 40 : 20;
        byte[] frame = new byte[14 + ipLength + l4.Length];
        l4.CopyTo(frame.AsSpan(14 + ipLength));
        PacketWriter.WriteEthernetAndIp(frame, GatewayOptions.DefaultMac, GuestMac, source, destination, InternetChecksum.ProtocolTcp, l4.Length, 1);
        return frame;
    }

    /// <summary>What the gateway sends toward the guest: checked to be Ethernet, and the last TCP seq/ack kept
    /// for the script's relative segments.</summary>
    private sealed class GuestSink : IFrameSink
    {
        private string? bad;

        public uint LastSeq { get; private set; }

        public uint LastAck { get; private set; }

        public void Receive(Port ingress, ReadOnlySpan<byte> frame, in OffloadInfo offload)
        {
            if (!EthernetHeader.TryParse(frame, out EthernetHeader eth))
            {
                bad ??= $"the gateway sent a {frame.Length}-byte frame that is not Ethernet";
                return;
            }

            ReadOnlySpan<byte> l4 = default;
            if (eth.EtherType == Ethernet.EtherTypeIPv4 && IPv4Header.TryParse(eth.Payload, out IPv4Header v4) && v4.Protocol == InternetChecksum.ProtocolTcp)
            {
                l4 = v4.Payload;
            }
            else if (eth.EtherType == Ethernet.EtherTypeIPv6 && IPv6Header.TryParse(eth.Payload, out IPv6Header v6) && v6.NextHeader == InternetChecksum.ProtocolTcp)
            {
                l4 = v6.Payload;
            }

            if (!l4.IsEmpty && TcpHeader.TryParse(l4, out TcpHeader tcp))
            {
                LastSeq = tcp.SequenceNumber + (uint)tcp.Payload.Length + ((tcp.Flags & (TcpHeader.FlagSyn | TcpHeader.FlagFin)) != 0 ? 1u : 0u);
                LastAck = tcp.AcknowledgmentNumber;
            }
        }

        public void PortClosed(Port port, string reason)
        {
        }

        public void ThrowIfBad()
        {
            if (bad is not null)
            {
                throw new FuzzFindingException(bad);
            }
        }
    }

    private sealed class ScriptedHostNetwork : IHostNetwork
    {
        private readonly List<ScriptedTcpSocket> sockets = [];

        public IHostTcpSocket? ConnectTcp(IpAddr address, ushort port, IHostSocketOwner owner, out int errno)
        {
            errno = 0;
            var socket = new ScriptedTcpSocket(owner, address, port);
            sockets.Add(socket);
            return socket;
        }

        public IHostDatagramSocket? OpenUdp(IpAddr address, ushort port, IHostSocketOwner owner, out int errno)
        {
            errno = 0;
            return new SilentDatagramSocket();
        }

        public IHostDatagramSocket? OpenPing(bool v6, IHostSocketOwner owner, out int errno)
        {
            errno = 0;
            return new SilentDatagramSocket();
        }

        public IHostTcpListener ListenTcp(IpAddr address, ushort port, IHostSocketOwner owner) =>
            throw new HostNetworkException("the fuzz host network has no listeners");

        public IHostDatagramSocket BindUdp(IpAddr address, ushort port, IHostSocketOwner owner) =>
            throw new HostNetworkException("the fuzz host network has no listeners");

        public void PeerSends(ref FuzzReader reader)
        {
            byte which = reader.ReadByte();
            ReadOnlySpan<byte> data = reader.ReadBytes(reader.ReadUInt16() % 4096);
            ScriptedTcpSocket? socket = Pick(which);
            if (socket is null)
            {
                return;
            }

            if (data.IsEmpty)
            {
                socket.PeerEof = true;
            }
            else
            {
                socket.Incoming.Enqueue(data.ToArray());
            }

            socket.Fire(IoEvents.Readable);
        }

        public void Poke(ref FuzzReader reader)
        {
            byte which = reader.ReadByte();
            byte what = reader.ReadByte();
            ushort room = reader.ReadUInt16();
            ScriptedTcpSocket? socket = Pick(which);
            if (socket is null)
            {
                return;
            }

            switch (what % 4)
            {
                case 0:
                    socket.SendRoom = room;
                    socket.Fire(IoEvents.Writable);
                    break;
                case 1:
                    socket.PendingError = HostIo.ECONNRESET;
                    socket.Fire(IoEvents.Error);
                    break;
                case 2:
                    socket.ReceiveErrno = room % 2 == 0 ? HostIo.ECONNRESET : 0;
                    socket.Fire(IoEvents.Readable | IoEvents.HangUp);
                    break;
                default:
                    socket.PendingError = room % 2 == 0 ? HostIo.ECONNREFUSED : 0;
                    socket.Fire(IoEvents.Writable | IoEvents.Error);
                    break;
            }
        }

        private ScriptedTcpSocket? Pick(byte which)
        {
            if (sockets.Count == 0)
            {
                return null;
            }

            ScriptedTcpSocket socket = sockets[which % sockets.Count];
            return socket.Disposed ? null : socket;
        }
    }

    private sealed class ScriptedTcpSocket(IHostSocketOwner owner, IpAddr remote, ushort remotePort) : IHostTcpSocket
    {
        private int incomingOffset;

        public Queue<byte[]> Incoming { get; } = new();

        public bool PeerEof { get; set; }

        public int PendingError { get; set; }

        public int ReceiveErrno { get; set; }

        public int SendRoom { get; set; } = 1 << 20;

        public bool Disposed { get; private set; }

        public IpAddr LocalAddress => IpAddr.FromV4(0x7F00_0001);

        public ushort LocalPort => 40000;

        public IpAddr RemoteAddress => remote;

        public ushort RemotePort => remotePort;

        public void SetInterest(IoEvents interest)
        {
        }

        public int TakeError()
        {
            int e = PendingError;
            PendingError = 0;
            return e;
        }

        public HostIo Send(ReadOnlySpan<byte> data)
        {
            if (Disposed)
            {
                throw new FuzzFindingException("Send on a disposed host socket");
            }

            int n = Math.Min(data.Length, SendRoom);
            if (n <= 0 && data.Length > 0)
            {
                return HostIo.Error(HostIo.EAGAIN);
            }

            SendRoom -= n;
            return HostIo.Done(n);
        }

        public HostIo Receive(Span<byte> buffer)
        {
            if (Disposed)
            {
                throw new FuzzFindingException("Receive on a disposed host socket");
            }

            if (ReceiveErrno != 0)
            {
                return HostIo.Error(ReceiveErrno);
            }

            if (Incoming.Count == 0)
            {
                return PeerEof ? HostIo.Done(0) : HostIo.Error(HostIo.EAGAIN);
            }

            int done = 0;
            while (done < buffer.Length && Incoming.Count > 0)
            {
                byte[] head = Incoming.Peek();
                int n = Math.Min(buffer.Length - done, head.Length - incomingOffset);
                head.AsSpan(incomingOffset, n).CopyTo(buffer[done..]);
                done += n;
                incomingOffset += n;
                if (incomingOffset == head.Length)
                {
                    Incoming.Dequeue();
                    incomingOffset = 0;
                }
            }

            return HostIo.Done(done);
        }

        public void ShutdownSend()
        {
        }

        public void Abort() => Disposed = true;

        public void Dispose() => Disposed = true;

        public void Fire(IoEvents events) => owner.OnHostIo(this, events);
    }

    private sealed class SilentDatagramSocket : IHostDatagramSocket
    {
        public IpAddr LocalAddress => IpAddr.FromV4(0x7F00_0001);

        public ushort LocalPort => 40001;

        public void SetInterest(IoEvents interest)
        {
        }

        public int TakeError() => 0;

        public HostIo Send(ReadOnlySpan<byte> data) => HostIo.Done(data.Length);

        public HostIo SendTo(ReadOnlySpan<byte> data, IpAddr address, ushort port) => HostIo.Done(data.Length);

        public HostIo ReceiveFrom(Span<byte> buffer, out IpAddr address, out ushort port)
        {
            address = IpAddr.None;
            port = 0;
            return HostIo.Error(HostIo.EAGAIN);
        }

        public void Dispose()
        {
        }
    }
}
