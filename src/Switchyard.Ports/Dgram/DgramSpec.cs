// The dgram port kind's spec: QEMU's -netdev dgram (and the UDP form of -netdev socket).
//
// Theory of operation: this record is the one home of the dgram kind's configuration: its options and
// their rules (shared by the constructor and the parser), its canonical text, its description, the
// QEMU arguments of a guest on it, and the socket it binds on the host. DgramSpec.Open.cs opens it.
using System.Net;
using System.Net.Sockets;
using Switchyard.Core.Config;

namespace Switchyard.Ports.Dgram;

/// <summary>A datagram socket, one Ethernet frame per datagram: QEMU's <c>-netdev dgram</c> and the
/// UDP form of <c>-netdev socket</c>. Switchyard is a point-to-point peer: it binds
/// <see cref="Local"/> and sends to <see cref="Remote"/>, the socket QEMU binds.</summary>
public sealed partial record DgramSpec : NetdevSpec
{
    private static readonly string[] Keys =
    [
        "id",
        "local.type", "local.path", "local.abstract", "local.tight", "local.host", "local.port",
        "remote.type", "remote.path", "remote.abstract", "remote.tight", "remote.host", "remote.port",
    ];

    /// <summary>The <c>dgram</c> type word and how its options are read.</summary>
    internal static NetdevSyntax Syntax { get; } = new("dgram", Keys, Parse, typeof(DgramSpec),
    [
        "dgram,local.type=inet,local.host=127.0.0.1,local.port=7001,remote.type=inet,remote.host=127.0.0.1,remote.port=7000",
        "dgram,local.type=unix,local.path=/tmp/sy-example-local.sock,remote.type=unix,remote.path=/tmp/sy-example-remote.sock",
    ]);

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

    public override PortShape Shape => PortShape.Single;

    public override string Describe() => $"dgram {Local} <-> {Remote}";

    // Abstract unix names are not mirrored (as before issue 11): QEMU gets the plain path.
    public override QemuMirror? Qemu(QemuGuest guest)
    {
        ArgumentNullException.ThrowIfNull(guest);
        string? netdev = (Local, Remote) switch
        {
            (InetSocketAddress l, InetSocketAddress r) =>
                $"dgram,id={guest.NetdevId},local.type=inet,local.host={r.Host},local.port={r.Port},remote.type=inet,remote.host={QemuMirror.ClientHost(l.Host)},remote.port={l.Port}",
            (UnixSocketAddress l, UnixSocketAddress r) =>
                $"dgram,id={guest.NetdevId},local.type=unix,local.path={r.Path},remote.type=unix,remote.path={l.Path}",
            _ => null,
        };
        return netdev is null ? null : new QemuMirror(["-netdev", netdev, "-device", guest.Device]);
    }

    public override IReadOnlyList<HostClaim> HostClaims() => [new BoundSocket(Local, ProtocolType.Udp, $"dgram socket {Local}")];

    private static DgramSpec? Parse(NetdevParser.SpecReader r)
    {
        NetdevAddress? local = NetdevParser.ReadAddress(r, "local", NetdevParser.AddressRole.DgramLocal);
        NetdevAddress? remote = NetdevParser.ReadAddress(r, "remote", NetdevParser.AddressRole.DgramRemote);
        foreach (string problem in Check(local, remote))
        {
            r.Error(problem);
        }

        return r.Failed || local is null || remote is null ? null : new DgramSpec(local, remote);
    }
}
