// One running packet capture: a bounded queue of pcap records between the event loop and a writer.
//
// Theory of operation. The switch (on its loop thread, the only producer) hands each frame it sees at
// a captured port boundary to Add. Add timestamps the frame, copies at most SnapLength bytes of it with
// a pcap record header into a byte ring, and publishes the new end of the ring. The ring holds exactly
// the bytes of the pcap stream, so the writer (one task off the loop, the only consumer) copies
// published bytes straight from the ring to its stream and then gives the space back. The ring's size
// is the capture's byte budget: when a record does not fit, the frame is dropped and counted (Dropped)
// and the loop goes on; the loop never waits for a slow reader and never allocates here.
//
// Ordering (single producer, single consumer; head and tail only grow):
//   - the producer writes a record, then publishes head with Volatile.Write, so a consumer that reads
//     head with Volatile.Read sees the record's bytes (release/acquire);
//   - the consumer finishes writing bytes out, then publishes tail, so the producer never overwrites
//     bytes that are still being written;
//   - a waiting consumer stores its waiter and then re-reads head; the producer stores head and then
//     reads the waiter. A full barrier on both sides (Interlocked.Exchange / MemoryBarrier) keeps the
//     two store->load pairs from being reordered, so one of them always sees the other: no lost wake-up.
//     The consumer also wakes every WakeInterval as a backstop.
//
// A capture ends once (the first End wins): when MaxFrames records have been queued, when its owner
// ends it (duration elapsed, the client hung up, the port went away, the daemon stops). After End the
// producer adds nothing more; WriteToAsync writes what was already queued and returns the reason.
using Switchyard.Core.Frames;

namespace Switchyard.Core.Capture;

/// <summary>A bounded pcap record queue fed on the event loop and drained by one writer task.</summary>
public sealed class PacketCapture
{
    /// <summary>The default byte budget of a capture's queue.</summary>
    public const int DefaultBufferBytes = 8 * 1024 * 1024;

    /// <summary>The smallest queue accepted: room for a few minimum-size frames.</summary>
    public const int MinBufferBytes = 256;

    /// <summary>End reason when MaxFrames records have been queued.</summary>
    public const string CountReached = "count reached";

    private static readonly TimeSpan WakeInterval = TimeSpan.FromMilliseconds(200);
    private static readonly long UnixEpochTicks = DateTimeOffset.UnixEpoch.UtcTicks;

    private readonly byte[] ring;
    private readonly TimeProvider clock;

    // Written by the producer only.
    private long head;
    private long frames;
    private long dropped;

    // Written by the consumer only.
    private long tail;
    private long bytesWritten;

    private string? endReason;
    private TaskCompletionSource? waiter;

    /// <param name="snapLength">Bytes kept of each frame (1 to <see cref="Pcap.DefaultSnapLength"/>); longer frames are
    /// truncated and keep their original length in the record.</param>
    /// <param name="bufferBytes">The queue's byte budget (records are 16 bytes of header plus the captured bytes).</param>
    /// <param name="maxFrames">End after this many frames have been queued; 0 for no limit.</param>
    /// <param name="clock">Timestamps the records (a manual clock in tests).</param>
    public PacketCapture(int snapLength = Pcap.DefaultSnapLength, int bufferBytes = DefaultBufferBytes, long maxFrames = 0, TimeProvider? clock = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(snapLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(snapLength, Pcap.DefaultSnapLength);
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferBytes, MinBufferBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(maxFrames);
        SnapLength = snapLength;
        MaxFrames = maxFrames;
        this.clock = clock ?? TimeProvider.System;
        ring = new byte[bufferBytes];
    }

    public int SnapLength { get; }

    /// <summary>The frame limit; 0 means none.</summary>
    public long MaxFrames { get; }

    public int BufferBytes => ring.Length;

    /// <summary>Frames queued so far (each becomes one pcap record).</summary>
    public long Frames => Volatile.Read(ref frames);

    /// <summary>Frames dropped because the queue was full (capture_dropped).</summary>
    public long Dropped => Volatile.Read(ref dropped);

    /// <summary>Bytes handed to the writer's stream so far, the file header included.</summary>
    public long BytesWritten => Volatile.Read(ref bytesWritten);

    /// <summary>Bytes queued and not yet written.</summary>
    public long QueuedBytes => Volatile.Read(ref head) - Volatile.Read(ref tail);

    public bool IsEnded => Volatile.Read(ref endReason) is not null;

    /// <summary>Why the capture ended; null while it runs.</summary>
    public string? EndReason => Volatile.Read(ref endReason);

    /// <summary>Queues a frame that a port delivered into the switch. On the loop (the only producer).
    /// Returns false when the frame was dropped for lack of room; true when it was queued, or when the
    /// capture has ended and takes nothing more.</summary>
    public bool Add(ReadOnlySpan<byte> frame)
    {
        if (Volatile.Read(ref endReason) is not null)
        {
            return true;
        }

        int captured = Math.Min(frame.Length, SnapLength);
        if (!TryReserve(captured, frame.Length, out long at))
        {
            return false;
        }

        CopyIn(at, frame[..captured]);
        Publish(at + captured);
        return true;
    }

    /// <summary>Queues a frame as the switch hands it to a port: after its VLAN tag rewrite, with its
    /// offloads as they cross (a GSO super frame is one record). On the loop. Returns as <see cref="Add(ReadOnlySpan{byte})"/>.</summary>
    public bool Add(in EgressFrame frame)
    {
        if (Volatile.Read(ref endReason) is not null)
        {
            return true;
        }

        int length = frame.Length;
        int captured = Math.Min(length, SnapLength);
        if (!TryReserve(captured, length, out long at))
        {
            return false;
        }

        int offset = (int)(at % ring.Length);
        int first = Math.Min(captured, ring.Length - offset);
        frame.CopySlice(0, ring.AsSpan(offset, first));
        if (first < captured)
        {
            frame.CopySlice(first, ring.AsSpan(0, captured - first));
        }

        Publish(at + captured);
        return true;
    }

    /// <summary>Ends the capture with <paramref name="reason"/> unless it has ended already; any thread.
    /// Returns true when this call ended it.</summary>
    public bool End(string reason)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        bool first = Interlocked.CompareExchange(ref endReason, reason, null) is null;
        Wake();
        return first;
    }

    /// <summary>
    /// The consumer: writes the pcap file header, then every queued record as it arrives, until the capture
    /// has ended and everything queued before the end is written. Returns the end reason. Runs off the loop;
    /// one call per capture. A failed write (the reader went away) throws, and so does cancellation; the
    /// caller ends the capture then.
    /// </summary>
    public async Task<string> WriteToAsync(Stream destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(destination);
        byte[] header = new byte[Pcap.FileHeaderLength];
        Pcap.WriteFileHeader(header, SnapLength);
        await destination.WriteAsync(header, cancellationToken).ConfigureAwait(false);
        await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref bytesWritten, header.Length);

        while (true)
        {
            long published = Volatile.Read(ref head);
            if (published != tail)
            {
                await WriteRangeAsync(destination, tail, published, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (Volatile.Read(ref endReason) is { } reason)
            {
                // The producer publishes a record before it can end the capture (count reached), so a
                // second look at head after seeing the end finds every record queued before it.
                if (Volatile.Read(ref head) == tail)
                {
                    return reason;
                }

                continue;
            }

            var wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Interlocked.Exchange(ref waiter, wake); // full barrier: the store above before the re-read of head below
            if (Volatile.Read(ref head) != tail || Volatile.Read(ref endReason) is not null)
            {
                Interlocked.CompareExchange(ref waiter, null, wake);
                continue;
            }

            try
            {
                await wake.Task.WaitAsync(WakeInterval, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // The backstop: look again.
            }

            Interlocked.CompareExchange(ref waiter, null, wake);
        }
    }

    private static long UnixMicroseconds(DateTimeOffset now) => (now.UtcTicks - UnixEpochTicks) / TimeSpan.TicksPerMicrosecond;

    /// <summary>Reserves room for a record of <paramref name="captured"/> bytes and writes its header; returns
    /// where its data goes. False (and one more drop) when the queue has no room.</summary>
    private bool TryReserve(int captured, int originalLength, out long dataAt)
    {
        long at = head;
        int need = Pcap.RecordHeaderLength + captured;
        if (need > ring.Length - (at - Volatile.Read(ref tail)))
        {
            Volatile.Write(ref dropped, dropped + 1);
            dataAt = 0;
            return false;
        }

        Span<byte> header = stackalloc byte[Pcap.RecordHeaderLength];
        Pcap.WriteRecordHeader(header, UnixMicroseconds(clock.GetUtcNow()), captured, originalLength);
        CopyIn(at, header);
        dataAt = at + Pcap.RecordHeaderLength;
        return true;
    }

    /// <summary>Copies <paramref name="source"/> into the ring at stream position <paramref name="at"/>, wrapping.</summary>
    private void CopyIn(long at, ReadOnlySpan<byte> source)
    {
        int offset = (int)(at % ring.Length);
        int first = Math.Min(source.Length, ring.Length - offset);
        source[..first].CopyTo(ring.AsSpan(offset));
        source[first..].CopyTo(ring);
    }

    /// <summary>Makes the record ending at <paramref name="end"/> visible to the consumer and wakes it if it waits.</summary>
    private void Publish(long end)
    {
        Volatile.Write(ref head, end); // release: the record's bytes before the new head
        long queued = frames + 1;
        Volatile.Write(ref frames, queued);
        if (MaxFrames != 0 && queued >= MaxFrames)
        {
            End(CountReached);
            return;
        }

        Interlocked.MemoryBarrier(); // the head store before the waiter load (see the theory of operation)
        if (Volatile.Read(ref waiter) is not null)
        {
            Wake();
        }
    }

    private void Wake()
    {
        // TrySetResult runs no continuation inline (RunContinuationsAsynchronously), so the loop never
        // executes writer code.
        Interlocked.Exchange(ref waiter, null)?.TrySetResult();
    }

    private async Task WriteRangeAsync(Stream destination, long from, long to, CancellationToken cancellationToken)
    {
        int offset = (int)(from % ring.Length);
        int length = (int)Math.Min(to - from, ring.Length - offset);
        await destination.WriteAsync(ring.AsMemory(offset, length), cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref tail, from + length); // after the bytes are out: the producer may reuse them now
        Volatile.Write(ref bytesWritten, bytesWritten + length);
    }
}
