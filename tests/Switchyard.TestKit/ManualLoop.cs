// An IEventLoop for pure tests: a manual clock, timers that fire when the test advances time, posted
// actions that run when the test says so, and no file descriptors.
using Switchyard.Core.Loop;
using Switchyard.Core.Ports;

namespace Switchyard.TestKit;

public sealed class ManualLoop : IEventLoop
{
    private readonly List<ManualTimer> timers = [];
    private readonly Queue<Action> posted = new();
    private readonly List<Port> flushes = [];

    public ManualClock ManualClock { get; } = new();

    public TimeProvider Clock => ManualClock;

    public bool IsOnLoopThread => true;

    /// <summary>Timers armed now.</summary>
    public int ArmedTimers => timers.Count(t => t.Due is not null);

    public IoRegistration Register(int fd, IIoHandler handler, IoEvents interest) =>
        throw new NotSupportedException("ManualLoop has no file descriptors; use a fake host network");

    public void RequestFlush(Port port)
    {
        if (!flushes.Contains(port))
        {
            flushes.Add(port);
        }
    }

    public LoopTimer CreateTimer(Action onExpired)
    {
        var timer = new ManualTimer(this, onExpired);
        timers.Add(timer);
        return timer;
    }

    public void Post(Action action) => posted.Enqueue(action);

    /// <summary>Runs posted actions and requested flushes.</summary>
    public void RunPending()
    {
        while (posted.TryDequeue(out Action? action))
        {
            action();
        }

        Port[] toFlush = [.. flushes];
        flushes.Clear();
        foreach (Port p in toFlush)
        {
            p.Flush();
        }
    }

    /// <summary>Moves the clock forward in steps no larger than <paramref name="step"/> (default: the whole
    /// span), firing every timer that comes due, in due order.</summary>
    public void Advance(TimeSpan by, TimeSpan? step = null)
    {
        TimeSpan left = by;
        TimeSpan stride = step ?? by;
        while (left > TimeSpan.Zero)
        {
            TimeSpan d = left < stride ? left : stride;
            ManualClock.Advance(d);
            left -= d;
            FireDue();
        }

        if (by == TimeSpan.Zero)
        {
            FireDue();
        }
    }

    private void FireDue()
    {
        long now = ManualClock.GetTimestamp();
        while (true)
        {
            ManualTimer? next = null;
            foreach (ManualTimer t in timers)
            {
                if (t.Due is long due && due <= now && (next is null || due < next.Due))
                {
                    next = t;
                }
            }

            if (next is null)
            {
                break;
            }

            next.Due = null;
            next.Fire();
            RunPending();
        }
    }

    private sealed class ManualTimer(ManualLoop loop, Action onExpired) : LoopTimer
    {
        public long? Due { get; set; }

        public override void Arm(TimeSpan due) => Due = loop.ManualClock.GetTimestamp() + Math.Max(0, due.Ticks);

        public override void Cancel() => Due = null;

        public void Fire() => onExpired();
    }
}
