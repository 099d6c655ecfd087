// One row of a forwarding-database snapshot, for the control plane (`switchyard show`, the API).
using Switchyard.Core.Frames;

namespace Switchyard.Switching;

/// <summary>A learned address: on VLAN <paramref name="Vid"/>, <paramref name="Mac"/> (48 bits, first
/// byte most significant) was last seen <paramref name="Age"/> ago on port <paramref name="Port"/>.</summary>
public readonly record struct FdbEntry(ushort Vid, ulong Mac, string Port, TimeSpan Age)
{
    public override string ToString() => $"vlan {Vid} {Ethernet.FormatMac(Mac)} on {Port}, age {Age}";
}
