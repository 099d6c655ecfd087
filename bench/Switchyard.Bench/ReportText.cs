// Number formats the namespace benchmarks' reports share (invariant culture; "-" for a missing value).
using System.Globalization;

namespace Switchyard.Bench;

internal static class ReportText
{
    public static string Inv(FormattableString s) => FormattableString.Invariant(s);

    public static string Gbps(Throughput? t) => t is null ? "-" : t.Gbps.ToString("F2", CultureInfo.InvariantCulture);

    public static string Cpu(double? cpus) => cpus is double c && !double.IsNaN(c) ? c.ToString("F2", CultureInfo.InvariantCulture) : "-";

    public static string Us(double? us) => us is double u && !double.IsNaN(u) ? u.ToString("F0", CultureInfo.InvariantCulture) : "-";

    public static string F2(double v) => v.ToString("F2", CultureInfo.InvariantCulture);

    public static string F0(double v) => v.ToString("F0", CultureInfo.InvariantCulture);
}
