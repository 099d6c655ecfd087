using Xunit;

namespace Switchyard.TestKit;

/// <summary>A fact that needs an effective uid of 0 (tap devices, network namespaces); skipped otherwise.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class RequiresRootFactAttribute : FactAttribute
{
    public RequiresRootFactAttribute()
    {
        if (!Privileges.IsRoot)
            Skip = "needs root (effective uid 0)";
    }
}

/// <summary>The process's privileges, read from /proc/self/status (no P/Invoke).</summary>
public static class Privileges
{
    private static readonly Lazy<bool> Root = new(ReadIsRoot);

    /// <summary>True when the effective uid is 0.</summary>
    public static bool IsRoot => Root.Value;

    private static bool ReadIsRoot()
    {
        try
        {
            // "Uid:\treal\teffective\tsaved\tfs"
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith("Uid:", StringComparison.Ordinal))
                    continue;
                string[] fields = line.Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
                return fields.Length > 2 && fields[2] == "0";
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return string.Equals(Environment.UserName, "root", StringComparison.Ordinal);
    }
}
