// Log rate limiting: no event id may flood the log, whatever a guest or peer does.
//
// Theory of operation: wraps the real provider. Each (category, event id) has a token bucket of
// Burst messages refilled at PerSecond; a message that finds the bucket empty is not written but
// counted, and the next one that gets through is preceded by one line saying how many like it were
// suppressed. Buckets live in a dictionary bounded by the number of event ids (stable, from
// [LoggerMessage]); messages without an event id share bucket 0 of their category. Warnings and
// errors are limited the same way: a broken guest that reconnects in a loop must not fill the disk.
// Time comes from a TimeProvider so tests need not sleep.
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Switchyard.Engine.Logging;

public sealed class RateLimitedLoggerProvider(ILoggerProvider inner, TimeProvider clock, int burst = 20, double perSecond = 5) : ILoggerProvider
{
    private readonly ConcurrentDictionary<string, RateLimitedLogger> loggers = new(StringComparer.Ordinal);

    public ILogger CreateLogger(string categoryName) =>
        loggers.GetOrAdd(categoryName, name => new RateLimitedLogger(inner.CreateLogger(name), clock, burst, perSecond));

    public void Dispose() => inner.Dispose();

    private sealed class RateLimitedLogger(ILogger inner, TimeProvider clock, int burst, double perSecond) : ILogger
    {
        private readonly ConcurrentDictionary<int, Bucket> buckets = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!inner.IsEnabled(logLevel))
            {
                return;
            }

            Bucket bucket = buckets.GetOrAdd(eventId.Id, static (_, state) => new Bucket(state.burst, state.clock.GetTimestamp()), (burst, clock));
            long suppressed;
            lock (bucket)
            {
                long now = clock.GetTimestamp();
                double elapsed = (double)(now - bucket.Last) / clock.TimestampFrequency;
                bucket.Last = now;
                bucket.Tokens = Math.Min(burst, bucket.Tokens + (elapsed * perSecond));
                if (bucket.Tokens < 1)
                {
                    bucket.Suppressed++;
                    return;
                }

                bucket.Tokens -= 1;
                suppressed = bucket.Suppressed;
                bucket.Suppressed = 0;
            }

            if (suppressed > 0)
            {
                inner.Log(
                    LogLevel.Warning,
                    eventId,
                    suppressed,
                    null,
                    (n, _) => $"{n} more messages like the next one were suppressed (more than {perSecond}/s)");
            }

            inner.Log(logLevel, eventId, state, exception, formatter);
        }

        private sealed class Bucket(double tokens, long last)
        {
            public double Tokens { get; set; } = tokens;

            public long Last { get; set; } = last;

            public long Suppressed { get; set; }
        }
    }
}
