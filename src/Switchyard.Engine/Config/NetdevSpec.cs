// Port specs: what a port connects to, written in QEMU's -netdev option syntax.
//
// Theory of operation: a spec says, from Switchyard's side, which socket a port opens and whether it
// listens or connects. The text form is QEMU's (`stream,addr.type=unix,addr.path=/run/g1.sock,server=on`)
// so a user can copy an option list from a QEMU command line and flip the roles. Parsing lives in
// NetdevParser; this file holds the validated values. Every constructor checks the rules of its
// spec, so a NetdevSpec that exists is a valid one, and ToString() writes the canonical text, which
// parses back to an equal spec. Parse and TryParse report every problem in the text at once.
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Text;
using Switchyard.Native;

namespace Switchyard.Engine.Config;

/// <summary>What a port connects to: <see cref="StreamSpec"/>, <see cref="DgramSpec"/>,
/// <see cref="VhostUserSpec"/> or <see cref="TapSpec"/>.</summary>
public abstract record NetdevSpec
{
    private protected NetdevSpec()
    {
    }

    /// <summary>"stream", "dgram", "vhost-user" or "tap": the port type, and the first word of the canonical text.</summary>
    public abstract string Kind { get; }

    /// <summary>Parses a spec. Accepts <c>stream</c>, <c>dgram</c>, <c>vhost-user</c>, <c>tap</c> and QEMU's legacy
    /// <c>socket</c> (which becomes a stream or dgram spec). Throws <see cref="ConfigException"/> listing
    /// every problem found.</summary>
    public static NetdevSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var errors = new List<string>();
        NetdevSpec? spec = NetdevParser.Parse(text, errors);
        return spec is not null && errors.Count == 0 ? spec : throw new ConfigException(errors);
    }

    /// <summary>Like <see cref="Parse"/>, but returns the problems instead of throwing.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out NetdevSpec? spec, out IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(text);
        var list = new List<string>();
        try
        {
            spec = NetdevParser.Parse(text, list);
        }
        catch (ConfigException ex)
        {
            // A constructor found a rule the parser did not check first: still a user error.
            list.AddRange(ex.Errors);
            spec = null;
        }

        if (list.Count > 0)
        {
            spec = null;
        }

        errors = list;
        return spec is not null;
    }

    /// <summary>The canonical spec text: type word, then options in a fixed order, commas in values
    /// doubled. <c>Parse(spec.ToString())</c> equals <c>spec</c>.</summary>
    public sealed override string ToString()
    {
        var writer = new SpecWriter(Kind);
        Write(writer);
        return writer.ToString();
    }

    private protected abstract void Write(SpecWriter writer);

    /// <summary>Builds canonical spec text.</summary>
    private protected sealed class SpecWriter(string kind)
    {
        private readonly StringBuilder text = new(kind);

        public void Add(string key, string value) =>
            text.Append(',').Append(key).Append('=').Append(value.Replace(",", ",,", StringComparison.Ordinal));

        public void Add(string key, bool value) => Add(key, ConfigText.FormatBool(value));

        public void Add(string key, long value) => Add(key, value.ToString(CultureInfo.InvariantCulture));

        public void Add(string prefix, NetdevAddress address)
        {
            Add(prefix + ".type", address.Type);
            switch (address)
            {
                case UnixSocketAddress unix:
                    Add(prefix + ".path", unix.Path);
                    if (unix.Abstract)
                    {
                        Add(prefix + ".abstract", true);
                    }

                    break;
                case InetSocketAddress inet:
                    Add(prefix + ".host", inet.Host);
                    Add(prefix + ".port", inet.Port);
                    break;
            }
        }

        public override string ToString() => text.ToString();
    }
}

/// <summary>A stream socket carrying QEMU's stream framing (4-byte big-endian length, then the frame):
/// QEMU's <c>-netdev stream</c> and the TCP form of <c>-netdev socket</c>.</summary>
public sealed record StreamSpec : NetdevSpec
{
    /// <summary>Throws <see cref="ConfigException"/> if the spec breaks a rule (see <see cref="Check"/>).
    /// A zero <paramref name="reconnect"/> means "do not reconnect", the same as null.</summary>
    public StreamSpec(NetdevAddress address, bool server = Defaults.StreamServer, TimeSpan? reconnect = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        reconnect = reconnect == TimeSpan.Zero ? null : reconnect;
        List<string> problems = Check(address, server, reconnect);
        if (problems.Count > 0)
        {
            throw new ConfigException(problems);
        }

        Address = address;
        Server = server;
        Reconnect = reconnect;
    }

    /// <summary>Where to listen (server) or connect (client).</summary>
    public NetdevAddress Address { get; }

    /// <summary>True: Switchyard listens and QEMU connects. False (QEMU's default): Switchyard connects.</summary>
    public bool Server { get; }

    /// <summary>Client only: how long to wait before connecting again after the connection is lost
    /// or refused; null means give up. QEMU's <c>reconnect-ms</c> (or <c>reconnect</c> in seconds).</summary>
    public TimeSpan? Reconnect { get; }

    public override string Kind => "stream";

    public void Deconstruct(out NetdevAddress address, out bool server) => (address, server) = (Address, Server);

    /// <summary>The rules a stream spec must follow, as messages; empty if all hold. A null address is
    /// skipped (the caller has already reported it).</summary>
    internal static List<string> Check(NetdevAddress? address, bool server, TimeSpan? reconnect)
    {
        var problems = new List<string>();
        if (address is InetSocketAddress { Port: 0 } && !server)
        {
            problems.Add("port 0 (\"pick any\") is only for a listener (server=on); a client must name the port it connects to");
        }

        if (reconnect is { } r)
        {
            if (server)
            {
                problems.Add("reconnect applies only to a client (server=off); a server keeps listening anyway, so remove reconnect");
            }

            if (r <= TimeSpan.Zero || r.Ticks % TimeSpan.TicksPerMillisecond != 0 || r.TotalMilliseconds > int.MaxValue)
            {
                problems.Add($"reconnect interval {r} must be a whole number of milliseconds from 1 to {int.MaxValue}");
            }
        }

        return problems;
    }

    private protected override void Write(SpecWriter writer)
    {
        writer.Add("addr", Address);
        writer.Add("server", Server);
        if (Reconnect is { } r)
        {
            writer.Add("reconnect-ms", (long)r.TotalMilliseconds);
        }
    }
}

/// <summary>A datagram socket, one Ethernet frame per datagram: QEMU's <c>-netdev dgram</c> and the
/// UDP form of <c>-netdev socket</c>. Switchyard is a point-to-point peer: it binds
/// <see cref="Local"/> and sends to <see cref="Remote"/>, the socket QEMU binds.</summary>
public sealed record DgramSpec : NetdevSpec
{
    /// <summary>Throws <see cref="ConfigException"/> if the spec breaks a rule (see <see cref="Check"/>).</summary>
    public DgramSpec(NetdevAddress local, NetdevAddress remote)
    {
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(remote);
        List<string> problems = Check(local, remote);
        if (problems.Count > 0)
        {
            throw new ConfigException(problems);
        }

        Local = local;
        Remote = remote;
    }

    /// <summary>The address Switchyard binds (port 0 lets the kernel choose).</summary>
    public NetdevAddress Local { get; }

    /// <summary>The address Switchyard sends to: the QEMU side's bound address. Always set; the type is
    /// non-null because multicast (where QEMU makes it optional) is not supported.</summary>
    public NetdevAddress Remote { get; }

    public override string Kind => "dgram";

    public void Deconstruct(out NetdevAddress local, out NetdevAddress remote) => (local, remote) = (Local, Remote);

    /// <summary>The rules a dgram spec must follow, as messages; empty if all hold. Null addresses are
    /// skipped (the caller has already reported them).</summary>
    internal static List<string> Check(NetdevAddress? local, NetdevAddress? remote)
    {
        var problems = new List<string>();
        CheckNotMulticast(local, "local", problems);
        CheckNotMulticast(remote, "remote", problems);
        if (local is null || remote is null)
        {
            return problems;
        }

        if (local.Type != remote.Type)
        {
            problems.Add($"local is {local.Type} but remote is {remote.Type}; both ends of a datagram socket must be the same type (both unix or both inet)");
            return problems;
        }

        if (remote is InetSocketAddress { Port: 0 })
        {
            problems.Add("remote port 0 is not an address anything can listen on; give the port the QEMU side binds");
        }

        if (local is InetSocketAddress { Literal: { } l } && remote is InetSocketAddress { Literal: { } r }
            && l.AddressFamily != r.AddressFamily)
        {
            problems.Add($"local host {l} and remote host {r} are different IP versions; use IPv4 on both sides or IPv6 on both sides");
        }

        if (local.Equals(remote))
        {
            problems.Add($"local and remote are the same address ({local}); remote must be the address the QEMU side binds, not Switchyard's own");
        }

        return problems;
    }

    private static void CheckNotMulticast(NetdevAddress? address, string role, List<string> problems)
    {
        if (address is InetSocketAddress { Literal: { } ip } && IsMulticast(ip))
        {
            problems.Add($"{role} host {ip} is a multicast group; multicast dgram is not supported (Switchyard is a point-to-point peer: give the unicast address of each side)");
        }
    }

    private static bool IsMulticast(IPAddress ip) =>
        ip.IsIPv6Multicast || (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && (ip.GetAddressBytes()[0] & 0xF0) == 0xE0);

    private protected override void Write(SpecWriter writer)
    {
        writer.Add("local", Local);
        writer.Add("remote", Remote);
    }
}

/// <summary>A vhost-user socket: QEMU's <c>-netdev vhost-user</c> peer, the back-end side of the
/// vhost-user protocol. The chardev QEMU uses becomes a plain path here.</summary>
public sealed record VhostUserSpec : NetdevSpec
{
    /// <summary>Throws <see cref="ConfigException"/> if the path cannot be a unix socket path or
    /// <paramref name="queues"/> is outside 1..<see cref="Defaults.MaxVhostUserQueues"/>.</summary>
    public VhostUserSpec(string path, bool server = Defaults.VhostUserServer, int queues = Defaults.VhostUserQueues, MemoryFilePolicy memory = Defaults.VhostUserMemory)
    {
        ArgumentNullException.ThrowIfNull(path);
        List<string> problems = Check(path, queues);
        if (problems.Count > 0)
        {
            throw new ConfigException(problems);
        }

        Path = path;
        Server = server;
        Queues = queues;
        Memory = memory;
    }

    /// <summary>The unix socket path.</summary>
    public string Path { get; }

    /// <summary>True (the default): Switchyard listens and QEMU's chardev connects (chardev without
    /// server=on). False: Switchyard connects to QEMU's listening chardev.</summary>
    public bool Server { get; }

    /// <summary>Queue pairs offered to the guest (VIRTIO_NET_F_MQ when more than one).</summary>
    public int Queues { get; }

    /// <summary><c>memory=sealed</c> (the default): guest memory must be a memfd the front-end cannot shrink.
    /// <c>memory=trusted</c>: any regular file (hugepage files), at the price that a front-end truncating it can crash
    /// the daemon (docs/vhost-user.md).</summary>
    public MemoryFilePolicy Memory { get; }

    public override string Kind => "vhost-user";

    public void Deconstruct(out string path, out bool server, out int queues) => (path, server, queues) = (Path, Server, Queues);

    /// <summary>The rules a vhost-user spec must follow, as messages; empty if all hold. A null path
    /// is skipped (the caller has already reported it).</summary>
    internal static List<string> Check(string? path, int queues)
    {
        var problems = new List<string>();
        if (path is not null && UnixSocketAddress.CheckPath(path, @abstract: false) is { } pathProblem)
        {
            problems.Add(pathProblem);
        }

        if (queues is < 1 or > Defaults.MaxVhostUserQueues)
        {
            problems.Add($"queues={queues} is out of range (1..{Defaults.MaxVhostUserQueues} queue pairs)");
        }

        return problems;
    }

    private protected override void Write(SpecWriter writer)
    {
        writer.Add("path", Path);
        writer.Add("server", Server);
        writer.Add("queues", Queues);
        if (Memory != Defaults.VhostUserMemory)
        {
            writer.Add("memory", MemoryPolicyText(Memory));
        }
    }

    /// <summary>The netdev spelling of a memory policy: sealed or trusted.</summary>
    public static string MemoryPolicyText(MemoryFilePolicy policy) => policy == MemoryFilePolicy.Trusted ? "trusted" : "sealed";

    /// <summary>Parses <c>sealed</c> or <c>trusted</c> (the value of <c>memory=</c>).</summary>
    public static bool TryParseMemoryPolicy(string text, out MemoryFilePolicy policy)
    {
        policy = text switch
        {
            "sealed" => MemoryFilePolicy.Sealed,
            "trusted" => MemoryFilePolicy.Trusted,
            _ => (MemoryFilePolicy)(-1),
        };
        return policy is MemoryFilePolicy.Sealed or MemoryFilePolicy.Trusted;
    }
}

/// <summary>A tap interface on the host: QEMU's <c>-netdev tap,ifname=NAME[,queues=N][,vnet_hdr=on|off]</c>. Switchyard opens
/// /dev/net/tun and attaches to the named interface (create it beforehand, e.g.
/// <c>ip tuntap add dev NAME mode tap user $USER</c>, or run with CAP_NET_ADMIN).</summary>
public sealed record TapSpec : NetdevSpec
{
    /// <summary>Throws <see cref="ConfigException"/> if <paramref name="ifName"/> is not a valid Linux
    /// interface name (see <see cref="CheckIfName"/>) or <paramref name="queues"/> is outside
    /// 1..<see cref="Defaults.MaxTapQueues"/>.</summary>
    public TapSpec(string ifName, bool vnetHeader = Defaults.TapVnetHeader, int queues = Defaults.TapQueues)
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

        if (name.Length > Defaults.MaxIfNameLength)
        {
            return $"ifname {ConfigText.Quote(name)} is {name.Length} characters long ({Rule}; Linux allows at most {Defaults.MaxIfNameLength})";
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
    internal static string? CheckQueues(int queues) => queues is < 1 or > Defaults.MaxTapQueues
        ? $"queues={queues} is out of range (a tap port opens 1..{Defaults.MaxTapQueues} queues)"
        : null;

    private protected override void Write(SpecWriter writer)
    {
        writer.Add("ifname", IfName);
        if (Queues != Defaults.TapQueues)
        {
            writer.Add("queues", Queues);
        }

        writer.Add("vnet_hdr", VnetHeader);
    }
}

/// <summary>A tap created inside a network namespace: <c>netns,name=NAME</c> (a namespace made with
/// <c>ip netns add NAME</c>) or <c>netns,pid=PID</c> (the namespace of a running process, e.g. a
/// container's init), with <c>ifname=</c> the interface inside it (default eth0). Switchyard enters
/// the namespace only to create the tap and bring it up; it stays in its own. Needs root.</summary>
public sealed record NetnsSpec : NetdevSpec
{
    /// <summary>Throws <see cref="ConfigException"/> if the spec breaks a rule (see <see cref="Check"/>):
    /// exactly one of <paramref name="name"/> and <paramref name="pid"/>.</summary>
    public NetnsSpec(string? name, int? pid, string ifName = Defaults.NetnsIfName)
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
        string rule = $"a namespace name is 1 to {Defaults.MaxNetnsNameLength} characters: letters, digits, '-', '_' or '.', not '.' or '..'";
        if (name.Length == 0 || name.Length > Defaults.MaxNetnsNameLength || name is "." or "..")
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
}
