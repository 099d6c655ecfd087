// The stall rule (bench/Switchyard.Bench/StallRule.cs): a ratio over a run that moved (nearly) nothing is
// refused, a stalled run is left out and counted, and figures that did move give the plain ratio.
namespace Switchyard.Bench.Tests;

public class StallRuleTests
{
    [Fact]
    public void Floor_BestMedianSmall_IsTheAbsoluteFloor()
    {
        Assert.Equal(StallRule.FloorGbps, StallRule.Floor(2.0));
        Assert.Equal(StallRule.FloorGbps, StallRule.Floor(double.NaN));
    }

    [Fact]
    public void Floor_BestMedianLarge_IsOnePercentOfIt() => Assert.Equal(0.2, StallRule.Floor(20.0), 6);

    [Fact]
    public void RatioOfMedians_AnchorMovedNothing_RefusesTheRatio()
    {
        // nat-2026-11-22-0925.md, MTU 1500, guest -> host: Switchyard 8.70 (7.64-8.79), pasta 0.00 (0.00-0.05).
        double floor = StallRule.Floor(8.70);

        string cell = StallRule.RatioOfMedians([8.70, 8.79, 7.64], [0.05, 0.00, 0.00], floor, "switchyard", "pasta");

        Assert.StartsWith("anchor stalled — no ratio", cell, StringComparison.Ordinal);
        Assert.Contains("pasta: 3 of 3 runs", cell, StringComparison.Ordinal);
    }

    [Fact]
    public void RatioOfMedians_SwitchyardMovedNothing_RefusesTheRatio()
    {
        string cell = StallRule.RatioOfMedians([0.01, 0.00], [4.2, 4.4], StallRule.Floor(4.3), "switchyard", "pasta");

        Assert.StartsWith("switchyard stalled — no ratio", cell, StringComparison.Ordinal);
    }

    [Fact]
    public void RatioOfMedians_OneAnchorRunStalled_LeavesItOutAndSaysSo()
    {
        string cell = StallRule.RatioOfMedians([8.4, 8.4, 8.4], [4.0, 0.0, 4.4], StallRule.Floor(8.4), "switchyard", "pasta");

        Assert.Equal("2.00 (1 stalled run left out)", cell);
    }

    [Fact]
    public void RatioOfMedians_RunUnderOnePercentOfTheBest_CountsAsStalled()
    {
        // 0.08 Gbit/s is above the absolute floor but under 1 % of 10 Gbit/s.
        string cell = StallRule.RatioOfMedians([10.0], [0.08], StallRule.Floor(10.0), "switchyard", "slirp4netns");

        Assert.StartsWith("anchor stalled — no ratio", cell, StringComparison.Ordinal);
    }

    [Fact]
    public void RatioOfMedians_EveryRunMoved_GivesThePlainRatio() =>
        Assert.Equal("2.00", StallRule.RatioOfMedians([8.0, 9.0, 7.0], [4.0, 4.5, 3.5], StallRule.Floor(8.0), "switchyard", "pasta"));

    [Fact]
    public void RatioOfMedians_LatencyMeasure_NothingIsLeftOut() =>
        Assert.Equal("0.50", StallRule.RatioOfMedians([50.0], [100.0], double.NaN, "switchyard", "pasta"));

    [Fact]
    public void Paired_PairWithAStalledSide_IsLeftOutAndCounted()
    {
        string cell = StallRule.Paired([8.0, 8.0, 8.0], [4.0, 0.0, 4.0], StallRule.Floor(8.0));

        Assert.Equal("2.00 (2.00–2.00) (1 stalled pair left out)", cell);
    }

    [Fact]
    public void Paired_EveryPairStalled_RefusesTheRatio() =>
        Assert.Equal("stalled — no ratio", StallRule.Paired([8.7, 8.8], [0.0, 0.0], StallRule.Floor(8.7)));

    [Fact]
    public void Paired_FailedRun_IsSkippedNotCounted() =>
        Assert.Equal("2.00 (2.00–2.00)", StallRule.Paired([8.0, null], [4.0, 4.0], StallRule.Floor(8.0)));

    [Fact]
    public void IsStalled_HalfTheSecondsEmpty_CountsAsStalledAboveTheFloor()
    {
        // nat-2026-12-07.md, run 5, MTU 65520, pasta: 0.11 Gbit/s, 2 of 4 s moved nothing.
        var t = new Throughput(0.11, 109, 2, 0, 0, 0, 2);

        Assert.True(StallRule.IsStalled(t, StallRule.Floor(4.12), seconds: 4));
        Assert.False(StallRule.IsStalled(t with { StalledSeconds = 1 }, StallRule.Floor(4.12), seconds: 4));
    }

    [Fact]
    public void RatioOfMedians_MarkedFigures_LeaveTheStalledRunOut() =>
        Assert.Equal(
            "2.00 (1 stalled run left out)",
            StallRule.RatioOfMedians([new RunFigure(4.0, false)], [new RunFigure(2.0, false), new RunFigure(0.11, true)], "switchyard", "pasta"));
}
