// Knobs for VhostUserFrontEnd.Negotiate and what it found out.
//
// Theory of operation: the defaults reproduce what QEMU (7.2 and later) sends for a virtio-net device
// whose Linux guest acks the usual features; each knob exists because some front-end or some QEMU
// version behaves that way (see VhostUserFrontEnd.Negotiate for the sequence and its sources).
namespace Switchyard.TestKit.VhostUser;

/// <summary>When the front-end sets NEED_REPLY (only ever once REPLY_ACK is negotiated).</summary>
public enum AckPolicy
{
    /// <summary>On every message that has no reply of its own: each one is acknowledged before the next is sent,
    /// so a test knows the back-end has handled it.</summary>
    Always,

    /// <summary>Where QEMU sets it: SET_MEM_TABLE, ADD/REM_MEM_REG, NET_SET_MTU, SET_VRING_ENABLE, and SET_FEATURES /
    /// SET_VRING_ADDR when dirty logging is on. Without REPLY_ACK, QEMU's "wait for reply" becomes a GET_FEATURES round trip.</summary>
    Qemu,

    /// <summary>Never.</summary>
    Never,
}

/// <summary>How guest memory is described to the back-end.</summary>
public enum MemoryTableMode
{
    /// <summary>As QEMU does: ADD_MEM_REG per region when CONFIGURE_MEM_SLOTS is negotiated, else SET_MEM_TABLE.</summary>
    Auto,

    /// <summary>One SET_MEM_TABLE with every region.</summary>
    SetMemTable,

    /// <summary>One ADD_MEM_REG per region (needs CONFIGURE_MEM_SLOTS on a conforming back-end).</summary>
    AddMemReg,
}

/// <summary>Where SET_VRING_ENABLE(1) goes relative to a queue pair's ring configuration.</summary>
public enum VringEnableOrder
{
    /// <summary>Before SET_FEATURES and the rings (QEMU 7.2 and later: "vhost: Change the sequence of device start",
    /// vhost_net_start restores the enable state before vhost_net_start_one).</summary>
    BeforeStart,

    /// <summary>After the pair's rings are configured (QEMU before 7.2, and interop.md §2.8).</summary>
    AfterStart,
}

public sealed record NegotiateOptions
{
    public static readonly NegotiateOptions Default = new();

    /// <summary>Virtio feature bits the "guest" wants; the front-end acks (offered ∩ wanted), plus
    /// VHOST_USER_F_PROTOCOL_FEATURES when offered.</summary>
    public ulong WantedFeatures { get; init; } = FrontEndFeatures.LinuxGuestDefaults;

    /// <summary>Protocol feature bits the front-end acks when offered.</summary>
    public ulong WantedProtocolFeatures { get; init; } = FrontEndProtocolFeatures.Supported;

    public MemoryTableMode MemoryTable { get; init; } = MemoryTableMode.Auto;

    public VringEnableOrder EnableOrder { get; init; } = VringEnableOrder.BeforeStart;

    /// <summary>Queue pairs whose rings get SET_VRING_ENABLE(1); null: all (a Linux guest enables as many as it has
    /// CPUs, up to the maximum, through the control queue that QEMU keeps).</summary>
    public int? EnabledQueuePairs { get; init; }

    /// <summary>Send QEMU's vhost_virtqueue_init messages: SET_VRING_CALL (its masked notifier) and SET_VRING_ERR
    /// for every ring during init.</summary>
    public bool InitCallAndErr { get; init; } = true;

    /// <summary>Every queue pair sends its own ADD_MEM_REG for each region, as QEMU up to 8.0 (Debian 12's 7.2) does:
    /// ADD/REM_MEM_REG were not yet "one-time" requests there (vhost_user_one_time_request listed only SET_OWNER,
    /// RESET_OWNER, SET_MEM_TABLE, GET_QUEUE_NUM, NET_SET_MTU), so each vhost_dev sent its own copy.</summary>
    public bool MemRegPerQueuePair { get; init; }

    /// <summary>NET_SET_MTU before starting (QEMU does when -device virtio-net-pci,host_mtu=N and F_NET_MTU).</summary>
    public ushort? Mtu { get; init; }
}

/// <summary>What Negotiate learnt and acked.</summary>
public readonly record struct NegotiationResult(
    ulong OfferedFeatures,
    ulong AckedFeatures,
    ulong OfferedProtocolFeatures,
    ulong AckedProtocolFeatures,
    ulong QueueNum,
    ulong MaxMemSlots);
