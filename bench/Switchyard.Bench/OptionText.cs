// The argument readers every benchmark's options share: a value after its option, bounded whole
// numbers and seconds, and namespace name prefixes. Each bad value is a UsageException naming the option.
using System.Globalization;

namespace Switchyard.Bench;

internal static class OptionText
{
    /// <summary>The value after option <c>args[i]</c>; advances <paramref name="i"/> past it.</summary>
    public static string Value(IReadOnlyList<string> args, ref int i)
    {
        if (i + 1 >= args.Count)
        {
            throw new UsageException($"{args[i]} needs a value");
        }

        return args[++i];
    }

    public static int ParseInt(string option, string text, int min, int max)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
        {
            throw new UsageException($"{option} takes a whole number from {min} to {max}, not '{text}'");
        }

        return value;
    }

    public static double ParseSeconds(string option, string text, double min)
    {
        if (!double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) || value < min || value > 600)
        {
            throw new UsageException($"{option} takes seconds from {min} to 600, not '{text}'");
        }

        return value;
    }

    /// <summary>A namespace name prefix (at most 24 letters, digits or '-'; interface names do not derive from it).</summary>
    public static string ParseName(string option, string text) =>
        text.Length is > 0 and <= 24 && text.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')
            ? text
            : throw new UsageException($"{option} takes 1 to 24 letters, digits or '-', not '{text}'");
}
