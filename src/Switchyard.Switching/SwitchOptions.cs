// Settings of one learning switch. Defaults are written here and nowhere else (STYLE.md habit 15);
// the configuration model in Switchyard.Engine maps onto this record. LearningSwitch checks the
// ranges when it is constructed.
namespace Switchyard.Switching;

/// <summary>How a <see cref="LearningSwitch"/> behaves.</summary>
public sealed record SwitchOptions
{
    /// <summary>The default for <see cref="MacAgeing"/>: 300 s, as in 802.1Q and the Linux bridge.</summary>
    public static readonly TimeSpan DefaultMacAgeing = TimeSpan.FromSeconds(300);

    public const int DefaultMaxMacs = 8192;

    public const int DefaultMaxMacsPerPort = 1024;

    public static SwitchOptions Default { get; } = new();

    /// <summary>Act as a hub: no learning, no VLAN processing, every frame to every other port unchanged.</summary>
    public bool Hub { get; init; }

    /// <summary>How long a learned address stays valid without being seen again. Must be positive.</summary>
    public TimeSpan MacAgeing { get; init; } = DefaultMacAgeing;

    /// <summary>Most entries the forwarding database holds; beyond it new addresses are not learned
    /// (their frames are flooded). Zero disables learning.</summary>
    public int MaxMacs { get; init; } = DefaultMaxMacs;

    /// <summary>Most entries one port may hold in the forwarding database, so one peer's flood of source
    /// MACs cannot fill the table and turn other guests' unicast into floods. Beyond it new addresses from
    /// that port are not learned (counted in FdbPortLimit); their frames are still forwarded.</summary>
    public int MaxMacsPerPort { get; init; } = DefaultMaxMacsPerPort;
}
