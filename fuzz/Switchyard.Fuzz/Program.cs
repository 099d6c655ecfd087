// The fuzz host. Three ways to run it:
//   Switchyard.Fuzz TARGET             under fuzz/run.sh's libFuzzer bridge: SharpFuzz's persistent loop
//   Switchyard.Fuzz TARGET FILE...     replays inputs (a crash file, a corpus) and prints what each did
//   Switchyard.Fuzz --seeds DIR ROOT   writes the seed corpora, built from valid inputs, under DIR/TARGET/
using Switchyard.Fuzz;

if (args.Length >= 1 && args[0] == "--seeds")
{
    if (args.Length != 3)
    {
        Console.Error.WriteLine("usage: Switchyard.Fuzz --seeds OUTPUT-DIR REPO-ROOT");
        return 2;
    }

    Seeds.WriteAll(args[1], args[2]);
    return 0;
}

IFuzzTarget? target = args.Length >= 1 ? FuzzTargets.Find(args[0]) : null;
if (target is null)
{
    Console.Error.WriteLine($"usage: Switchyard.Fuzz TARGET [FILE...]; targets: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
    return 2;
}

if (args.Length == 1 && Environment.GetEnvironmentVariable("__LIBFUZZER_SHM_ID") is not null)
{
    SharpFuzz.Fuzzer.LibFuzzer.Run(target.Run);
    return 0;
}

int failed = 0;
foreach (string path in args.Skip(1).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p) : [p]))
{
    try
    {
        target.Run(File.ReadAllBytes(path));
    }
    catch (Exception ex)
    {
        failed++;
        Console.Error.WriteLine($"{path}: {ex}");
    }
}

Console.WriteLine($"{target.Name}: {failed} of the inputs failed");
return failed == 0 ? 0 : 1;
