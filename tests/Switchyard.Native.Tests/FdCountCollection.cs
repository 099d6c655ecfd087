// Tests that look at this process's whole descriptor table (counts, reused numbers) must not run while
// other tests open and close descriptors, so they share one collection that xunit runs on its own.
namespace Switchyard.Native.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FdCountCollection
{
    public const string Name = "descriptor table";

    /// <summary>Open descriptors of this process, from /proc/self/fd.</summary>
    public static int OpenDescriptorCount() => Directory.GetFileSystemEntries("/proc/self/fd").Length;
}
