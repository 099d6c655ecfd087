// RateLimitedLoggerProvider: a burst passes, a flood is cut to the refill rate and the next message
// that gets through says how many were suppressed; event ids are limited independently.
using Microsoft.Extensions.Logging;
using Switchyard.TestKit;
using Switchyard.Engine.Logging;

namespace Switchyard.Engine.Tests;

public sealed class RateLimitedLoggingTests
{
    private sealed class Recorder : ILoggerProvider, ILogger
    {
        public List<(LogLevel Level, int Id, string Text)> Lines { get; } = [];

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add((logLevel, eventId.Id, formatter(state, exception)));

        public void Dispose()
        {
        }
    }

    [Fact]
    public void Flood_BurstPasses_RestSuppressed_ThenOneLineCountsThem()
    {
        var clock = new ManualClock();
        var recorder = new Recorder();
        using var provider = new RateLimitedLoggerProvider(recorder, clock, burst: 5, perSecond: 1);
        ILogger log = provider.CreateLogger("t");

        for (int i = 0; i < 100; i++)
        {
            log.Log(LogLevel.Information, new EventId(7), $"m{i}", null, (s, _) => s);
        }

        Assert.Equal(5, recorder.Lines.Count);
        clock.Advance(TimeSpan.FromSeconds(1));
        log.Log(LogLevel.Information, new EventId(7), "after", null, (s, _) => s);

        Assert.Equal(7, recorder.Lines.Count);
        Assert.Contains("95 more messages", recorder.Lines[5].Text, StringComparison.Ordinal);
        Assert.Equal(LogLevel.Warning, recorder.Lines[5].Level);
        Assert.Equal("after", recorder.Lines[6].Text);
    }

    [Fact]
    public void EventIds_AreLimitedIndependently()
    {
        var clock = new ManualClock();
        var recorder = new Recorder();
        using var provider = new RateLimitedLoggerProvider(recorder, clock, burst: 2, perSecond: 1);
        ILogger log = provider.CreateLogger("t");
        for (int i = 0; i < 10; i++)
        {
            log.Log(LogLevel.Warning, new EventId(1), "a", null, (s, _) => s);
            log.Log(LogLevel.Warning, new EventId(2), "b", null, (s, _) => s);
        }

        Assert.Equal(2, recorder.Lines.Count(l => l.Id == 1));
        Assert.Equal(2, recorder.Lines.Count(l => l.Id == 2));
    }
}
