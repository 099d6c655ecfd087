// The scenario options' one parsing loop (bench/Switchyard.Bench/ScenarioOptions.cs): shared options,
// a scenario's own options and tool names, in any order; defaults from the scenario.
namespace Switchyard.Bench.Tests;

public class ScenarioOptionsTests
{
    [Fact]
    public void Parse_NoArguments_TakesTheScenarioDefaults()
    {
        NatOptions nat = NatOptions.Parse([])!;
        L2Options l2 = L2Options.Parse([])!;

        Assert.Equal([NatTool.Switchyard, NatTool.Pasta, NatTool.Slirp4netns], nat.Tools);
        Assert.Equal(3, nat.Runs);
        Assert.Equal(10000, nat.GuestQueueLength);
        Assert.Equal(5, l2.Runs);
        Assert.Equal([L2Tool.Switchyard, L2Tool.Bridge, L2Tool.Vde], l2.Tools);
    }

    [Fact]
    public void Parse_Baseline_OnlyWhenAsked_WithItsBinary()
    {
        L2Options o = L2Options.Parse(["--tools", "switchyard,baseline", "--baseline-bin", "/tmp/old/switchyard"])!;

        Assert.Equal([L2Tool.Switchyard, L2Tool.Baseline], o.Tools);
        Assert.Equal("/tmp/old/switchyard", o.BaselineBin);
        Assert.DoesNotContain(L2Tool.Baseline, L2Options.Parse([])!.Tools);
    }

    [Fact]
    public void Parse_SharedAndOwnOptionsMixed_AppliesBoth()
    {
        NatOptions o = NatOptions.Parse(["--runs", "5", "--mtus", "1500", "--tools", "passt,switchyard", "--guest-txqueuelen", "0", "--seconds", "4"])!;

        Assert.Equal(5, o.Runs);
        Assert.Equal([1500], o.Mtus);
        Assert.Equal([NatTool.Pasta, NatTool.Switchyard], o.Tools);
        Assert.Equal(0, o.GuestQueueLength);
        Assert.Equal(4, o.Seconds);
    }

    [Fact]
    public void Parse_AnotherScenariosOption_IsRejected() =>
        Assert.Throws<UsageException>(() => L2Options.Parse(["--mtus", "1500"]));

    [Fact]
    public void Parse_UnknownTool_IsRejectedWithTheKnownOnes()
    {
        UsageException e = Assert.Throws<UsageException>(() => L2Options.Parse(["--tools", "ovs"]));

        Assert.Contains("switchyard, linux-bridge, vde_switch", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Help_ReturnsNull() => Assert.Null(NatOptions.Parse(["--runs", "2", "-h"]));

    [Fact]
    public void Name_EveryTool_HasOne()
    {
        var nat = new NatOptions();
        foreach (NatTool tool in Enum.GetValues<NatTool>())
        {
            Assert.NotEmpty(nat.Name(tool));
        }

        var l2 = new L2Options();
        foreach (L2Tool tool in Enum.GetValues<L2Tool>())
        {
            Assert.NotEmpty(l2.Name(tool));
        }
    }
}
