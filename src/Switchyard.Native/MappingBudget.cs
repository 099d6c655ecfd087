// How many guest-memory mappings the whole process may hold (issue 10, hole 3).
//
// Theory of operation: every region a front-end adds is one mmap, one VMA, and the kernel caps a process at
// vm.max_map_count VMAs (65530 by default). Front-ends decide how many regions they add (up to 509 per
// connection, GET_MAX_MEM_SLOTS) and how many connections they open; 128 connections of 509 tiny regions
// reach the cap, after which the .NET runtime itself cannot map memory and the daemon dies. So the mappings
// that peers make us hold are budgeted process-wide: GuestMemory acquires one unit per region (and one for the
// dirty log) before it maps, and releases it when it unmaps. Past the budget a region is refused
// (GuestMemoryRule.MappingBudgetExhausted), which closes that one connection; the runtime keeps the rest of the
// VMA space. The per-connection budget is GuestMemory.MaxRegions, the count GET_MAX_MEM_SLOTS announces.
//
// The default, DefaultLimit, is a quarter of vm.max_map_count, at most 8192 and at least 64: far from the cap
// even with the runtime's own mappings (a few thousand), and still 16 VMs with 509 slots each, or thousands of
// ordinary ones (a VM uses one to a few dozen regions). `switchyard up --max-guest-mappings N` sets it.
//
// Threading: any loop may acquire and release; the count is updated with Interlocked.
namespace Switchyard.Native;

public sealed class MappingBudget
{
    private int limit;
    private int used;
    private long refused;

    public MappingBudget(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        this.limit = limit;
    }

    /// <summary>The process-wide budget every GuestMemory uses unless given another (tests).</summary>
    public static MappingBudget Global { get; } = new(DefaultLimit());

    /// <summary>Most mappings held at once.</summary>
    public int Limit
    {
        get => Volatile.Read(ref limit);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            Volatile.Write(ref limit, value);
        }
    }

    /// <summary>Mappings held now.</summary>
    public int Used => Volatile.Read(ref used);

    /// <summary>Mappings refused because the budget was spent.</summary>
    public long Refused => Interlocked.Read(ref refused);

    /// <summary>The default limit: vm.max_map_count / 4, clamped to 64..8192 (8192 when it cannot be read).</summary>
    public static int DefaultLimit()
    {
        const int most = 8192;
        try
        {
            string text = File.ReadAllText("/proc/sys/vm/max_map_count").Trim();
            return long.TryParse(text, out long max) ? (int)Math.Clamp(max / 4, 64, most) : most;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return most;
        }
    }

    /// <summary>Takes one mapping from the budget; false (counted in <see cref="Refused"/>) when none is left.</summary>
    public bool TryAcquire()
    {
        while (true)
        {
            int now = Volatile.Read(ref used);
            if (now >= Volatile.Read(ref limit))
            {
                _ = Interlocked.Increment(ref refused);
                return false;
            }

            if (Interlocked.CompareExchange(ref used, now + 1, now) == now)
            {
                return true;
            }
        }
    }

    /// <summary>Gives back one mapping taken with <see cref="TryAcquire"/>.</summary>
    public void Release() => _ = Interlocked.Decrement(ref used);
}
