// The reload planner: one test per kind of change, and the promise reload rests on: a port that is
// the same in both topologies is not in the plan at all.
using System.Collections.Immutable;
using Switchyard.Engine.Config;
using Switchyard.UserNet;

namespace Switchyard.Engine.Tests.Config;

public sealed class TopologyDiffTests
{
    private static readonly PortConfig P1 = Stream("p1", "/tmp/sy-diff-p1.sock");
    private static readonly PortConfig P2 = Stream("p2", "/tmp/sy-diff-p2.sock");
    private static readonly PortConfig P3 = Stream("p3", "/tmp/sy-diff-p3.sock");

    private static PortConfig Stream(string name, string path, VlanConfig? vlan = null) =>
        PortConfig.Create(name, $"stream,addr.type=unix,addr.path={path},server=on", vlan);

    private static ForwardRule Rule(string text) =>
        ForwardRuleParser.TryParse(text, out ForwardRule? rule, out string? error) ? rule : throw new ArgumentException(error);

    private static TopologyConfig Topology(params NetworkConfig[] networks) => new([.. networks]);

    private static NetworkConfig Lab(params PortConfig[] ports) => new("lab", [.. ports]);

    [Fact]
    public void Plan_SameTopology_IsEmpty()
    {
        TopologyConfig t = Topology(Lab(P1, P2) with { Gateway = GatewayOptions.Default });

        TopologyPlan plan = TopologyDiff.Plan(t, Topology(Lab(P1, P2) with { Gateway = GatewayOptions.Default }));

        Assert.True(plan.IsEmpty);
        Assert.Empty(plan.Describe());
    }

    [Fact]
    public void Plan_PortAddedAndRemoved_UnchangedPortIsNotInThePlan()
    {
        TopologyPlan plan = TopologyDiff.Plan(Topology(Lab(P1, P2)), Topology(Lab(P2, P3)));

        NetworkPlan lab = Assert.Single(plan.Networks);
        Assert.Equal(NetworkAction.Update, lab.Action);
        Assert.Collection(
            lab.Ports,
            c => Assert.Equal((PortAction.Add, "p3"), (c.Action, c.Name)),
            c => Assert.Equal((PortAction.Remove, "p1"), (c.Action, c.Name)));
        Assert.DoesNotContain(lab.Ports, c => c.Name == "p2");
        Assert.Equal("network lab: added port p3; removed port p1", lab.Describe());
    }

    [Fact]
    public void Plan_NetdevChanged_RecreatesThatPortOnly()
    {
        PortConfig moved = Stream("p1", "/tmp/sy-diff-elsewhere.sock");

        NetworkPlan lab = Assert.Single(TopologyDiff.Plan(Topology(Lab(P1, P2)), Topology(Lab(moved, P2))).Networks);

        PortChange change = Assert.Single(lab.Ports);
        Assert.Equal(PortAction.Recreate, change.Action);
        Assert.Same(P1, change.Old);
        Assert.Same(moved, change.New);
        Assert.Contains("netdev", change.Reason, StringComparison.Ordinal);
        Assert.Contains("sy-diff-elsewhere.sock", lab.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_VlanChanged_RecreatesThatPortOnly()
    {
        PortConfig tagged = Stream("p2", "/tmp/sy-diff-p2.sock", new AccessVlan(10));

        NetworkPlan lab = Assert.Single(TopologyDiff.Plan(Topology(Lab(P1, P2)), Topology(Lab(P1, tagged))).Networks);

        PortChange change = Assert.Single(lab.Ports);
        Assert.Equal((PortAction.Recreate, "p2"), (change.Action, change.Name));
        Assert.Equal("vlan access 1 -> access 10", change.Reason);
    }

    [Fact]
    public void Plan_NetworkAddedAndRemoved_OtherNetworkUntouched()
    {
        var old = Topology(Lab(P1), new NetworkConfig("gone", [P2]));
        var next = Topology(Lab(P1), new NetworkConfig("new", [P3]));

        TopologyPlan plan = TopologyDiff.Plan(old, next);

        Assert.Collection(
            plan.Networks,
            n => Assert.Equal(("gone", NetworkAction.Remove), (n.Name, n.Action)),
            n => Assert.Equal(("new", NetworkAction.Add), (n.Name, n.Action)));
        Assert.Equal(new[] { "network gone: removed (its ports were closed)", "network new: added (1 port)" }, plan.Describe());
    }

    [Theory]
    [InlineData(true, 300, 8192, "hub off -> on")]
    [InlineData(false, 60, 8192, "mac-ageing 300 s -> 60 s")]
    [InlineData(false, 300, 16, "max-macs 8192 -> 16")]
    public void Plan_SwitchSettingChanged_RecreatesTheNetwork(bool hub, int ageingSeconds, int maxMacs, string reason)
    {
        NetworkConfig next = Lab(P1) with { Hub = hub, MacAgeing = TimeSpan.FromSeconds(ageingSeconds), MaxMacs = maxMacs };

        NetworkPlan lab = Assert.Single(TopologyDiff.Plan(Topology(Lab(P1)), Topology(next)).Networks);

        Assert.Equal(NetworkAction.Recreate, lab.Action);
        Assert.Equal(reason, lab.Reason);
        Assert.Empty(lab.Ports);
    }

    [Fact]
    public void Plan_ForwardsAddedAndRemoved_GatewayKept()
    {
        GatewayOptions before = GatewayOptions.Default with { Forwards = [Rule("tcp::2222-:22"), Rule("udp::5353-:53")] };
        GatewayOptions after = GatewayOptions.Default with { Forwards = [Rule("udp::5353-:53"), Rule("tcp::8080-:80")] };

        NetworkPlan lab = Assert.Single(TopologyDiff.Plan(Topology(Lab(P1) with { Gateway = before }), Topology(Lab(P1) with { Gateway = after })).Networks);

        GatewayChange gateway = lab.Gateway!;
        Assert.Equal(GatewayAction.Forwards, gateway.Action);
        Assert.Equal(new[] { Rule("tcp::2222-:22") }, gateway.ForwardsRemoved);
        Assert.Equal(new[] { Rule("tcp::8080-:80") }, gateway.ForwardsAdded);
        Assert.Empty(lab.Ports);
        Assert.Equal("network lab: forward tcp::2222-:22 removed; forward tcp::8080-:80 added", lab.Describe());
    }

    [Fact]
    public void Plan_ForwardGuestSideChanged_RemovesThenAddsIt()
    {
        GatewayOptions before = GatewayOptions.Default with { Forwards = [Rule("tcp::2222-:22")] };
        GatewayOptions after = GatewayOptions.Default with { Forwards = [Rule("tcp::2222-:2022")] };

        GatewayChange gateway = Assert.Single(TopologyDiff.Plan(Topology(Lab() with { Gateway = before }), Topology(Lab() with { Gateway = after })).Networks).Gateway!;

        Assert.Equal(new[] { Rule("tcp::2222-:22") }, gateway.ForwardsRemoved);
        Assert.Equal(new[] { Rule("tcp::2222-:2022") }, gateway.ForwardsAdded);
    }

    [Fact]
    public void Plan_GatewayOptionChanged_RecreatesTheGatewayAndSaysWhich()
    {
        GatewayOptions after = GatewayOptions.Default with { Mtu = 1400 };

        NetworkPlan lab = Assert.Single(TopologyDiff.Plan(Topology(Lab(P1) with { Gateway = GatewayOptions.Default }), Topology(Lab(P1) with { Gateway = after })).Networks);

        Assert.Equal(GatewayAction.Recreate, lab.Gateway!.Action);
        Assert.Equal("options mtu 1500 -> 1400", lab.Gateway.Reason);
        Assert.Empty(lab.Ports);
        Assert.StartsWith("network lab: recreated gateway (options mtu 1500 -> 1400;", lab.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_GatewayAddedAndRemoved()
    {
        NetworkPlan added = Assert.Single(TopologyDiff.Plan(Topology(Lab(P1)), Topology(Lab(P1) with { Gateway = GatewayOptions.Default })).Networks);
        NetworkPlan removed = Assert.Single(TopologyDiff.Plan(Topology(Lab(P1) with { Gateway = GatewayOptions.Default }), Topology(Lab(P1))).Networks);

        Assert.Equal(GatewayAction.Add, added.Gateway!.Action);
        Assert.Equal("network lab: added gateway", added.Describe());
        Assert.Equal(GatewayAction.Remove, removed.Gateway!.Action);
        Assert.Equal("network lab: removed gateway", removed.Describe());
    }

    [Fact]
    public void Plan_PortsAndForwardsTogether_DescribedInOneLine()
    {
        GatewayOptions after = GatewayOptions.Default with { Forwards = [Rule("tcp::2222-:22")] };

        TopologyPlan plan = TopologyDiff.Plan(
            Topology(Lab(P1, P2) with { Gateway = GatewayOptions.Default }),
            Topology(Lab(P2, P3) with { Gateway = after }));

        Assert.Equal(new[] { "network lab: added port p3; removed port p1; forward tcp::2222-:22 added" }, plan.Describe());
    }

    [Fact]
    public void Plan_PortRenamed_IsARemoveAndAnAdd()
    {
        PortConfig renamed = Stream("p9", "/tmp/sy-diff-p1.sock");

        NetworkPlan lab = Assert.Single(TopologyDiff.Plan(Topology(Lab(P1)), Topology(Lab(renamed))).Networks);

        Assert.Equal(new[] { PortAction.Add, PortAction.Remove }, lab.Ports.Select(p => p.Action));
    }

    [Fact]
    public void Plan_FromPlainLists_WhatRunsNeedNotBeATopology()
    {
        TopologyPlan plan = TopologyDiff.Plan(ImmutableArray<NetworkConfig>.Empty, Topology(Lab(P1)).Networks);

        Assert.Equal(NetworkAction.Add, Assert.Single(plan.Networks).Action);
    }
}
