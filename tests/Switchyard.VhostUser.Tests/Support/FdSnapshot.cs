// The process's descriptor table, for leak checks, and the test collection that makes them reliable.
//
// Theory of operation: /proc/self/fd lists every open descriptor with a link naming what it is. A
// snapshot before a test and one after it has disposed everything must agree on the kinds of
// descriptor a vhost-user back-end is handed or creates (eventfds, memfds, sockets, epoll instances);
// any extra one is a leak, reported with its number and target. Other kinds (files the runtime opens
// lazily) are ignored. Such a check is meaningless while other tests open and close descriptors, so
// every test class here joins one collection that xunit runs with parallelization disabled, as
// Switchyard.Native.Tests does for its descriptor-count tests.
namespace Switchyard.VhostUser.Tests.Support;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DescriptorTableCollection
{
    public const string Name = "vhost-user descriptor table";
}

internal sealed class FdSnapshot
{
    private static readonly string[] WatchedKinds = ["anon_inode:[eventfd]", "anon_inode:[eventpoll]", "socket:", "/memfd:"];

    private readonly Dictionary<int, string> open;

    private FdSnapshot(Dictionary<int, string> open) => this.open = open;

    public static FdSnapshot Take()
    {
        var open = new Dictionary<int, string>();
        foreach (string entry in Directory.GetFileSystemEntries("/proc/self/fd"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out int fd))
            {
                continue;
            }

            try
            {
                string? target = new FileInfo(entry).LinkTarget;
                if (target is not null && Array.Exists(WatchedKinds, kind => target.StartsWith(kind, StringComparison.Ordinal)))
                {
                    open[fd] = target;
                }
            }
            catch (IOException)
            {
                // Closed between listing and reading (the directory handle itself): not ours to judge.
            }
        }

        return new FdSnapshot(open);
    }

    /// <summary>What descriptor <paramref name="fd"/> refers to (its /proc/self/fd link), or null if it is not open.</summary>
    public static string? TargetOf(int fd)
    {
        try
        {
            return new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Asserts that no watched descriptor is open now that was not open at this snapshot.</summary>
    public void AssertNoneLeaked()
    {
        FdSnapshot now = Take();
        List<string> leaked = [];
        foreach ((int fd, string target) in now.open)
        {
            if (!open.TryGetValue(fd, out string? before) || before != target)
            {
                leaked.Add($"{fd} -> {target}");
            }
        }

        Assert.True(leaked.Count == 0, "descriptors leaked: " + string.Join(", ", leaked));
    }
}
