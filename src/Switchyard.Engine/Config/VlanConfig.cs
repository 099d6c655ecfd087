// A port's VLAN membership as configured: one access VLAN, or a trunk of tagged VLANs.
//
// Theory of operation: the user says "vlan 10", or "trunk 10,20,30-40 with native VLAN 1", or
// nothing (access VLAN 1). The same rules serve the CLI flags (FromFlags), the YAML keys (the loader
// calls Build) and code that constructs the records directly: VIDs are 1..4094 (IEEE 802.1Q: 0 means
// priority-tagged, 4095 is reserved), an access VLAN and a trunk exclude each other, and a native
// VLAN needs a trunk. A record that exists is valid; the switch (Switchyard.Switching.VlanMembership)
// compiles it into its data-path form. Trunk sets compare by content, so two configurations that
// list the same VLANs in any order or with ranges are equal.
using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Switchyard.Core.Config;

namespace Switchyard.Engine.Config;

/// <summary>VLAN membership of a port: <see cref="AccessVlan"/> or <see cref="TrunkVlans"/>.</summary>
public abstract record VlanConfig
{
    private protected VlanConfig()
    {
    }

    /// <summary>What a port gets when it says nothing: access port on VLAN <see cref="Defaults.Vlan"/>.</summary>
    public static VlanConfig Default { get; } = new AccessVlan(Defaults.Vlan);

    /// <summary>True if frames of <paramref name="vid"/> may enter and leave the port.</summary>
    public abstract bool Carries(ushort vid);

    /// <summary>For display: "access 10" or "trunk 10,20,30-40 native 1".</summary>
    public sealed override string ToString() => Display();

    /// <summary>Builds a VLAN configuration from CLI-style flags: <paramref name="vlan"/> (access VLAN),
    /// <paramref name="trunk"/> ("10,20,30-40") and <paramref name="native"/> (native VLAN of the trunk).
    /// All null gives <see cref="Default"/>. Throws <see cref="ConfigException"/> listing every problem.</summary>
    public static VlanConfig FromFlags(int? vlan, string? trunk, int? native)
    {
        var errors = new List<string>();
        ImmutableSortedSet<ushort>? vids = trunk is null ? null : ParseVidList(trunk, "trunk", errors);
        VlanConfig? config = Build(vlan, trunk is not null, vids, native, errors);
        return config is not null && errors.Count == 0 ? config : throw new ConfigException(errors);
    }

    /// <summary>The one place the combination rules live. <paramref name="hasTrunk"/> says whether a
    /// trunk was given at all (its VIDs may have failed to parse, leaving <paramref name="trunkVids"/>
    /// null). Returns null and adds to <paramref name="errors"/> on any problem.</summary>
    internal static VlanConfig? Build(int? vlan, bool hasTrunk, ImmutableSortedSet<ushort>? trunkVids, int? native, List<string> errors)
    {
        int before = errors.Count;
        if (vlan is not null && hasTrunk)
        {
            errors.Add("vlan and trunk cannot be used together: a port is either an access port on one VLAN (vlan) or a trunk of tagged VLANs (trunk); for untagged traffic on a trunk, use its native VLAN");
        }

        if (native is not null && !hasTrunk)
        {
            errors.Add("a native VLAN applies only to a trunk; add a trunk, or use vlan for an access port");
        }

        if (vlan is { } v && CheckVid(v, "vlan") is { } vlanProblem)
        {
            errors.Add(vlanProblem);
        }

        if (native is { } n && CheckVid(n, "native VLAN") is { } nativeProblem)
        {
            errors.Add(nativeProblem);
        }

        if (errors.Count > before)
        {
            return null;
        }

        if (hasTrunk)
        {
            return trunkVids is null ? null : new TrunkVlans(trunkVids, (ushort?)native);
        }

        return vlan is { } access ? new AccessVlan((ushort)access) : Default;
    }

    /// <summary>Parses "10,20,30-40" (spaces around items allowed). Returns null and adds to
    /// <paramref name="errors"/> on any problem; <paramref name="what"/> names the value in messages.</summary>
    internal static ImmutableSortedSet<ushort>? ParseVidList(string text, string what, List<string> errors)
    {
        int before = errors.Count;
        var vids = ImmutableSortedSet.CreateBuilder<ushort>();
        if (string.IsNullOrWhiteSpace(text))
        {
            errors.Add($"{what} is empty (list VLAN ids, e.g. 10,20,30-40)");
            return null;
        }

        foreach (string raw in text.Split(','))
        {
            string item = raw.Trim();
            int dash = item.IndexOf('-', 1 < item.Length ? 1 : 0);
            if (item.Length == 0)
            {
                errors.Add($"{what} {ConfigText.Quote(text)} has an empty item (separate VLAN ids with single commas, e.g. 10,20,30-40)");
            }
            else if (dash > 0)
            {
                int? low = ConfigText.ParseInt(item[..dash].Trim());
                int? high = ConfigText.ParseInt(item[(dash + 1)..].Trim());
                if (low is null || high is null)
                {
                    errors.Add($"{what} item {ConfigText.Quote(item)} is not a VLAN id or range (expected e.g. 10 or 30-40)");
                }
                else if (CheckVid(low.Value, what) is { } lowProblem)
                {
                    errors.Add(lowProblem);
                }
                else if (CheckVid(high.Value, what) is { } highProblem)
                {
                    errors.Add(highProblem);
                }
                else if (low > high)
                {
                    errors.Add($"{what} range {ConfigText.Quote(item)} runs backwards (write the smaller VLAN id first, e.g. {high}-{low})");
                }
                else
                {
                    for (int vid = low.Value; vid <= high.Value; vid++)
                    {
                        vids.Add((ushort)vid);
                    }
                }
            }
            else if (ConfigText.ParseInt(item) is not { } vid)
            {
                errors.Add($"{what} item {ConfigText.Quote(item)} is not a VLAN id or range (expected e.g. 10 or 30-40)");
            }
            else if (CheckVid(vid, what) is { } problem)
            {
                errors.Add(problem);
            }
            else
            {
                vids.Add((ushort)vid);
            }
        }

        return errors.Count > before ? null : vids.ToImmutable();
    }

    /// <summary>Null if <paramref name="vid"/> is a usable VLAN id, else the problem.</summary>
    internal static string? CheckVid(int vid, string what) =>
        vid is >= Defaults.MinVid and <= Defaults.MaxVid
            ? null
            : $"{what} {vid} is out of range (VLAN ids are {Defaults.MinVid}..{Defaults.MaxVid}; 0 means priority-tagged and 4095 is reserved)";

    /// <summary>"10,20,30-40": sorted VIDs with runs of three or more folded into ranges.</summary>
    internal static string FormatVidList(IEnumerable<ushort> vids)
    {
        var sb = new StringBuilder();
        ushort[] list = [.. vids];
        for (int i = 0; i < list.Length;)
        {
            int j = i;
            while (j + 1 < list.Length && list[j + 1] == list[j] + 1)
            {
                j++;
            }

            if (sb.Length > 0)
            {
                sb.Append(',');
            }

            sb.Append(list[i].ToString(CultureInfo.InvariantCulture));
            if (j - i >= 2)
            {
                sb.Append('-').Append(list[j].ToString(CultureInfo.InvariantCulture));
            }
            else if (j > i)
            {
                sb.Append(',').Append(list[j].ToString(CultureInfo.InvariantCulture));
            }

            i = j + 1;
        }

        return sb.ToString();
    }

    private protected abstract string Display();
}

/// <summary>An access port: one VLAN, untagged on the wire.</summary>
public sealed record AccessVlan : VlanConfig
{
    /// <summary>Throws <see cref="ConfigException"/> unless <paramref name="vid"/> is 1..4094.</summary>
    public AccessVlan(ushort vid)
    {
        if (CheckVid(vid, "vlan") is { } problem)
        {
            throw new ConfigException(problem);
        }

        Vid = vid;
    }

    public ushort Vid { get; }

    public override bool Carries(ushort vid) => vid == Vid;

    public void Deconstruct(out ushort vid) => vid = Vid;

    private protected override string Display() => "access " + Vid.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A trunk port: tagged on the wire for every VID in <see cref="Vids"/>; untagged frames
/// belong to <see cref="Native"/> when it is set (and are dropped otherwise). The native VLAN is a
/// member whether or not it is also listed in <see cref="Vids"/>.</summary>
public sealed record TrunkVlans : VlanConfig
{
    /// <summary>Throws <see cref="ConfigException"/> if the set is empty or a VID is outside 1..4094.</summary>
    public TrunkVlans(ImmutableSortedSet<ushort> vids, ushort? native = null)
    {
        ArgumentNullException.ThrowIfNull(vids);
        var problems = new List<string>();
        if (vids.IsEmpty)
        {
            problems.Add("a trunk needs at least one VLAN (for a port on a single untagged VLAN, use vlan)");
        }

        foreach (ushort vid in vids)
        {
            if (CheckVid(vid, "trunk VLAN") is { } problem)
            {
                problems.Add(problem);
                break;
            }
        }

        if (native is { } n && CheckVid(n, "native VLAN") is { } nativeProblem)
        {
            problems.Add(nativeProblem);
        }

        if (problems.Count > 0)
        {
            throw new ConfigException(problems);
        }

        // The default comparer, so equal sets also enumerate and print alike.
        Vids = vids.WithComparer(null);
        Native = native;
    }

    /// <summary>The tagged VLANs, sorted ascending.</summary>
    public ImmutableSortedSet<ushort> Vids { get; }

    /// <summary>The VLAN of untagged frames, or null to drop untagged frames.</summary>
    public ushort? Native { get; }

    public override bool Carries(ushort vid) => vid == Native || Vids.Contains(vid);

    public void Deconstruct(out ImmutableSortedSet<ushort> vids, out ushort? native) => (vids, native) = (Vids, Native);

    public bool Equals(TrunkVlans? other) =>
        other is not null && Native == other.Native && Vids.SetEquals(other.Vids);

    public override int GetHashCode()
    {
        var hash = default(HashCode);
        hash.Add(Native);
        foreach (ushort vid in Vids)
        {
            hash.Add(vid);
        }

        return hash.ToHashCode();
    }

    private protected override string Display() =>
        "trunk " + FormatVidList(Vids) + (Native is { } n ? " native " + n.ToString(CultureInfo.InvariantCulture) : string.Empty);
}
