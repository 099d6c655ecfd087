// The contract every fuzz target keeps: Run feeds one input to the code under test and returns normally
// whenever that code answered with a status or one of its documented typed rejections. Anything that
// escapes Run (another exception type, a broken invariant the target checks after the call) is a finding.
namespace Switchyard.Fuzz;

public interface IFuzzTarget
{
    /// <summary>The name fuzz/run.sh and the corpus folder use.</summary>
    string Name { get; }

    void Run(ReadOnlySpan<byte> input);
}

/// <summary>Every target, by name: the one list run.sh, Program and the replay tests share.</summary>
public static class FuzzTargets
{
    public static IReadOnlyList<IFuzzTarget> All { get; } =
    [
        new Targets.VhostUserTarget(),
        new Targets.VirtqueueTarget(),
        new Targets.FramesTarget(),
        new Targets.TcpTarget(),
        new Targets.ConfigTarget(),
    ];

    public static IFuzzTarget? Find(string name)
    {
        foreach (IFuzzTarget target in All)
        {
            if (target.Name == name)
            {
                return target;
            }
        }

        return null;
    }
}

/// <summary>Thrown by a target when the code under test broke a promise without throwing (e.g. a reply
/// longer than the buffer it was given). Always a finding.</summary>
public sealed class FuzzFindingException : Exception
{
    public FuzzFindingException()
    {
    }

    public FuzzFindingException(string message)
        : base(message)
    {
    }

    public FuzzFindingException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
