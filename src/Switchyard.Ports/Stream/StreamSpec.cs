// The stream port kind's spec: QEMU's -netdev stream (and the TCP form of -netdev socket).
//
// Theory of operation: this record is the one home of the stream kind's configuration: its options and
// their rules (shared by the constructor and the parser), its canonical text, its description, the
// QEMU arguments of a guest on it, and the sockets it takes on the host. StreamSpec.Open.cs opens it.
using System.Diagnostics;
using System.Net.Sockets;
using Switchyard.Core.Config;

namespace Switchyard.Ports.Stream;

/// <summary>A stream socket carrying QEMU's stream framing (4-byte big-endian length, then the frame):
/// QEMU's <c>-netdev stream</c> and the TCP form of <c>-netdev socket</c>.</summary>
public sealed partial record StreamSpec : NetdevSpec
{
    /// <summary>stream: QEMU's default is client (server=off).</summary>
    public const bool DefaultServer = false;

    private static readonly string[] Keys =
        ["id", "addr.type", "addr.path", "addr.abstract", "addr.tight", "addr.host", "addr.port", "server", "reconnect", "reconnect-ms"];

    /// <summary>The <c>stream</c> type word and how its options are read.</summary>
    internal static NetdevSyntax Syntax { get; } = new("stream", Keys, Parse, typeof(StreamSpec),
    [
        "stream,addr.type=unix,addr.path=/tmp/sy-example.sock,server=on",
        "stream,addr.type=inet,addr.host=127.0.0.1,addr.port=5000,server=off,reconnect-ms=1000",
        "stream,addr.type=unix,addr.path=sy-example,addr.abstract=on,server=off",
    ]);

    /// <summary>Throws <see cref="ConfigException"/> if the spec breaks a rule (see <see cref="Check"/>).
    /// A zero <paramref name="reconnect"/> means "do not reconnect", the same as null.</summary>
    public StreamSpec(NetdevAddress address, bool server = DefaultServer, TimeSpan? reconnect = null)
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

    public override PortShape Shape => Server ? PortShape.Listener : PortShape.Client;

    public override string Describe() => Server ? $"stream listener on {Address}" : $"stream client to {Address}";

    public override QemuMirror? Qemu(QemuGuest guest)
    {
        ArgumentNullException.ThrowIfNull(guest);
        string netdev = Address switch
        {
            UnixSocketAddress u =>
                $"stream,id={guest.NetdevId},server={QemuMirror.OnOff(!Server)},addr.type=unix,addr.path={u.Path}{(u.Abstract ? ",addr.abstract=on" : string.Empty)}",
            InetSocketAddress i =>
                $"stream,id={guest.NetdevId},server={QemuMirror.OnOff(!Server)},addr.type=inet,addr.host={QemuMirror.ClientHost(i.Host)},addr.port={i.Port}",
            _ => throw new UnreachableException(),
        };
        return new QemuMirror(["-netdev", netdev, "-device", guest.Device]);
    }

    public override IReadOnlyList<HostClaim> HostClaims() =>
        Server ? [new BoundSocket(Address, ProtocolType.Tcp, $"stream listener {Address}")]
        : Address is UnixSocketAddress { Abstract: false } u ? [new DialledSocket(u.Path)]
        : [];

    private static StreamSpec? Parse(NetdevParser.SpecReader r)
    {
        NetdevAddress? address = NetdevParser.ReadAddress(r, "addr", NetdevParser.AddressRole.Stream);
        bool server = r.GetBool("server") ?? DefaultServer;
        int? seconds = r.GetInt("reconnect");
        int? milliseconds = r.GetInt("reconnect-ms");
        TimeSpan? reconnect = null;
        if (seconds is not null && milliseconds is not null)
        {
            r.Error("give either reconnect (seconds, QEMU 8.0 to 10.1) or reconnect-ms (milliseconds), not both");
        }
        else if (milliseconds is > 0)
        {
            reconnect = TimeSpan.FromMilliseconds(milliseconds.Value);
        }
        else if (seconds > int.MaxValue / 1000)
        {
            r.Error($"reconnect={seconds} is too long (at most {int.MaxValue / 1000} seconds)");
        }
        else if (seconds is > 0)
        {
            reconnect = TimeSpan.FromSeconds(seconds.Value);
        }

        foreach (string problem in Check(address, server, reconnect))
        {
            r.Error(problem);
        }

        return r.Failed || address is null ? null : new StreamSpec(address, server, reconnect);
    }
}
