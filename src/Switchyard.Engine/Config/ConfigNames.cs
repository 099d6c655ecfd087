// The name rule for networks and ports.
//
// Theory of operation: a network or port name appears in messages, metrics labels, socket names and
// shell commands, so it is short and plain: [a-z0-9][a-z0-9_.-]{0,31}. CheckName takes untrusted text
// and returns the problem with a hint, or null; it never throws.
using Switchyard.Core.Config;

namespace Switchyard.Engine.Config;

internal static class ConfigNames
{
    public const string NameHint = "a name is 1 to 32 characters: lowercase letters, digits, '-', '_' or '.', starting with a letter or digit";

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
            return $"name {ConfigText.Quote(name)} is {name.Length} characters long ({NameHint})";
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
        return $"name {ConfigText.Quote(name)} is not valid ({NameHint}{hint})";
    }

    private static bool IsLowerAlnum(char c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9');
}
