// A writer of the Prometheus text exposition format, version 0.0.4.
//
// Theory of operation: a metric family is opened with its # HELP and # TYPE lines, and its samples
// follow before the next family starts (the format wants each family's samples together). Names
// are checked against [a-zA-Z_:][a-zA-Z0-9_:]*, label names against [a-zA-Z_][a-zA-Z0-9_]*; label
// values escape backslash, double quote and newline, HELP text backslash and newline (the format's
// only escapes). A family name may appear once, and a counter's name ends in _total. Breaking one of
// these is our bug, not the user's, so it throws. This runs per scrape, not per packet: it allocates
// freely.
using System.Globalization;
using System.Text;

namespace Switchyard.Web;

internal enum MetricType
{
    Counter,
    Gauge,
}

internal sealed class PrometheusWriter
{
    /// <summary>The Content-Type of this format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder text = new(16 * 1024);
    private readonly HashSet<string> families = new(StringComparer.Ordinal);
    private string? family;

    /// <summary>Starts a metric family: writes its HELP and TYPE lines.</summary>
    public void Family(string name, MetricType type, string help)
    {
        if (!IsMetricName(name))
        {
            throw new ArgumentException($"'{name}' is not a valid metric name", nameof(name));
        }

        if (type == MetricType.Counter && !name.EndsWith("_total", StringComparison.Ordinal))
        {
            throw new ArgumentException($"counter '{name}' must end in _total", nameof(name));
        }

        if (!families.Add(name))
        {
            throw new InvalidOperationException($"metric family '{name}' written twice");
        }

        family = name;
        text.Append("# HELP ").Append(name).Append(' ');
        foreach (char c in help)
        {
            _ = c switch
            {
                '\\' => text.Append(@"\\"),
                '\n' => text.Append(@"\n"),
                _ => text.Append(c),
            };
        }

        text.Append('\n').Append("# TYPE ").Append(name).Append(' ').Append(type == MetricType.Counter ? "counter" : "gauge").Append('\n');
    }

    /// <summary>One sample of the current family.</summary>
    public void Sample(long value, params ReadOnlySpan<(string Name, string Value)> labels) =>
        Sample(value.ToString(CultureInfo.InvariantCulture), labels);

    /// <summary>One sample of the current family.</summary>
    public void Sample(double value, params ReadOnlySpan<(string Name, string Value)> labels) =>
        Sample(FormatDouble(value), labels);

    public override string ToString() => text.ToString();

    public static bool IsMetricName(string name) => IsName(name, colons: true);

    public static bool IsLabelName(string name) => IsName(name, colons: false) && !name.StartsWith("__", StringComparison.Ordinal);

    public static string FormatDouble(double value) =>
        double.IsNaN(value) ? "NaN"
        : double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : value.ToString("R", CultureInfo.InvariantCulture);

    private void Sample(string value, ReadOnlySpan<(string Name, string Value)> labels)
    {
        if (family is null)
        {
            throw new InvalidOperationException("a sample needs a family first");
        }

        text.Append(family);
        if (labels.Length > 0)
        {
            text.Append('{');
            for (int i = 0; i < labels.Length; i++)
            {
                (string name, string labelValue) = labels[i];
                if (!IsLabelName(name))
                {
                    throw new ArgumentException($"'{name}' is not a valid label name", nameof(labels));
                }

                if (i > 0)
                {
                    text.Append(',');
                }

                text.Append(name).Append("=\"");
                foreach (char c in labelValue)
                {
                    _ = c switch
                    {
                        '\\' => text.Append(@"\\"),
                        '"' => text.Append("\\\""),
                        '\n' => text.Append(@"\n"),
                        _ => text.Append(c),
                    };
                }

                text.Append('"');
            }

            text.Append('}');
        }

        text.Append(' ').Append(value).Append('\n');
    }

    private static bool IsName(string name, bool colons)
    {
        if (string.IsNullOrEmpty(name))
        {
            return false;
        }

        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            bool ok = char.IsAsciiLetter(c) || c == '_' || (colons && c == ':') || (i > 0 && char.IsAsciiDigit(c));
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }
}
