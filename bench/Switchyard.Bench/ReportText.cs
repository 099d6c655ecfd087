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

    /// <summary>The retransmits the iperf3 sender counted.</summary>
    public static string Retr(Throughput? t) => t is null || t.Retransmits < 0 ? "-" : t.Retransmits.ToString(CultureInfo.InvariantCulture);

    /// <summary>Measured seconds in which nothing arrived.</summary>
    public static string Stalled(Throughput? t) => t is null ? "-" : t.StalledSeconds.ToString(CultureInfo.InvariantCulture);

    /// <summary>"daemon / client / server / rest" CPUs over the iperf3 window.</summary>
    public static string CpuSet(Throughput? t) => t is null ? "-" : $"{Cpu(t.DaemonCpu)} / {Cpu(t.ClientCpu)} / {Cpu(t.ServerCpu)} / {Cpu(t.RestCpu)}";
}
