// A tap port: the switch joined to a kernel Ethernet interface through /dev/net/tun.
//
// Theory of operation: each queue is a TapDevice descriptor (Native), non-blocking and registered
// with the loop for Readable; one queue unless queues=N opened the interface with IFF_MULTI_QUEUE,
// in which case all N are registered with this port's one loop. Each wake-up of a queue reads at most
// MaxFramesPerWake frames (read(2) returns exactly one frame) into one pinned buffer and delivers each
// to the switch in turn; the bound keeps one busy interface from starving the loop's other ports, and
// level-triggered epoll brings us back for the rest.
//
// With vnet_hdr on (the default, as in QEMU), every frame in both directions is preceded by a 12-byte
// virtio_net_hdr: frames the kernel sends keep their partial checksum or stay one GSO super frame (up
// to 64 KiB) and travel through the switch as such, and Offloads tells the switch that we take them
// the same way, so a GSO frame from a TSO-capable peer crosses whole. A received header is validated
// (TapVnetHeader); a bad one is counted RxBadVnetHeader and the frame dropped. With vnet_hdr off,
// Offloads is None and the switch completes checksums and segments GSO frames before Transmit.
//
// Transmit writes one frame per syscall at once: with no VLAN rewrite the header and the ingress
// buffer go out in one writev (no copy of a 64 KiB super frame), otherwise the rewrite is applied while
// copying into a scratch buffer behind the header and that goes out in one write. With several queues
// a frame goes to the queue its flow hash picks (addresses and ports), so one TCP flow stays on one
// queue and the kernel sees its segments in order. The device queue being full (EAGAIN) is counted
// TxQueueFull, the interface being down (EIO) TxLinkDown, anything else TxError.
//
// What it owns: the TapDevices (closing the last deletes a non-persistent interface) and their
// registrations. What it trusts: the kernel's frames, but a frame shorter than an Ethernet header is
// still counted as a runt by Port.Deliver. A read error other than EAGAIN means the interface is gone
// (deleted under us): the port closes itself and tells the sink.
using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Switchyard.Core.Frames;
using Switchyard.Core.Loop;
using Switchyard.Core.Ports;
using Switchyard.Native;
using Switchyard.Virtio;

namespace Switchyard.Ports.Tap;

public sealed partial class TapPort : Port
{
    /// <summary>Largest frame the port carries without a virtio-net header (a tap's MTU can reach 65521 bytes plus headers).</summary>
    public const int MaxFrame = 65535;

    /// <summary>Largest frame with a virtio-net header: a 65535-byte GSO IP packet behind an Ethernet header and a
    /// VLAN tag (virtio 1.2 §5.1.6.3, the same bound as a vhost-user guest's frames).</summary>
    public const int MaxGsoFrame = NetTx.MaxFrameLength;

    /// <summary>Most queues a multiqueue tap port opens.</summary>
    public const int MaxQueues = 16;

    private const int MaxFramesPerWake = 64;
    private const int EIO = 5;

    private readonly IEventLoop loop;
    private readonly ILogger logger;
    private readonly string interfaceName;
    private readonly bool vnetHeader;
    private readonly TapOffloads tapOffloads;
    private readonly PortOffloads offloads;
    private readonly int maxFrame;
    private readonly Queue[] queues;
    private readonly byte[] rx;
    private readonly byte[] tx;
    private readonly byte[] header = GC.AllocateUninitializedArray<byte>(TapVnetHeader.Size, pinned: true);
    private bool stopped;

    private TapPort(string name, IEventLoop loop, ILogger logger, TapDevice[] devices)
        : base(name)
    {
        this.loop = loop;
        this.logger = logger;
        interfaceName = devices[0].Name;
        vnetHeader = devices[0].HasVnetHeader;
        tapOffloads = devices[0].Offloads;
        offloads = PortOffloads.None;
        if (vnetHeader)
        {
            offloads = PortOffloads.PartialChecksum | PortOffloads.TcpSegmentation
                | ((tapOffloads & TapOffloads.Udp) != 0 ? PortOffloads.UdpSegmentation : PortOffloads.None);
        }

        int headerSize = vnetHeader ? TapVnetHeader.Size : 0;
        maxFrame = vnetHeader ? MaxGsoFrame : MaxFrame;
        rx = GC.AllocateUninitializedArray<byte>(headerSize + maxFrame + 1, pinned: true);
        tx = GC.AllocateUninitializedArray<byte>(headerSize + maxFrame, pinned: true);
        queues = new Queue[devices.Length];
        for (int i = 0; i < devices.Length; i++)
        {
            queues[i] = new Queue(this, devices[i]);
        }
    }

    public override string Kind => "tap";

    public override string Peer => interfaceName;

    public override int MaxFrameLength => maxFrame;

    public override PortOffloads Offloads => offloads;

    /// <summary>The kernel interface this port is attached to.</summary>
    public string InterfaceName => interfaceName;

    /// <summary>True when frames carry a virtio-net header to and from the kernel (vnet_hdr=on).</summary>
    public bool VnetHeader => vnetHeader;

    /// <summary>Queues (descriptors) open on the interface.</summary>
    public int QueueCount => queues.Length;

    /// <summary>Creates tap <paramref name="interfaceName"/> (or attaches to an existing one) for port <paramref name="portName"/>,
    /// without a virtio-net header, one queue. The interface is not brought up here.</summary>
    /// <exception cref="IOException">/dev/net/tun is missing, permission is denied, or the interface cannot be attached;
    /// the message says what to do.</exception>
    public static TapPort Open(string portName, string interfaceName, IEventLoop loop, ILogger logger) =>
        Open(portName, interfaceName, loop, logger, vnetHeader: false, queueCount: 1);

    /// <summary>Creates tap <paramref name="interfaceName"/> (or attaches to an existing one) for port <paramref name="portName"/>
    /// with <paramref name="queueCount"/> queues (IFF_MULTI_QUEUE when more than one) and, if <paramref name="vnetHeader"/>,
    /// the virtio-net header with checksum and segmentation offloads. The interface is not brought up here.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queueCount"/> is not 1 to <see cref="MaxQueues"/>.</exception>
    /// <exception cref="IOException">/dev/net/tun is missing, permission is denied, the interface cannot be attached
    /// with these flags, or the kernel refused the offloads; the message says what to do.</exception>
    public static TapPort Open(string portName, string interfaceName, IEventLoop loop, ILogger logger, bool vnetHeader, int queueCount)
    {
        ArgumentNullException.ThrowIfNull(loop);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(queueCount, MaxQueues);
        TapOptions options = (vnetHeader ? TapOptions.VnetHeader : TapOptions.None)
            | (queueCount > 1 ? TapOptions.MultiQueue : TapOptions.None);
        var devices = new TapDevice[queueCount];
        int opened = 0;
        try
        {
            for (; opened < queueCount; opened++)
            {
                devices[opened] = TapDevice.Open(interfaceName, options);
            }

            return new TapPort(portName, loop, logger, devices);
        }
        catch
        {
            for (int i = 0; i < opened; i++)
            {
                devices[i].Dispose();
            }

            throw;
        }
    }

    public override void Start()
    {
        if (stopped)
        {
            return;
        }

        foreach (Queue q in queues)
        {
            q.Start(loop);
        }
    }

    /// <summary>Reads up to MaxFramesPerWake frames from one queue and delivers them. Runs on the loop.</summary>
    private void OnQueueReadable(Queue queue)
    {
        int headerSize = vnetHeader ? TapVnetHeader.Size : 0;
        for (int i = 0; i < MaxFramesPerWake && !stopped && queue.Device is { } d; i++)
        {
            IoResult result = d.Read(rx);
            if (result.WouldBlock)
            {
                return;
            }

            if (!result.Ok)
            {
                LogInterfaceGone(Name, interfaceName, result.ErrorMessage);
                CloseFromPeer($"tap {interfaceName} failed: {result.ErrorMessage}");
                return;
            }

            int frameLength = result.Bytes - headerSize;
            if (frameLength > maxFrame)
            {
                Counters.Drop(DropReason.RxOversized);
                continue;
            }

            if (!vnetHeader)
            {
                Deliver(rx.AsSpan(0, result.Bytes), OffloadInfo.None);
                continue;
            }

            if (frameLength < 0
                || TapVnetHeader.TryRead(rx.AsSpan(0, headerSize), frameLength, tapOffloads, out OffloadInfo offload) != NetTxError.None)
            {
                Counters.Drop(DropReason.RxBadVnetHeader);
                continue;
            }

            Deliver(rx.AsSpan(headerSize, frameLength), offload);
        }
    }

    public override void Transmit(in EgressFrame frame)
    {
        if (stopped)
        {
            Counters.Drop(DropReason.TxLinkDown);
            return;
        }

        int length = frame.Length;
        if (length > maxFrame)
        {
            Counters.Drop(DropReason.TxTooBig);
            return;
        }

        TapDevice device = queues.Length == 1 ? queues[0].Device! : queues[(int)(FlowHash(frame.Data) % (uint)queues.Length)].Device!;
        IoResult result;
        if (!vnetHeader)
        {
            if (frame.Rewrite == VlanRewrite.None)
            {
                result = device.Write(frame.Data);
            }
            else
            {
                frame.CopySlice(0, tx.AsSpan(0, length));
                result = device.Write(tx.AsSpan(0, length));
            }
        }
        else if (frame.Rewrite == VlanRewrite.None)
        {
            TapVnetHeader.Write(frame.Offload, header);
            result = device.Write(header, frame.Data);
        }
        else
        {
            TapVnetHeader.Write(frame.Offload, tx);
            frame.CopySlice(0, tx.AsSpan(TapVnetHeader.Size, length));
            result = device.Write(tx.AsSpan(0, TapVnetHeader.Size + length));
        }

        if (result.Ok)
        {
            Counters.CountTx(length);
        }
        else
        {
            Counters.Drop(result.WouldBlock ? DropReason.TxQueueFull : result.Errno == EIO ? DropReason.TxLinkDown : DropReason.TxError);
        }
    }

    public override void Stop()
    {
        stopped = true;
        foreach (Queue q in queues)
        {
            q.Stop();
        }
    }

    /// <summary>A hash of a frame's flow (IP addresses, protocol and ports; the MAC addresses for anything else),
    /// the same for every frame of one flow whatever its VLAN tag, so one flow stays on one tap queue.</summary>
    internal static uint FlowHash(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < Ethernet.HeaderLength)
        {
            return 0;
        }

        int offset = 12;
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
        if (etherType == Ethernet.EtherTypeVlan && frame.Length >= offset + 6)
        {
            offset += 4;
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
        }

        offset += 2;
        ReadOnlySpan<byte> l3 = frame[offset..];
        uint hash = 2166136261;
        int l4 = -1;
        byte protocol = 0;
        if (etherType == Ethernet.EtherTypeIPv4 && l3.Length >= 20)
        {
            protocol = l3[9];
            hash = Mix(hash, l3.Slice(12, 8));
            bool fragment = (BinaryPrimitives.ReadUInt16BigEndian(l3[6..]) & 0x3FFF) != 0;
            l4 = fragment ? -1 : (l3[0] & 0x0F) * 4;
        }
        else if (etherType == Ethernet.EtherTypeIPv6 && l3.Length >= 40)
        {
            protocol = l3[6];
            hash = Mix(hash, l3.Slice(8, 32));
            l4 = 40;
        }
        else
        {
            return Mix(hash, frame[..12]);
        }

        hash = (hash ^ protocol) * 16777619;
        if (l4 >= 0 && protocol is 6 or 17 && l3.Length >= l4 + 4)
        {
            hash = Mix(hash, l3.Slice(l4, 4));
        }

        return hash;
    }

    private static uint Mix(uint hash, ReadOnlySpan<byte> bytes)
    {
        // FNV-1a: cheap, and good enough to spread a handful of flows over at most 16 queues.
        foreach (byte b in bytes)
        {
            hash = (hash ^ b) * 16777619;
        }

        return hash;
    }

    [LoggerMessage(EventId = 250, Level = LogLevel.Warning, Message = "port {Port}: tap {Interface} stopped working ({Error}); closing the port")]
    private partial void LogInterfaceGone(string port, string @interface, string error);

    /// <summary>One descriptor of the interface and its loop registration.</summary>
    private sealed class Queue(TapPort port, TapDevice device) : IIoHandler
    {
        private IoRegistration? registration;

        public TapDevice? Device { get; private set; } = device;

        public void Start(IEventLoop loop)
        {
            if (Device is { } d && registration is null)
            {
                registration = loop.Register(d.Fd, this, IoEvents.Readable);
            }
        }

        public void OnIo(IoEvents events) => port.OnQueueReadable(this);

        public void Stop()
        {
            registration?.Dispose();
            registration = null;
            Device?.Dispose();
            Device = null;
        }
    }
}
