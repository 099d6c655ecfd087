// ICMP and ICMPv6 echo to the outside through unprivileged ping sockets (user-pains row 8).
//
// Theory of operation: an echo request (v4 type 8, v6 type 128) to an address AddressPlan carries is
// checked once (8-byte header, code 0, checksum unless vouched for) and sent on a ping socket,
// socket(AF_INET[6], SOCK_DGRAM, IPPROTO_ICMP[V6]), which needs no privilege but is allowed only to
// groups in net.ipv4.ping_group_range (that range covers ICMPv6 too). One socket per flow: (guest
// address, guest echo identifier, destination), keyed by value. The kernel replaces the identifier
// with the socket's own "port" and computes the checksum; a reply comes back with that identifier,
// so we restore the guest's, recompute the checksum (ICMPv6: over the pseudo-header with the
// addresses as the guest sees them, RFC 4443 §2.3, e.g. fd00::2 rather than ::1) and send it from the
// address the guest pinged. When the socket is refused with EACCES the request is dropped and
// counted, and one warning (then at most one per WarningInterval) tells the user the sysctl to run;
// OnEchoRequest then returns EchoOutcome.NotPermitted, so a request to the gateway's own address (which
// stands for the host's loopback) is answered by the link services instead: no echo is lost, not even
// the first one after the refusal is forgotten (RecentlyRefused skips the ping socket for a minute).
// Flows idle out after IdleTimeout through one sweep timer. Trusts: nothing from guests or replies.
// Owns: the ping sockets.
using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Switchyard.Core.Frames;
using Switchyard.Core.Loop;
using Switchyard.Protocols;

namespace Switchyard.UserNet;

/// <summary>What became of one echo request handed to <see cref="IcmpEcho.OnEchoRequest"/>.</summary>
public enum EchoOutcome
{
    /// <summary>Sent on a ping socket.</summary>
    Forwarded,

    /// <summary>Dropped and counted (malformed, refused by the plan, limits, send error).</summary>
    Dropped,

    /// <summary>The host refused the ping socket (EACCES, net.ipv4.ping_group_range); counted.</summary>
    NotPermitted,
}

public sealed partial class IcmpEcho : IHostSocketOwner
{
    /// <summary>A ping flow's socket closes after this long without a request or reply.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The shortest time between two "ping not permitted" warnings.</summary>
    public static readonly TimeSpan WarningInterval = TimeSpan.FromHours(1);

    internal const string PingSysctlCommand = "sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"";

    private const int HeaderLength = 8;
    private const byte EchoRequestV4 = 8;
    private const byte EchoReplyV4 = 0;
    private const byte EchoRequestV6 = 128;
    private const byte EchoReplyV6 = 129;
    private const int ChecksumOffset = 2;
    private const int IdentifierOffset = 4;
    private const int MaxReceivesPerWake = 64;
    private static readonly TimeSpan MinimumSweepDelay = TimeSpan.FromSeconds(1);

    private readonly GatewayContext context;
    private readonly FlowLimiter limiter;
    private readonly Dictionary<EchoKey, EchoFlow> flows = [];
    private readonly Dictionary<IHostSocket, EchoFlow> flowBySocket = new(ReferenceEqualityComparer.Instance);
    private readonly DeadlineTimer sweep;
    private long lastWarning = long.MinValue;

    public IcmpEcho(GatewayContext context, FlowLimiter limiter)
    {
        ArgumentNullException.ThrowIfNull(context);
        this.context = context;
        this.limiter = limiter;
        sweep = new DeadlineTimer(context.Loop, OnSweep, MinimumSweepDelay);
    }

    private long lastRefusal = long.MinValue;

    /// <summary>True for a minute after the host refused a ping socket (EACCES): the gateway then answers
    /// pings to its own address itself instead of carrying them to the host's loopback.</summary>
    public bool RecentlyRefused =>
        lastRefusal != long.MinValue && context.Clock.GetElapsedTime(lastRefusal) < TimeSpan.FromMinutes(1);

    /// <summary>Ping flows open now.</summary>
    internal int FlowCount => flows.Count;

    /// <summary>An ICMP echo request (v4 type 8 or v6 type 128) to an address outside the gateway. Returns
    /// NotPermitted when the host refused the ping socket (EACCES; counted as ping_not_permitted), so the
    /// caller may answer a ping of the gateway's own address itself.</summary>
    public EchoOutcome OnEchoRequest(in GuestPacket packet)
    {
        GatewayCounters counters = context.Counters;
        ReadOnlySpan<byte> icmp = packet.L4;
        bool v6 = packet.IsV6;
        if (icmp.Length < HeaderLength || icmp[0] != (v6 ? EchoRequestV6 : EchoRequestV4) || icmp[1] != 0)
        {
            counters.Drop(GatewayDrop.IcmpMalformed);
            return EchoOutcome.Dropped;
        }

        if (!packet.L4ChecksumOk())
        {
            counters.Drop(GatewayDrop.IcmpChecksumBad);
            return EchoOutcome.Dropped;
        }

        switch (context.Plan.MapOutbound(packet.Destination, out IpAddr hostDestination))
        {
            case OutboundVerdict.Refuse:
                counters.Drop(context.Options.Restrict ? GatewayDrop.Restricted : GatewayDrop.NotCarried);
                return EchoOutcome.Dropped;
            case OutboundVerdict.DnsAddress:
                // The DNS address answers DNS only; it is not a host to ping through.
                counters.Drop(GatewayDrop.NotCarried);
                return EchoOutcome.Dropped;
        }

        ushort identifier = BinaryPrimitives.ReadUInt16BigEndian(icmp[IdentifierOffset..]);
        var key = new EchoKey(packet.Source, identifier, packet.Destination);
        if (!flows.TryGetValue(key, out EchoFlow? flow))
        {
            flow = Open(key, packet.SourceMac, packet.IngressPort, hostDestination, v6, out bool notPermitted);
            if (flow is null)
            {
                return notPermitted ? EchoOutcome.NotPermitted : EchoOutcome.Dropped;
            }
        }

        flow.LastActive = context.Clock.GetTimestamp();
        HostIo io = flow.Socket.SendTo(icmp, flow.HostDestination, 0);
        if (io.Ok)
        {
            flow.BytesFromGuest += icmp.Length;
            counters.Count(GatewayEvent.PingsForwarded);
            return EchoOutcome.Forwarded;
        }

        counters.Drop(GatewayDrop.PingSendFailed);
        return EchoOutcome.Dropped;
    }

    public void AddFlows(List<FlowInfo> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        foreach (EchoFlow flow in flows.Values)
        {
            EchoKey k = flow.Key;
            into.Add(new FlowInfo(
                "icmp", $"{k.Guest} id {k.Identifier}", k.Remote.ToString(), "open", false,
                flow.BytesFromGuest, flow.BytesToGuest, context.Clock.GetElapsedTime(flow.LastActive)));
        }
    }

    public void OnHostIo(IHostSocket socket, IoEvents events)
    {
        if (!flowBySocket.TryGetValue(socket, out EchoFlow? flow))
        {
            return;
        }

        if ((events & (IoEvents.Error | IoEvents.HangUp)) != 0)
        {
            flow.Socket.TakeError();
        }

        EchoKey key = flow.Key;
        bool v6 = !key.Guest.IsV4;
        int offset = PacketWriter.L4Offset(v6);
        Span<byte> buffer = context.TxBuffer.AsSpan(offset);
        int maxIcmp = context.Options.Mtu - PacketWriter.IpHeaderLength(v6);
        for (int n = 0; n < MaxReceivesPerWake; n++)
        {
            // A ping socket returns the ICMP message without the IP header, for both families.
            HostIo io = flow.Socket.ReceiveFrom(buffer, out IpAddr from, out _);
            if (!io.Ok)
            {
                break;
            }

            int length = io.Bytes;
            if (length < HeaderLength || buffer[0] != (v6 ? EchoReplyV6 : EchoReplyV4) || from != flow.HostDestination)
            {
                context.Counters.Drop(GatewayDrop.PingReplyInvalid);
                continue;
            }

            if (length > maxIcmp)
            {
                context.Counters.Drop(GatewayDrop.UdpReplyTooBig);
                continue;
            }

            flow.LastActive = context.Clock.GetTimestamp();
            Span<byte> icmp = buffer[..length];
            BinaryPrimitives.WriteUInt16BigEndian(icmp[IdentifierOffset..], key.Identifier);
            PacketWriter.WriteL4Checksum(icmp, key.Remote, key.Guest, v6 ? PacketWriter.ProtocolIcmpV6 : PacketWriter.ProtocolIcmp, ChecksumOffset);
            int frameLength = PacketWriter.WriteEthernetAndIp(
                context.TxBuffer, flow.GuestMac, context.Options.Mac, key.Remote, key.Guest,
                v6 ? PacketWriter.ProtocolIcmpV6 : PacketWriter.ProtocolIcmp, length, context.NextIpId());
            context.Link.Send(context.TxBuffer.AsSpan(0, frameLength), OffloadInfo.None);
            flow.BytesToGuest += length;
            context.Counters.Count(GatewayEvent.PingRepliesReturned);
        }
    }

    public void Stop()
    {
        sweep.Cancel();
        foreach (EchoFlow flow in flows.Values)
        {
            flow.Socket.Dispose();
            limiter.Release(flow.AdmittedPort);
        }

        flows.Clear();
        flowBySocket.Clear();
    }

    private EchoFlow? Open(EchoKey key, ulong guestMac, int ingressPort, IpAddr hostDestination, bool v6, out bool notPermitted)
    {
        notPermitted = false;
        if (!limiter.TryAdmit(ingressPort))
        {
            return null;
        }

        IHostDatagramSocket? socket = context.Host.OpenPing(v6, this, out int errno);
        if (socket is null)
        {
            limiter.Release(ingressPort);
            if (errno == HostIo.EACCES)
            {
                lastRefusal = context.Clock.GetTimestamp();
                notPermitted = true;
                context.Counters.Drop(GatewayDrop.PingNotPermitted);
                WarnNotPermitted();
            }
            else
            {
                context.Counters.Drop(GatewayDrop.PingSendFailed);
            }

            return null;
        }

        long now = context.Clock.GetTimestamp();
        var flow = new EchoFlow(key, guestMac, ingressPort, hostDestination, socket, now);
        flows.Add(key, flow);
        flowBySocket.Add(socket, flow);
        context.Counters.Count(GatewayEvent.PingFlowsOpened);
        ArmSweep(now + ToTimestamp(IdleTimeout));
        return flow;
    }

    private void WarnNotPermitted()
    {
        long now = context.Clock.GetTimestamp();
        if (lastWarning != long.MinValue && context.Clock.GetElapsedTime(lastWarning, now) < WarningInterval)
        {
            return;
        }

        lastWarning = now;
        LogPingNotPermitted(context.Logger, PingSysctlCommand);
    }

    private void OnSweep()
    {
        long now = context.Clock.GetTimestamp();
        long timeout = ToTimestamp(IdleTimeout);
        long earliest = long.MaxValue;
        foreach (EchoFlow flow in flows.Values)
        {
            if (now - flow.LastActive >= timeout)
            {
                flows.Remove(flow.Key);
                flowBySocket.Remove(flow.Socket);
                flow.Socket.Dispose();
                limiter.Release(flow.AdmittedPort);
            }
            else
            {
                earliest = Math.Min(earliest, flow.LastActive + timeout);
            }
        }

        if (earliest != long.MaxValue)
        {
            ArmSweep(earliest);
        }
    }

    private void ArmSweep(long due) => sweep.ArmFor(due);

    private long ToTimestamp(TimeSpan span) => sweep.Ticks(span);

    [LoggerMessage(EventId = 330, Level = LogLevel.Warning,
        Message = "ping from guests is not permitted: this user's group is outside net.ipv4.ping_group_range, so ICMP echo sockets are refused (EACCES). To allow it, run as root: {Command}")]
    private static partial void LogPingNotPermitted(ILogger logger, string command);

    private readonly record struct EchoKey(IpAddr Guest, ushort Identifier, IpAddr Remote);

    private sealed class EchoFlow(EchoKey key, ulong guestMac, int admittedPort, IpAddr hostDestination, IHostDatagramSocket socket, long now)
    {
        public EchoKey Key { get; } = key;

        public ulong GuestMac { get; } = guestMac;

        /// <summary>The switch port the flow was admitted under (FlowLimiter key).</summary>
        public int AdmittedPort { get; } = admittedPort;

        /// <summary>Where the requests go on the host (127.0.0.1 for the gateway address).</summary>
        public IpAddr HostDestination { get; } = hostDestination;

        public IHostDatagramSocket Socket { get; } = socket;

        public long LastActive { get; set; } = now;

        public long BytesFromGuest { get; set; }

        public long BytesToGuest { get; set; }
    }
}
