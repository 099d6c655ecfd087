// The log lines of what control commands change, on the daemon's logger, with the event ids they
// had when Daemon wrote them (1, 3, 4; capture 500-501; reload 610-611).
using Microsoft.Extensions.Logging;

namespace Switchyard.Engine.Commands;

internal static partial class CommandLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "network {Network}: port {Port} added ({Netdev})")]
    public static partial void PortAdded(ILogger logger, string network, string port, string netdev);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "network {Network}: forward {Rule} added")]
    public static partial void ForwardAdded(ILogger logger, string network, string rule);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "network {Network}: forward {Rule} removed")]
    public static partial void ForwardRemoved(ILogger logger, string network, string rule);

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "capture {Id} started: network {Network}, port {Port}")]
    public static partial void CaptureStarted(ILogger logger, int id, string network, string port);

    [LoggerMessage(EventId = 501, Level = LogLevel.Information, Message = "capture {Id} ended ({Reason}): {Frames} frames, {Dropped} dropped")]
    public static partial void CaptureEnded(ILogger logger, int id, string reason, long frames, long dropped);

    [LoggerMessage(EventId = 610, Level = LogLevel.Information, Message = "reload: {Change}")]
    public static partial void ReloadChange(ILogger logger, string change);

    [LoggerMessage(EventId = 611, Level = LogLevel.Warning, Message = "reload: {Error}")]
    public static partial void ReloadFailed(ILogger logger, string error);
}
