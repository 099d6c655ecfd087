// A tap port: the switch joined to a kernel Ethernet interface through /dev/net/tun.
//
// Theory of operation: the TapDevice descriptor (Native) is non-blocking and registered with the
// loop for Readable. Each wake-up reads at most MaxFramesPerWake frames (read(2) returns exactly one
// frame) into one pinned buffer and delivers each to the switch in turn; the bound keeps one busy
// interface from starving the loop's other ports, and level-triggered epoll brings us back for the
// rest. Transmit writes one frame per write(2) at once: a frame with no VLAN rewrite goes from the
// ingress buffer straight to the kernel, otherwise the rewrite is applied while copying into a
// scratch buffer. The device queue being full (EAGAIN) is counted TxQueueFull, the interface being
// down (EIO) TxLinkDown, anything else TxError. No virtio-net header yet, so Offloads is None and
// the switch completes checksums and segments GSO frames before they reach Transmit.
//
// What it owns: the TapDevice (closing it deletes a non-persistent interface) and its registration.
// What it trusts: the kernel's frames, but a frame shorter than an Ethernet header is still counted
// as a runt by Port.Deliver. A read error other than EAGAIN means the interface is gone (deleted
// under us): the port closes itself and tells the sink.
using Microsoft.Extensions.Logging;
using Switchyard.Core.Frames;
using Switchyard.Core.Loop;
using Switchyard.Core.Ports;
using Switchyard.Native;

namespace Switchyard.Ports.Tap;

public sealed partial class TapPort : Port, IIoHandler
{
    /// <summary>Largest frame the port carries (a tap's MTU can reach 65521 bytes plus headers).</summary>
    public const int MaxFrame = 65535;

    private const int MaxFramesPerWake = 64;
    private const int EIO = 5;

    private readonly IEventLoop loop;
    private readonly ILogger logger;
    private readonly string interfaceName;
    private readonly byte[] rx = GC.AllocateUninitializedArray<byte>(MaxFrame + 1, pinned: true);
    private readonly byte[] tx = GC.AllocateUninitializedArray<byte>(MaxFrame, pinned: true);
    private TapDevice? device;
    private IoRegistration? registration;

    private TapPort(string name, IEventLoop loop, ILogger logger, TapDevice device)
        : base(name)
    {
        this.loop = loop;
        this.logger = logger;
        this.device = device;
        interfaceName = device.Name;
    }

    public override string Kind => "tap";

    public override string Peer => interfaceName;

    public override int MaxFrameLength => MaxFrame;

    public override PortOffloads Offloads => PortOffloads.None;

    /// <summary>The kernel interface this port is attached to.</summary>
    public string InterfaceName => interfaceName;

    /// <summary>Creates tap <paramref name="interfaceName"/> (or attaches to an existing one) for port <paramref name="portName"/>.
    /// The interface is not brought up here.</summary>
    /// <exception cref="IOException">/dev/net/tun is missing, permission is denied, or the interface cannot be attached;
    /// the message says what to do.</exception>
    public static TapPort Open(string portName, string interfaceName, IEventLoop loop, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(loop);
        ArgumentNullException.ThrowIfNull(logger);
        TapDevice device = TapDevice.Open(interfaceName);
        try
        {
            return new TapPort(portName, loop, logger, device);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    public override void Start()
    {
        if (device is { } d && registration is null)
        {
            registration = loop.Register(d.Fd, this, IoEvents.Readable);
        }
    }

    public void OnIo(IoEvents events)
    {
        for (int i = 0; i < MaxFramesPerWake && device is { } d; i++)
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

            if (result.Bytes > MaxFrame)
            {
                Counters.Drop(DropReason.RxOversized);
                continue;
            }

            Deliver(rx.AsSpan(0, result.Bytes), OffloadInfo.None);
        }
    }

    public override void Transmit(in EgressFrame frame)
    {
        if (device is not { } d)
        {
            Counters.Drop(DropReason.TxLinkDown);
            return;
        }

        int length = frame.Length;
        if (length > MaxFrame)
        {
            Counters.Drop(DropReason.TxTooBig);
            return;
        }

        ReadOnlySpan<byte> bytes;
        if (frame.Rewrite == VlanRewrite.None)
        {
            bytes = frame.Data;
        }
        else
        {
            frame.CopySlice(0, tx.AsSpan(0, length));
            bytes = tx.AsSpan(0, length);
        }

        IoResult result = d.Write(bytes);
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
        registration?.Dispose();
        registration = null;
        device?.Dispose();
        device = null;
    }

    [LoggerMessage(EventId = 240, Level = LogLevel.Warning, Message = "port {Port}: tap {Interface} stopped working ({Error}); closing the port")]
    private partial void LogInterfaceGone(string port, string @interface, string error);
}
