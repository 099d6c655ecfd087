// The layering of docs/architecture.md, checked on the compiled assemblies: which Switchyard assembly may
// reference which, and that only Switchyard.Native holds unsafe code. A reference that breaks the table
// fails here, so the layering holds by itself instead of by review.
using System.Reflection;
using System.Security;
using Switchyard.TestKit.Qemu;

namespace Switchyard.Engine.Tests;

public class ArchitectureTests
{
    /// <summary>Each product assembly and the Switchyard assemblies it may reference directly (the table in
    /// docs/architecture.md). Dependencies point down only.</summary>
    private static readonly Dictionary<string, string[]> MayUse = new()
    {
        ["Switchyard.Core"] = [],
        ["Switchyard.Native"] = ["Core"],
        ["Switchyard.Protocols"] = ["Core"],
        ["Switchyard.Virtio"] = ["Core"],
        ["Switchyard.VhostUser"] = ["Core", "Native", "Virtio"],
        ["Switchyard.Switching"] = ["Core", "Protocols"],
        ["Switchyard.UserNet"] = ["Core", "Protocols"],
        ["Switchyard.Ports"] = ["Core", "Native", "Protocols", "Virtio", "VhostUser", "Switching", "UserNet"],
        ["Switchyard.Engine"] = ["Core", "Native", "Protocols", "Virtio", "VhostUser", "Switching", "UserNet", "Ports"],
        ["Switchyard.Web"] = ["Core", "Native", "Protocols", "Virtio", "VhostUser", "Switching", "UserNet", "Ports", "Engine"],
        ["Switchyard.Cli"] = ["Core", "Native", "Protocols", "Virtio", "VhostUser", "Switching", "UserNet", "Ports", "Engine", "Web"],
    };

    public static TheoryData<string> Assemblies => new(MayUse.Keys);

    // The CLI project builds the executable "switchyard".
    private static Assembly Load(string name) => Assembly.Load(new AssemblyName(name == "Switchyard.Cli" ? "switchyard" : name));

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void References_FollowTheLayerTable(string name)
    {
        var allowed = MayUse[name].Select(layer => "Switchyard." + layer).ToHashSet();
        string[] actual = Load(name).GetReferencedAssemblies()
            .Select(a => a.Name!)
            .Where(n => n.StartsWith("Switchyard.", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToArray();
        string[] forbidden = actual.Where(n => !allowed.Contains(n)).ToArray();
        Assert.True(forbidden.Length == 0, $"{name} references {string.Join(", ", forbidden)}, which the layer table does not allow (it may use: {string.Join(", ", allowed.Order())})");
    }

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void UnsafeCode_OnlyInNative(string name)
    {
        // The C# compiler marks a module built with AllowUnsafeBlocks with [module: UnverifiableCode].
        bool unsafeCode = Load(name).Modules.Any(m => m.IsDefined(typeof(UnverifiableCodeAttribute), false));
        Assert.Equal(name == "Switchyard.Native", unsafeCode);
    }

    [Fact]
    public void PureLayers_MakeNoSyscalls()
    {
        // Protocols, Switching and UserNet are testable with byte arrays: no P/Invoke of their own.
        foreach (string name in new[] { "Switchyard.Protocols", "Switchyard.Switching", "Switchyard.UserNet", "Switchyard.Virtio" })
        {
            MethodInfo[] imports = Load(name).GetTypes()
                .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly))
                .Where(m => (m.Attributes & MethodAttributes.PinvokeImpl) != 0)
                .ToArray();
            Assert.True(imports.Length == 0, $"{name} declares P/Invoke methods: {string.Join(", ", imports.Select(m => m.DeclaringType + "." + m.Name))}");
        }
    }

    [Fact]
    public void Table_CoversEveryProductAssembly()
    {
        // A new project under src/ must be placed in the table before it can ship.
        string src = Path.Combine(GuestImage.FindRepositoryRoot(AppContext.BaseDirectory)!, "src");
        string[] projects = Directory.GetDirectories(src).Select(Path.GetFileName).Where(n => n!.StartsWith("Switchyard.", StringComparison.Ordinal)).Select(n => n!).Order().ToArray();
        Assert.Equal(projects, MayUse.Keys.Order().ToArray());
    }

    [Fact]
    public void ArchitectureDoc_NamesEveryLayer_AndOnlyPathsThatExist()
    {
        // docs/architecture.md is how a newcomer finds their way: it must keep up when things move.
        string root = GuestImage.FindRepositoryRoot(AppContext.BaseDirectory)!;
        string doc = File.ReadAllText(Path.Combine(root, "docs", "architecture.md"));
        foreach (string name in MayUse.Keys)
        {
            Assert.Contains($"| {name} |", doc, StringComparison.Ordinal);
        }

        var missing = new List<string>();
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(doc, @"`((?:src|tests|docs|bench|fuzz)/[A-Za-z0-9_./-]+?)/?`"))
        {
            string path = m.Groups[1].Value;
            if (!path.Contains('<', StringComparison.Ordinal) && !File.Exists(Path.Combine(root, path)) && !Directory.Exists(Path.Combine(root, path)))
            {
                missing.Add(path);
            }
        }

        // Paths inside a project, written from the layer down: `Ports/Netdev/NetdevSpec.cs`, `Engine/Loop/EpollLoop`.
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(doc, @"`((Core|Native|Protocols|Virtio|VhostUser|Switching|UserNet|Ports|Engine|Web|Cli)/[A-Za-z0-9_./-]+?)/?`"))
        {
            string path = Path.Combine(root, "src", "Switchyard." + m.Groups[1].Value);
            if (!File.Exists(path) && !File.Exists(path + ".cs") && !Directory.Exists(path))
            {
                missing.Add(m.Groups[1].Value);
            }
        }

        Assert.True(missing.Count == 0, $"docs/architecture.md names paths that do not exist: {string.Join(", ", missing)}");
    }
}
