// Two well-behaved guests that keep talking while a hostile peer attacks: the witness every isolation test uses.
//
// Theory of operation: each "guest" is a connection to a switchyard stream socket (QEMU's -netdev stream
// framing: a 4-byte big-endian length, then the Ethernet frame), with its own locally administered MAC. A
// sends B one unicast frame (EtherType 0x88B5, IEEE's local experimental type, so the gateway ignores it)
// every Interval, carrying a sequence number; B echoes each one back to A. A records the arrival time of
// every echo. The attack is judged by what the pair saw: frames echoed, and the longest time between two
// echoes (MaxGap). A daemon that froze, crashed or starved the pair shows as a gap or as a closed socket.
//
// What it owns: the two sockets and the tasks that serve them, ended by DisposeAsync. It trusts the daemon
// only to deliver frames; a frame that is not an echo from B (a flood, the gateway's chatter) is skipped.
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;

namespace Switchyard.TestKit.Hostile;

public sealed class HealthyStreamPair : IAsyncDisposable
{
    private const ushort EtherType = 0x88B5;
    private static readonly byte[] MacA = [0x02, 0x5e, 0x00, 0x00, 0xaa, 0x01];
    private static readonly byte[] MacB = [0x02, 0x5e, 0x00, 0x00, 0xaa, 0x02];

    private readonly Socket a;
    private readonly Socket b;
    private readonly CancellationTokenSource stop = new();
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly object gate = new();
    private readonly List<Task> tasks = [];
    private long sent;
    private long echoed;
    private TimeSpan lastEcho;
    private TimeSpan maxGap;
    private string? failure;

    private HealthyStreamPair(Socket a, Socket b, TimeSpan interval)
    {
        this.a = a;
        this.b = b;
        Interval = interval;
    }

    /// <summary>Time between two frames from A.</summary>
    public TimeSpan Interval { get; }

    /// <summary>Frames A sent.</summary>
    public long Sent => Interlocked.Read(ref sent);

    /// <summary>Frames that came back to A through B.</summary>
    public long Echoed => Interlocked.Read(ref echoed);

    /// <summary>The longest time without an echo since the first one (or since the start, until the first).</summary>
    public TimeSpan MaxGap
    {
        get
        {
            lock (gate)
            {
                TimeSpan open = clock.Elapsed - lastEcho;
                return open > maxGap ? open : maxGap;
            }
        }
    }

    /// <summary>Why a guest stopped (its socket closed or failed), or null while both are well.</summary>
    public string? Failure => Volatile.Read(ref failure);

    /// <summary>Connects both guests to <paramref name="streamSocket"/> and waits until echoes flow.</summary>
    public static async Task<HealthyStreamPair> StartAsync(string streamSocket, TimeSpan? interval = null)
    {
        Socket a = await ConnectAsync(streamSocket);
        Socket b = await ConnectAsync(streamSocket);
        var pair = new HealthyStreamPair(a, b, interval ?? TimeSpan.FromMilliseconds(10));
        pair.tasks.Add(Task.Run(pair.SendLoopAsync));
        pair.tasks.Add(Task.Run(pair.EchoLoopAsync));
        pair.tasks.Add(Task.Run(pair.ReceiveLoopAsync));
        await pair.WaitForEchoesAsync(10, TimeSpan.FromSeconds(20));
        pair.ResetGap();
        return pair;
    }

    /// <summary>Forgets the gap measured so far (call it when the attack starts).</summary>
    public void ResetGap()
    {
        lock (gate)
        {
            lastEcho = clock.Elapsed;
            maxGap = TimeSpan.Zero;
        }
    }

    /// <summary>Waits until <paramref name="count"/> more echoes arrived; throws with the pair's state if they did not.</summary>
    public async Task WaitForEchoesAsync(long count, TimeSpan timeout)
    {
        long target = Echoed + count;
        var deadline = Stopwatch.StartNew();
        while (Echoed < target)
        {
            if (Failure is { } why)
            {
                throw new InvalidOperationException($"a healthy guest stopped: {why}");
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"the healthy pair got {Echoed - target + count} of {count} echoes in {timeout} (sent {Sent})");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>
    /// Asserts the pair was never disturbed: both guests still connected, echoes still flowing now, and no gap
    /// between echoes longer than <paramref name="maxGap"/> since the last <see cref="ResetGap"/>.
    /// </summary>
    public async Task AssertHealthyAsync(TimeSpan maxGap)
    {
        await WaitForEchoesAsync(10, TimeSpan.FromSeconds(10));
        if (Failure is { } why)
        {
            throw new InvalidOperationException($"a healthy guest stopped: {why}");
        }

        TimeSpan gap = MaxGap;
        if (gap > maxGap)
        {
            throw new InvalidOperationException($"the healthy pair went {gap.TotalMilliseconds:F0} ms without an echo (allowed {maxGap.TotalMilliseconds:F0} ms); sent {Sent}, echoed {Echoed}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        a.Dispose();
        b.Dispose();
        try
        {
            await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException or TimeoutException)
        {
            // Ending.
        }

        stop.Dispose();
    }

    private static async Task<Socket> ConnectAsync(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await s.ConnectAsync(new UnixDomainSocketEndPoint(path));
            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    private static byte[] Frame(byte[] destination, byte[] source, long sequence)
    {
        var frame = new byte[4 + 64];
        BinaryPrimitives.WriteUInt32BigEndian(frame, 64);
        destination.CopyTo(frame, 4);
        source.CopyTo(frame, 10);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), EtherType);
        BinaryPrimitives.WriteInt64BigEndian(frame.AsSpan(18), sequence);
        return frame;
    }

    private async Task SendLoopAsync()
    {
        try
        {
            for (long sequence = 0; !stop.IsCancellationRequested; sequence++)
            {
                await a.SendAsync(Frame(MacB, MacA, sequence), SocketFlags.None, stop.Token);
                Interlocked.Increment(ref sent);
                await Task.Delay(Interval, stop.Token);
            }
        }
        catch (Exception ex)
        {
            // Once stopping, the sockets close under the loop: that is not a failure.
            if (!stop.IsCancellationRequested)
            {
                Fail($"A's send failed: {ex.Message}");
            }
        }
    }

    private async Task EchoLoopAsync()
    {
        try
        {
            await foreach (byte[] frame in FramesAsync(b))
            {
                if (frame.Length >= 26 && frame.AsSpan(6, 6).SequenceEqual(MacA) && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) == EtherType)
                {
                    long sequence = BinaryPrimitives.ReadInt64BigEndian(frame.AsSpan(14));
                    await b.SendAsync(Frame(MacA, MacB, sequence), SocketFlags.None, stop.Token);
                }
            }

            Fail("B's connection was closed by the daemon");
        }
        catch (Exception ex)
        {
            // Once stopping, the sockets close under the loop: that is not a failure.
            if (!stop.IsCancellationRequested)
            {
                Fail($"B failed: {ex.Message}");
            }
        }
    }

    private async Task ReceiveLoopAsync()
    {
        try
        {
            await foreach (byte[] frame in FramesAsync(a))
            {
                if (frame.Length >= 26 && frame.AsSpan(6, 6).SequenceEqual(MacB) && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) == EtherType)
                {
                    lock (gate)
                    {
                        TimeSpan now = clock.Elapsed;
                        if (now - lastEcho > maxGap)
                        {
                            maxGap = now - lastEcho;
                        }

                        lastEcho = now;
                    }

                    Interlocked.Increment(ref echoed);
                }
            }

            Fail("A's connection was closed by the daemon");
        }
        catch (Exception ex)
        {
            // Once stopping, the sockets close under the loop: that is not a failure.
            if (!stop.IsCancellationRequested)
            {
                Fail($"A failed: {ex.Message}");
            }
        }
    }

    private async IAsyncEnumerable<byte[]> FramesAsync(Socket socket)
    {
        var prefix = new byte[4];
        while (true)
        {
            if (!await ReadExactlyAsync(socket, prefix))
            {
                yield break;
            }

            int length = checked((int)BinaryPrimitives.ReadUInt32BigEndian(prefix));
            if (length is <= 0 or > 70_000)
            {
                throw new InvalidDataException($"bad length prefix {length} from the daemon");
            }

            var frame = new byte[length];
            if (!await ReadExactlyAsync(socket, frame))
            {
                yield break;
            }

            yield return frame;
        }
    }

    private async Task<bool> ReadExactlyAsync(Socket socket, byte[] buffer)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(done), SocketFlags.None, stop.Token);
            if (n == 0)
            {
                return false;
            }

            done += n;
        }

        return true;
    }

    private void Fail(string why) => Interlocked.CompareExchange(ref failure, why, null);
}
