// When a throughput run counts: the refusal to divide by a run that moved (nearly) nothing.
//
// A tool that moved 0.00 Gbit/s did not lose a race; the run measured a stall (a harness fault, a
// daemon waiting on retransmission timeouts, a CPU it never got), and a ratio over it is a division by
// noise: nat-2026-11-22-0925.md printed "3962×" over pasta's stalled guest -> host runs. So a run under
// the floor (an absolute 0.05 Gbit/s, or 1 % of the best tool's median in the same row, whichever is
// higher), or one in which half or more of the measured seconds moved nothing at all (a connection
// waiting on retransmission timeouts), is invalid for that measure: it is named in the report, left out
// of medians and ratios, and a ratio whose side has no valid run left is refused. The rule is the same
// for Switchyard's runs.
using System.Globalization;

namespace Switchyard.Bench;

/// <summary>One run's figure of a measure, and whether the run stalled (then it does not count).</summary>
internal readonly record struct RunFigure(double Value, bool Stalled);

internal static class StallRule
{
    /// <summary>Below this a run moved nothing worth dividing by, whatever the others did.</summary>
    public const double FloorGbps = 0.05;

    /// <summary>Below this share of the best tool's median a run stalled rather than ran slowly.</summary>
    public const double FloorShare = 0.01;

    /// <summary>The floor for a row whose best tool's median is <paramref name="best"/> (NaN: none).</summary>
    public static double Floor(double best) => double.IsNaN(best) ? FloorGbps : Math.Max(FloorGbps, FloorShare * best);

    public static bool IsStalled(double gbps, double floor) => double.IsNaN(gbps) || gbps < floor;

    /// <summary>Under the floor, or half or more of <paramref name="seconds"/> measured seconds moved nothing.</summary>
    public static bool IsStalled(Throughput t, double floor, double seconds) =>
        IsStalled(t.Gbps, floor) || t.StalledSeconds * 2 >= seconds;

    /// <summary>Plain figures marked against <paramref name="floor"/> (NaN: none is stalled).</summary>
    public static List<RunFigure> Mark(IReadOnlyList<double> values, double floor) =>
        values.Select(v => new RunFigure(v, !double.IsNaN(floor) && IsStalled(v, floor))).ToList();

    public static string RatioOfMedians(IReadOnlyList<double> a, IReadOnlyList<double> b, double floor, string nameA, string nameB) =>
        RatioOfMedians(Mark(a, floor), Mark(b, floor), nameA, nameB);

    public static string Paired(IReadOnlyList<double?> a, IReadOnlyList<double?> b, double floor) =>
        Paired(
            a.Select(v => v is double x ? new RunFigure(x, !double.IsNaN(floor) && IsStalled(x, floor)) : (RunFigure?)null).ToList(),
            b.Select(v => v is double y ? new RunFigure(y, !double.IsNaN(floor) && IsStalled(y, floor)) : (RunFigure?)null).ToList());

    /// <summary>The ratio of medians of the valid runs of <paramref name="a"/> over those of
    /// <paramref name="b"/> (each list: every completed run's figure), or why there is none.</summary>
    public static string RatioOfMedians(IReadOnlyList<RunFigure> a, IReadOnlyList<RunFigure> b, string nameA, string nameB)
    {
        List<double> va = Valid(a);
        List<double> vb = Valid(b);
        if (b.Count > 0 && vb.Count == 0)
        {
            return $"anchor stalled — no ratio ({nameB}: {Stalls(b)})";
        }

        if (a.Count > 0 && va.Count == 0)
        {
            return $"{nameA} stalled — no ratio ({nameA}: {Stalls(a)})";
        }

        double ma = Report.Median(va);
        double mb = Report.Median(vb);
        if (double.IsNaN(ma) || double.IsNaN(mb) || mb == 0)
        {
            return "-";
        }

        string ratio = (ma / mb).ToString("F2", CultureInfo.InvariantCulture);
        int leftOut = a.Count - va.Count + b.Count - vb.Count;
        return leftOut == 0 ? ratio : string.Create(CultureInfo.InvariantCulture, $"{ratio} ({leftOut} stalled run{(leftOut == 1 ? string.Empty : "s")} left out)");
    }

    /// <summary>The median (min–max) of the per-run ratios <paramref name="a"/>[i] / <paramref name="b"/>[i]
    /// (null: that run failed), pairs with a stalled side left out and counted.</summary>
    public static string Paired(IReadOnlyList<RunFigure?> a, IReadOnlyList<RunFigure?> b)
    {
        var ratios = new List<double>();
        int stalled = 0;
        for (int i = 0; i < Math.Min(a.Count, b.Count); i++)
        {
            if (a[i] is not RunFigure x || b[i] is not RunFigure y)
            {
                continue;
            }

            if (x.Stalled || y.Stalled)
            {
                stalled++;
                continue;
            }

            if (y.Value != 0)
            {
                ratios.Add(x.Value / y.Value);
            }
        }

        if (ratios.Count == 0 && stalled > 0)
        {
            return "stalled — no ratio";
        }

        string spread = Report.Spread(ratios, v => v.ToString("F2", CultureInfo.InvariantCulture));
        return stalled == 0 ? spread : string.Create(CultureInfo.InvariantCulture, $"{spread} ({stalled} stalled pair{(stalled == 1 ? string.Empty : "s")} left out)");
    }

    /// <summary>The figures of the runs that did not stall.</summary>
    public static List<double> Valid(IReadOnlyList<RunFigure> figures) => figures.Where(f => !f.Stalled).Select(f => f.Value).ToList();

    private static string Stalls(IReadOnlyList<RunFigure> figures) =>
        string.Create(CultureInfo.InvariantCulture, $"{figures.Count(f => f.Stalled)} of {figures.Count} runs stalled");
}
