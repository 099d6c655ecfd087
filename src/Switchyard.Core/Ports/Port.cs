// The port contract.
//
// Theory of operation: a port is one attachment of a peer (a QEMU guest's stream connection, a
// datagram socket, a guest's virtqueues, a tap) to a network. It is owned by one event loop and every
// member below is called on that loop. Ingress: the port reads frames from its peer in batches and
// hands each to its sink (the switch) synchronously, as a span that is valid only during the call.
// Egress: the switch calls Transmit, and the port must copy the frame into its medium before it
// returns (usually into a staging area); it then asks the loop for a Flush at the end of the
// iteration, so a whole batch leaves with one syscall or one used-index publish.
using Switchyard.Core.Frames;

namespace Switchyard.Core.Ports;

/// <summary>What a port can carry on its wire besides complete frames.</summary>
[Flags]
public enum PortOffloads
{
    None = 0,

    /// <summary>Frames with a partial L4 checksum (NEEDS_CSUM).</summary>
    PartialChecksum = 1,

    /// <summary>TCP segmentation offload super-frames (GSO TCPv4/TCPv6).</summary>
    TcpSegmentation = 2,

    /// <summary>UDP segmentation offload super-frames (GSO UDP_L4, one datagram per gso_size).</summary>
    UdpSegmentation = 4,
}

/// <summary>Where a port delivers what it receives, and whom it tells when it goes away.</summary>
public interface IFrameSink
{
    /// <summary>Takes one frame received by <paramref name="ingress"/>. Runs on the loop thread; the span
    /// is valid only for this call.</summary>
    void Receive(Port ingress, ReadOnlySpan<byte> frame, in OffloadInfo offload);

    /// <summary>The port has closed itself (peer hung up or misbehaved) and must be removed.</summary>
    void PortClosed(Port port, string reason);
}

/// <summary>A port on a network. See the theory of operation at the top of this file.</summary>
public abstract class Port
{
    protected Port(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
    }

    /// <summary>Unique within its network.</summary>
    public string Name { get; }

    /// <summary>Short kind shown to users: "stream", "dgram", "vhost-user", ...</summary>
    public abstract string Kind { get; }

    /// <summary>Where the peer is (socket path, address), for <c>switchyard show</c>.</summary>
    public virtual string Peer => string.Empty;

    public PortCounters Counters { get; } = new();

    /// <summary>Offloads this port can put on its wire; the switch completes the rest in software.</summary>
    public virtual PortOffloads Offloads => PortOffloads.None;

    /// <summary>Largest frame (without any virtio-net header) the port can send.</summary>
    public virtual int MaxFrameLength => 65535;

    /// <summary>Set when the port is attached to a switch.</summary>
    public IFrameSink? Sink { get; private set; }

    /// <summary>The number its switch gave it when it was attached (1, 2, ...; never reused on that switch),
    /// 0 before. It travels with every frame the port sends as <see cref="EgressFrame.IngressPort"/>, so an
    /// egress port that accounts for resources per attachment (the gateway's flow, lease and buffer limits)
    /// keys them on the attachment and not on an address the peer chooses.</summary>
    public int Id { get; private set; }

    /// <summary>Attaches the port to its sink. Called once, on the loop.</summary>
    public void Attach(IFrameSink sink) => Attach(sink, 0);

    /// <summary>Attaches the port to its sink under the number <paramref name="id"/> (see <see cref="Id"/>).
    /// Called once, on the loop.</summary>
    public void Attach(IFrameSink sink, int id)
    {
        ArgumentNullException.ThrowIfNull(sink);
        if (Sink is not null)
        {
            throw new InvalidOperationException($"port {Name} is already attached");
        }

        Sink = sink;
        Id = id;
    }

    /// <summary>Another port, numbered <paramref name="portId"/>, has left this port's switch. A port that keeps
    /// state per attachment (the gateway's flows, budgets and relay memory) lets go of that port's share here,
    /// so a peer that reconnects over and over cannot pile up state under ever new numbers. Must not hand
    /// frames to the switch. On the loop.</summary>
    public virtual void OnPeerPortRemoved(int portId)
    {
    }

    /// <summary>Starts I/O (registers with the loop). Called once after Attach, on the loop.</summary>
    public abstract void Start();

    /// <summary>Copies <paramref name="frame"/> into the port's medium. Must not keep a reference to the
    /// frame's bytes after returning. Counts the frame as sent or dropped.</summary>
    public abstract void Transmit(in EgressFrame frame);

    /// <summary>Pushes everything staged by <see cref="Transmit"/> to the peer.</summary>
    public virtual void Flush()
    {
    }

    /// <summary>Stops I/O and releases every resource; does not notify the sink. Idempotent.</summary>
    public abstract void Stop();

    /// <summary>Hands a received frame to the sink, counting it.</summary>
    protected void Deliver(ReadOnlySpan<byte> frame, in OffloadInfo offload)
    {
        if (frame.Length < Ethernet.HeaderLength)
        {
            Counters.Drop(DropReason.RxRunt);
            return;
        }

        Counters.CountRx(frame.Length);
        if (Sink is { } sink)
        {
            sink.Receive(this, frame, offload);
        }
        else
        {
            Counters.Drop(DropReason.RxNoSwitch);
        }
    }

    /// <summary>Stops the port and tells the sink it is gone (peer hung up or broke the protocol).</summary>
    protected void CloseFromPeer(string reason)
    {
        Stop();
        Sink?.PortClosed(this, reason);
    }

    public override string ToString() => $"{Kind} port {Name}";
}
