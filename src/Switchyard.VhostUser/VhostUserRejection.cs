// Why the back-end (or the port reading its connection) refused a front-end's message.
//
// Theory of operation: as QueueError does for ring state, every rule a vhost-user message can break has its own
// value here, in the order Handle checks them (STYLE.md habit 5: header, descriptors, payload size, fields, state,
// handler), each with a disposition (habit 3) and its own counter on the port (habit 12: the value in snake_case
// under the port's "vhost_user" rule counters). A refused guest-memory description also names its GuestMemoryRule,
// counted in the port's "guest_memory" set. The human-readable detail (the numbers involved) stays a string in
// HandleResult.Reason, for the log line.
using Switchyard.Core.Counters;
using Switchyard.Core.Ports;
using Switchyard.Native;

namespace Switchyard.VhostUser;

/// <summary>The rule a front-end's message broke. Every value but <see cref="None"/> closes the connection
/// (<see cref="VhostUserRejections.GetDisposition"/>).</summary>
public enum VhostUserRejection
{
    /// <summary>The message was accepted.</summary>
    [NotCounted]
    None,

    // ---- 1. Header ----

    /// <summary>The header's version bits are not 1 (vhost-user.rst "Header": "the lower 2 bits store the version; current version is 0x1").</summary>
    VersionUnsupported,

    /// <summary>A request code this back-end does not implement.</summary>
    RequestUnknown,

    /// <summary>The header claims a payload larger than any request has (MessageRules.MaxPayload); checked before reading it.</summary>
    PayloadTooLarge,

    /// <summary>The message carried more file descriptors than any request allows (SCM_RIGHTS truncated).</summary>
    TooManyFds,

    // ---- 2. Descriptors ----

    /// <summary>The wrong number of file descriptors for the request (vhost-user.rst: which messages carry fds).</summary>
    FdCountWrong,

    // ---- 3. Payload size ----

    /// <summary>A payload whose size is not the request's (vhost-user.rst "Message types").</summary>
    PayloadSizeWrong,

    // ---- 4. Fields ----

    /// <summary>SET_FEATURES with a virtio feature bit that was not offered (virtio 1.2 §3.1.1: the driver accepts a subset).</summary>
    FeaturesNotOffered,

    /// <summary>SET_FEATURES without VIRTIO_F_VERSION_1: legacy virtio-net is not supported.</summary>
    [Counter(Name = "version_1_not_negotiated")]
    Version1NotNegotiated,

    /// <summary>SET_PROTOCOL_FEATURES with a bit that was not offered.</summary>
    ProtocolFeaturesNotOffered,

    /// <summary>SET_MEM_TABLE whose region count disagrees with its payload or its descriptors, or is 0 or above the maximum.</summary>
    MemTableMalformed,

    /// <summary>A vring index at or above the rings this back-end offers.</summary>
    VringIndexOutOfRange,

    /// <summary>SET_VRING_NUM with a size that is not a power of two in 1..32768 (virtio 1.2 §2.7).</summary>
    QueueSizeInvalid,

    /// <summary>SET_VRING_KICK without an eventfd (polling mode, bit 8), which this back-end does not support.</summary>
    [Counter(Name = "kick_without_eventfd")]
    KickWithoutEventFd,

    /// <summary>A kick, call or error notifier that is not an eventfd (counted as the port drop vhost_fd_wrong_type too).</summary>
    [Counter(Name = "notifier_not_eventfd")]
    NotifierNotEventFd,

    /// <summary>SET_VRING_ENABLE with a value other than 0 or 1.</summary>
    VringEnableValueInvalid,

    /// <summary>NET_SET_MTU outside 68..65535 (virtio 1.2 §5.1.4.1).</summary>
    MtuOutOfRange,

    // ---- 5. State ----

    /// <summary>SET_LOG_BASE or REM_MEM_REG before any memory table.</summary>
    NoMemoryTable,

    // ---- 6. Handler ----

    /// <summary>A memory region or dirty log refused by GuestMemory; HandleResult.MemoryRule names which rule.</summary>
    GuestMemoryRefused,

    /// <summary>mmap refused a region that passed every rule (the kernel said no).</summary>
    MapFailed,

    // ---- On the connection, outside a message ----

    /// <summary>A kick descriptor reported an error or hang-up, which an eventfd never does (counted as vhost_fd_wrong_type too).</summary>
    KickBroken,
}

/// <summary>What the connection does about a <see cref="VhostUserRejection"/>.</summary>
public enum VhostUserRejectionDisposition
{
    /// <summary>Nothing: the message was accepted.</summary>
    None,

    /// <summary>Close this connection (the front-end cannot go on after a refused configuration), count the rule,
    /// and keep the port for the next connection. No other guest is disturbed.</summary>
    CloseConnection,
}

/// <summary>Helpers over <see cref="VhostUserRejection"/>.</summary>
public static class VhostUserRejections
{
    /// <summary>The disposition for <paramref name="rejection"/> (STYLE.md habit 3).</summary>
    public static VhostUserRejectionDisposition GetDisposition(this VhostUserRejection rejection) =>
        rejection == VhostUserRejection.None ? VhostUserRejectionDisposition.None : VhostUserRejectionDisposition.CloseConnection;

    /// <summary>The port drop reason a rejection is also counted under, where it has one of its own
    /// (vhost_fd_wrong_type, vhost_memory_shrinkable, vhost_mapping_budget).</summary>
    public static DropReason? PortDrop(VhostUserRejection rejection, GuestMemoryRule? memoryRule) => rejection switch
    {
        VhostUserRejection.NotifierNotEventFd or VhostUserRejection.KickBroken => DropReason.VhostFdWrongType,
        VhostUserRejection.GuestMemoryRefused => memoryRule switch
        {
            GuestMemoryRule.NotARegularFile => DropReason.VhostFdWrongType,
            GuestMemoryRule.ShrinkableFile => DropReason.VhostMemoryShrinkable,
            GuestMemoryRule.MappingBudgetExhausted or GuestMemoryRule.TooManyRegions => DropReason.VhostMappingBudget,
            _ => null,
        },
        _ => null,
    };
}
