// 802.1Q classification and egress tag rewriting, one test per rule, with exact egress bytes.
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;
using static Switchyard.Switching.Tests.TestFrames;

namespace Switchyard.Switching.Tests;

public sealed class VlanTests : SwitchTestBase
{
    [Fact]
    public void AccessVlans_BroadcastInOneVlan_NotSeenInAnother()
    {
        LearningSwitch sw = NewSwitch();
        TestPort red1 = AddPort(sw, "red1", new AccessVlan(10));
        TestPort red2 = AddPort(sw, "red2", new AccessVlan(10));
        TestPort blue1 = AddPort(sw, "blue1", new AccessVlan(20));
        TestPort blue2 = AddPort(sw, "blue2", new AccessVlan(20));

        red1.Inject(Untagged(Broadcast, MacA));
        blue1.Inject(Untagged(Broadcast, MacB));
        blue1.Inject(Untagged(MacA, MacB)); // A is known only in VLAN 10: unknown here, flooded in 20

        Assert.Single(red2.Sent);
        Assert.Equal(2, blue2.Sent.Count);
        Assert.All(red2.Sent, f => Assert.Equal(MacA, Ethernet.Source(f.Bytes)));
        Assert.All(blue2.Sent, f => Assert.Equal(MacB, Ethernet.Source(f.Bytes)));
        Assert.Empty(red1.Sent);
        Assert.Empty(blue1.Sent);
    }

    [Fact]
    public void AccessToTrunk_UntaggedFrame_InsertsTagWithVlanTci()
    {
        LearningSwitch sw = NewSwitch();
        TestPort access = AddPort(sw, "access", new AccessVlan(10));
        TestPort trunk = AddPort(sw, "trunk", Trunk(null, 10, 20));

        access.Inject(Untagged(MacB, MacA));

        SentFrame sent = Assert.Single(trunk.Sent);
        Assert.Equal(VlanRewrite.Insert, sent.Rewrite);
        Assert.Equal(10, sent.TagControl);
        Assert.Equal(Tagged(MacB, MacA, 0x000A), sent.Bytes);
        Assert.Equal([0x81, 0x00, 0x00, 0x0A, 0x08, 0x00], sent.Bytes[12..18]);
    }

    [Fact]
    public void TrunkToAccess_TaggedFrame_StripsTagExactly()
    {
        LearningSwitch sw = NewSwitch();
        TestPort trunk = AddPort(sw, "trunk", Trunk(null, 10, 20));
        TestPort access10 = AddPort(sw, "access10", new AccessVlan(10));
        TestPort access20 = AddPort(sw, "access20", new AccessVlan(20));

        trunk.Inject(Tagged(MacB, MacA, 0xA00A)); // PCP 5, VID 10

        SentFrame sent = Assert.Single(access10.Sent);
        Assert.Equal(VlanRewrite.Strip, sent.Rewrite);
        Assert.Equal(Untagged(MacB, MacA), sent.Bytes);
        Assert.Empty(access20.Sent);
    }

    [Fact]
    public void TrunkToTrunk_TaggedAllowedVid_ForwardedWithTagUnchanged()
    {
        LearningSwitch sw = NewSwitch();
        TestPort t1 = AddPort(sw, "t1", Trunk(null, 10, 20));
        TestPort t2 = AddPort(sw, "t2", Trunk(1, 10));
        TestPort t3 = AddPort(sw, "t3", Trunk(null, 20));
        byte[] frame = Tagged(Broadcast, MacA, 0x600A);

        t1.Inject(frame);

        SentFrame sent = Assert.Single(t2.Sent);
        Assert.Equal(VlanRewrite.None, sent.Rewrite);
        Assert.Equal(frame, sent.Bytes);
        Assert.Empty(t3.Sent);
    }

    [Fact]
    public void TrunkToTrunkNative_TaggedNativeVid_LeavesUntagged()
    {
        LearningSwitch sw = NewSwitch();
        TestPort t1 = AddPort(sw, "t1", Trunk(null, 10));
        TestPort t2 = AddPort(sw, "t2", Trunk(10, 20));

        t1.Inject(Tagged(Broadcast, MacA, 10));

        SentFrame sent = Assert.Single(t2.Sent);
        Assert.Equal(VlanRewrite.Strip, sent.Rewrite);
        Assert.Equal(Untagged(Broadcast, MacA), sent.Bytes);
    }

    [Theory]
    [InlineData(30)]
    [InlineData(4095)]
    public void TrunkIngress_TaggedWithVidNotAllowed_DroppedAndCounted(ushort vid)
    {
        LearningSwitch sw = NewSwitch();
        TestPort trunk = AddPort(sw, "trunk", Trunk(1, 10, 20));
        TestPort other = AddPort(sw, "other", Trunk(null, 1, 10, 20, 30));

        trunk.Inject(Tagged(Broadcast, MacA, vid));

        Assert.Empty(other.Sent);
        Assert.Empty(sw.SnapshotFdb());
        Assert.Equal(1, trunk.Counters.Drops(DropReason.RxVlanNotAllowed));
    }

    [Fact]
    public void TrunkIngress_UntaggedWithNativeVlan_ClassifiedIntoNativeVlan()
    {
        LearningSwitch sw = NewSwitch();
        TestPort trunk = AddPort(sw, "trunk", Trunk(5, 10));
        TestPort access5 = AddPort(sw, "access5", new AccessVlan(5));
        TestPort access10 = AddPort(sw, "access10", new AccessVlan(10));
        TestPort trunk5Tagged = AddPort(sw, "trunk5", Trunk(null, 5));
        byte[] frame = Untagged(Broadcast, MacA);

        trunk.Inject(frame);

        Assert.Equal(frame, Assert.Single(access5.Sent).Bytes);
        Assert.Equal(Tagged(Broadcast, MacA, 5), Assert.Single(trunk5Tagged.Sent).Bytes);
        Assert.Empty(access10.Sent);
        Assert.Equal(5, Assert.Single(sw.SnapshotFdb()).Vid);
    }

    [Fact]
    public void TrunkIngress_UntaggedWithoutNativeVlan_DroppedAsUntaggedOnTrunk()
    {
        LearningSwitch sw = NewSwitch();
        TestPort trunk = AddPort(sw, "trunk", Trunk(null, 1, 10));
        TestPort access = AddPort(sw, "access", new AccessVlan(1));

        trunk.Inject(Untagged(Broadcast, MacA));
        trunk.Inject(Tagged(Broadcast, MacA, 0x2000)); // priority-tagged counts as untagged

        Assert.Empty(access.Sent);
        Assert.Empty(sw.SnapshotFdb());
        Assert.Equal(2, trunk.Counters.Drops(DropReason.RxUntaggedOnTrunk));
    }

    [Fact]
    public void AccessIngress_PriorityTaggedFrame_ClassifiedIntoAccessVlanAndRetaggedSanely()
    {
        LearningSwitch sw = NewSwitch();
        TestPort ingress = AddPort(sw, "in", new AccessVlan(10));
        TestPort access = AddPort(sw, "access", new AccessVlan(10));
        TestPort trunkTagged = AddPort(sw, "tagged", Trunk(null, 10));
        TestPort trunkNative = AddPort(sw, "native", Trunk(10, 20));
        const ushort priority6 = 0xC000; // PCP 6, DEI 0, VID 0

        ingress.Inject(Tagged(Broadcast, MacA, priority6));

        // Access and native-VLAN egress: untagged, the priority tag stripped.
        Assert.Equal(Untagged(Broadcast, MacA), Assert.Single(access.Sent).Bytes);
        Assert.Equal(Untagged(Broadcast, MacA), Assert.Single(trunkNative.Sent).Bytes);

        // Tagged trunk egress: the VLAN's VID with the sender's priority kept.
        SentFrame tagged = Assert.Single(trunkTagged.Sent);
        Assert.Equal(VlanRewrite.None, tagged.Rewrite);
        Assert.Equal(Tagged(Broadcast, MacA, priority6 | 10), tagged.Bytes);
        Assert.Equal(10, Assert.Single(sw.SnapshotFdb()).Vid);
    }

    [Fact]
    public void AccessIngress_TaggedWithOwnVid_AcceptedAndStrippedForAccess()
    {
        LearningSwitch sw = NewSwitch();
        TestPort ingress = AddPort(sw, "in", new AccessVlan(10));
        TestPort access = AddPort(sw, "access", new AccessVlan(10));
        TestPort trunk = AddPort(sw, "trunk", Trunk(null, 10));
        byte[] frame = Tagged(Broadcast, MacA, 0x200A);

        ingress.Inject(frame);

        Assert.Equal(Untagged(Broadcast, MacA), Assert.Single(access.Sent).Bytes);
        Assert.Equal(frame, Assert.Single(trunk.Sent).Bytes);
    }

    [Fact]
    public void AccessIngress_TaggedWithOtherVid_DroppedAsVlanNotAllowed()
    {
        LearningSwitch sw = NewSwitch();
        TestPort ingress = AddPort(sw, "in", new AccessVlan(10));
        TestPort trunk = AddPort(sw, "trunk", Trunk(null, 10, 20));

        ingress.Inject(Tagged(Broadcast, MacA, 20));

        Assert.Empty(trunk.Sent);
        Assert.Equal(1, ingress.Counters.Drops(DropReason.RxVlanNotAllowed));
    }

    [Fact]
    public void Ingress_TaggedFrameShorterThanTaggedHeader_DroppedAsRunt()
    {
        LearningSwitch sw = NewSwitch();
        TestPort trunk = AddPort(sw, "trunk", Trunk(1, 10));
        TestPort other = AddPort(sw, "other", Trunk(1, 10));

        trunk.Inject(Tagged(Broadcast, MacA, 10)[..17]);

        Assert.Empty(other.Sent);
        Assert.Equal(1, trunk.Counters.Drops(DropReason.RxRunt));
    }

    [Fact]
    public void Learning_SameMacInTwoVlans_KeptApart()
    {
        LearningSwitch sw = NewSwitch();
        TestPort trunk = AddPort(sw, "trunk", Trunk(null, 10, 20));
        TestPort a10 = AddPort(sw, "a10", new AccessVlan(10));
        TestPort a20 = AddPort(sw, "a20", new AccessVlan(20));
        a10.Inject(Untagged(Broadcast, MacA));
        a20.Inject(Untagged(Broadcast, MacA));
        a10.Sent.Clear();
        a20.Sent.Clear();

        trunk.Inject(Tagged(MacA, MacB, 20));

        Assert.Empty(a10.Sent);
        Assert.Single(a20.Sent);
        Assert.Equal([("a10", (ushort)10), ("a20", (ushort)20), ("trunk", (ushort)20)], sw.SnapshotFdb().Select(e => (e.Port, e.Vid)).Order());
        Assert.Equal(0, sw.Counters.Moved);
    }
}
