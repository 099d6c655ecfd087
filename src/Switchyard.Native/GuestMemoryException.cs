// The typed error for guest-memory tables a front-end sent that break a rule.
//
// Theory of operation: memory-region tables (SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG) and the dirty
// log (SET_LOG_BASE) come from the vhost-user front-end, so a bad one is peer misbehaviour, not our
// bug. GuestMemory and MappedRegion reject such input with a GuestMemoryException whose Rule names the
// rule broken; the vhost-user layer maps the rule to a disposition (NACK the message or close that one
// connection, STYLE.md habit 3) and counts it. The operating system refusing a valid request (mmap
// failing for lack of address space, a descriptor that cannot be mapped) is an IOException instead.
namespace Switchyard.Native;

/// <summary>Which rule a memory region or dirty-log description broke.</summary>
public enum GuestMemoryRule
{
    /// <summary>memory_size (or the log's mmap_size) is zero.</summary>
    ZeroSize,

    /// <summary>guest_phys_addr + memory_size wraps around 2^64.</summary>
    GuestRangeOverflow,

    /// <summary>userspace_addr + memory_size wraps around 2^64.</summary>
    UserRangeOverflow,

    /// <summary>mmap_offset + memory_size wraps around 2^64.</summary>
    MappingRangeOverflow,

    /// <summary>The mapping (mmap_offset + memory_size) exceeds <see cref="MappedRegion.MaxMappingSize"/>.</summary>
    MappingTooLarge,

    /// <summary>A file offset passed to mmap is not a multiple of the page size (the dirty log's mmap_offset).</summary>
    UnalignedOffset,

    /// <summary>The backing file is smaller than the range to be mapped; touching the tail would raise SIGBUS.</summary>
    FileTooSmall,

    /// <summary>Two regions overlap in guest-physical address space.</summary>
    GuestRangesOverlap,

    /// <summary>Two regions overlap in front-end (userspace) address space.</summary>
    UserRangesOverlap,

    /// <summary>More than <see cref="GuestMemory.MaxRegions"/> regions.</summary>
    TooManyRegions,

    /// <summary>REM_MEM_REG named a region (guest_phys_addr, memory_size, userspace_addr) that is not in the table.</summary>
    RegionNotFound,

    /// <summary>The number of descriptors does not match the number of regions.</summary>
    DescriptorCountMismatch,

    /// <summary>The memory (or log) descriptor is not a regular file: an eventfd, socket, pipe or device.</summary>
    NotARegularFile,

    /// <summary>The file could shrink under the mapping (not a memfd sealed with F_SEAL_SHRINK, nor one we could seal),
    /// and the port does not trust its front-end (memory=trusted).</summary>
    ShrinkableFile,

    /// <summary>Mapping the region would pass the daemon-wide mapping budget (<see cref="MappingBudget"/>).</summary>
    MappingBudgetExhausted,
}

/// <summary>A guest-memory description from the front-end broke <see cref="Rule"/>.</summary>
#pragma warning disable RCS1194 // Every instance names the rule it reports; the rule-less standard constructors would not.
public sealed class GuestMemoryException : Exception
#pragma warning restore RCS1194
{
    public GuestMemoryException(GuestMemoryRule rule, string message)
        : base(message) => Rule = rule;

    public GuestMemoryRule Rule { get; }

    /// <summary>The rule in words, e.g. "regions overlap in guest-physical space", for logs and NACK reasons.</summary>
    public string RuleName => Describe(Rule);

    public static string Describe(GuestMemoryRule rule) => rule switch
    {
        GuestMemoryRule.ZeroSize => "size is zero",
        GuestMemoryRule.GuestRangeOverflow => "guest_phys_addr + memory_size overflows",
        GuestMemoryRule.UserRangeOverflow => "userspace_addr + memory_size overflows",
        GuestMemoryRule.MappingRangeOverflow => "mmap_offset + memory_size overflows",
        GuestMemoryRule.MappingTooLarge => "mapping too large",
        GuestMemoryRule.UnalignedOffset => "mmap offset not page aligned",
        GuestMemoryRule.FileTooSmall => "backing file smaller than the mapping",
        GuestMemoryRule.GuestRangesOverlap => "regions overlap in guest-physical space",
        GuestMemoryRule.UserRangesOverlap => "regions overlap in userspace address space",
        GuestMemoryRule.TooManyRegions => "too many regions",
        GuestMemoryRule.RegionNotFound => "no such region",
        GuestMemoryRule.DescriptorCountMismatch => "descriptor count does not match region count",
        GuestMemoryRule.NotARegularFile => "memory descriptor is not a regular file",
        GuestMemoryRule.ShrinkableFile => "memory file can be shrunk by the front-end",
        GuestMemoryRule.MappingBudgetExhausted => "daemon-wide mapping budget exhausted",
        _ => rule.ToString(),
    };
}
