// Hub mode, and offloads passed through to ports that can carry them (software completion for the
// others is in SoftwareOffloadTests).
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;
using static Switchyard.Switching.Tests.TestFrames;

namespace Switchyard.Switching.Tests;

public sealed class HubAndOffloadTests : SwitchTestBase
{
    [Fact]
    public void Hub_AnyFrame_FloodsUnchangedToEveryOtherPortWithoutLearning()
    {
        LearningSwitch sw = NewSwitch(new SwitchOptions { Hub = true });
        TestPort p1 = AddPort(sw, "p1", new AccessVlan(10));
        TestPort p2 = AddPort(sw, "p2", new AccessVlan(20));
        TestPort p3 = AddPort(sw, "p3", Trunk(null, 30));
        byte[][] frames =
        [
            Untagged(Broadcast, MacA),
            Untagged(MacB, MacA),
            Tagged(MacB, MacA, 99),
            Tagged(MacA, MacB, 0xE000),
        ];

        p2.Inject(Untagged(Broadcast, MacB)); // a learning switch would now know B is on p2
        p2.Sent.Clear();
        p3.Sent.Clear();
        foreach (byte[] frame in frames)
        {
            p1.Inject(frame);
        }

        Assert.Equal(frames, p2.Sent.Select(f => f.Bytes));
        Assert.Equal(frames, p3.Sent.Select(f => f.Bytes));
        Assert.All(p2.Sent.Concat(p3.Sent), f => Assert.Equal(VlanRewrite.None, f.Rewrite));
        Assert.DoesNotContain(p1.Sent, f => Ethernet.Source(f.Bytes) == MacA);
        Assert.Empty(sw.SnapshotFdb());
        Assert.Equal(0, sw.Counters.Learned);
        Assert.Equal(5, sw.Counters.Flooded);
    }

    [Fact]
    public void Offload_AccessToTrunk_OffsetsShiftedByInsertedTag()
    {
        LearningSwitch sw = NewSwitch();
        TestPort access = AddPort(sw, "access", new AccessVlan(10), PortOffloads.PartialChecksum);
        TestPort trunk = AddPort(sw, "trunk", Trunk(null, 10), PortOffloads.PartialChecksum);
        var offload = new OffloadInfo(OffloadInfo.FlagNeedsChecksum, OffloadInfo.GsoNone, 0, 0, 34, 16);

        access.Inject(Untagged(Broadcast, MacA), offload);

        Assert.Equal(38, Assert.Single(trunk.Sent).Offload.ChecksumStart);
    }
}
