// One loop timer for a whole table of deadlines (idle flows, pending queries).
//
// Theory of operation: a table with thousands of entries does not keep a timer per entry. It arms one
// DeadlineTimer for its earliest deadline (a clock timestamp); when it fires, the table walks its
// entries, ends the expired ones and arms again for the earliest deadline left. Arming for a later
// deadline than the one already armed is a no-op, so touching an entry costs nothing; a floor on the
// delay keeps a burst of near deadlines from turning into a burst of wake-ups. On the loop only.
using Switchyard.Core.Loop;

namespace Switchyard.UserNet;

internal sealed class DeadlineTimer : IDisposable
{
    private readonly TimeProvider clock;
    private readonly LoopTimer timer;
    private readonly TimeSpan minimumDelay;
    private long due = long.MaxValue;

    public DeadlineTimer(IEventLoop loop, Action onExpired, TimeSpan minimumDelay)
    {
        clock = loop.Clock;
        this.minimumDelay = minimumDelay;
        timer = loop.CreateTimer(() =>
        {
            due = long.MaxValue;
            onExpired();
        });
    }

    /// <summary>Makes sure the timer fires no later than <paramref name="deadline"/> (a clock timestamp).</summary>
    public void ArmFor(long deadline)
    {
        if (deadline >= due)
        {
            return;
        }

        due = deadline;
        TimeSpan delay = clock.GetElapsedTime(clock.GetTimestamp(), deadline);
        timer.Arm(delay < minimumDelay ? minimumDelay : delay);
    }

    /// <summary>A span in clock timestamp units, for computing deadlines.</summary>
    public long Ticks(TimeSpan span) => (long)(span.TotalSeconds * clock.TimestampFrequency);

    public void Cancel()
    {
        timer.Cancel();
        due = long.MaxValue;
    }

    public void Dispose() => Cancel();
}
