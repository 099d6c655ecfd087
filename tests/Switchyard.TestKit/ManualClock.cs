namespace Switchyard.TestKit;

/// <summary>A clock that moves only when a test says so (STYLE.md habit 13).</summary>
public sealed class ManualClock : TimeProvider
{
    private long ticks = TimeSpan.FromDays(1).Ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Volatile.Read(ref ticks);

    public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(GetTimestamp());

    public void Advance(TimeSpan by) => Interlocked.Add(ref ticks, by.Ticks);
}
