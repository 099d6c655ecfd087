// The vhost-user port kind's spec: the back-end side of QEMU's -netdev vhost-user.
//
// Theory of operation: this record is the one home of the vhost-user kind's configuration: its options
// and their rules (shared by the constructor and the parser), its canonical text, its description, the
// QEMU arguments of a guest on it (the shared memory backend included), and the unix socket it takes
// on the host. VhostUserSpec.Open.cs opens it.
using System.Globalization;
using System.Net.Sockets;
using Switchyard.Core.Config;
using Switchyard.Native;

namespace Switchyard.Ports.VhostUser;

/// <summary>A vhost-user socket: QEMU's <c>-netdev vhost-user</c> peer, the back-end side of the
/// vhost-user protocol. The chardev QEMU uses becomes a plain path here.</summary>
public sealed partial record VhostUserSpec : NetdevSpec
{
    /// <summary>vhost-user: Switchyard creates the socket and QEMU connects to it.</summary>
    public const bool DefaultServer = true;

    /// <summary>vhost-user: one queue pair unless asked for more.</summary>
    public const int DefaultQueues = 1;

    /// <summary>vhost-user: guest memory must be a memfd the front-end cannot shrink (memory=sealed); memory=trusted
    /// opts a port out (docs/vhost-user.md).</summary>
    public const MemoryFilePolicy DefaultMemory = MemoryFilePolicy.Sealed;

    /// <summary>vhost-user: most queue pairs a port may ask for.</summary>
    public const int MaxQueues = 16;

    private static readonly string[] Keys = ["id", "path", "server", "queues", "memory"];

    /// <summary>The <c>vhost-user</c> type word and how its options are read.</summary>
    internal static NetdevSyntax Syntax { get; } = new("vhost-user", Keys, Parse, typeof(VhostUserSpec),
    [
        "vhost-user,path=/tmp/sy-example-vhost.sock,server=on,queues=2",
        "vhost-user,path=/tmp/sy-example-vhost.sock,server=off,queues=1,memory=trusted",
    ]);

    /// <summary>Throws <see cref="ConfigException"/> if the path cannot be a unix socket path or
    /// <paramref name="queues"/> is outside 1..<see cref="MaxQueues"/>.</summary>
    public VhostUserSpec(string path, bool server = DefaultServer, int queues = DefaultQueues, MemoryFilePolicy memory = DefaultMemory)
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

        if (queues is < 1 or > MaxQueues)
        {
            problems.Add($"queues={queues} is out of range (1..{MaxQueues} queue pairs)");
        }

        return problems;
    }

    private protected override void Write(SpecWriter writer)
    {
        writer.Add("path", Path);
        writer.Add("server", Server);
        writer.Add("queues", Queues);
        if (Memory != DefaultMemory)
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

    public override PortShape Shape => Server ? PortShape.Listener : PortShape.Client;

    public override string Describe() => Server ? $"vhost-user listener on {Path}" : $"vhost-user client to {Path}";

    public override QemuMirror? Qemu(QemuGuest guest)
    {
        ArgumentNullException.ThrowIfNull(guest);
        string chardev = Server ? $"socket,id={guest.ChardevId},path={Path},reconnect=1" : $"socket,id={guest.ChardevId},path={Path},server=on,wait=off";
        string netdevQueues = guest.Queues > 1 ? string.Create(CultureInfo.InvariantCulture, $",queues={guest.Queues}") : string.Empty;

        // vectors=0: QEMU 7.2 under TCG crashes when a vhost-user NIC turns on MSI-X (docs/vhost-user.md).
        return new QemuMirror(
            [
                "-object", $"memory-backend-memfd,id={guest.MemoryId},size={guest.Memory},share=on",
                "-numa", $"node,memdev={guest.MemoryId}",
                "-chardev", chardev,
                "-netdev", $"vhost-user,id={guest.NetdevId},chardev={guest.ChardevId}{netdevQueues}",
                "-device", guest.Device + (guest.Queues > 1 ? ",mq=on" : string.Empty) + ",vectors=0",
            ],
            Server ? "memory size = the guest's -m; vectors=0 avoids a QEMU 7.2 crash under TCG, see docs/vhost-user.md; for several queues add queues=N to -netdev and mq=on to -device" : null);
    }

    public override IReadOnlyList<HostClaim> HostClaims() =>
        Server ? [new BoundSocket(new UnixSocketAddress(Path), ProtocolType.Unspecified, $"vhost-user listener {Path}")] : [new DialledSocket(Path)];

    private static VhostUserSpec? Parse(NetdevParser.SpecReader r)
    {
        string? path = r.Get("path");
        bool server = r.GetBool("server") ?? DefaultServer;
        int queues = r.GetInt("queues") ?? DefaultQueues;
        MemoryFilePolicy memory = DefaultMemory;
        if (r.Get("memory") is { } memoryText && !TryParseMemoryPolicy(memoryText, out memory))
        {
            r.Error($"memory={memoryText} is neither sealed (the default: only a memfd the front-end cannot shrink) nor trusted (any file, for a front-end you trust; docs/vhost-user.md)");
        }

        if (path is null)
        {
            r.Error("missing option 'path' in vhost-user spec (give path=PATH, the unix socket QEMU's chardev uses)");
        }

        foreach (string problem in Check(path, queues))
        {
            r.Error(problem);
        }

        return r.Failed || path is null ? null : new VhostUserSpec(path, server, queues, memory);
    }
}
