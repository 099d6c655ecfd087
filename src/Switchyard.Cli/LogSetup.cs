// The daemon's logging: one line per message on stderr (text with a timestamp, or JSON objects with
// the message's structured fields for log shippers), at the level -v/-q choose, every event id rate
// limited (RateLimitedLoggerProvider) so that nothing a guest does can flood the log.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Switchyard.Engine.Logging;

namespace Switchyard.Cli;

internal static class LogSetup
{
    /// <summary>-v: debug; -q: warnings and errors; neither: information. -v and -q together: -q wins.</summary>
    public static LogLevel Level(bool verbose, bool quiet) => quiet ? LogLevel.Warning : verbose ? LogLevel.Debug : LogLevel.Information;

    public static ILoggerFactory CreateFactory(LogLevel level, bool json)
    {
        var services = new ServiceCollection();
        services.AddLogging(b =>
        {
            b.SetMinimumLevel(level);
            if (json)
            {
                b.AddJsonConsole(o =>
                {
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                    o.UseUtcTimestamp = true;
                });
            }
            else
            {
                b.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "HH:mm:ss.fff ";
                    o.ColorBehavior = LoggerColorBehavior.Disabled;
                });
            }
        });
        ServiceProvider provider = services.BuildServiceProvider();
        ILoggerProvider console = provider.GetServices<ILoggerProvider>().Single();
        var limited = new RateLimitedLoggerProvider(console, TimeProvider.System);
        var factory = LoggerFactory.Create(b => b.SetMinimumLevel(level).AddProvider(limited));
        return new OwningFactory(factory, provider);
    }

    // Disposes the console provider's container with the factory, so buffered lines are flushed.
    private sealed class OwningFactory(ILoggerFactory inner, ServiceProvider owned) : ILoggerFactory
    {
        public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

        public ILogger CreateLogger(string categoryName) => inner.CreateLogger(categoryName);

        public void Dispose()
        {
            inner.Dispose();
            owned.Dispose();
        }
    }
}
