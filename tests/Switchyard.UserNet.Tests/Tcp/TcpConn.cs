// A scripted guest side of one TCP connection, for readable tests.
using Switchyard.Core.Loop;
using Switchyard.Protocols;

namespace Switchyard.UserNet.Tests.Tcp;

internal sealed class TcpConn
{
    private readonly TcpHarness h;

    private TcpConn(TcpHarness h, IpAddr guest, ushort guestPort, IpAddr remote, ushort remotePort)
    {
        this.h = h;
        GuestIp = guest;
        GuestPort = guestPort;
        RemoteIp = remote;
        RemotePort = remotePort;
    }

    public IpAddr GuestIp { get; }

    public ushort GuestPort { get; }

    public IpAddr RemoteIp { get; }

    public ushort RemotePort { get; }

    /// <summary>The guest's next sequence number to send.</summary>
    public uint Seq { get; set; }

    /// <summary>The next sequence number the guest expects from the gateway.</summary>
    public uint Rcv { get; set; }

    public ushort Window { get; set; } = 65535;

    public FakeTcpSocket Socket { get; private set; } = null!;

    /// <summary>The switch port the guest's segments come in on.</summary>
    public int Ingress { get; init; } = 1;

    public Segment SynAck { get; private set; } = null!;

    /// <summary>Opens an outbound connection: SYN, host connect completes, SYN-ACK, ACK.</summary>
    public static TcpConn Open(TcpHarness h, ushort mss = 1460, int wscale = 7, ushort window = 65535, bool v6 = false, ushort port = 40001, uint isn = 1000, int ingress = 1)
    {
        var c = new TcpConn(h, v6 ? TcpHarness.GuestIp6 : TcpHarness.GuestIp, port, v6 ? TcpHarness.RemoteIp6 : TcpHarness.RemoteIp, 80) { Seq = isn, Ingress = ingress };
        h.Guest(c.GuestIp, c.GuestPort, c.RemoteIp, c.RemotePort, isn, 0, TcpHeader.FlagSyn, window, options: TcpHarness.SynOptions(mss, wscale), port: ingress);
        c.Socket = h.Host.Last!;
        Assert.Empty(h.Link.Frames);
        c.Socket.Fire(IoEvents.Writable);
        List<Segment> segs = h.Link.Take();
        c.SynAck = Assert.Single(segs);
        Assert.True(c.SynAck.Syn && c.SynAck.AckFlag);
        Assert.Equal(isn + 1, c.SynAck.Ack);
        c.Seq = isn + 1;
        c.Rcv = c.SynAck.Seq + 1;
        c.Window = window;
        c.Ack();
        return c;
    }

    /// <summary>The guest sends a segment with the flags given (ACK added) at its current Seq.</summary>
    public void Send(ReadOnlySpan<byte> payload, byte flags = 0, uint? seq = null, uint? ack = null)
    {
        uint s = seq ?? Seq;
        h.Guest(GuestIp, GuestPort, RemoteIp, RemotePort, s, ack ?? Rcv, (byte)(flags | TcpHeader.FlagAck), Window, payload, port: Ingress);
        if (seq is null)
        {
            Seq += (uint)payload.Length + ((flags & (TcpHeader.FlagFin | TcpHeader.FlagSyn)) != 0 ? 1u : 0u);
        }
    }

    public void Ack(uint? ack = null) => h.Guest(GuestIp, GuestPort, RemoteIp, RemotePort, Seq, ack ?? Rcv, TcpHeader.FlagAck, Window, port: Ingress);

    public void Rst() => h.Guest(GuestIp, GuestPort, RemoteIp, RemotePort, Seq, 0, TcpHeader.FlagRst, Window, port: Ingress);

    /// <summary>Takes the gateway's frames, appends in-order payload to <paramref name="into"/> and moves Rcv.</summary>
    public List<Segment> Receive(List<byte>? into = null)
    {
        List<Segment> segs = h.Link.Take();
        foreach (Segment s in segs)
        {
            if (s.Seq == Rcv && s.Payload.Length > 0)
            {
                into?.AddRange(s.Payload);
                Rcv += (uint)s.Payload.Length;
            }

            if (s.Fin && s.Seq + (uint)s.Payload.Length == Rcv)
            {
                Rcv++;
            }
        }

        return segs;
    }
}
