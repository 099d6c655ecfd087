using Switchyard.Core.Counters;

namespace Switchyard.Core.Ports;

/// <summary>A port that counts each rule its peer can break under its own name, beyond the summary
/// <see cref="DropReason"/> it also counts (a vhost-user port: one set each for the virtqueue rules, the
/// virtio-net TX and RX rules, the messages it refused and the guest-memory rules). `show` and /metrics list
/// every set, so a new rule is one enum member.</summary>
public interface IRuleCounters
{
    /// <summary>The sets, each with its own <see cref="ICounterSet.Name"/>; the same instances for the port's life.</summary>
    IReadOnlyList<ICounterSet> RuleCounters { get; }
}
