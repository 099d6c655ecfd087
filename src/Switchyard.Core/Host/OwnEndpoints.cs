// The daemon's own bound TCP and UDP endpoints, so the NAT gateway never carries a guest to them.
//
// Theory of operation: every place that binds an inet socket the daemon listens or receives on (the
// stream/socket listeners, dgram ports, the HTTP listener once Kestrel has bound, the gateway's
// forward listeners) registers (protocol, address, port) here after bind, with the port the kernel
// chose, and disposes the registration when it closes the socket. The gateway asks Match before it
// opens a flow: a guest's 10.0.2.2 is the host's loopback, and the daemon's listeners answer there with
// the daemon's authority (the HTTP API trusts loopback; the forward listeners would loop a guest's
// connection back into the gateway), so a flow whose host destination is one of them is refused.
// Match answers Bound for an exact address match, and Wildcard for an endpoint bound to 0.0.0.0 or ::
// on that port: the caller then decides whether the destination is an address of this host (the
// wildcard answers on every local address). Trusts: its callers. Owns: a copy-on-write array of
// entries: registrations come from control-plane threads (under a lock), lookups from the gateway's
// loop read the current array without a lock or an allocation.
using System.Net;

namespace Switchyard.Core.Host;

/// <summary>The transport of an own endpoint.</summary>
public enum OwnProtocol : byte
{
    Tcp,
    Udp,
}

/// <summary>What <see cref="OwnEndpoints.Match"/> found.</summary>
public enum OwnEndpointMatch : byte
{
    /// <summary>No own endpoint on that protocol, address and port.</summary>
    None,

    /// <summary>An own endpoint is bound to exactly that address and port.</summary>
    Bound,

    /// <summary>An own endpoint is bound to the wildcard address on that port: it is reached if the
    /// address is one of this host's.</summary>
    Wildcard,
}

/// <summary>A registry of bound endpoints. See the file header.</summary>
public sealed class OwnEndpoints
{
    private readonly object gate = new();
    private Entry[] entries = [];

    /// <summary>The daemon's registry: every bind site registers here, every gateway consults it.</summary>
    public static OwnEndpoints Process { get; } = new();

    /// <summary>Endpoints registered now.</summary>
    public int Count => Volatile.Read(ref entries).Length;

    /// <summary>Registers a bound endpoint (with its real port, after bind); dispose the result when the
    /// socket closes. Endpoints that are not inet (unix sockets) are not registered: a guest cannot reach them.</summary>
    public IDisposable Register(OwnProtocol protocol, EndPoint? bound)
    {
        if (bound is not IPEndPoint ip || ip.Port == 0)
        {
            return Registration.None;
        }

        UInt128 key = ToKey(ip.Address);
        return Register(protocol, (ulong)(key >> 64), (ulong)key, (ushort)ip.Port);
    }

    /// <summary>Registers a bound endpoint given as an IPv6 or v4-mapped address (high and low 64 bits)
    /// and its real port; the unspecified address (:: or ::ffff:0.0.0.0) is the wildcard.</summary>
    public IDisposable Register(OwnProtocol protocol, ulong addressHigh, ulong addressLow, ushort port)
    {
        if (port == 0)
        {
            return Registration.None;
        }

        var address = new UInt128(addressHigh, addressLow);
        bool wildcard = address == UInt128.Zero || address == V4MappedAny;
        var entry = new Entry(protocol, address, wildcard, port, new object());
        lock (gate)
        {
            Entry[] updated = new Entry[entries.Length + 1];
            entries.CopyTo(updated, 0);
            updated[^1] = entry;
            Volatile.Write(ref entries, updated);
        }

        return new Registration(this, entry.Token);
    }

    /// <summary>Whether a flow to <paramref name="address"/> (IPv6, or IPv4 as ::ffff:a.b.c.d, high and
    /// low 64 bits) and <paramref name="port"/> lands on an own endpoint. Lock-free, allocation-free.</summary>
    public OwnEndpointMatch Match(OwnProtocol protocol, ulong addressHigh, ulong addressLow, ushort port)
    {
        Entry[] all = Volatile.Read(ref entries);
        var address = new UInt128(addressHigh, addressLow);
        OwnEndpointMatch found = OwnEndpointMatch.None;
        for (int i = 0; i < all.Length; i++)
        {
            ref readonly Entry e = ref all[i];
            if (e.Protocol != protocol || e.Port != port)
            {
                continue;
            }

            if (!e.Wildcard && e.Address == address)
            {
                return OwnEndpointMatch.Bound;
            }

            if (e.Wildcard)
            {
                found = OwnEndpointMatch.Wildcard;
            }
        }

        return found;
    }

    private static readonly UInt128 V4MappedAny = new(0, 0x0000_FFFF_0000_0000UL);

    private static UInt128 ToKey(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.MapToIPv6().TryWriteBytes(bytes, out _);
        return new UInt128(
            System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes),
            System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));
    }

    private void Remove(object token)
    {
        lock (gate)
        {
            int index = Array.FindIndex(entries, e => ReferenceEquals(e.Token, token));
            if (index < 0)
            {
                return;
            }

            Entry[] updated = new Entry[entries.Length - 1];
            Array.Copy(entries, 0, updated, 0, index);
            Array.Copy(entries, index + 1, updated, index, entries.Length - index - 1);
            Volatile.Write(ref entries, updated);
        }
    }

    private readonly record struct Entry(OwnProtocol Protocol, UInt128 Address, bool Wildcard, ushort Port, object Token);

    private sealed class Registration(OwnEndpoints? owner, object? token) : IDisposable
    {
        public static readonly Registration None = new(null, null);

        private OwnEndpoints? owner = owner;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref owner, null) is { } o && token is not null)
            {
                o.Remove(token);
            }
        }
    }
}
