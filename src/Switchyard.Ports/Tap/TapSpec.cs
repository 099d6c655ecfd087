// The tap port kind's spec: QEMU's -netdev tap, on an interface that already exists.
//
// Theory of operation: this record is the one home of the tap kind's configuration: its options and
// their rules (shared by the constructor and the parser), its canonical text, its description, and the
// interface it takes on the host. A QEMU guest does not attach to it. TapSpec.Open.cs opens it.
using Switchyard.Core.Config;

namespace Switchyard.Ports.Tap;

/// <summary>A tap interface on the host: QEMU's <c>-netdev tap,ifname=NAME[,queues=N][,vnet_hdr=on|off]</c>. Switchyard opens
/// /dev/net/tun and attaches to the named interface (create it beforehand, e.g.
/// <c>ip tuntap add dev NAME mode tap user $USER</c>, or run with CAP_NET_ADMIN).</summary>
public sealed partial record TapSpec : NetdevSpec
{
    /// <summary>tap: offloads travel with frames to and from the kernel (IFF_VNET_HDR) unless vnet_hdr=off.</summary>
    public const bool DefaultVnetHeader = true;

    /// <summary>tap: one queue unless queues=N asks for a multiqueue interface.</summary>
    public const int DefaultQueues = 1;

    /// <summary>tap: most queues a tap port opens.</summary>
    public const int MaxQueues = 16;

    /// <summary>Longest interface name (IFNAMSIZ 16 less the terminating NUL).</summary>
    public const int MaxIfNameLength = 15;

    private static readonly string[] Keys = ["id", "ifname", "queues", "vnet_hdr"];

    // QEMU's tap options that Switchyard does not take, with what to do instead.
    private static readonly Dictionary<string, string> RefusedOptions = new(StringComparer.Ordinal)
    {
        ["fd"] = "Switchyard opens the tap itself; give ifname=NAME",
        ["fds"] = "Switchyard opens the tap itself; give ifname=NAME",
        ["script"] = "Switchyard runs no scripts; create the interface beforehand (ip tuntap add dev NAME mode tap user $USER) and give ifname=NAME",
        ["downscript"] = "Switchyard runs no scripts; remove it",
        ["br"] = "Switchyard does not add the tap to a bridge; do that yourself (ip link set NAME master BRIDGE)",
        ["helper"] = "Switchyard runs no helper; create the interface beforehand and give ifname=NAME",
        ["vhost"] = "vhost-net is QEMU's in-kernel path; Switchyard moves the frames itself, so remove it",
        ["vhostfd"] = "vhost-net is QEMU's in-kernel path; remove it",
        ["vhostfds"] = "vhost-net is QEMU's in-kernel path; remove it",
        ["sndbuf"] = "not used by Switchyard; remove it",
        ["poll-us"] = "not used by Switchyard; remove it",
    };

    /// <summary>The <c>tap</c> type word and how its options are read.</summary>
    internal static NetdevSyntax Syntax { get; } = new("tap", Keys, Parse, typeof(TapSpec), ["tap,ifname=sy-tap0,queues=2,vnet_hdr=off"])
    {
        Unsupported = RefusedOptions,
    };

    /// <summary>Throws <see cref="ConfigException"/> if <paramref name="ifName"/> is not a valid Linux
    /// interface name (see <see cref="CheckIfName"/>) or <paramref name="queues"/> is outside
    /// 1..<see cref="MaxQueues"/>.</summary>
    public TapSpec(string ifName, bool vnetHeader = DefaultVnetHeader, int queues = DefaultQueues)
    {
        ArgumentNullException.ThrowIfNull(ifName);
        if (CheckIfName(ifName) is { } problem)
        {
            throw new ConfigException(problem);
        }

        if (CheckQueues(queues) is { } queuesProblem)
        {
            throw new ConfigException(queuesProblem);
        }

        IfName = ifName;
        VnetHeader = vnetHeader;
        Queues = queues;
    }

    /// <summary>The interface name (1 to 15 characters).</summary>
    public string IfName { get; }

    /// <summary>True: frames carry a virtio-net header to and from the kernel (IFF_VNET_HDR), so
    /// checksum and segmentation offloads pass through. QEMU's <c>vnet_hdr</c>.</summary>
    public bool VnetHeader { get; }

    /// <summary>Queues (descriptors) opened on the interface, IFF_MULTI_QUEUE when more than one; all on the
    /// network's one loop, and a flow's frames always go out on the same one. QEMU's <c>queues</c>.</summary>
    public int Queues { get; }

    public override string Kind => "tap";

    public void Deconstruct(out string ifName, out bool vnetHeader) => (ifName, vnetHeader) = (IfName, VnetHeader);

    /// <summary>Null if <paramref name="name"/> is a valid Linux interface name for a tap Switchyard
    /// attaches to, else the problem with a hint. The kernel's rule (dev_valid_name): 1 to IFNAMSIZ-1
    /// bytes, not "." or "..", no '/', ':' or whitespace; here also no '%' (Switchyard does not let
    /// the kernel pick the name) and only letters, digits, '-', '_' and '.', so the name is safe in
    /// messages and shell commands.</summary>
    internal static string? CheckIfName(string name)
    {
        const string Rule = "an interface name is 1 to 15 characters: letters, digits, '-', '_' or '.', not '.' or '..'";
        if (name.Length == 0)
        {
            return $"ifname is empty ({Rule})";
        }

        if (name.Length > MaxIfNameLength)
        {
            return $"ifname {ConfigText.Quote(name)} is {name.Length} characters long ({Rule}; Linux allows at most {MaxIfNameLength})";
        }

        if (name is "." or "..")
        {
            return $"ifname {ConfigText.Quote(name)} is not a valid interface name ({Rule})";
        }

        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                string why = c == '%' ? "; name the interface, Switchyard does not let the kernel pick one" : string.Empty;
                return $"ifname {ConfigText.Quote(name)} contains {ConfigText.Quote(c.ToString())} ({Rule}{why})";
            }
        }

        return null;
    }

    /// <summary>Null if <paramref name="queues"/> is a queue count a tap port takes, else the problem.</summary>
    internal static string? CheckQueues(int queues) => queues is < 1 or > MaxQueues
        ? $"queues={queues} is out of range (a tap port opens 1..{MaxQueues} queues)"
        : null;

    private protected override void Write(SpecWriter writer)
    {
        writer.Add("ifname", IfName);
        if (Queues != DefaultQueues)
        {
            writer.Add("queues", Queues);
        }

        writer.Add("vnet_hdr", VnetHeader);
    }

    public override PortShape Shape => PortShape.Single;

    public override string Describe() => $"tap {IfName}";

    public override QemuMirror? Qemu(QemuGuest guest) => null;

    public override IReadOnlyList<HostClaim> HostClaims() => [new HostInterface(IfName)];

    private static TapSpec? Parse(NetdevParser.SpecReader r)
    {
        string? ifName = r.Get("ifname");
        bool vnetHeader = r.GetBool("vnet_hdr") ?? DefaultVnetHeader;
        int queues = r.GetInt("queues") ?? DefaultQueues;
        if (CheckQueues(queues) is { } queuesProblem)
        {
            r.Error($"bad value for 'queues' in tap spec: {queuesProblem}");
        }

        if (ifName is null)
        {
            r.Error("missing option 'ifname' in tap spec (give ifname=NAME, an existing tap interface, e.g. created with 'ip tuntap add dev NAME mode tap user $USER')");
        }
        else if (CheckIfName(ifName) is { } problem)
        {
            r.Error($"bad value for 'ifname' in tap spec: {problem}");
        }

        return r.Failed || ifName is null ? null : new TapSpec(ifName, vnetHeader, queues);
    }
}
