// Learning, forwarding, ageing and FDB rules of LearningSwitch, one test per rule.
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;
using static Switchyard.Switching.Tests.TestFrames;

namespace Switchyard.Switching.Tests;

public sealed class LearningSwitchTests : SwitchTestBase
{
    [Fact]
    public void Learning_FrameFromPort_LearnsSourceMacOnThatPortAndVlan()
    {
        LearningSwitch sw = NewSwitch();
        TestPort p1 = AddPort(sw, "p1", new AccessVlan(7));
        AddPort(sw, "p2", new AccessVlan(7));

        p1.Inject(Untagged(Broadcast, MacA));

        FdbEntry entry = Assert.Single(sw.SnapshotFdb());
        Assert.Equal(new FdbEntry(7, MacA, "p1", TimeSpan.Zero), entry);
        Assert.Equal(1, sw.Counters.Learned);
        Assert.Equal(1, sw.Counters.FdbEntries);
    }

    [Fact]
    public void IngressPort_EveryEgressFrame_CarriesTheIdOfThePortItCameIn()
    {
        LearningSwitch sw = NewSwitch();
        TestPort p1 = AddPort(sw, "p1");
        TestPort p2 = AddPort(sw, "p2");
        TestPort p3 = AddPort(sw, "p3");
        Assert.NotEqual(p1.Id, p2.Id);
        Assert.True(p1.Id > 0);

        p1.Inject(Untagged(Broadcast, MacA));
        p2.Inject(Untagged(MacA, MacB));
        p3.Inject(Untagged(MacB, MacC));

        Assert.Equal(p1.Id, p2.Sent[0].IngressPort);
        Assert.Equal(p1.Id, p3.Sent[0].IngressPort);
        Assert.Equal(p2.Id, p1.Last.IngressPort);
        Assert.Equal(p3.Id, p2.Last.IngressPort);
    }

    [Fact]
    public void IngressPort_PortRemovedAndAnotherAdded_IdNotReused()
    {
        LearningSwitch sw = NewSwitch();
        TestPort p1 = AddPort(sw, "p1");
        int first = p1.Id;
        sw.RemovePort(p1);
        TestPort p2 = AddPort(sw, "p2");

        Assert.NotEqual(first, p2.Id);
    }

    [Fact]
    public void RemovePort_OtherPortsAreToldItsId_SoPerPortStateCanGo()
    {
        LearningSwitch sw = NewSwitch();
        TestPort gone = AddPort(sw, "gone");
        TestPort a = AddPort(sw, "a");
        TestPort b = AddPort(sw, "b");

        sw.RemovePort(gone);

        Assert.Equal([gone.Id], a.PeersRemoved);
        Assert.Equal([gone.Id], b.PeersRemoved);
        Assert.Empty(gone.PeersRemoved);
    }

    [Fact]
    public void FdbPortLimit_OnePortFloodsSourceMacs_OthersStillLearnedAndUnicastNotFlooded()
    {
        LearningSwitch sw = NewSwitch(SwitchOptions.Default with { MaxMacs = 64, MaxMacsPerPort = 8 });
        TestPort attacker = AddPort(sw, "attacker");
        TestPort a = AddPort(sw, "a");
        TestPort b = AddPort(sw, "b");

        for (ulong i = 0; i < 200; i++)
        {
            attacker.Inject(Untagged(Broadcast, 0x02_00_00_10_00_00UL + i));
        }

        a.Inject(Untagged(Broadcast, MacA));
        b.Inject(Untagged(Broadcast, MacB));
        int attackerSeen = attacker.Sent.Count;
        a.Inject(Untagged(MacB, MacA));

        // Unicast between the two honest guests goes to b only, not to the attacker.
        Assert.Equal(attackerSeen, attacker.Sent.Count);
        Assert.Equal(MacA, Ethernet.Source(b.Last.Bytes));
        Assert.Equal(192, sw.Counters.FdbPortLimit);
        Assert.Equal(10, sw.Counters.FdbEntries);
        Assert.Equal(0, sw.Counters.FdbFull);
        // The frames over the limit were still forwarded: a saw all 200, and b's broadcast.
        Assert.Equal(201, a.Sent.Count);
    }

    [Fact]
    public void FdbPortLimit_AtLimit_KnownAddressRefreshes_NoMoveOntoFullPort()
    {
        LearningSwitch sw = NewSwitch(SwitchOptions.Default with { MaxMacsPerPort = 1 });
        TestPort p1 = AddPort(sw, "p1");
        TestPort p2 = AddPort(sw, "p2");
        p1.Inject(Untagged(Broadcast, MacA));
        p2.Inject(Untagged(Broadcast, MacB));

        Clock.Advance(TimeSpan.FromSeconds(200));
        p1.Inject(Untagged(Broadcast, MacA));
        p1.Inject(Untagged(Broadcast, MacB)); // p1 is full: MacB stays on p2
        Clock.Advance(TimeSpan.FromSeconds(200));
        Assert.Equal(1, sw.AgeOut());

        FdbEntry entry = Assert.Single(sw.SnapshotFdb());
        Assert.Equal("p1", entry.Port);
        Assert.Equal(MacA, entry.Mac);
        Assert.Equal(1, sw.Counters.FdbPortLimit);
    }

    [Fact]
    public void FdbPortLimit_EntriesAgeOut_PortMayLearnAgain()
    {
        LearningSwitch sw = NewSwitch(SwitchOptions.Default with { MaxMacsPerPort = 1 });
        TestPort p1 = AddPort(sw, "p1");
        AddPort(sw, "p2");
        p1.Inject(Untagged(Broadcast, MacA));
        p1.Inject(Untagged(Broadcast, MacB));
        Clock.Advance(SwitchOptions.DefaultMacAgeing);
        sw.AgeOut();
        p1.Inject(Untagged(Broadcast, MacB));

        Assert.Equal(MacB, Assert.Single(sw.SnapshotFdb()).Mac);
        Assert.Equal(1, sw.Counters.FdbPortLimit);
    }

    [Fact]
    public void Forwarding_UnknownUnicast_FloodsToEveryOtherPort()
    {
        LearningSwitch sw = NewSwitch();
        TestPort p1 = AddPort(sw, "p1");
        TestPort p2 = AddPort(sw, "p2");
        TestPort p3 = AddPort(sw, "p3");
        byte[] frame = Untagged(MacB, MacA);

        p1.Inject(frame);

        Assert.Empty(p1.Sent);
        Assert.Equal(frame, Assert.Single(p2.Sent).Bytes);
        Assert.Equal(frame, Assert.Single(p3.Sent).Bytes);
        Assert.Equal(1, sw.Counters.Flooded);
        Assert.Equal(0, sw.Counters.UnicastForwarded);
    }

    [Theory]
    [InlineData(Broadcast)]
    [InlineData(Multicast)]
    public void Forwarding_GroupDestination_FloodsToEveryOtherPortEvenWhenLearned(ulong destination)
    {
        LearningSwitch sw = NewSwitch();
        TestPort p1 = AddPort(sw, "p1");
        TestPort p2 = AddPort(sw, "p2");
        TestPort p3 = AddPort(sw, "p3");

        p1.Inject(Untagged(destination, MacA));
        p2.Inject(Untagged(destination, MacB));

        Assert.Single(p1.Sent);
        Assert.Single(p2.Sent);
        Assert.Equal(2, p3.Sent.Count);
        Assert.Equal(2, sw.Counters.Flooded);
    }

    [Fact]
    public void Forwarding_DestinationLearnedOnIngressPort_IsFilteredNotReflected()
    {
        LearningSwitch sw = NewSwitch();
        TestPort p1 = AddPort(sw, "p1");
        TestPort p2 = AddPort(sw, "p2");
        p1.Inject(Untagged(Broadcast, MacB)); // B lives behind p1 too
        p2.Sent.Clear();

        p1.Inject(Untagged(MacB, MacA));

        Assert.Empty(p1.Sent);
        Assert.Empty(p2.Sent);
        Assert.Equal(1, sw.Counters.FilteredLocal);
        Assert.Equal(0, p1.Counters.TotalDrops);
    }

    [Fact]
    public void Forwarding_KnownUnicast_GoesToItsPortOnly()
    {
        LearningSwitch sw = NewSwitch();
        TestPort p1 = AddPort(sw, "p1");
        TestPort p2 = AddPort(sw, "p2");
        TestPort p3 = AddPort(sw, "p3");
        p2.Inject(Untagged(Broadcast, MacB));
        p1.Sent.Clear();
        p3.Sent.Clear();
        byte[] frame = Untagged(MacB, MacA);

        p1.Inject(frame);

        Assert.Empty(p1.Sent);
        Assert.Empty(p3.Sent);
        SentFrame sent = Assert.Single(p2.Sent);
        Assert.Equal(frame, sent.Bytes);
        Assert.Equal(VlanRewrite.None, sent.Rewrite);
        Assert.Equal(1, sw.Counters.UnicastForwarded);
    }

    [Fact]
    public void Learning_MacSeenOnAnotherPort_MovesEntryAndCountsMove()
    {
        LearningSwitch sw = NewSwitch();
        TestPort p1 = AddPort(sw, "p1");
        TestPort p2 = AddPort(sw, "p2");
        TestPort p3 = AddPort(sw, "p3");
        p1.Inject(Untagged(Broadcast, MacA));

        p2.Inject(Untagged(Broadcast, MacA));
        p1.Sent.Clear();
        p2.Sent.Clear();
        p3.Inject(Untagged(MacA, MacC));

        Assert.Equal("p2", Assert.Single(sw.SnapshotFdb(), e => e.Mac == MacA).Port);
        Assert.Equal(1, sw.Counters.Moved);
        Assert.Empty(p1.Sent);
        Assert.Single(p2.Sent);
    }

    [Fact]
    public void Ageing_EntryReachesMacAgeing_ExpiresExactlyThenAndAgeOutRemovesIt()
    {
        var ageing = TimeSpan.FromSeconds(30);
        LearningSwitch sw = NewSwitch(new SwitchOptions { MacAgeing = ageing });
        TestPort p1 = AddPort(sw, "p1");
        TestPort p2 = AddPort(sw, "p2");
        TestPort p3 = AddPort(sw, "p3");
        p2.Inject(Untagged(Broadcast, MacB));
        p3.Sent.Clear();

        // One tick before MacAgeing the entry is live: unicast, and AgeOut keeps it.
        Clock.Advance(ageing - TimeSpan.FromTicks(1));
        Assert.Equal(0, sw.AgeOut());
        Assert.Equal(ageing - TimeSpan.FromTicks(1), Assert.Single(sw.SnapshotFdb()).Age);
        p1.Inject(Untagged(MacB, MacA));
        Assert.Empty(p3.Sent);
        Assert.Equal(1, sw.Counters.UnicastForwarded);

        // At exactly MacAgeing it is unknown even before AgeOut runs: flooded.
        Clock.Advance(TimeSpan.FromTicks(1));
        p3.Inject(Untagged(MacB, MacC));
        Assert.Single(p1.Sent, f => Ethernet.Destination(f.Bytes) == MacB);
        Assert.Equal(2, sw.Counters.Flooded); // B's first broadcast, then this one

        Assert.Equal(1, sw.AgeOut()); // B; A and C were seen more recently
        Assert.Equal(1, sw.Counters.AgedOut);
        Assert.DoesNotContain(sw.SnapshotFdb(), e => e.Mac == MacB);
        Assert.Equal(2, sw.Counters.FdbEntries);
    }

    [Fact]
    public void Ageing_EntrySeenAgain_IsRefreshedAndKept()
    {
        var ageing = TimeSpan.FromSeconds(30);
        LearningSwitch sw = NewSwitch(new SwitchOptions { MacAgeing = ageing });
        TestPort p1 = AddPort(sw, "p1");
        AddPort(sw, "p2");
        p1.Inject(Untagged(Broadcast, MacA));

        Clock.Advance(TimeSpan.FromSeconds(20));
        p1.Inject(Untagged(Broadcast, MacA));
        Clock.Advance(TimeSpan.FromSeconds(20));

        Assert.Equal(0, sw.AgeOut());
        Assert.Equal(TimeSpan.FromSeconds(20), Assert.Single(sw.SnapshotFdb()).Age);
        Assert.Equal(1, sw.Counters.Learned);
    }

    [Fact]
    public void Fdb_HoldingMaxMacs_DoesNotLearnNewMacsButStillFloodsToThem()
    {
        LearningSwitch sw = NewSwitch(new SwitchOptions { MaxMacs = 2 });
        TestPort p1 = AddPort(sw, "p1");
        TestPort p2 = AddPort(sw, "p2");
        TestPort p3 = AddPort(sw, "p3");
        p1.Inject(Untagged(Broadcast, MacA));
        p2.Inject(Untagged(Broadcast, MacB));

        p3.Inject(Untagged(Broadcast, MacC));
        p3.Inject(Untagged(Broadcast, MacC));
        p1.Sent.Clear();
        p2.Sent.Clear();
        p1.Inject(Untagged(MacC, MacA));

        Assert.Equal(2, sw.SnapshotFdb().Length);
        Assert.Equal(2, sw.Counters.FdbFull);
        Assert.Single(p3.Sent, f => Ethernet.Destination(f.Bytes) == MacC);
        Assert.Single(p2.Sent); // flooded, not unicast
    }

    [Fact]
    public void Fdb_HoldingMaxMacs_StillMovesKnownMacs()
    {
        LearningSwitch sw = NewSwitch(new SwitchOptions { MaxMacs = 1 });
        TestPort p1 = AddPort(sw, "p1");
        TestPort p2 = AddPort(sw, "p2");
        p1.Inject(Untagged(Broadcast, MacA));

        p2.Inject(Untagged(Broadcast, MacA));

        Assert.Equal("p2", Assert.Single(sw.SnapshotFdb()).Port);
        Assert.Equal(1, sw.Counters.Moved);
    }

    [Fact]
    public void RemovePort_WithLearnedMacs_FlushesItsEntries()
    {
        LearningSwitch sw = NewSwitch();
        TestPort p1 = AddPort(sw, "p1");
        TestPort p2 = AddPort(sw, "p2");
        TestPort p3 = AddPort(sw, "p3");
        p2.Inject(Untagged(Broadcast, MacB));
        p2.Inject(Untagged(Broadcast, MacC));
        p1.Inject(Untagged(Broadcast, MacA));
        p3.Sent.Clear();

        Assert.True(sw.RemovePort(p2));
        p1.Inject(Untagged(MacB, MacA));

        Assert.Equal([MacA], Array.ConvertAll(sw.SnapshotFdb(), e => e.Mac));
        Assert.Equal(2, sw.Counters.Flushed);
        Assert.Single(p3.Sent); // B is unknown again: flooded to the ports that remain
        Assert.Null(sw.FindPort("p2"));
        Assert.Equal(["p1", "p3"], sw.Ports.Select(p => p.Name));
        Assert.False(sw.RemovePort(p2));
    }

    [Fact]
    public void Receive_FromRemovedPort_DroppedAsRxNoSwitch()
    {
        LearningSwitch sw = NewSwitch();
        TestPort p1 = AddPort(sw, "p1");
        TestPort p2 = AddPort(sw, "p2");
        sw.RemovePort(p1);

        p1.Inject(Untagged(Broadcast, MacA));

        Assert.Empty(p2.Sent);
        Assert.Equal(1, p1.Counters.Drops(DropReason.RxNoSwitch));
        Assert.Empty(sw.SnapshotFdb());
    }

    [Fact]
    public void Ingress_SourceMacIsGroupAddress_DroppedAndNotLearned()
    {
        LearningSwitch sw = NewSwitch();
        TestPort p1 = AddPort(sw, "p1");
        TestPort p2 = AddPort(sw, "p2");

        p1.Inject(Untagged(Broadcast, Multicast));

        Assert.Empty(p2.Sent);
        Assert.Empty(sw.SnapshotFdb());
        Assert.Equal(1, p1.Counters.Drops(DropReason.RxSourceMulticast));
    }

    [Fact]
    public void AddPort_DuplicateName_ThrowsWithClearMessage()
    {
        LearningSwitch sw = NewSwitch();
        AddPort(sw, "p1");

        var ex = Assert.Throws<InvalidOperationException>(() => sw.AddPort(new TestPort("p1"), Vlan1));

        Assert.Contains("'p1'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("unique", ex.Message, StringComparison.Ordinal);
        Assert.Single(sw.Ports);
    }

    [Fact]
    public void AddPort_AttachesPortAndRecordsMembership()
    {
        LearningSwitch sw = NewSwitch();
        TrunkVlans trunk = Trunk(1, 10, 20);

        TestPort p1 = AddPort(sw, "p1", trunk);

        Assert.Same(sw, p1.Sink);
        Assert.Same(p1, sw.FindPort("p1"));
        Assert.Equal(trunk, sw.MembershipOf(p1));
        Assert.Throws<ArgumentException>(() => sw.MembershipOf(new TestPort("stranger")));
    }

    [Fact]
    public void PortClosed_ByPeer_RemovesPortThenNotifiesOwner()
    {
        var closed = new List<(Port Port, string Reason, int PortsLeft)>();
        LearningSwitch? sw = null;
        sw = NewSwitch(onPortClosed: (port, reason) => closed.Add((port, reason, sw!.Ports.Count)));
        TestPort p1 = AddPort(sw, "p1");
        AddPort(sw, "p2");
        p1.Inject(Untagged(Broadcast, MacA));

        p1.HangUp("peer hung up");

        Assert.True(p1.Stopped);
        Assert.Equal((p1, "peer hung up", 1), Assert.Single(closed));
        Assert.Null(sw.FindPort("p1"));
        Assert.Empty(sw.SnapshotFdb());
    }

    [Fact]
    public void Flooding_PortClosesInsideItsOwnTransmit_OtherPortsStillGetTheFrame()
    {
        LearningSwitch sw = NewSwitch();
        TestPort p1 = AddPort(sw, "p1");
        TestPort p2 = AddPort(sw, "p2");
        TestPort p3 = AddPort(sw, "p3");
        TestPort p4 = AddPort(sw, "p4");
        p2.OnTransmit = p => p.HangUp("write failed");
        p3.OnTransmit = _ => sw.RemovePort(p4);

        p1.Inject(Untagged(Broadcast, MacA));

        Assert.Single(p2.Sent);
        Assert.Single(p3.Sent);
        Assert.Empty(p4.Sent); // removed before the flood reached it
        Assert.Equal(["p1", "p3"], sw.Ports.Select(p => p.Name));
    }

    [Fact]
    public void Constructor_NonPositiveAgeingOrNegativeMaxMacs_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => NewSwitch(new SwitchOptions { MacAgeing = TimeSpan.Zero }));
        Assert.Throws<ArgumentOutOfRangeException>(() => NewSwitch(new SwitchOptions { MaxMacs = -1 }));
    }
}
