// A strict reader of the Prometheus text exposition format 0.0.4, written from the format's
// description (prometheus.io, "Exposition formats"), for checking what /metrics serves. Stricter
// than Prometheus itself where Switchyard promises more: no blank lines, every family has HELP and
// TYPE before its samples, a family's samples are contiguous, counters end in _total and are never
// negative, and no series (name plus label set) appears twice.
using System.Globalization;
using System.Text;

namespace Switchyard.Web.Tests;

internal sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public string Label(string name) => Labels.TryGetValue(name, out string? v) ? v : string.Empty;
}

internal sealed class PrometheusText
{
    private PrometheusText(List<PrometheusSample> samples, Dictionary<string, string> types, Dictionary<string, string> help)
    {
        Samples = samples;
        Types = types;
        Help = help;
    }

    public IReadOnlyList<PrometheusSample> Samples { get; }

    /// <summary>Family name to "counter" or "gauge".</summary>
    public IReadOnlyDictionary<string, string> Types { get; }

    /// <summary>Family name to its (unescaped) HELP text.</summary>
    public IReadOnlyDictionary<string, string> Help { get; }

    public IEnumerable<PrometheusSample> Named(string name) => Samples.Where(s => s.Name == name);

    /// <summary>Parses <paramref name="text"/>; throws <see cref="FormatException"/> naming the line and the rule broken.</summary>
    public static PrometheusText Parse(string text)
    {
        if (text.Length > 0 && !text.EndsWith('\n'))
        {
            throw new FormatException("the text must end with a line feed");
        }

        var samples = new List<PrometheusSample>();
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        var help = new Dictionary<string, string>(StringComparer.Ordinal);
        var series = new HashSet<string>(StringComparer.Ordinal);
        var finished = new HashSet<string>(StringComparer.Ordinal);
        string? current = null;
        string[] lines = text.Split('\n');
        for (int i = 0; i < lines.Length - 1; i++)
        {
            string line = lines[i];
            int number = i + 1;
            FormatException Bad(string why) => new($"line {number}: {why}: {line}");
            if (line.Length == 0)
            {
                throw Bad("blank line");
            }

            if (line.StartsWith('#'))
            {
                string[] parts = line.Split(' ', 4);
                if (parts.Length >= 3 && parts[0] == "#" && parts[1] is "HELP" or "TYPE")
                {
                    string name = parts[2];
                    if (!IsMetricName(name))
                    {
                        throw Bad("invalid metric name");
                    }

                    if (finished.Contains(name) || (current == name && samples.Count > 0 && samples[^1].Name == name))
                    {
                        throw Bad($"{parts[1]} after samples of {name}");
                    }

                    if (parts[1] == "HELP")
                    {
                        if (!help.TryAdd(name, UnescapeHelp(parts.Length == 4 ? parts[3] : string.Empty, Bad)))
                        {
                            throw Bad("second HELP");
                        }
                    }
                    else
                    {
                        if (parts.Length != 4 || parts[3] is not ("counter" or "gauge" or "histogram" or "summary" or "untyped"))
                        {
                            throw Bad("TYPE needs one of counter, gauge, histogram, summary, untyped");
                        }

                        if (!types.TryAdd(name, parts[3]))
                        {
                            throw Bad("second TYPE");
                        }
                    }

                    if (current is not null && current != name)
                    {
                        finished.Add(current);
                    }

                    current = name;
                }

                continue; // Any other comment is allowed.
            }

            PrometheusSample sample = ParseSample(line, Bad);
            if (!types.TryGetValue(sample.Name, out string? type))
            {
                throw Bad("sample without a TYPE line before it");
            }

            if (type is not ("counter" or "gauge"))
            {
                throw Bad($"unexpected type {type}");
            }

            if (!help.ContainsKey(sample.Name))
            {
                throw Bad("sample without a HELP line before it");
            }

            if (finished.Contains(sample.Name) || current != sample.Name)
            {
                throw Bad("samples of a family must follow its TYPE line, together");
            }

            if (type == "counter")
            {
                if (!sample.Name.EndsWith("_total", StringComparison.Ordinal))
                {
                    throw Bad("a counter's name must end in _total");
                }

                if (sample.Value < 0 || double.IsNaN(sample.Value))
                {
                    throw Bad("a counter cannot be negative or NaN");
                }
            }

            string key = sample.Name + "{" + string.Join(",", sample.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key + "=" + l.Value)) + "}";
            if (!series.Add(key))
            {
                throw Bad("duplicate series");
            }

            samples.Add(sample);
        }

        return new PrometheusText(samples, types, help);
    }

    public static bool IsMetricName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] is '_' or ':') && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or ':');

    public static bool IsLabelName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] == '_') && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') && !name.StartsWith("__", StringComparison.Ordinal);

    private static PrometheusSample ParseSample(string line, Func<string, FormatException> bad)
    {
        int i = 0;
        while (i < line.Length && line[i] is not ('{' or ' '))
        {
            i++;
        }

        string name = line[..i];
        if (!IsMetricName(name))
        {
            throw bad("invalid metric name");
        }

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (true)
            {
                if (i < line.Length && line[i] == '}')
                {
                    i++;
                    break;
                }

                int start = i;
                while (i < line.Length && line[i] != '=')
                {
                    i++;
                }

                string labelName = line[start..i];
                if (!IsLabelName(labelName))
                {
                    throw bad($"invalid label name '{labelName}'");
                }

                if (i + 1 >= line.Length || line[i + 1] != '"')
                {
                    throw bad("a label value must be quoted");
                }

                i += 2;
                var value = new StringBuilder();
                while (true)
                {
                    if (i >= line.Length)
                    {
                        throw bad("unterminated label value");
                    }

                    char c = line[i++];
                    if (c == '"')
                    {
                        break;
                    }

                    if (c == '\\')
                    {
                        char next = i < line.Length ? line[i++] : throw bad("dangling backslash");
                        value.Append(next switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            _ => throw bad($"invalid escape \\{next} in a label value"),
                        });
                    }
                    else
                    {
                        value.Append(c);
                    }
                }

                if (!labels.TryAdd(labelName, value.ToString()))
                {
                    throw bad($"label {labelName} twice");
                }

                if (i < line.Length && line[i] == ',')
                {
                    i++;
                }
                else if (i >= line.Length || line[i] != '}')
                {
                    throw bad("expected , or } after a label");
                }
            }
        }

        if (i >= line.Length || line[i] != ' ')
        {
            throw bad("expected a space before the value");
        }

        string[] rest = line[(i + 1)..].Split(' ');
        if (rest.Length is < 1 or > 2)
        {
            throw bad("expected a value and an optional timestamp");
        }

        double parsed = rest[0] switch
        {
            "NaN" => double.NaN,
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            _ => double.TryParse(rest[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : throw bad($"'{rest[0]}' is not a number"),
        };
        if (rest.Length == 2 && !long.TryParse(rest[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
        {
            throw bad("the timestamp must be an integer (milliseconds)");
        }

        return new PrometheusSample(name, labels, parsed);
    }

    private static string UnescapeHelp(string text, Func<string, FormatException> bad)
    {
        var result = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\')
            {
                result.Append(text[i]);
                continue;
            }

            char next = ++i < text.Length ? text[i] : throw bad("dangling backslash in HELP");
            result.Append(next switch
            {
                '\\' => '\\',
                'n' => '\n',
                _ => throw bad($"invalid escape \\{next} in HELP"),
            });
        }

        return result.ToString();
    }
}
