// Fakes for TCP NAT tests: a host network whose sockets are scripted by the test, a guest link that
// records frames, neighbours from a table, and a harness that wires them to a TcpNat on a ManualLoop.
using System.Buffers.Binary;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Core.Frames;
using Switchyard.Core.Loop;
using Switchyard.Protocols;
using Switchyard.TestKit;

namespace Switchyard.UserNet.Tests.Tcp;

internal sealed class FakeTcpSocket : IHostTcpSocket
{
    private readonly Queue<byte[]> incoming = new();
    private int incomingOffset;

    public FakeTcpSocket(IHostSocketOwner owner, IpAddr remote, ushort remotePort)
    {
        Owner = owner;
        RemoteAddress = remote;
        RemotePort = remotePort;
    }

    public IHostSocketOwner Owner { get; set; }

    public IoEvents Interest { get; private set; } = IoEvents.Readable | IoEvents.Writable;

    public int PendingError { get; set; }

    /// <summary>What the host peer has received from the gateway.</summary>
    public List<byte> Received { get; } = [];

    /// <summary>Bytes Send accepts before answering EAGAIN (the host socket's free send buffer).</summary>
    public int SendRoom { get; set; } = int.MaxValue;

    /// <summary>When set, decides how many of the offered bytes one Send takes (0 means EAGAIN).</summary>
    public Func<int, int>? SendPolicy { get; set; }

    /// <summary>When set, caps how many bytes one Receive returns.</summary>
    public Func<int, int>? ReceivePolicy { get; set; }

    public int SendErrno { get; set; }

    public int ReceiveErrno { get; set; }

    public bool PeerEof { get; set; }

    public bool ShutdownSent { get; private set; }

    public bool Aborted { get; private set; }

    public bool Disposed { get; private set; }

    public int SendCalls { get; private set; }

    /// <summary>False: Send counts bytes without keeping them (allocation tests).</summary>
    public bool Record { get; set; } = true;

    public long SentBytes { get; private set; }

    public IpAddr LocalAddress => IpAddr.FromV4(0x7F000001);

    public ushort LocalPort => 40000;

    public IpAddr RemoteAddress { get; }

    public ushort RemotePort { get; }

    public int IncomingBytes
    {
        get
        {
            int n = -incomingOffset;
            foreach (byte[] b in incoming)
            {
                n += b.Length;
            }

            return n;
        }
    }

    public void SetInterest(IoEvents interest) => Interest = interest;

    public int TakeError()
    {
        int e = PendingError;
        PendingError = 0;
        return e;
    }

    public HostIo Send(ReadOnlySpan<byte> data)
    {
        SendCalls++;
        if (SendErrno != 0)
        {
            return HostIo.Error(SendErrno);
        }

        int n = Math.Min(data.Length, SendRoom);
        if (SendPolicy is not null)
        {
            n = Math.Min(n, SendPolicy(data.Length));
        }

        if (n <= 0 && data.Length > 0)
        {
            return HostIo.Error(HostIo.EAGAIN);
        }

        if (Record)
        {
            Received.AddRange(data[..n]);
        }

        SentBytes += n;
        if (SendRoom != int.MaxValue)
        {
            SendRoom -= n;
        }

        return HostIo.Done(n);
    }

    public HostIo Receive(Span<byte> buffer)
    {
        if (ReceiveErrno != 0)
        {
            return HostIo.Error(ReceiveErrno);
        }

        if (incoming.Count == 0)
        {
            return PeerEof ? HostIo.Done(0) : HostIo.Error(HostIo.EAGAIN);
        }

        int max = buffer.Length;
        if (ReceivePolicy is not null)
        {
            max = Math.Min(max, ReceivePolicy(max));
            if (max <= 0)
            {
                return HostIo.Error(HostIo.EAGAIN);
            }
        }

        int done = 0;
        while (done < max && incoming.Count > 0)
        {
            byte[] head = incoming.Peek();
            int n = Math.Min(max - done, head.Length - incomingOffset);
            head.AsSpan(incomingOffset, n).CopyTo(buffer[done..]);
            done += n;
            incomingOffset += n;
            if (incomingOffset == head.Length)
            {
                incoming.Dequeue();
                incomingOffset = 0;
            }
        }

        return HostIo.Done(done);
    }

    /// <summary>The host peer sends <paramref name="data"/>.</summary>
    public void PeerSends(byte[] data) => incoming.Enqueue(data);

    public void ShutdownSend() => ShutdownSent = true;

    public void Abort()
    {
        Aborted = true;
        Disposed = true;
    }

    public void Dispose() => Disposed = true;

    /// <summary>Reports readiness to the owner, as the loop would.</summary>
    public void Fire(IoEvents events) => Owner.OnHostIo(this, events);
}

internal sealed class FakeListener(IHostSocketOwner owner) : IHostTcpListener
{
    public Queue<FakeTcpSocket> Pending { get; } = new();

    public bool Disposed { get; private set; }

    public IHostSocketOwner Owner { get; } = owner;

    public IpAddr LocalAddress => IpAddr.None;

    public ushort LocalPort => 0;

    public IHostTcpSocket? Accept(IHostSocketOwner owner)
    {
        if (Pending.TryDequeue(out FakeTcpSocket? s))
        {
            s.Owner = owner;
            s.SetInterest(IoEvents.Readable);
            return s;
        }

        return null;
    }

    public void SetInterest(IoEvents interest)
    {
    }

    public int TakeError() => 0;

    public void Dispose() => Disposed = true;

    public void Fire() => Owner.OnHostIo(this, IoEvents.Readable);
}

internal sealed class FakeHostNetwork : IHostNetwork
{
    public List<FakeTcpSocket> Connected { get; } = [];

    public List<(IpAddr Address, ushort Port)> ConnectTargets { get; } = [];

    public List<FakeListener> Listeners { get; } = [];

    /// <summary>Nonzero: ConnectTcp fails at once with this errno.</summary>
    public int ConnectErrno { get; set; }

    public bool ListenFails { get; set; }

    public FakeTcpSocket? Last => Connected.Count == 0 ? null : Connected[^1];

    public IHostTcpSocket? ConnectTcp(IpAddr address, ushort port, IHostSocketOwner owner, out int errno)
    {
        errno = ConnectErrno;
        if (errno != 0)
        {
            return null;
        }

        ConnectTargets.Add((address, port));
        var s = new FakeTcpSocket(owner, address, port);
        Connected.Add(s);
        return s;
    }

    public IHostDatagramSocket? OpenUdp(IpAddr address, ushort port, IHostSocketOwner owner, out int errno)
    {
        errno = HostIo.EACCES;
        return null;
    }

    public IHostDatagramSocket? OpenPing(bool v6, IHostSocketOwner owner, out int errno)
    {
        errno = HostIo.EACCES;
        return null;
    }

    public IHostTcpListener ListenTcp(IpAddr address, ushort port, IHostSocketOwner owner)
    {
        if (ListenFails)
        {
            throw new HostNetworkException($"port {port} is in use");
        }

        var l = new FakeListener(owner);
        Listeners.Add(l);
        return l;
    }

    public IHostDatagramSocket BindUdp(IpAddr address, ushort port, IHostSocketOwner owner) => throw new NotSupportedException();
}

internal sealed class FakeLink : IGuestLink
{
    public List<(byte[] Frame, OffloadInfo Offload)> Frames { get; } = [];

    public void Send(ReadOnlySpan<byte> frame, in OffloadInfo offload) => Frames.Add((frame.ToArray(), offload));

    /// <summary>Takes every recorded frame as wire segments (GSO frames cut by the switch's segmenter).</summary>
    public List<Segment> Take()
    {
        var result = new List<Segment>();
        foreach ((byte[] frame, OffloadInfo offload) in Frames)
        {
            if (offload.IsGso)
            {
                Assert.True(GsoSegmenter.TryCreate(frame, offload, out GsoSegmenter seg, out OffloadError error), error.ToString());
                byte[] scratch = new byte[seg.MaxSegmentLength];
                while (seg.TryNext(scratch, out int length))
                {
                    result.Add(Segment.Parse(scratch.AsSpan(0, length), OffloadInfo.None, gso: true));
                }
            }
            else
            {
                result.Add(Segment.Parse(frame, offload, gso: false));
            }
        }

        Frames.Clear();
        return result;
    }
}

internal sealed class FakeNeighbours : INeighbours
{
    public Dictionary<IpAddr, ulong> Table { get; } = [];

    public int Lookups { get; private set; }

    public bool TryResolve(IpAddr address, out ulong mac)
    {
        Lookups++;
        return Table.TryGetValue(address, out mac);
    }
}

/// <summary>One TCP segment the gateway sent to a guest, checked (checksums) and decoded.</summary>
internal sealed record Segment(
    ulong DestinationMac, IpAddr Source, IpAddr Destination, ushort SourcePort, ushort DestinationPort,
    uint Seq, uint Ack, byte Flags, ushort Window, TcpOptions Options, byte[] Payload, bool FromGso)
{
    public bool Syn => (Flags & TcpHeader.FlagSyn) != 0;

    public bool AckFlag => (Flags & TcpHeader.FlagAck) != 0;

    public bool Rst => (Flags & TcpHeader.FlagRst) != 0;

    public bool Fin => (Flags & TcpHeader.FlagFin) != 0;

    public static Segment Parse(ReadOnlySpan<byte> frame, OffloadInfo offload, bool gso)
    {
        Assert.True(offload.IsPlain, "a non-GSO frame toward the guest carries a full checksum");
        ulong dmac = Ethernet.Destination(frame);
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        ReadOnlySpan<byte> l4;
        IpAddr src;
        IpAddr dst;
        if (type == Ethernet.EtherTypeIPv4)
        {
            Assert.True(IPv4Header.TryParse(frame[14..], out IPv4Header ip));
            Assert.Equal(0, InternetChecksum.Compute(ip.Header));
            src = IpAddr.Read(ip.Source);
            dst = IpAddr.Read(ip.Destination);
            l4 = ip.Payload;
        }
        else
        {
            Assert.Equal(Ethernet.EtherTypeIPv6, type);
            Assert.True(IPv6Header.TryParse(frame[14..], out IPv6Header ip));
            src = IpAddr.Read(ip.Source);
            dst = IpAddr.Read(ip.Destination);
            l4 = ip.Payload;
        }

        Assert.Equal(0, InternetChecksum.Compute(l4, PacketWriter.PseudoHeaderSum(src, dst, InternetChecksum.ProtocolTcp, l4.Length)));
        Assert.True(TcpHeader.TryParse(l4, out TcpHeader tcp));
        TcpOptions.TryParse(tcp, out TcpOptions options);
        return new Segment(dmac, src, dst, tcp.SourcePort, tcp.DestinationPort, tcp.SequenceNumber, tcp.AcknowledgmentNumber, tcp.Flags, tcp.Window, options, tcp.Payload.ToArray(), gso);
    }
}

/// <summary>A TcpNat on a manual loop with fake host, link and neighbours, and a scripted guest.</summary>
internal sealed class TcpHarness
{
    public const ulong GuestMac = 0x5254_0012_3456UL;
    public static readonly IpAddr GuestIp = IpAddr.FromV4(0x0A00020F);
    public static readonly IpAddr RemoteIp = IpAddr.FromV4(0xC0000201); // 192.0.2.1
    public static readonly IpAddr GuestIp6 = new(0xFD00_0000_0000_0000UL, 0x15);
    public static readonly IpAddr RemoteIp6 = new(0x2001_0DB8_0000_0000UL, 1);

    public TcpHarness(GatewayOptions? options = null)
    {
        Options = options ?? GatewayOptions.Default;
        Context = new GatewayContext(Options, Link, Host, Loop, NullLogger.Instance) { Neighbours = Neighbours };
        Limiter = new FlowLimiter(Options, Context.Counters);
        Nat = new TcpNat(Context, Limiter) { Random = new Random(7) };
        Neighbours.Table[GuestIp] = GuestMac;
        Neighbours.Table[GuestIp6] = GuestMac;
    }

    public GatewayOptions Options { get; }

    public ManualLoop Loop { get; } = new();

    public FakeLink Link { get; } = new();

    public FakeHostNetwork Host { get; } = new();

    public FakeNeighbours Neighbours { get; } = new();

    public GatewayContext Context { get; }

    public GatewayCounters Counters => Context.Counters;

    public FlowLimiter Limiter { get; }

    public TcpNat Nat { get; }

    /// <summary>Sends one TCP segment from a guest to the gateway.</summary>
    public void Guest(
        IpAddr src, ushort sport, IpAddr dst, ushort dport, uint seq, uint ack, byte flags, ushort window = 65535,
        ReadOnlySpan<byte> payload = default, byte[]? options = null, ulong mac = GuestMac, bool corruptChecksum = false, int port = 1)
    {
        int optLen = options?.Length ?? 0;
        byte[] l4 = new byte[20 + optLen + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(l4, sport);
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(l4.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(l4.AsSpan(8), ack);
        l4[12] = (byte)(((20 + optLen) / 4) << 4);
        l4[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(14), window);
        options?.CopyTo(l4, 20);
        payload.CopyTo(l4.AsSpan(20 + optLen));
        PacketWriter.WriteL4Checksum(l4, src, dst, InternetChecksum.ProtocolTcp, TcpHeader.ChecksumOffset);
        if (corruptChecksum)
        {
            l4[16] ^= 0x55;
        }

        var packet = new GuestPacket(mac, src, dst, InternetChecksum.ProtocolTcp, 64, l4, l4, l4ChecksumTrusted: false) { IngressPort = port };
        Nat.OnSegment(in packet);
    }

    public static byte[] SynOptions(ushort mss, int wscale)
    {
        byte[] o = new byte[TcpOptions.MaxSynLength];
        int n = TcpOptions.WriteSyn(o, mss, wscale, sackPermitted: true);
        return o[..n];
    }
}
