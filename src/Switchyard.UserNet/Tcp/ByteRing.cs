// A bounded byte queue made of fixed-size chunks that are taken only while data is held, from a
// budget shared by every flow.
//
// Theory of operation: each TCP flow has two of these (guest→host bytes the host socket has not
// taken yet; host→guest bytes the guest has not acknowledged yet). A flow may hold up to its limit
// (1 MiB by default, the window we advertise), but most flows hold nothing most of the time, so the
// memory is taken from a shared ChunkPool chunk by chunk as bytes arrive and given back as soon as
// they are consumed: 500 idle or slow connections cost almost nothing; a flow pays for the bytes
// it buffers. The ring never allocates per packet: chunks are reused through the pool. Readers see
// the bytes by offset from the front (CopyTo, Contiguous) and consume them with Discard. One owner,
// one loop: no locks.
//
// The budget: the pool lends at most GlobalLimit bytes in all, and at most PortLimit bytes to the flows
// of one switch port (a RelayAccount per port, shared by its flows). A ring whose port or the whole
// pool is at its limit gets no new chunk: its Free shrinks to what its chunks still hold, so the flow
// advertises a smaller (down to zero) window to its guest and stops reading its host socket instead of
// buffering more, and the refusal is counted (tcp_relay_port_budget, tcp_relay_global_budget). Such a
// flow asks TcpNat to wake it when chunks come back (Freed). So 600 stalled flows of one guest hold at
// most PortLimit bytes, and the other ports keep the rest. Returned chunks are kept idle up to MaxIdle
// and the rest are dropped for the GC, so memory goes back after the flows close.
namespace Switchyard.UserNet.Tcp;

/// <summary>The relay bytes one switch port's flows hold; shared by those flows (Flows counts them).</summary>
internal sealed class RelayAccount(int port)
{
    public int Port { get; } = port;

    /// <summary>Bytes (whole chunks) lent to this port's rings now.</summary>
    public long Held { get; set; }

    /// <summary>Flows that use this account; it is forgotten at zero.</summary>
    public int Flows { get; set; }
}

/// <summary>A free list of equal-sized chunks shared by every flow of one TcpNat, lent within a global
/// and a per-port budget; keeps at most <see cref="MaxIdle"/> idle chunks and lets the rest go to the GC.</summary>
internal sealed class ChunkPool
{
    public const int ChunkSize = 32 * 1024;

    private readonly Stack<byte[]> idle = new();
    private readonly Dictionary<int, RelayAccount> accounts = [];
    private readonly GatewayCounters? counters;

    public ChunkPool(int maxIdle = 64, long globalLimit = long.MaxValue, long portLimit = long.MaxValue, GatewayCounters? counters = null)
    {
        MaxIdle = maxIdle;
        GlobalLimit = globalLimit;
        PortLimit = portLimit;
        this.counters = counters;
    }

    public int MaxIdle { get; }

    /// <summary>Most bytes lent to all rings together.</summary>
    public long GlobalLimit { get; }

    /// <summary>Most bytes lent to the rings of one port's flows.</summary>
    public long PortLimit { get; }

    /// <summary>Chunks rented and not yet returned (the bytes buffered by every flow, rounded up).</summary>
    public int Outstanding { get; private set; }

    /// <summary>Bytes lent now (Outstanding chunks).</summary>
    public long Held => (long)Outstanding * ChunkSize;

    /// <summary>Idle chunks kept for reuse.</summary>
    public int IdleCount => idle.Count;

    /// <summary>Called (once per return) when a chunk comes back, so budget-starved flows can be woken.</summary>
    public Action? Freed { get; set; }

    /// <summary>The account of <paramref name="port"/>, counted as used by one more flow.</summary>
    public RelayAccount Acquire(int port)
    {
        if (!accounts.TryGetValue(port, out RelayAccount? account))
        {
            account = new RelayAccount(port);
            accounts.Add(port, account);
        }

        account.Flows++;
        return account;
    }

    /// <summary>One flow stops using <paramref name="account"/> (after returning its chunks).</summary>
    public void Release(RelayAccount account)
    {
        if (--account.Flows <= 0 && account.Held == 0)
        {
            accounts.Remove(account.Port);
        }
    }

    /// <summary>Bytes <paramref name="account"/> may still borrow, in whole chunks.</summary>
    public long Headroom(RelayAccount? account)
    {
        long room = GlobalLimit - Held;
        if (account is not null)
        {
            room = Math.Min(room, PortLimit - account.Held);
        }

        return room < ChunkSize ? 0 : room - (room % ChunkSize);
    }

    /// <summary>A chunk lent to <paramref name="account"/>, or null (counted) when its port's or the global
    /// budget has no room.</summary>
    public byte[]? TryRent(RelayAccount? account)
    {
        if (Held + ChunkSize > GlobalLimit)
        {
            counters?.Drop(GatewayDrop.TcpRelayGlobalBudget);
            return null;
        }

        if (account is not null)
        {
            if (account.Held + ChunkSize > PortLimit)
            {
                counters?.Drop(GatewayDrop.TcpRelayPortBudget);
                return null;
            }

            account.Held += ChunkSize;
        }

        return Rent();
    }

    /// <summary>A chunk outside any budget (tests).</summary>
    public byte[] Rent()
    {
        Outstanding++;
        return idle.TryPop(out byte[]? chunk) ? chunk : GC.AllocateUninitializedArray<byte>(ChunkSize);
    }

    public void Return(byte[] chunk, RelayAccount? account = null)
    {
        Outstanding--;
        if (account is not null)
        {
            account.Held -= ChunkSize;
            if (account.Held == 0 && account.Flows <= 0)
            {
                accounts.Remove(account.Port);
            }
        }

        if (idle.Count < MaxIdle)
        {
            idle.Push(chunk);
        }

        Freed?.Invoke();
    }
}

/// <summary>A bounded FIFO of bytes over pooled chunks. See the file header.</summary>
internal sealed class ByteRing
{
    private const int ChunkSize = ChunkPool.ChunkSize;

    private readonly ChunkPool pool;
    private readonly RelayAccount? account;
    private readonly byte[]?[] chunks;
    private int first;
    private int chunkCount;
    private int head;

    public ByteRing(ChunkPool pool, int limit, RelayAccount? account = null)
    {
        this.pool = pool;
        this.account = account;
        Limit = limit;
        chunks = new byte[]?[(limit / ChunkSize) + 2];
    }

    public int Limit { get; }

    public int Count { get; private set; }

    /// <summary>Bytes the ring can take now: up to its limit, within the room its chunks still have and
    /// what the budget would lend.</summary>
    public int Free => (int)Math.Min(Limit - Count, TailRoom + pool.Headroom(account));

    /// <summary>True when the budget, not the ring's own limit, is what keeps Free below the limit.</summary>
    public bool BudgetLimited => TailRoom + pool.Headroom(account) < Limit - Count;

    /// <summary>Room left in the chunks the ring already holds.</summary>
    private long TailRoom => ((long)chunkCount * ChunkSize) - head - Count;

    public bool IsEmpty => Count == 0;

    /// <summary>Chunks this ring holds now.</summary>
    public int ChunksHeld => chunkCount;

    /// <summary>A writable span at the tail, at most <paramref name="max"/> bytes (empty when full); the
    /// bytes become part of the ring on <see cref="Commit"/>.</summary>
    public Span<byte> GetWriteSpan(int max)
    {
        int room = Math.Min(Limit - Count, max);
        if (room <= 0)
        {
            return [];
        }

        int tail = head + Count;
        int index = tail / ChunkSize;
        int offset = tail % ChunkSize;
        if (index == chunkCount)
        {
            // Over budget: no chunk, no bytes (counted by the pool); the caller sees an empty span.
            if (pool.TryRent(account) is not { } rented)
            {
                return [];
            }

            chunks[(first + chunkCount) % chunks.Length] = rented;
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
        pool.Return(chunks[first]!, account);
        chunks[first] = null;
        first = (first + 1) % chunks.Length;
        chunkCount--;
    }
}
