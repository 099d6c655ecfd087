// When a throughput run counts: the refusal to divide by a run that moved (nearly) nothing.
//
// A tool that moved 0.00 Gbit/s did not lose a race; the run measured a stall (a harness fault, a
// daemon waiting on retransmission timeouts, a CPU it never got), and a ratio over it is a division by
// noise: nat-2026-11-22-0925.md printed "3962×" over pasta's stalled guest -> host runs. So a run under
// the floor (an absolute 0.05 Gbit/s, or 1 % of the best tool's median in the same row, whichever is
// higher) is invalid for that measure: it is named in the report, left out of medians and ratios, and
// a ratio whose side has no valid run left is refused. The rule is the same for Switchyard's runs.
using System.Globalization;

namespace Switchyard.Bench;

internal static class StallRule
{
    /// <summary>Below this a run moved nothing worth dividing by, whatever the others did.</summary>
    public const double FloorGbps = 0.05;

    /// <summary>Below this share of the best tool's median a run stalled rather than ran slowly.</summary>
    public const double FloorShare = 0.01;

    /// <summary>The floor for a row whose best tool's median is <paramref name="best"/> (NaN: none).</summary>
    public static double Floor(double best) => double.IsNaN(best) ? FloorGbps : Math.Max(FloorGbps, FloorShare * best);

    public static bool IsStalled(double gbps, double floor) => double.IsNaN(gbps) || gbps < floor;

    /// <summary>The ratio of medians of the valid runs of <paramref name="a"/> over those of
    /// <paramref name="b"/> (each list: every run's figure), or why there is none. <paramref name="floor"/>
    /// NaN: not a throughput measure, nothing is left out.</summary>
    public static string RatioOfMedians(IReadOnlyList<double> a, IReadOnlyList<double> b, double floor, string nameA, string nameB)
    {
        List<double> va = Valid(a, floor);
        List<double> vb = Valid(b, floor);
        if (b.Count > 0 && vb.Count == 0)
        {
            return $"anchor stalled — no ratio ({nameB}: {Stalls(b, floor)})";
        }

        if (a.Count > 0 && va.Count == 0)
        {
            return $"{nameA} stalled — no ratio ({nameA}: {Stalls(a, floor)})";
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
    public static string Paired(IReadOnlyList<double?> a, IReadOnlyList<double?> b, double floor)
    {
        var ratios = new List<double>();
        int stalled = 0;
        for (int i = 0; i < Math.Min(a.Count, b.Count); i++)
        {
            if (a[i] is not double x || b[i] is not double y)
            {
                continue;
            }

            if (!double.IsNaN(floor) && (IsStalled(x, floor) || IsStalled(y, floor)))
            {
                stalled++;
                continue;
            }

            if (y != 0)
            {
                ratios.Add(x / y);
            }
        }

        if (ratios.Count == 0 && stalled > 0)
        {
            return "stalled — no ratio";
        }

        string spread = Report.Spread(ratios, v => v.ToString("F2", CultureInfo.InvariantCulture));
        return stalled == 0 ? spread : string.Create(CultureInfo.InvariantCulture, $"{spread} ({stalled} stalled pair{(stalled == 1 ? string.Empty : "s")} left out)");
    }

    /// <summary>The figures at or above <paramref name="floor"/> (all of them when it is NaN).</summary>
    public static List<double> Valid(IReadOnlyList<double> values, double floor) =>
        double.IsNaN(floor) ? [.. values] : values.Where(v => !IsStalled(v, floor)).ToList();

    private static string Stalls(IReadOnlyList<double> values, double floor) =>
        string.Create(CultureInfo.InvariantCulture, $"{values.Count(v => IsStalled(v, floor))} of {values.Count} runs under {floor:F2} Gbit/s");
}
