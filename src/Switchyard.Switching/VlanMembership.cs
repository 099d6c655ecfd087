// How a port takes part in the switch's VLANs (IEEE 802.1Q).
//
// Theory of operation: a port is either an access port (one VLAN, untagged on the wire) or a trunk
// port (a set of VLANs, tagged on the wire, plus an optional native VLAN that travels untagged).
// These records are the control-plane description; the switch compiles each one into a 4096-bit
// member set and an "untagged VID" when the port is added, so the data path never walks a
// collection. Everything here is validated at construction: a VID is 1..4094 (0 means
// priority-tagged and 4095 is reserved, 802.1Q §9.6), so a membership that exists is usable.
// Trusts nothing; owns nothing but its own immutable values.
using Switchyard.Core.Frames;

namespace Switchyard.Switching;

/// <summary>A port's VLAN membership: <see cref="AccessVlan"/> or <see cref="TrunkVlans"/>.</summary>
public abstract record VlanMembership
{
    private protected VlanMembership()
    {
    }

    /// <summary>True when frames of <paramref name="vid"/> may enter and leave the port.</summary>
    public abstract bool IsMember(ushort vid);

    /// <summary>The VLAN that untagged (and priority-tagged) ingress frames belong to, and whose frames
    /// leave untagged; 0 when untagged frames are not accepted.</summary>
    public abstract ushort UntaggedVid { get; }

    internal static ushort CheckVid(ushort vid, string paramName)
    {
        if (vid is 0 or > Ethernet.MaxVlanId)
        {
            throw new ArgumentOutOfRangeException(
                paramName, vid, $"a VLAN id must be between 1 and {Ethernet.MaxVlanId} (0 is priority-tagged, 4095 is reserved)");
        }

        return vid;
    }
}

/// <summary>An access port: one VLAN, untagged on the wire. Ingress frames tagged with this VID or
/// priority-tagged (VID 0) are accepted too; they leave the other ports as the VLAN dictates.</summary>
public sealed record AccessVlan : VlanMembership
{
    public AccessVlan(ushort vid)
    {
        Vid = CheckVid(vid, nameof(vid));
    }

    public ushort Vid { get; }

    public override ushort UntaggedVid => Vid;

    public override bool IsMember(ushort vid) => vid == Vid;

    public override string ToString() => $"access vlan {Vid}";
}

/// <summary>A trunk port: tagged on the wire for every VID in <see cref="AllowedVids"/>. Untagged and
/// priority-tagged ingress frames go to <see cref="NativeVid"/> when it is set and are dropped
/// otherwise; frames of the native VLAN leave untagged. The native VLAN is a member whether or not it
/// is also listed as allowed.</summary>
public sealed record TrunkVlans : VlanMembership
{
    private readonly ushort[] allowedVids;
    private readonly ulong[] members = new ulong[(Ethernet.MaxVlanId + 64) / 64];

    public TrunkVlans(IEnumerable<ushort> allowedVids, ushort? nativeVid = null)
    {
        ArgumentNullException.ThrowIfNull(allowedVids);
        foreach (ushort vid in allowedVids)
        {
            CheckVid(vid, nameof(allowedVids));
            members[vid >> 6] |= 1UL << (vid & 63);
        }

        if (nativeVid is { } native)
        {
            CheckVid(native, nameof(nativeVid));
        }

        // Sorted and distinct, so equal sets compare equal and print the same.
        var sorted = new List<ushort>();
        for (ushort vid = 1; vid <= Ethernet.MaxVlanId; vid++)
        {
            if ((members[vid >> 6] & (1UL << (vid & 63))) != 0)
            {
                sorted.Add(vid);
            }
        }

        this.allowedVids = [.. sorted];
        NativeVid = nativeVid;
        if (nativeVid is { } n)
        {
            members[n >> 6] |= 1UL << (n & 63);
        }
    }

    /// <summary>The tagged VLANs, sorted and without duplicates.</summary>
    public IReadOnlyList<ushort> AllowedVids => allowedVids;

    public ushort? NativeVid { get; }

    public override ushort UntaggedVid => NativeVid ?? 0;

    public override bool IsMember(ushort vid) =>
        vid <= Ethernet.MaxVlanId && (members[vid >> 6] & (1UL << (vid & 63))) != 0;

    public bool Equals(TrunkVlans? other) =>
        other is not null && NativeVid == other.NativeVid && allowedVids.AsSpan().SequenceEqual(other.allowedVids);

    public override int GetHashCode()
    {
        var hash = default(HashCode);
        hash.Add(NativeVid);
        foreach (ushort vid in allowedVids)
        {
            hash.Add(vid);
        }

        return hash.ToHashCode();
    }

    public override string ToString() =>
        $"trunk vlans [{string.Join(',', allowedVids)}]" + (NativeVid is { } n ? $" native {n}" : string.Empty);
}
