// The guest's RAM as the front-end shared it: the one door to guest memory (STYLE.md habit 1).
//
// Theory of operation (interop.md §2.7): the front-end describes guest RAM as up to MaxRegions regions
// (guest_phys_addr, memory_size, userspace_addr, mmap_offset) plus one descriptor each. SET_MEM_TABLE
// replaces the whole table (SetRegions, all or nothing); ADD_MEM_REG / REM_MEM_REG edit it one region at
// a time (AddRegion / RemoveRegion; REM identifies a region by guest address, size and user address).
// Each region is mapped with MappedRegion (passt's way: offset 0, skip mmap_offset). Two address spaces
// are looked up: guest-physical (descriptor addresses, via TryGetSpan) and the front-end's own virtual
// addresses (ring addresses in SET_VRING_ADDR, via TryTranslateUserAddress).
//
// What it trusts: nothing in a region table. Every region is checked before anything is mapped: size
// nonzero; guest, user and mapping ranges do not wrap; no two regions overlap in guest-physical space
// or in user space (either would make a lookup ambiguous); no more than MaxRegions. A broken rule throws
// GuestMemoryException naming it; the table is then unchanged. Every guest address (from a descriptor,
// a ring index, anywhere) is checked by TryGetSpan, overflow-proof, and a range must lie wholly inside
// one region: regions adjacent in guest space are not adjacent in our address space (CVE-2019-18960).
//
// Speed: lookups are a linear scan over a small array of structs with the last region hit tried
// first; a VM usually has one to three regions, and consecutive lookups usually hit the same one.
//
// Dirty log (interop.md §2.14): while migrating, the front-end maps a bitmap with one bit per 4 KiB
// guest page (SET_LOG_BASE) and every device write to guest memory must set its pages' bits. LogDirty
// is one branch while logging is off; when on it ORs whole 64-bit words atomically (the front-end
// reads and clears the bitmap concurrently), which on little-endian x86_64 is bit-for-bit the spec's
// `log[page / 8] |= 1 << (page % 8)`. Pages beyond the bitmap are ignored and counted.
//
// What a region may be backed by, and how many there may be (issue 10): each file passes MappedRegion's
// checks under this table's MemoryFilePolicy (a regular file that the front-end cannot shrink, unless the
// port trusts it), and each mapping, the log's included, takes one unit of a process-wide MappingBudget
// before mmap and gives it back when unmapped, so that front-ends together cannot exhaust vm.max_map_count.
//
// Threading and lifetime: owned by one event loop; every method must be called on it. A span from
// TryGetSpan is valid until the next SetRegions / RemoveRegion / Dispose on that loop, so never keep
// one across a return to the loop. What it owns: every region mapping and the log mapping; it takes
// ownership of every descriptor handed to it, success or failure (they are closed after mapping).
using Switchyard.Core.Memory;

namespace Switchyard.Native;

/// <summary>One vhost-user memory region description (VhostUserMemoryRegion, interop.md §2.3).</summary>
public readonly record struct GuestMemoryRegion(ulong GuestPhysAddr, ulong Size, ulong UserAddr, ulong MmapOffset);

public sealed unsafe class GuestMemory : IGuestMemory, IDisposable
{
    /// <summary>Most regions at once: the value GET_MAX_MEM_SLOTS reports. 509 is KVM's usable slot count on
    /// x86 and what rust-vmm's vhost-user-backend reports; QEMU caps it further (256 on x86, 512 elsewhere).</summary>
    public const int MaxRegions = 509;

    /// <summary>VHOST_LOG_PAGE: one dirty-log bit covers this many bytes of guest memory.</summary>
    public const int LogPageSize = 0x1000;

    private const int LogPageShift = 12;

    private Slot[] slots = new Slot[4];
    private int count;
    private int lastHit;

    private readonly MemoryFilePolicy policy;
    private readonly MappingBudget budget;
    private MappedRegion? log;
    private ulong* logWords;
    private ulong logPages;
    private long pagesBeyondLog;

    /// <summary>An empty table whose files must meet <paramref name="policy"/> and whose mappings count against
    /// <paramref name="budget"/> (default: <see cref="MappingBudget.Global"/>).</summary>
    public GuestMemory(MemoryFilePolicy policy = MemoryFilePolicy.Sealed, MappingBudget? budget = null)
    {
        this.policy = policy;
        this.budget = budget ?? MappingBudget.Global;
    }

    /// <summary>A table of <paramref name="regions"/>; see <see cref="SetRegions"/>.</summary>
    public GuestMemory(ReadOnlySpan<GuestMemoryRegion> regions, ReadOnlySpan<int> fds, MemoryFilePolicy policy = MemoryFilePolicy.Sealed, MappingBudget? budget = null)
        : this(policy, budget) => SetRegions(regions, fds);

    public int RegionCount => count;

    /// <summary>True between SetLog and StopLog.</summary>
    public bool IsLogging => logWords != null;

    /// <summary>Pages LogDirty was asked to mark that lie beyond the end of the log bitmap (ignored).</summary>
    public long DirtyPagesBeyondLog => Volatile.Read(ref pagesBeyondLog);

    public GuestMemoryRegion GetRegion(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, count);
        return slots[index].Region;
    }

    /// <summary>
    /// SET_MEM_TABLE: replaces the whole table with <paramref name="regions"/>, backed by <paramref name="fds"/> (same
    /// order). All regions are validated, then all are mapped; only then is the old table unmapped. On any failure
    /// the old table stays in place. Takes ownership of every descriptor in <paramref name="fds"/>, always.
    /// The dirty log, if any, is kept.
    /// </summary>
    /// <exception cref="GuestMemoryException">The table breaks a rule; nothing changed.</exception>
    /// <exception cref="IOException">A region could not be mapped; nothing changed.</exception>
    public void SetRegions(ReadOnlySpan<GuestMemoryRegion> regions, ReadOnlySpan<int> fds)
    {
        try
        {
            if (regions.Length != fds.Length)
            {
                throw new GuestMemoryException(
                    GuestMemoryRule.DescriptorCountMismatch, $"{regions.Length} regions but {fds.Length} descriptors.");
            }

            if (regions.Length > MaxRegions)
            {
                throw new GuestMemoryException(
                    GuestMemoryRule.TooManyRegions, $"{regions.Length} regions; at most {MaxRegions} are supported.");
            }

            for (int i = 0; i < regions.Length; i++)
            {
                Validate(regions[i]);
                for (int j = 0; j < i; j++)
                {
                    CheckOverlap(regions[i], regions[j]);
                }
            }
        }
        catch
        {
            FileDescriptors.CloseAll(fds);
            throw;
        }

        Slot[] fresh = new Slot[Math.Max(regions.Length, 4)];
        int next = 0;
        try
        {
            for (; next < regions.Length; next++)
            {
                fresh[next] = MapSlot(regions[next], fds[next]);
            }
        }
        catch
        {
            // MappedRegion.Map consumed fds[next] even though it failed; close the ones after it and
            // unmap the ones before it.
            FileDescriptors.CloseAll(fds[(next + 1)..]);
            for (int i = 0; i < next; i++)
            {
                Unmap(fresh[i]);
            }

            throw;
        }

        Slot[] old = slots;
        int oldCount = count;
        slots = fresh;
        count = regions.Length;
        lastHit = 0;
        for (int i = 0; i < oldCount; i++)
        {
            Unmap(old[i]);
        }
    }

    /// <summary>ADD_MEM_REG: adds one region backed by <paramref name="fd"/>. Takes ownership of <paramref name="fd"/>,
    /// always.</summary>
    /// <exception cref="GuestMemoryException">The region breaks a rule or the table is full; nothing changed.</exception>
    /// <exception cref="IOException">The region could not be mapped; nothing changed.</exception>
    public void AddRegion(in GuestMemoryRegion region, int fd)
    {
        try
        {
            if (count >= MaxRegions)
            {
                throw new GuestMemoryException(
                    GuestMemoryRule.TooManyRegions, $"The table already has {MaxRegions} regions, the most supported.");
            }

            Validate(region);
            for (int i = 0; i < count; i++)
            {
                CheckOverlap(region, slots[i].Region);
            }
        }
        catch
        {
            FileDescriptors.Close(fd);
            throw;
        }

        Slot slot = MapSlot(region, fd);
        if (count == slots.Length)
        {
            Array.Resize(ref slots, Math.Min(slots.Length * 2, MaxRegions));
        }

        slots[count++] = slot;
    }

    /// <summary>REM_MEM_REG: unmaps the region with exactly this guest address, size and user address.</summary>
    /// <exception cref="GuestMemoryException">No such region (<see cref="GuestMemoryRule.RegionNotFound"/>).</exception>
    public void RemoveRegion(ulong guestPhysAddr, ulong size, ulong userAddr)
    {
        for (int i = 0; i < count; i++)
        {
            ref readonly GuestMemoryRegion r = ref slots[i].Region;
            if (r.GuestPhysAddr == guestPhysAddr && r.Size == size && r.UserAddr == userAddr)
            {
                Slot removed = slots[i];
                Array.Copy(slots, i + 1, slots, i, count - i - 1);
                slots[--count] = default;
                lastHit = 0;
                Unmap(removed);
                return;
            }
        }

        throw new GuestMemoryException(
            GuestMemoryRule.RegionNotFound,
            $"No region at guest 0x{guestPhysAddr:x}, size 0x{size:x}, user address 0x{userAddr:x}.");
    }

    /// <inheritdoc/>
    /// <remarks>A zero-length range is allowed anywhere inside a region or at its exact end (an empty span).</remarks>
    public bool TryGetSpan(ulong guestAddress, int length, out Span<byte> span)
    {
        if (length >= 0)
        {
            Slot[] table = slots;
            int hit = lastHit;
            if (hit < count && TryResolve(ref table[hit], guestAddress, (uint)length, out span))
            {
                return true;
            }

            for (int i = 0; i < count; i++)
            {
                if (TryResolve(ref table[i], guestAddress, (uint)length, out span))
                {
                    lastHit = i;
                    return true;
                }
            }
        }

        span = default;
        return false;
    }

    /// <inheritdoc/>
    public bool TryTranslateUserAddress(ulong userAddress, out ulong guestAddress)
    {
        for (int i = 0; i < count; i++)
        {
            ref readonly GuestMemoryRegion r = ref slots[i].Region;

            // Wraps to a huge value when userAddress is below the region, so one comparison checks both ends.
            ulong offset = userAddress - r.UserAddr;
            if (offset < r.Size)
            {
                guestAddress = r.GuestPhysAddr + offset;
                return true;
            }
        }

        guestAddress = 0;
        return false;
    }

    /// <summary>
    /// SET_LOG_BASE: maps the dirty-log bitmap, <paramref name="mmapSize"/> bytes of <paramref name="fd"/> at file offset
    /// <paramref name="mmapOffset"/> (page aligned), and starts logging; replaces any previous log. Takes ownership of
    /// <paramref name="fd"/>, always.
    /// </summary>
    /// <exception cref="GuestMemoryException">The log description breaks a rule; the previous log (if any) stays.</exception>
    /// <exception cref="IOException">The log could not be mapped; the previous log (if any) stays.</exception>
    public void SetLog(int fd, ulong mmapSize, ulong mmapOffset)
    {
        AcquireMapping(fd);
        MappedRegion fresh;
        try
        {
            fresh = MappedRegion.MapAtFileOffset(fd, mmapOffset, mmapSize, policy);
        }
        catch
        {
            budget.Release();
            throw;
        }

        MappedRegion? old = log;
        log = fresh;
        logWords = (ulong*)fresh.Data;
        logPages = mmapSize * 8;
        ReleaseLog(old);
    }

    /// <summary>Stops logging and unmaps the log (a no-op when not logging).</summary>
    public void StopLog()
    {
        MappedRegion? old = log;
        log = null;
        logWords = null;
        logPages = 0;
        ReleaseLog(old);
    }

    /// <inheritdoc/>
    public void LogDirty(ulong guestAddress, int length)
    {
        if (logWords != null)
        {
            MarkDirty(guestAddress, length);
        }
    }

    /// <summary>Unmaps every region and the log. Spans handed out earlier must no longer be in use.</summary>
    public void Dispose()
    {
        for (int i = 0; i < count; i++)
        {
            Unmap(slots[i]);
            slots[i] = default;
        }

        count = 0;
        lastHit = 0;
        StopLog();
    }

    private static bool TryResolve(ref Slot slot, ulong guestAddress, ulong length, out Span<byte> span)
    {
        // Wraps to a huge value when guestAddress is below the region, failing the first test; the second
        // compares against what is left of the region, so nothing here can overflow.
        ulong offset = guestAddress - slot.Region.GuestPhysAddr;
        if (offset <= slot.Region.Size && length <= slot.Region.Size - offset)
        {
            // SAFETY: offset + length <= Size, and Host .. Host + Size is the live mapping of this region
            // (slots are cleared before their mapping is disposed). length fits an int: it came from one.
            span = new Span<byte>(slot.Host + offset, (int)length);
            return true;
        }

        span = default;
        return false;
    }

    /// <summary>Maps one region, taking one unit of the mapping budget first. Takes ownership of <paramref name="fd"/>.</summary>
    private Slot MapSlot(in GuestMemoryRegion region, int fd)
    {
        AcquireMapping(fd);
        try
        {
            MappedRegion mapping = MappedRegion.Map(fd, region.MmapOffset, region.Size, policy);
            return new Slot { Region = region, Host = mapping.Data, Mapping = mapping };
        }
        catch
        {
            budget.Release();
            throw;
        }
    }

    /// <summary>Takes one unit of the mapping budget, or closes <paramref name="fd"/> (which the caller handed over)
    /// and refuses.</summary>
    private void AcquireMapping(int fd)
    {
        if (!budget.TryAcquire())
        {
            FileDescriptors.Close(fd);
            throw new GuestMemoryException(
                GuestMemoryRule.MappingBudgetExhausted,
                $"The daemon already holds {budget.Used} guest-memory mappings, its limit ({budget.Limit}; "
                + "switchyard up --max-guest-mappings sets it).");
        }
    }

    private void Unmap(Slot slot)
    {
        slot.Mapping.Dispose();
        budget.Release();
    }

    private void ReleaseLog(MappedRegion? old)
    {
        if (old is not null)
        {
            old.Dispose();
            budget.Release();
        }
    }

    private static void Validate(in GuestMemoryRegion r)
    {
        if (r.Size == 0)
        {
            throw new GuestMemoryException(
                GuestMemoryRule.ZeroSize, $"Region at guest 0x{r.GuestPhysAddr:x} has memory_size 0.");
        }

        if (r.Size > ulong.MaxValue - r.GuestPhysAddr)
        {
            throw new GuestMemoryException(
                GuestMemoryRule.GuestRangeOverflow,
                $"guest_phys_addr 0x{r.GuestPhysAddr:x} + memory_size 0x{r.Size:x} overflows.");
        }

        if (r.Size > ulong.MaxValue - r.UserAddr)
        {
            throw new GuestMemoryException(
                GuestMemoryRule.UserRangeOverflow, $"userspace_addr 0x{r.UserAddr:x} + memory_size 0x{r.Size:x} overflows.");
        }

        if (r.Size > ulong.MaxValue - r.MmapOffset)
        {
            throw new GuestMemoryException(
                GuestMemoryRule.MappingRangeOverflow, $"mmap_offset 0x{r.MmapOffset:x} + memory_size 0x{r.Size:x} overflows.");
        }

        if (r.MmapOffset + r.Size > MappedRegion.MaxMappingSize)
        {
            throw new GuestMemoryException(
                GuestMemoryRule.MappingTooLarge,
                $"mmap_offset 0x{r.MmapOffset:x} + memory_size 0x{r.Size:x} exceeds the {MappedRegion.MaxMappingSize >> 30} GiB mapping limit.");
        }
    }

    /// <summary>Both regions already passed Validate, so their end addresses do not wrap.</summary>
    private static void CheckOverlap(in GuestMemoryRegion a, in GuestMemoryRegion b)
    {
        if (a.GuestPhysAddr < b.GuestPhysAddr + b.Size && b.GuestPhysAddr < a.GuestPhysAddr + a.Size)
        {
            throw new GuestMemoryException(
                GuestMemoryRule.GuestRangesOverlap,
                $"Guest range 0x{a.GuestPhysAddr:x}+0x{a.Size:x} overlaps 0x{b.GuestPhysAddr:x}+0x{b.Size:x}.");
        }

        if (a.UserAddr < b.UserAddr + b.Size && b.UserAddr < a.UserAddr + a.Size)
        {
            throw new GuestMemoryException(
                GuestMemoryRule.UserRangesOverlap,
                $"User range 0x{a.UserAddr:x}+0x{a.Size:x} overlaps 0x{b.UserAddr:x}+0x{b.Size:x}.");
        }
    }

    private void MarkDirty(ulong guestAddress, int length)
    {
        if (length <= 0)
        {
            return;
        }

        ulong firstPage = guestAddress >> LogPageShift;
        ulong lastByte = guestAddress + (uint)length - 1;
        ulong lastPage = lastByte < guestAddress ? ulong.MaxValue >> LogPageShift : lastByte >> LogPageShift;
        if (lastPage >= logPages)
        {
            ulong beyond = lastPage - Math.Max(firstPage, logPages) + 1;
            _ = Interlocked.Add(ref pagesBeyondLog, (long)Math.Min(beyond, long.MaxValue));
            if (firstPage >= logPages)
            {
                return;
            }

            lastPage = logPages - 1;
        }

        ulong firstWord = firstPage >> 6;
        ulong lastWord = lastPage >> 6;
        for (ulong word = firstWord; word <= lastWord; word++)
        {
            int low = word == firstWord ? (int)(firstPage & 63) : 0;
            int high = word == lastWord ? (int)(lastPage & 63) : 63;
            ulong mask = (ulong.MaxValue >> (63 - (high - low))) << low;

            // SAFETY: word <= (logPages - 1) / 64 with logPages = mmapSize * 8, so the word starts inside the
            // bitmap; when mmapSize is not a multiple of 8 its last word reaches up to 7 bytes past mmapSize but
            // still inside the same mapped page (mappings are page-granular), and the mask has no bits there.
            // Atomic because the front-end reads and clears the bitmap concurrently (interop.md §2.14).
            _ = Interlocked.Or(ref logWords[word], mask);
        }
    }

    private struct Slot
    {
        public GuestMemoryRegion Region;
        public byte* Host;
        public MappedRegion Mapping;
    }
}
