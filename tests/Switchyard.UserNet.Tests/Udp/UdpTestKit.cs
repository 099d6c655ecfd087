// Fakes and builders for the UDP NAT, DNS forwarder and ICMP echo tests.
//
// Theory of operation: FakeHostNetwork stands for the host's sockets: it records every socket opened
// (with the address and owner), each FakeDatagramSocket records what was sent and holds a queue of
// datagrams a test delivers (Deliver queues one and wakes the owner, as epoll would); OpenPing can be
// told to fail with an errno. FakeGuestLink records frames sent toward guests. Harness wires a
// GatewayContext on a ManualLoop with UdpNat and IcmpEcho, as NatGateway does. Guest packets are built
// byte by byte here (checksums by the plain RFC 1071 loop in Sum16), and frames toward guests are read
// back with the production views plus an independent checksum check.
using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Switchyard.Core.Frames;
using Switchyard.Core.Loop;
using Switchyard.Protocols;
using Switchyard.TestKit;

namespace Switchyard.UserNet.Tests.Udp;

internal sealed class FakeDatagramSocket(IHostSocketOwner owner, IpAddr remote, ushort remotePort, string kind) : IHostDatagramSocket
{
    private readonly Queue<(byte[] Data, IpAddr Address, ushort Port)> incoming = new();

    public IHostSocketOwner Owner { get; } = owner;

    public IpAddr Remote { get; } = remote;

    public ushort RemotePort { get; } = remotePort;

    public string Kind { get; } = kind;

    public List<(byte[] Data, IpAddr Address, ushort Port)> Sent { get; } = [];

    public bool Disposed { get; private set; }

    /// <summary>When nonzero, Send/SendTo fail with this errno.</summary>
    public int SendErrno { get; set; }

    /// <summary>When false, sends are counted but not copied (allocation tests).</summary>
    public bool Record { get; set; } = true;

    public int SendCount { get; private set; }

    public IpAddr LocalAddress => IpAddr.None;

    public ushort LocalPort => 40000;

    public void Deliver(byte[] data, IpAddr from, ushort fromPort, IoEvents events = IoEvents.Readable)
    {
        incoming.Enqueue((data, from, fromPort));
        Owner.OnHostIo(this, events);
    }

    /// <summary>Queues a datagram without waking the owner.</summary>
    public void Enqueue(byte[] data, IpAddr from, ushort fromPort) => incoming.Enqueue((data, from, fromPort));

    /// <summary>Delivers a reply from the connected remote.</summary>
    public void Reply(byte[] data) => Deliver(data, Remote, RemotePort);

    public HostIo Send(ReadOnlySpan<byte> data) => SendTo(data, Remote, RemotePort);

    public HostIo SendTo(ReadOnlySpan<byte> data, IpAddr address, ushort port)
    {
        if (SendErrno != 0)
        {
            return HostIo.Error(SendErrno);
        }

        SendCount++;
        if (Record)
        {
            Sent.Add((data.ToArray(), address, port));
        }

        return HostIo.Done(data.Length);
    }

    public HostIo ReceiveFrom(Span<byte> buffer, out IpAddr address, out ushort port)
    {
        if (!incoming.TryDequeue(out var d))
        {
            address = IpAddr.None;
            port = 0;
            return HostIo.Error(HostIo.EAGAIN);
        }

        address = d.Address;
        port = d.Port;
        int n = Math.Min(buffer.Length, d.Data.Length);
        d.Data.AsSpan(0, n).CopyTo(buffer);
        return HostIo.Done(n);
    }

    public void SetInterest(IoEvents interest)
    {
    }

    public int TakeError() => 0;

    public void Dispose() => Disposed = true;
}

internal sealed class FakeHostNetwork : IHostNetwork
{
    public List<FakeDatagramSocket> Udp { get; } = [];

    public List<FakeDatagramSocket> Pings { get; } = [];

    public List<FakeDatagramSocket> Bound { get; } = [];

    /// <summary>When nonzero, OpenPing fails with this errno.</summary>
    public int PingErrno { get; set; }

    /// <summary>When nonzero, OpenUdp fails with this errno.</summary>
    public int UdpErrno { get; set; }

    public IHostTcpSocket? ConnectTcp(IpAddr address, ushort port, IHostSocketOwner owner, out int errno) =>
        throw new NotSupportedException();

    public IHostDatagramSocket? OpenUdp(IpAddr address, ushort port, IHostSocketOwner owner, out int errno)
    {
        errno = UdpErrno;
        if (errno != 0)
        {
            return null;
        }

        var s = new FakeDatagramSocket(owner, address, port, "udp");
        Udp.Add(s);
        return s;
    }

    public IHostDatagramSocket? OpenPing(bool v6, IHostSocketOwner owner, out int errno)
    {
        errno = PingErrno;
        if (errno != 0)
        {
            return null;
        }

        var s = new FakeDatagramSocket(owner, IpAddr.None, 0, v6 ? "ping6" : "ping");
        Pings.Add(s);
        return s;
    }

    public IHostTcpListener ListenTcp(IpAddr address, ushort port, IHostSocketOwner owner) => throw new NotSupportedException();

    public IHostDatagramSocket BindUdp(IpAddr address, ushort port, IHostSocketOwner owner)
    {
        foreach (FakeDatagramSocket b in Bound)
        {
            if (!b.Disposed && b.Remote == address && b.RemotePort == port)
            {
                throw new HostNetworkException($"udp port {port} is in use");
            }
        }

        var s = new FakeDatagramSocket(owner, address, port, "bound");
        Bound.Add(s);
        return s;
    }
}

internal sealed class FakeGuestLink : IGuestLink
{
    public List<byte[]> Frames { get; } = [];

    /// <summary>When false, frames are counted but not copied (allocation tests).</summary>
    public bool Record { get; set; } = true;

    public int Count { get; private set; }

    public void Send(ReadOnlySpan<byte> frame, in OffloadInfo offload)
    {
        Count++;
        if (Record)
        {
            Frames.Add(frame.ToArray());
        }
    }
}

internal sealed class FakeNeighbours : INeighbours
{
    public Dictionary<IpAddr, ulong> Known { get; } = [];

    public bool TryResolve(IpAddr address, out ulong mac) => Known.TryGetValue(address, out mac);
}

internal sealed class ListLogger : ILogger
{
    public List<(LogLevel Level, EventId Id, string Message)> Entries { get; } = [];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Add((logLevel, eventId, formatter(state, exception)));
}

/// <summary>A frame the gateway sent to a guest, read back.</summary>
internal sealed record GuestFrame(ulong DestinationMac, ulong SourceMac, IpAddr Source, IpAddr Destination, byte Protocol, byte[] L4)
{
    public ushort SourcePort => BinaryPrimitives.ReadUInt16BigEndian(L4);

    public ushort DestinationPort => BinaryPrimitives.ReadUInt16BigEndian(L4.AsSpan(2));

    public byte[] UdpPayload => L4[8..];
}

internal sealed class Harness
{
    public static readonly ulong GuestMac = 0x5254_0012_3456UL;
    public static readonly ulong GuestMac2 = 0x5254_0012_3457UL;
    public static readonly IpAddr Guest = IpAddr.FromV4(0x0A00_020F);
    public static readonly IpAddr Guest2 = IpAddr.FromV4(0x0A00_0210);
    public static readonly IpAddr Guest6 = new(0xFD00_0000_0000_0000UL, 0x15);
    public static readonly IpAddr Gateway = IpAddr.FromV4(0x0A00_0202);
    public static readonly IpAddr Gateway6 = new(0xFD00_0000_0000_0000UL, 2);
    public static readonly IpAddr Dns = IpAddr.FromV4(0x0A00_0203);
    public static readonly IpAddr Dns6 = new(0xFD00_0000_0000_0000UL, 3);
    public static readonly IpAddr Loopback = IpAddr.FromV4(0x7F00_0001);
    public static readonly IpAddr Remote = IpAddr.FromV4(0x0102_0304);
    public static readonly IpAddr Remote6 = new(0x2001_0DB8_0000_0000UL, 0x99);

    public Harness(GatewayOptions? options = null)
    {
        Options = options ?? GatewayOptions.Default;
        Context = new GatewayContext(Options, Link, Host, Loop, Logger) { Neighbours = Neighbours };
        Limiter = new FlowLimiter(Options, Context.Counters);
        Udp = new UdpNat(Context, Limiter, new Random(7));
        Echo = new IcmpEcho(Context, Limiter);
        Neighbours.Known[Guest] = GuestMac;
        Neighbours.Known[Guest6] = GuestMac;
    }

    public GatewayOptions Options { get; }

    public ManualLoop Loop { get; } = new();

    public FakeHostNetwork Host { get; } = new();

    public FakeGuestLink Link { get; } = new();

    public FakeNeighbours Neighbours { get; } = new();

    public ListLogger Logger { get; } = new();

    public GatewayContext Context { get; }

    public GatewayCounters Counters => Context.Counters;

    public FlowLimiter Limiter { get; }

    public UdpNat Udp { get; }

    public IcmpEcho Echo { get; }

    /// <summary>Sends a UDP datagram from a guest (correct checksum unless told otherwise).</summary>
    public void SendUdp(IpAddr source, ushort sourcePort, IpAddr destination, ushort destinationPort, byte[] payload, ulong mac = 0, bool trusted = false, int? checksum = null, int port = 1)
    {
        byte[] l4 = BuildUdp(source, sourcePort, destination, destinationPort, payload, checksum);
        var packet = new GuestPacket(mac == 0 ? GuestMac : mac, source, destination, InternetChecksum.ProtocolUdp, 64, l4, l4, trusted) { IngressPort = port };
        Udp.OnDatagram(in packet);
    }

    /// <summary>Sends raw L4 bytes as a UDP datagram from the guest.</summary>
    public void SendRawUdp(IpAddr source, IpAddr destination, byte[] l4, bool trusted = false)
    {
        var packet = new GuestPacket(GuestMac, source, destination, InternetChecksum.ProtocolUdp, 64, l4, l4, trusted);
        Udp.OnDatagram(in packet);
    }

    public void SendEcho(IpAddr source, IpAddr destination, ushort identifier, ushort sequence, byte[] data, ulong mac = 0, int port = 1)
    {
        bool v6 = !source.IsV4;
        byte[] l4 = new byte[8 + data.Length];
        l4[0] = v6 ? (byte)128 : (byte)8;
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(4), identifier);
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(6), sequence);
        data.CopyTo(l4, 8);
        uint pseudo = v6 ? PseudoSum(source, destination, 58, l4.Length) : 0;
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(2), (ushort)~Sum16(l4, pseudo));
        var packet = new GuestPacket(mac == 0 ? GuestMac : mac, source, destination, v6 ? (byte)58 : (byte)1, 64, l4, l4, false) { IngressPort = port };
        Echo.OnEchoRequest(in packet);
    }

    public static byte[] BuildUdp(IpAddr source, ushort sourcePort, IpAddr destination, ushort destinationPort, byte[] payload, int? checksum = null)
    {
        byte[] l4 = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(l4, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(4), (ushort)l4.Length);
        payload.CopyTo(l4, 8);
        ushort sum = (ushort)~Sum16(l4, PseudoSum(source, destination, 17, l4.Length));
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(6), checksum is int c ? (ushort)c : sum == 0 ? (ushort)0xFFFF : sum);
        return l4;
    }

    /// <summary>The plain RFC 1071 sum (folded, not complemented) of big-endian words, from <paramref name="initial"/>.</summary>
    public static uint Sum16(ReadOnlySpan<byte> data, uint initial = 0)
    {
        ulong sum = initial;
        for (int i = 0; i < data.Length; i += 2)
        {
            sum += (uint)(data[i] << 8) | (i + 1 < data.Length ? data[i + 1] : 0u);
        }

        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (uint)sum;
    }

    public static uint PseudoSum(IpAddr source, IpAddr destination, byte protocol, int length)
    {
        var bytes = new List<byte>();
        byte[] s = new byte[16];
        byte[] d = new byte[16];
        int n = source.WriteTo(s);
        destination.WriteTo(d);
        bytes.AddRange(s[..n]);
        bytes.AddRange(d[..n]);
        if (n == 4)
        {
            bytes.AddRange([0, protocol, (byte)(length >> 8), (byte)length]);
        }
        else
        {
            bytes.AddRange([(byte)(length >> 24), (byte)(length >> 16), (byte)(length >> 8), (byte)length, 0, 0, 0, protocol]);
        }

        return Sum16(bytes.ToArray());
    }

    /// <summary>Reads a frame sent toward a guest, asserting the IP header and the L4 checksum are valid.</summary>
    public static GuestFrame Read(byte[] frame)
    {
        Assert.True(EthernetHeader.TryParse(frame, out EthernetHeader eth));
        ulong dmac = Ethernet.Destination(frame);
        ulong smac = Ethernet.Source(frame);
        IpAddr src;
        IpAddr dst;
        byte proto;
        byte[] l4;
        if (eth.EtherType == Ethernet.EtherTypeIPv4)
        {
            Assert.True(IPv4Header.TryParse(eth.Payload, out IPv4Header ip));
            Assert.Equal(0xFFFFu, Sum16(ip.Header));
            src = IpAddr.Read(ip.Source);
            dst = IpAddr.Read(ip.Destination);
            proto = ip.Protocol;
            l4 = ip.Payload.ToArray();
        }
        else
        {
            Assert.Equal(Ethernet.EtherTypeIPv6, eth.EtherType);
            Assert.True(IPv6Header.TryParse(eth.Payload, out IPv6Header ip));
            src = IpAddr.Read(ip.Source);
            dst = IpAddr.Read(ip.Destination);
            proto = ip.NextHeader;
            l4 = ip.Payload.ToArray();
        }

        uint pseudo = proto == 1 ? 0 : PseudoSum(src, dst, proto, l4.Length);
        Assert.Equal(0xFFFFu, Sum16(l4, pseudo));
        return new GuestFrame(dmac, smac, src, dst, proto, l4);
    }

    public GuestFrame LastFrame() => Read(Link.Frames[^1]);
}
