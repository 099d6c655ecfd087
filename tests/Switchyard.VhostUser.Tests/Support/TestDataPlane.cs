// The smallest data plane that drives the rings a VhostUserBackend started, for tests.
//
// Theory of operation: it does what the vhost-user port's loop will do, minus the switch. Run drains
// each started TX ring: SplitQueue.TryPop, then NetTx.TryGetFrame for a good chain; every chain goes
// back with PushUsed(head, 0) (TX writes nothing), a chain that broke a rule (disposition ReturnEmpty)
// included; a StopQueue error leaves the queue broken and skips it from then on. After each ring's
// batch it publishes the used index once and signals the call eventfd if the driver asked for it.
// Deliver writes one frame into an RX ring with NetRx and publishes it the same way. Every frame,
// queue error and TX header error is recorded for the test to look at.
//
// It runs on the thread that runs the back-end (the front-end's Service callback), as the real port
// runs on the loop that owns the connection (STYLE.md habit 10). It owns only its scratch buffers and
// per-ring chain holders; the queues and eventfds belong to the back-end.
using Switchyard.Core.Frames;
using Switchyard.Virtio;

namespace Switchyard.VhostUser.Tests.Support;

internal sealed class TestDataPlane(RecordingDevice device)
{
    private readonly byte[] scratch = new byte[NetTx.ScratchLength];
    private readonly Dictionary<SplitQueue, DescriptorChain> chains = [];
    private readonly Dictionary<SplitQueue, NetRx> receivers = [];

    /// <summary>Frames popped from TX rings: ring, frame bytes, the validated header.</summary>
    public List<(int Ring, byte[] Frame, VirtioNetHeader Header)> TxFrames { get; } = [];

    /// <summary>Queue rules broken by the guest: ring and error (both dispositions).</summary>
    public List<(int Ring, QueueError Error)> QueueErrors { get; } = [];

    /// <summary>TX chains that were valid but whose header or frame was refused.</summary>
    public List<(int Ring, NetTxError Error)> TxErrors { get; } = [];

    /// <summary>Chains returned with used length 0 because they broke a rule.</summary>
    public int ReturnedEmpty { get; private set; }

    /// <summary>Processes every started TX ring until it has nothing available (or breaks).</summary>
    public void Run()
    {
        foreach (LiveRing ring in device.Rings.Values.ToArray())
        {
            if (ring.IsTx && !ring.Queue.IsBroken)
            {
                _ = ring.Kick.Drain();
                DrainTx(ring);
            }
        }
    }

    /// <summary>Delivers <paramref name="frame"/> into RX ring <paramref name="ringIndex"/> and publishes it.</summary>
    public NetRxStatus Deliver(int ringIndex, byte[] frame, OffloadInfo offload = default)
    {
        LiveRing ring = device.Rings[ringIndex];
        if (!receivers.TryGetValue(ring.Queue, out NetRx? rx))
        {
            rx = new NetRx(ring.Queue, device.Features);
            receivers[ring.Queue] = rx;
        }

        NetRxStatus status = rx.TryDeliver(new EgressFrame(frame, VlanRewrite.None, 0, offload));
        if (status is NetRxStatus.InvalidChain or NetRxStatus.QueueBroken)
        {
            QueueErrors.Add((ringIndex, rx.LastQueueError));
        }

        Publish(ring);
        return status;
    }

    private void DrainTx(LiveRing ring)
    {
        SplitQueue queue = ring.Queue;
        if (!chains.TryGetValue(queue, out DescriptorChain? chain))
        {
            chain = new DescriptorChain(queue.Size);
            chains[queue] = chain;
        }

        while (true)
        {
            QueueError error = queue.TryPop(chain);
            if (error == QueueError.NoneAvailable)
            {
                break;
            }

            if (error != QueueError.Ok)
            {
                QueueErrors.Add((ring.Index, error));
                if (error.GetDisposition() == QueueErrorDisposition.StopQueue)
                {
                    break;
                }

                ReturnedEmpty++;
                queue.PushUsed(chain.HeadIndex, 0);
                continue;
            }

            NetTxError txError = NetTx.TryGetFrame(
                queue.Memory, chain, device.Features, scratch, out VirtioNetHeader header, out ReadOnlySpan<byte> frame, out _);
            if (txError == NetTxError.None)
            {
                TxFrames.Add((ring.Index, frame.ToArray(), header));
            }
            else
            {
                TxErrors.Add((ring.Index, txError));
            }

            queue.PushUsed(chain.HeadIndex, 0);
        }

        Publish(ring);
    }

    private static void Publish(LiveRing ring)
    {
        if (ring.Queue.PublishUsed())
        {
            ring.Call?.Signal();
        }
    }
}
