// The daemon-wide limits on what peers and control clients can make the daemon hold (issue 10).
//
// Theory of operation: these are per process, not per network, so they are flags of `switchyard up`
// rather than topology fields. The descriptor budget itself (reserve, ceilings) is derived from
// RLIMIT_NOFILE at start by Switchyard.Core.Loop.DescriptorBudget; these values are the caps within it.
using Switchyard.Core.Config;
using Switchyard.Core.Loop;

namespace Switchyard.Engine.Config;

/// <summary>Caps on connections and control clients. Throws <see cref="ConfigException"/> for a value out of range.</summary>
public sealed record DaemonLimits
{
    public DaemonLimits(
        int maxConnections = DescriptorBudget.DefaultMaxConnections,
        int maxListenerConnections = DescriptorBudget.DefaultMaxConnectionsPerListener,
        int maxControlClients = Defaults.MaxControlClients,
        TimeSpan? controlIdleTimeout = null)
    {
        TimeSpan idle = controlIdleTimeout ?? Defaults.ControlIdleTimeout;
        var problems = new List<string>();
        if (maxConnections is < 1 or > Defaults.MaxConnectionsLimit)
        {
            problems.Add($"--max-connections {maxConnections} must be from 1 to {Defaults.MaxConnectionsLimit}");
        }

        if (maxListenerConnections is < 1 or > Defaults.MaxConnectionsLimit)
        {
            problems.Add($"--max-listener-connections {maxListenerConnections} must be from 1 to {Defaults.MaxConnectionsLimit}");
        }

        if (maxControlClients is < 1 or > Defaults.MaxControlClientsLimit)
        {
            problems.Add($"--max-control-clients {maxControlClients} must be from 1 to {Defaults.MaxControlClientsLimit}");
        }

        if (idle < TimeSpan.FromSeconds(1) || idle > TimeSpan.FromDays(1))
        {
            problems.Add($"--control-idle-timeout {idle.TotalSeconds} must be from 1 to 86400 seconds");
        }

        if (problems.Count > 0)
        {
            throw new ConfigException(problems);
        }

        MaxConnections = maxConnections;
        MaxListenerConnections = maxListenerConnections;
        MaxControlClients = maxControlClients;
        ControlIdleTimeout = idle;
    }

    /// <summary>The limits when no flag is given.</summary>
    public static DaemonLimits Default { get; } = new();

    /// <summary>Connections every listener together may hold (also bounded by the descriptor limit).</summary>
    public int MaxConnections { get; }

    /// <summary>Connections one listener (a stream or vhost-user server port) may hold.</summary>
    public int MaxListenerConnections { get; }

    /// <summary>Clients connected to the control socket at once.</summary>
    public int MaxControlClients { get; }

    /// <summary>A control client that sends nothing for this long, outside a streaming command, is closed.</summary>
    public TimeSpan ControlIdleTimeout { get; }
}
