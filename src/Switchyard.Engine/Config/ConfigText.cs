// Small text rules shared by every configuration parser.
//
// Theory of operation: QEMU-style booleans, integer parsing that never throws, the "did you mean"
// suggestion for a misspelt key, and the name rule for networks and ports. Each function takes
// untrusted text and returns a value or null; none of them throws on bad input, so the callers can
// keep going and report every problem at once.
using System.Globalization;

namespace Switchyard.Engine.Config;

internal static class ConfigText
{
    /// <summary>The spellings QEMU's option parser accepts for a boolean (qapi_bool_parse).</summary>
    public const string BooleanHint = "expected on or off; yes/no and true/false also work";

    public const string NameHint = "a name is 1 to 32 characters: lowercase letters, digits, '-', '_' or '.', starting with a letter or digit";

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

    /// <summary>Null if <paramref name="name"/> follows the name rule ([a-z0-9][a-z0-9_.-]{0,31}),
    /// else the problem with a hint.</summary>
    public static string? CheckName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return $"a name is required ({NameHint})";
        }

        if (name.Length > Defaults.MaxNameLength)
        {
            return $"name {Quote(name)} is {name.Length} characters long ({NameHint})";
        }

        bool ok = IsLowerAlnum(name[0]);
        for (int i = 1; ok && i < name.Length; i++)
        {
            char c = name[i];
            ok = IsLowerAlnum(c) || c is '-' or '_' or '.';
        }

        if (ok)
        {
            return null;
        }

        string lower = name.ToLowerInvariant();
        string hint = lower != name && CheckName(lower) is null ? $"; did you mean '{lower}'?" : string.Empty;
        return $"name {Quote(name)} is not valid ({NameHint}{hint})";
    }

    private static bool IsLowerAlnum(char c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9');
}
