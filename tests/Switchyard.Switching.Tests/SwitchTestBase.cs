// Shared setup for switch tests: a manual clock and helpers to build a switch and its ports.
using Switchyard.Core.Ports;
using Switchyard.TestKit;

namespace Switchyard.Switching.Tests;

public abstract class SwitchTestBase
{
    internal static readonly AccessVlan Vlan1 = new(1);

    internal ManualClock Clock { get; } = new();

    internal LearningSwitch NewSwitch(SwitchOptions? options = null, Action<Port, string>? onPortClosed = null) =>
        new("net0", Clock, options ?? SwitchOptions.Default, onPortClosed);

    internal static TestPort AddPort(LearningSwitch sw, string name, VlanMembership? vlan = null, PortOffloads offloads = PortOffloads.None)
    {
        var port = new TestPort(name, offloads);
        sw.AddPort(port, vlan ?? Vlan1);
        return port;
    }

    internal static TrunkVlans Trunk(ushort? native, params ushort[] allowed) => new(allowed, native);
}
