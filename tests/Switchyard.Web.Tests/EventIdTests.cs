// Log event ids are stable and unique (STYLE.md: `[LoggerMessage]` with stable event ids): an operator filters
// on them, so two messages must never share one. This project references every Switchyard assembly (through
// Web and Engine), so it scans them all; each port kind, loop and service keeps its own block of ids.
using System.Reflection;
using Microsoft.Extensions.Logging;

namespace Switchyard.Web.Tests;

public class EventIdTests
{
    [Fact]
    public void LoggerMessages_InEverySwitchyardAssembly_HaveDistinctEventIds()
    {
        var seen = new Dictionary<int, string>();
        var duplicates = new List<string>();
        int assemblies = 0;
        foreach (Assembly assembly in SwitchyardAssemblies())
        {
            assemblies++;
            foreach (Type type in assembly.GetTypes())
            {
                foreach (MethodInfo method in type.GetMethods(BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                {
                    if (method.GetCustomAttribute<LoggerMessageAttribute>() is not { } log || log.EventId < 0)
                    {
                        continue;
                    }

                    string where = $"{type.FullName}.{method.Name}";
                    if (!seen.TryAdd(log.EventId, where))
                    {
                        duplicates.Add($"EventId {log.EventId}: {seen[log.EventId]} and {where}");
                    }
                }
            }
        }

        Assert.True(assemblies >= 10, $"only {assemblies} Switchyard assemblies found next to the tests");
        Assert.True(seen.Count > 20, $"only {seen.Count} [LoggerMessage] methods found");
        Assert.Empty(duplicates);
    }

    /// <summary>The product assemblies (not tests, not the test kit) next to this test assembly.</summary>
    private static IEnumerable<Assembly> SwitchyardAssemblies()
    {
        foreach (string path in Directory.EnumerateFiles(AppContext.BaseDirectory, "Switchyard.*.dll"))
        {
            string name = Path.GetFileNameWithoutExtension(path);
            if (name.EndsWith(".Tests", StringComparison.Ordinal) || name == "Switchyard.TestKit")
            {
                continue;
            }

            yield return Assembly.Load(new AssemblyName(name));
        }
    }
}
