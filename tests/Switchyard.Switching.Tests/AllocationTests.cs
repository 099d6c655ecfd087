// The Receive path must not allocate per frame (STYLE.md habit 7). Measured with a port that copies
// into a reused buffer, after a warm-up, on every forwarding path: flood, known unicast, tag insert,
// strip, and the priority-tag re-tag copy.
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;
using static Switchyard.Switching.Tests.TestFrames;

namespace Switchyard.Switching.Tests;

public sealed class AllocationTests : SwitchTestBase
{
    [Fact]
    public void Receive_SteadyStateOnEveryPath_AllocatesNothing()
    {
        LearningSwitch sw = NewSwitch();
        var access = new SinkPort("access");
        var access2 = new SinkPort("access2");
        var trunk = new SinkPort("trunk");
        sw.AddPort(access, new AccessVlan(10));
        sw.AddPort(access2, new AccessVlan(10));
        sw.AddPort(trunk, new TrunkVlans([10, 20], 1));
        byte[][] frames =
        [
            Untagged(Broadcast, MacA),          // flood, insert on the trunk
            Untagged(MacB, MacA),               // known unicast to the trunk after B is learned
            Tagged(MacA, MacB, 10),             // trunk -> access, strip
            Tagged(Broadcast, MacC, 0xA000),    // priority-tagged: strip and re-tag copy
            Untagged(MacD, MacA),               // unknown unicast
        ];
        SinkPort[] ingress = [access, access, trunk, access2, access];

        void RunAll()
        {
            for (int i = 0; i < frames.Length; i++)
            {
                ingress[i].Inject(frames[i]);
            }
        }

        for (int i = 0; i < 2000; i++)
        {
            RunAll();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            RunAll();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.True(trunk.Counters.TxFrames > 0 && access.Counters.TxFrames > 0);
    }

    private sealed class SinkPort(string name) : Port(name)
    {
        private readonly byte[] buffer = new byte[2048];

        public override string Kind => "sink";

        public override void Start()
        {
        }

        public override void Stop()
        {
        }

        public override void Transmit(in EgressFrame frame) => Counters.CountTx(frame.CopyTo(buffer));

        public void Inject(byte[] frame) => Deliver(frame, OffloadInfo.None);
    }
}
