// Small text rules shared by every configuration parser.
//
// Theory of operation: QEMU-style option lists and booleans, integer parsing that never throws, the "did you mean"
// suggestion for a misspelt key. Each function takes
// untrusted text and returns a value or null; none of them throws on bad input, so the callers can
// keep going and report every problem at once.
using System.Globalization;

namespace Switchyard.Core.Config;

/// <summary>Text rules every configuration parser shares (the netdev specs in Ports, the topology in Engine).</summary>
public static class ConfigText
{
    /// <summary>The spellings QEMU's option parser accepts for a boolean (qapi_bool_parse).</summary>
    public const string BooleanHint = "expected on or off; yes/no and true/false also work";

    /// <summary>on/off, yes/no, true/false (lowercase, as QEMU); null if none of these.</summary>
    public static bool? ParseBool(string text) => text switch
    {
        "on" or "yes" or "true" => true,
        "off" or "no" or "false" => false,
        _ => null,
    };

    public static string FormatBool(bool value) => value ? "on" : "off";

    /// <summary>A non-negative decimal integer without sign or spaces; null if not one or too large.</summary>
    public static int? ParseNonNegativeInt(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value : null;

    /// <summary>A decimal integer with an optional leading '-'; null if not one or out of int range.</summary>
    public static int? ParseInt(string text) =>
        int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value) ? value : null;

    /// <summary>Shows an untrusted value inside a message: quoted, control characters escaped, cut short.</summary>
    public static string Quote(string value)
    {
        const int Max = 64;
        var sb = new System.Text.StringBuilder(Math.Min(value.Length, Max) + 8);
        sb.Append('\'');
        for (int i = 0; i < value.Length; i++)
        {
            if (i == Max)
            {
                sb.Append("...");
                break;
            }

            char c = value[i];
            if (char.IsControl(c))
            {
                sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.Append('\'').ToString();
    }

    /// <summary>The candidate closest to <paramref name="wrong"/> if it is close enough to be a typo
    /// (at most one edit per three characters, at least one; a swap of neighbours or a change of case
    /// counts as one), else null.</summary>
    public static string? Suggest(string wrong, IEnumerable<string> candidates)
    {
        if (wrong.Length > 64)
        {
            return null; // Garbage, not a typo; also bounds the quadratic distance below.
        }

        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string candidate in candidates)
        {
            int distance = string.Equals(wrong, candidate, StringComparison.OrdinalIgnoreCase)
                ? (wrong == candidate ? 0 : 1)
                : EditDistance(wrong, candidate);
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }

        int allowed = Math.Max(1, wrong.Length / 3);
        return best is not null && bestDistance > 0 && bestDistance <= allowed ? best : null;
    }

    /// <summary>Edit distance counting insertions, deletions, substitutions and swaps of neighbouring
    /// characters (optimal string alignment), case-insensitive.</summary>
    public static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (int j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                char x = char.ToLowerInvariant(a[i - 1]);
                char y = char.ToLowerInvariant(b[j - 1]);
                int cost = x == y ? 0 : 1;
                int best = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && x == char.ToLowerInvariant(b[j - 2]) && char.ToLowerInvariant(a[i - 2]) == y)
                {
                    best = Math.Min(best, d[i - 2, j - 2] + 1);
                }

                d[i, j] = best;
            }
        }

        return d[a.Length, b.Length];
    }

    /// <summary>Splits QEMU option text (netdev and gateway specs) into items. A value ends at a single ','; ",," is a literal comma.
    /// A key ends at '=' or ','; an item without '=' has a null value.</summary>
    public static List<(string Key, string? Value)> SplitOptions(string text)
    {
        var items = new List<(string, string?)>();
        var value = new System.Text.StringBuilder();
        int i = 0;
        while (true)
        {
            int start = i;
            while (i < text.Length && text[i] != '=' && text[i] != ',')
            {
                i++;
            }

            string key = text[start..i];
            if (i == text.Length || text[i] == ',')
            {
                items.Add((key, null));
            }
            else
            {
                i++; // '='
                value.Clear();
                while (i < text.Length)
                {
                    if (text[i] == ',')
                    {
                        if (i + 1 < text.Length && text[i + 1] == ',')
                        {
                            value.Append(',');
                            i += 2;
                            continue;
                        }

                        break;
                    }

                    value.Append(text[i++]);
                }

                items.Add((key, value.ToString()));
            }

            if (i >= text.Length)
            {
                return items;
            }

            i++; // ','
        }
    }
}
