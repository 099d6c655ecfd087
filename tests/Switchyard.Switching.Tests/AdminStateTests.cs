// Run-time port changes: the administrative link state (port set --link up|down) and moving a port
// to other VLANs (port set --vlan / --trunk), one test per rule.
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;
using static Switchyard.Switching.Tests.TestFrames;

namespace Switchyard.Switching.Tests;

public sealed class AdminStateTests : SwitchTestBase
{
    [Fact]
    public void LinkDown_FramesFromThePort_AreDroppedAndCounted_NothingLearned()
    {
        LearningSwitch sw = NewSwitch();
        TestPort a = AddPort(sw, "a", new AccessVlan(1));
        TestPort b = AddPort(sw, "b", new AccessVlan(1));

        Assert.True(sw.SetLinkUp(a, up: false));
        a.Inject(Untagged(Broadcast, MacA));

        Assert.Empty(b.Sent);
        Assert.Equal(1, a.Counters.Drops(DropReason.RxAdminDown));
        Assert.Empty(sw.SnapshotFdb());
        Assert.False(sw.IsLinkUp(a));
    }

    [Fact]
    public void LinkDown_PortGetsNoFloodsNorUnicast_AndItsAddressesAreForgotten()
    {
        LearningSwitch sw = NewSwitch();
        TestPort a = AddPort(sw, "a", new AccessVlan(1));
        TestPort b = AddPort(sw, "b", new AccessVlan(1));
        TestPort c = AddPort(sw, "c", new AccessVlan(1));
        a.Inject(Untagged(Broadcast, MacA)); // A learned on a
        b.Sent.Clear();
        c.Sent.Clear();

        sw.SetLinkUp(a, up: false);
        Assert.DoesNotContain(sw.SnapshotFdb(), e => e.Mac == MacA);
        b.Inject(Untagged(MacA, MacB)); // unknown now: floods, but not to the down port
        b.Inject(Untagged(Broadcast, MacB));

        Assert.Empty(a.Sent);
        Assert.Equal(2, c.Sent.Count);
    }

    [Fact]
    public void LinkUpAgain_ForwardingResumes_AndSettingTheSameStateIsNoChange()
    {
        LearningSwitch sw = NewSwitch();
        TestPort a = AddPort(sw, "a", new AccessVlan(1));
        TestPort b = AddPort(sw, "b", new AccessVlan(1));
        Assert.False(sw.SetLinkUp(a, up: true));
        sw.SetLinkUp(a, up: false);
        Assert.False(sw.SetLinkUp(a, up: false));
        Assert.True(sw.SetLinkUp(a, up: true));

        a.Inject(Untagged(Broadcast, MacA));
        b.Inject(Untagged(MacA, MacB));

        Assert.Single(b.Sent);
        Assert.Single(a.Sent);
        Assert.True(sw.IsLinkUp(a));
    }

    [Fact]
    public void HubMode_LinkDownPort_IsSkippedToo()
    {
        LearningSwitch sw = NewSwitch(new SwitchOptions { Hub = true });
        TestPort a = AddPort(sw, "a", new AccessVlan(1));
        TestPort b = AddPort(sw, "b", new AccessVlan(1));
        TestPort c = AddPort(sw, "c", new AccessVlan(1));
        sw.SetLinkUp(c, up: false);

        a.Inject(Untagged(MacB, MacA));

        Assert.Single(b.Sent);
        Assert.Empty(c.Sent);
    }

    [Fact]
    public void SetMembership_MovesThePortToAnotherVlan_AndForgetsItsAddresses()
    {
        LearningSwitch sw = NewSwitch();
        TestPort mover = AddPort(sw, "mover", new AccessVlan(10));
        TestPort red = AddPort(sw, "red", new AccessVlan(10));
        TestPort blue = AddPort(sw, "blue", new AccessVlan(20));
        mover.Inject(Untagged(Broadcast, MacA));
        Assert.Single(red.Sent);

        sw.SetMembership(mover, new AccessVlan(20));
        Assert.DoesNotContain(sw.SnapshotFdb(), e => e.Mac == MacA);
        mover.Inject(Untagged(Broadcast, MacA));

        Assert.Single(red.Sent);
        Assert.Single(blue.Sent);
        Assert.Equal(20, sw.MembershipOf(mover).UntaggedVid);
        Assert.Contains(sw.SnapshotFdb(), e => e.Mac == MacA && e.Vid == 20);
    }

    [Fact]
    public void SetMembership_AccessToTrunk_TagsEgressFromTheOtherVlans()
    {
        LearningSwitch sw = NewSwitch();
        TestPort port = AddPort(sw, "port", new AccessVlan(10));
        TestPort access20 = AddPort(sw, "access20", new AccessVlan(20));

        sw.SetMembership(port, Trunk(null, 10, 20));
        access20.Inject(Untagged(Broadcast, MacB));

        SentFrame sent = Assert.Single(port.Sent);
        Assert.Equal(VlanRewrite.Insert, sent.Rewrite);
        Assert.Equal(20, sent.TagControl);
    }

    [Fact]
    public void RunTimeChanges_ToAPortNotOnTheSwitch_ThrowWithTheNetworkName()
    {
        LearningSwitch sw = NewSwitch();
        var stranger = new TestPort("stranger");
        ArgumentException ex = Assert.Throws<ArgumentException>(() => sw.SetLinkUp(stranger, false));
        Assert.Contains("stranger", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => sw.SetMembership(stranger, new AccessVlan(2)));
    }
}
