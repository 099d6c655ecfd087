// The netns port kind's spec: a tap Switchyard creates inside a network namespace.
//
// Theory of operation: this record is the one home of the netns kind's configuration: its options and
// their rules (shared by the constructor and the parser), its canonical text, its description, and the
// interface it takes inside the namespace. A QEMU guest does not attach to it. NetnsSpec.Open.cs opens
// it and watches the namespace.
using Switchyard.Core.Config;
using Switchyard.Ports.Tap;

namespace Switchyard.Ports.Netns;

/// <summary>A tap created inside a network namespace: <c>netns,name=NAME</c> (a namespace made with
/// <c>ip netns add NAME</c>) or <c>netns,pid=PID</c> (the namespace of a running process, e.g. a
/// container's init), with <c>ifname=</c> the interface inside it (default eth0). Switchyard enters
/// the namespace only to create the tap and bring it up; it stays in its own. Needs root.</summary>
public sealed partial record NetnsSpec : NetdevSpec
{
    /// <summary>netns: the interface a namespace port creates inside the namespace unless ifname= says otherwise.</summary>
    public const string DefaultIfName = "eth0";

    /// <summary>netns: longest namespace name accepted (names are files under /run/netns).</summary>
    public const int MaxNameLength = 64;

    private static readonly string[] Keys = ["id", "name", "pid", "ifname"];

    /// <summary>The <c>netns</c> type word and how its options are read.</summary>
    internal static NetdevSyntax Syntax { get; } = new("netns", Keys, Parse, typeof(NetnsSpec), ["netns,name=sy-example,ifname=eth1", "netns,pid=1,ifname=eth0"]);

    /// <summary>Throws <see cref="ConfigException"/> if the spec breaks a rule (see <see cref="Check"/>):
    /// exactly one of <paramref name="name"/> and <paramref name="pid"/>.</summary>
    public NetnsSpec(string? name, int? pid, string ifName = DefaultIfName)
    {
        ArgumentNullException.ThrowIfNull(ifName);
        List<string> problems = Check(name, pid, ifName);
        if (problems.Count > 0)
        {
            throw new ConfigException(problems);
        }

        Name = name;
        Pid = pid;
        IfName = ifName;
    }

    /// <summary>The named namespace (/run/netns/NAME), or null when <see cref="Pid"/> is set.</summary>
    public string? Name { get; }

    /// <summary>The process whose namespace to join, or null when <see cref="Name"/> is set.</summary>
    public int? Pid { get; }

    /// <summary>The tap's name inside the namespace.</summary>
    public string IfName { get; }

    public override string Kind => "netns";

    /// <summary>The rules a netns spec must follow, as messages; empty if all hold.</summary>
    internal static List<string> Check(string? name, int? pid, string? ifName)
    {
        var problems = new List<string>();
        if (name is null && pid is null)
        {
            problems.Add("a netns spec needs name=NAME (a namespace from 'ip netns add NAME') or pid=PID (the namespace of a running process)");
        }
        else if (name is not null && pid is not null)
        {
            problems.Add("give either name= or pid= in a netns spec, not both");
        }

        if (name is not null && CheckName(name) is { } nameProblem)
        {
            problems.Add(nameProblem);
        }

        if (pid is <= 0)
        {
            problems.Add($"pid={pid} is not a process id (give a number from 1 up)");
        }

        if (ifName is not null && TapSpec.CheckIfName(ifName) is { } ifProblem)
        {
            problems.Add(ifProblem);
        }

        return problems;
    }

    /// <summary>Null if <paramref name="name"/> can name a namespace under /run/netns, else the problem.</summary>
    internal static string? CheckName(string name)
    {
        string rule = $"a namespace name is 1 to {MaxNameLength} characters: letters, digits, '-', '_' or '.', not '.' or '..'";
        if (name.Length == 0 || name.Length > MaxNameLength || name is "." or "..")
        {
            return $"name {ConfigText.Quote(name)} is not a valid namespace name ({rule})";
        }

        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                return $"name {ConfigText.Quote(name)} contains {ConfigText.Quote(c.ToString())} ({rule})";
            }
        }

        return null;
    }

    private protected override void Write(SpecWriter writer)
    {
        if (Name is not null)
        {
            writer.Add("name", Name);
        }
        else
        {
            writer.Add("pid", Pid!.Value);
        }

        writer.Add("ifname", IfName);
    }

    public override PortShape Shape => PortShape.Single;

    public override string Describe() => Name is { } name ? $"netns {name}" : $"netns of pid {Pid}";

    public override QemuMirror? Qemu(QemuGuest guest) => null;

    public override IReadOnlyList<HostClaim> HostClaims() =>
        [new NamespaceInterface(Name is { } name ? $"netns {name}" : $"the namespace of pid {Pid}", IfName)];

    private static NetnsSpec? Parse(NetdevParser.SpecReader r)
    {
        string? name = r.Get("name");
        int? pid = r.GetInt("pid");
        string ifName = r.Get("ifname") ?? DefaultIfName;
        foreach (string problem in Check(name, r.Has("pid") && pid is null ? 1 : pid, ifName))
        {
            r.Error($"{problem} (in netns spec)");
        }

        return r.Failed ? null : new NetnsSpec(name, pid, ifName);
    }
}
