// The process's descriptor budget: how many descriptors peers may make the daemon hold.
//
// Theory of operation: descriptors come from one per-process table of RLIMIT_NOFILE entries, shared by
// the .NET runtime (it keeps every loaded assembly open, plus its own epoll, pipes and eventfds), the
// control socket, and everything peers ask for: accepted connections (stream and vhost-user listeners)
// and the NAT gateway's host sockets (one per UDP/TCP/ICMP flow). A full table makes every later open
// fail with EMFILE, the runtime's own included, so the budget keeps peers out of the top of the table:
//
//   0 ............ GatewayCeiling ............ PeerCeiling ............ Limit
//   | runtime, gateway host sockets, conns | conns only (>= MaxConnections) | Reserve: runtime, control |
//
// Linux always hands out the lowest free descriptor number, so a descriptor numbered N means N others
// are open below it. A check on the number is therefore a check on how full the table is, with no
// bookkeeping at the places that close descriptors:
// - a peer-driven descriptor (any connection, any gateway host socket) numbered at or above PeerCeiling
//   is closed at once and counted, which keeps Reserve entries free for the runtime and the control socket;
// - a gateway host socket numbered at or above GatewayCeiling is refused too, so a guest's flow flood can
//   never take the MaxConnections slots that new guests need to connect (numbers between the two
//   ceilings can only be held by connections and the runtime);
// - connections are also counted (TryTakeConnection/ReleaseConnection) against MaxConnections, the
//   global connection cap, besides each listener's own cap.
//
// The descriptor table is per process, so there is one budget per process (Shared), set once at daemon
// start from the raised limit. Everything that checks it runs on the event loop; counters are
// Interlocked so that metrics can read them from elsewhere.
namespace Switchyard.Core.Loop;

public sealed class DescriptorBudget
{
    /// <summary>Default global cap on accepted connections (every listener together).</summary>
    public const int DefaultMaxConnections = 1024;

    /// <summary>Default cap on connections accepted by one listener.</summary>
    public const int DefaultMaxConnectionsPerListener = 256;

    /// <summary>Fewest descriptors kept out of peers' reach, whatever the limit.</summary>
    public const int MinReserve = 64;

    /// <summary>Most descriptors kept out of peers' reach (an eighth of the limit up to this).</summary>
    public const int MaxReserve = 1024;

    private long connections;
    private long connectionsRefusedGlobalCap;
    private long connectionsRefusedNoDescriptors;
    private long hostSocketsRefused;
    private long acceptOutOfDescriptors;

    /// <summary>A budget for a table of <paramref name="limit"/> descriptors. The global connection cap is
    /// <paramref name="maxConnections"/>, but never more than a quarter of what the reserve leaves, so the
    /// gateway keeps the rest.</summary>
    public DescriptorBudget(long limit, int maxConnections = DefaultMaxConnections, int maxConnectionsPerListener = DefaultMaxConnectionsPerListener)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxConnections);
        ArgumentOutOfRangeException.ThrowIfNegative(maxConnectionsPerListener);
        MaxConnectionsPerListener = maxConnectionsPerListener;
        Limit = (int)Math.Clamp(limit, 0, int.MaxValue);
        Reserve = Math.Clamp(Limit / 8, MinReserve, MaxReserve);
        PeerCeiling = Math.Max(0, Limit - Reserve);
        ConfiguredMaxConnections = maxConnections;
        MaxConnections = Math.Min(maxConnections, PeerCeiling / 4);
        GatewayCeiling = PeerCeiling - MaxConnections;
    }

    /// <summary>The process's budget. Until the daemon sets it, one sized from a limit of 1024 (the usual soft default).</summary>
    public static DescriptorBudget Shared { get; set; } = new(1024);

    /// <summary>RLIMIT_NOFILE (soft) the budget was sized from.</summary>
    public int Limit { get; }

    /// <summary>Descriptors at the top of the table no peer may take.</summary>
    public int Reserve { get; }

    /// <summary>Peer-driven descriptors must be numbered below this.</summary>
    public int PeerCeiling { get; }

    /// <summary>Gateway host sockets must be numbered below this.</summary>
    public int GatewayCeiling { get; }

    /// <summary>The global connection cap asked for (--max-connections).</summary>
    public int ConfiguredMaxConnections { get; }

    /// <summary>Cap on the connections of each listener (--max-listener-connections).</summary>
    public int MaxConnectionsPerListener { get; }

    /// <summary>The global connection cap in force: the one asked for, bounded by the limit.</summary>
    public int MaxConnections { get; }

    /// <summary>Connections accepted and not yet released.</summary>
    public long Connections => Interlocked.Read(ref connections);

    /// <summary>Connections refused because every listener together held MaxConnections.</summary>
    public long ConnectionsRefusedGlobalCap => Interlocked.Read(ref connectionsRefusedGlobalCap);

    /// <summary>Connections refused because their descriptor reached into the reserve.</summary>
    public long ConnectionsRefusedNoDescriptors => Interlocked.Read(ref connectionsRefusedNoDescriptors);

    /// <summary>Gateway host sockets refused because their descriptor was at or above GatewayCeiling.</summary>
    public long HostSocketsRefused => Interlocked.Read(ref hostSocketsRefused);

    /// <summary>accept() calls that failed with EMFILE/ENFILE (the listener then pauses).</summary>
    public long AcceptOutOfDescriptors => Interlocked.Read(ref acceptOutOfDescriptors);

    /// <summary>Takes one connection from the global cap for the accepted descriptor <paramref name="fd"/>;
    /// false (and counted) when the cap is reached or the descriptor reaches into the reserve. A caller
    /// that gets true calls <see cref="ReleaseConnection"/> exactly once when the connection is gone.</summary>
    public bool TryTakeConnection(int fd)
    {
        if (fd >= PeerCeiling)
        {
            Interlocked.Increment(ref connectionsRefusedNoDescriptors);
            return false;
        }

        if (Interlocked.Read(ref connections) >= MaxConnections)
        {
            Interlocked.Increment(ref connectionsRefusedGlobalCap);
            return false;
        }

        Interlocked.Increment(ref connections);
        return true;
    }

    /// <summary>Gives back a connection taken with <see cref="TryTakeConnection"/>.</summary>
    public void ReleaseConnection()
    {
        long after = Interlocked.Decrement(ref connections);
        if (after < 0)
        {
            // Our bug (a double release); keep the count meaningful rather than let it run negative.
            Interlocked.Exchange(ref connections, 0);
        }
    }

    /// <summary>True when a new gateway host socket numbered <paramref name="fd"/> may be kept; false
    /// (and counted) when it must be closed because it reaches into the connections' share or the reserve.</summary>
    public bool AdmitsHostSocket(int fd)
    {
        if (fd < GatewayCeiling)
        {
            return true;
        }

        Interlocked.Increment(ref hostSocketsRefused);
        return false;
    }

    /// <summary>Counts an accept() that failed with EMFILE or ENFILE.</summary>
    public void CountAcceptOutOfDescriptors() => Interlocked.Increment(ref acceptOutOfDescriptors);

    public override string ToString() =>
        $"descriptor limit {Limit}, reserve {Reserve}, connections {Connections}/{MaxConnections}, gateway below {GatewayCeiling}";
}
