// A port for tests: frames are injected with Inject (through Port.Deliver, like a real port) and
// every frame the switch transmits is copied out through EgressFrame.CopyTo and recorded.
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;

namespace Switchyard.Switching.Tests;

/// <summary>A frame as it left the switch: the bytes on the wire plus the instruction that made them.</summary>
internal sealed record SentFrame(byte[] Bytes, VlanRewrite Rewrite, ushort TagControl, OffloadInfo Offload, int IngressPort = 0);

internal sealed class TestPort(string name, PortOffloads offloads = PortOffloads.None) : Port(name)
{
    public List<SentFrame> Sent { get; } = [];

    public override string Kind => "test";

    public override PortOffloads Offloads => offloads;

    /// <summary>Runs inside Transmit, after the frame is recorded (to test re-entrancy).</summary>
    public Action<TestPort>? OnTransmit { get; set; }

    public bool Stopped { get; private set; }

    public SentFrame Last => Sent[^1];

    public override void Start()
    {
    }

    public override void Stop() => Stopped = true;

    /// <summary>The ids of the ports the switch said had left it, in order.</summary>
    public List<int> PeersRemoved { get; } = [];

    public override void OnPeerPortRemoved(int portId) => PeersRemoved.Add(portId);

    public override void Transmit(in EgressFrame frame)
    {
        byte[] bytes = new byte[frame.Length];
        int written = frame.CopyTo(bytes);
        Assert.Equal(bytes.Length, written);
        Sent.Add(new SentFrame(bytes, frame.Rewrite, frame.TagControl, frame.Offload, frame.IngressPort));
        Counters.CountTx(bytes.Length);
        OnTransmit?.Invoke(this);
    }

    public void Inject(byte[] frame, OffloadInfo offload = default) => Deliver(frame, offload);

    public void HangUp(string reason) => CloseFromPeer(reason);
}
