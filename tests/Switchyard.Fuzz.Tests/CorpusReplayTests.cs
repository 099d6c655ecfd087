// The fuzz corpus as regression tests: every input the fuzzer kept (fuzz/corpus/TARGET/, seeds, inputs that
// reached new code, and the reproducers of bugs it found) goes through the same target entry point the fuzzer
// calls, here without instrumentation or libFuzzer. A target throws only on a finding (an exception other than
// the code's documented typed rejection, or a broken promise it checks), so the rule is: nothing throws, and
// no input takes long enough to look like a hang.
using System.Diagnostics;
using Switchyard.Fuzz;

namespace Switchyard.Fuzz.Tests;

public sealed class CorpusReplayTests
{
    /// <summary>Far above any corpus input's run time (milliseconds): only a loop that does not end gets near it.</summary>
    private static readonly TimeSpan SlowInput = TimeSpan.FromSeconds(5);

    public static TheoryData<string> Targets()
    {
        var data = new TheoryData<string>();
        foreach (IFuzzTarget target in FuzzTargets.All)
        {
            data.Add(target.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Corpus_EveryInput_RunsWithoutFinding(string name)
    {
        IFuzzTarget target = FuzzTargets.Find(name)!;
        string directory = Path.Combine(RepoRoot(), "fuzz", "corpus", name);
        string[] files = Directory.Exists(directory) ? Directory.GetFiles(directory) : [];
        Assert.True(files.Length > 0, $"no corpus in {directory}: run fuzz/run.sh {name} SECONDS to make one");

        var failures = new List<string>();
        foreach (string file in files.Order(StringComparer.Ordinal))
        {
            var clock = Stopwatch.StartNew();
            try
            {
                target.Run(File.ReadAllBytes(file));
            }
            catch (Exception ex)
            {
                failures.Add($"{Path.GetFileName(file)}: {ex.GetType().Name}: {ex.Message}\n{ex.StackTrace}");
            }

            if (clock.Elapsed > SlowInput)
            {
                failures.Add($"{Path.GetFileName(file)}: took {clock.Elapsed.TotalSeconds:F1}s (a hang?)");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {files.Length} {name} inputs failed " +
            $"(replay one with: dotnet fuzz/.out/plain/Switchyard.Fuzz.dll {name} FILE):\n{string.Join("\n", failures)}");
    }

    [Fact]
    public void Targets_EveryOneHasACorpusFolder_AndNoFolderLacksATarget()
    {
        string corpus = Path.Combine(RepoRoot(), "fuzz", "corpus");
        string[] folders = [.. Directory.GetDirectories(corpus).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
        string[] names = [.. FuzzTargets.All.Select(t => t.Name).Order(StringComparer.Ordinal)];
        Assert.Equal(names, folders);
    }

    private static string RepoRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Switchyard.slnx")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException($"no Switchyard.slnx above {AppContext.BaseDirectory}");
    }
}
