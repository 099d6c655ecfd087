// A bounded byte queue made of fixed-size chunks that are taken only while data is held.
//
// Theory of operation: each TCP flow has two of these (guest→host bytes the host socket has not
// taken yet; host→guest bytes the guest has not acknowledged yet). A flow may hold up to its limit
// (1 MiB by default, the window we advertise), but most flows hold nothing most of the time, so the
// memory is taken from a shared ChunkPool chunk by chunk as bytes arrive and given back as soon as
// they are consumed: 500 idle or slow connections cost almost nothing; a flow pays for the bytes
// it buffers. The ring never allocates per packet: chunks are reused through the pool. Readers see
// the bytes by offset from the front (CopyTo, Contiguous) and consume them with Discard. One owner,
// one loop: no locks.
namespace Switchyard.UserNet.Tcp;

/// <summary>A free list of equal-sized chunks shared by every flow of one TcpNat; keeps at most
/// <see cref="MaxIdle"/> idle chunks and lets the rest go to the GC.</summary>
internal sealed class ChunkPool
{
    public const int ChunkSize = 32 * 1024;

    private readonly Stack<byte[]> idle = new();

    public ChunkPool(int maxIdle = 256) => MaxIdle = maxIdle;

    public int MaxIdle { get; }

    /// <summary>Chunks rented and not yet returned (the bytes buffered by every flow, rounded up).</summary>
    public int Outstanding { get; private set; }

    public byte[] Rent()
    {
        Outstanding++;
        return idle.TryPop(out byte[]? chunk) ? chunk : GC.AllocateUninitializedArray<byte>(ChunkSize);
    }

    public void Return(byte[] chunk)
    {
        Outstanding--;
        if (idle.Count < MaxIdle)
        {
            idle.Push(chunk);
        }
    }
}

/// <summary>A bounded FIFO of bytes over pooled chunks. See the file header.</summary>
internal sealed class ByteRing
{
    private const int ChunkSize = ChunkPool.ChunkSize;

    private readonly ChunkPool pool;
    private readonly byte[]?[] chunks;
    private int first;
    private int chunkCount;
    private int head;

    public ByteRing(ChunkPool pool, int limit)
    {
        this.pool = pool;
        Limit = limit;
        chunks = new byte[]?[(limit / ChunkSize) + 2];
    }

    public int Limit { get; }

    public int Count { get; private set; }

    public int Free => Limit - Count;

    public bool IsEmpty => Count == 0;

    /// <summary>Chunks this ring holds now.</summary>
    public int ChunksHeld => chunkCount;

    /// <summary>A writable span at the tail, at most <paramref name="max"/> bytes (empty when full); the
    /// bytes become part of the ring on <see cref="Commit"/>.</summary>
    public Span<byte> GetWriteSpan(int max)
    {
        int room = Math.Min(Free, max);
        if (room <= 0)
        {
            return [];
        }

        int tail = head + Count;
        int index = tail / ChunkSize;
        int offset = tail % ChunkSize;
        if (index == chunkCount)
        {
            chunks[(first + chunkCount) % chunks.Length] = pool.Rent();
            chunkCount++;
        }

        byte[] chunk = chunks[(first + index) % chunks.Length]!;
        return chunk.AsSpan(offset, Math.Min(room, ChunkSize - offset));
    }

    public void Commit(int n) => Count += n;

    /// <summary>Appends as much of <paramref name="data"/> as fits; returns the bytes taken.</summary>
    public int Write(ReadOnlySpan<byte> data)
    {
        int written = 0;
        while (written < data.Length)
        {
            Span<byte> span = GetWriteSpan(data.Length - written);
            if (span.IsEmpty)
            {
                break;
            }

            data.Slice(written, span.Length).CopyTo(span);
            Commit(span.Length);
            written += span.Length;
        }

        return written;
    }

    /// <summary>The bytes from <paramref name="offset"/> to the end of the chunk that holds it (or the end of the data).</summary>
    public ReadOnlySpan<byte> Contiguous(int offset)
    {
        if (offset >= Count)
        {
            return [];
        }

        int position = head + offset;
        byte[] chunk = chunks[(first + (position / ChunkSize)) % chunks.Length]!;
        int start = position % ChunkSize;
        return chunk.AsSpan(start, Math.Min(ChunkSize - start, Count - offset));
    }

    /// <summary>Copies <paramref name="destination"/>.Length bytes starting <paramref name="offset"/> bytes from the front.</summary>
    public void CopyTo(int offset, Span<byte> destination)
    {
        int done = 0;
        while (done < destination.Length)
        {
            ReadOnlySpan<byte> piece = Contiguous(offset + done);
            int n = Math.Min(piece.Length, destination.Length - done);
            if (n == 0)
            {
                break;
            }

            piece[..n].CopyTo(destination[done..]);
            done += n;
        }
    }

    /// <summary>Consumes <paramref name="n"/> bytes from the front, returning emptied chunks to the pool.</summary>
    public void Discard(int n)
    {
        n = Math.Min(n, Count);
        head += n;
        Count -= n;
        while (head >= ChunkSize && chunkCount > 0)
        {
            ReleaseFirst();
            head -= ChunkSize;
        }

        if (Count == 0)
        {
            Clear();
        }
    }

    /// <summary>Drops everything and returns every chunk.</summary>
    public void Clear()
    {
        while (chunkCount > 0)
        {
            ReleaseFirst();
        }

        head = 0;
        Count = 0;
    }

    private void ReleaseFirst()
    {
        pool.Return(chunks[first]!);
        chunks[first] = null;
        first = (first + 1) % chunks.Length;
        chunkCount--;
    }
}
