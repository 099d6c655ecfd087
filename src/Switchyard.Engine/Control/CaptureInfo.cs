// A capture as the control API describes it (the `capture` answer and `capture-stats`).
namespace Switchyard.Engine.Control;

/// <summary>
/// One capture. <c>Port</c> is null for a network capture (every frame entering the network's switch).
/// <c>Frames</c> counts frames queued for the client, <c>Dropped</c> frames lost because the capture's
/// queue (<c>BufferBytes</c>) was full (capture_dropped), <c>Bytes</c> pcap bytes written to the client.
/// <c>EndReason</c> (null while <c>Running</c>): count reached, duration elapsed, client hung up,
/// port NAME left network NET, daemon stopping.
/// </summary>
public sealed record CaptureInfo(
    int Id,
    string Network,
    string? Port,
    int Snaplen,
    long? Count,
    double? Duration,
    int BufferBytes,
    long Frames,
    long Dropped,
    long Bytes,
    bool Running,
    string? EndReason);
