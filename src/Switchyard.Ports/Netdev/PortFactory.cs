// The port factory: a spec in, a live port (or a client, or a listener) out.
//
// Theory of operation: a network hands the factory a spec and a PortContext (its loop, its logger,
// and a callback that puts a new port on its switch); the spec's kind opens what it describes and
// returns a PortHandle. The opening code of each kind lives next to its port (Stream/StreamSpec.Open.cs,
// ...), so the factory itself is a door, not a switch. Everything here runs on the context's loop.
// The handle is what the network keeps for the configured name: it disposes a client or listener,
// says which of the switch's ports it owns, and may report that its host resource has gone.
using Microsoft.Extensions.Logging;
using Switchyard.Core.Loop;
using Switchyard.Core.Ports;

namespace Switchyard.Ports;

/// <summary>What a port is opened with. <paramref name="Attach"/> puts a new port on the network's
/// switch (and announces it); it is called before the port starts moving frames.</summary>
public sealed record PortContext(string Name, IEventLoop Loop, ILogger Logger, Action<Port> Attach);

/// <summary>Opens ports from their specs (see the file header).</summary>
public static class PortFactory
{
    /// <summary>Opens <paramref name="spec"/> on the context's loop; on that loop. Throws
    /// ConfigException, IOException, SocketException or InvalidOperationException with a message a user
    /// can act on.</summary>
    public static PortHandle Open(NetdevSpec spec, PortContext context)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(context);
        return spec.Open(context);
    }
}

/// <summary>The live object behind a configured port name.</summary>
public abstract class PortHandle(string kind) : IDisposable
{
    /// <summary>The spec's kind ("stream", ...).</summary>
    public string Kind { get; } = kind;

    /// <summary>A line for <c>switchyard show</c>: what it is and where.</summary>
    public abstract string Describe();

    /// <summary>True when <paramref name="port"/> (a port on the switch) is this handle's.</summary>
    public abstract bool Owns(Port port);

    /// <summary>Why the port's host resource is gone (its namespace was deleted, ...), or null while it is
    /// there. Asked once a second, on the loop.</summary>
    public virtual string? CheckGone() => null;

    public abstract void Dispose();
}

/// <summary>One port for the life of the configuration.</summary>
public class SinglePortHandle(string kind, Port port) : PortHandle(kind)
{
    public Port Port { get; } = port;

    public override string Describe() => $"{Port.Kind} {Port.Peer}";

    public override bool Owns(Port port) => port.Name == Port.Name;

    public override void Dispose()
    {
        // The port itself is stopped by the network when it leaves the switch.
    }
}

/// <summary>A port Switchyard connects, and connects again.</summary>
public sealed class ClientPortHandle(string kind, SocketClient client) : PortHandle(kind)
{
    public SocketClient Client { get; } = client;

    public override string Describe() => $"{Kind} client to {Client.Port.Peer} ({(Client.Port.IsConnected ? "connected" : "connecting")})";

    public override bool Owns(Port port) => port.Name == Client.Port.Name;

    public override void Dispose() => Client.Dispose();
}

/// <summary>A listener; every connection it accepts is a port named "NAME.N".</summary>
public sealed class ListenerPortHandle(string kind, string name, SocketListener listener) : PortHandle(kind)
{
    private readonly string prefix = name + ".";

    public SocketListener Listener { get; } = listener;

    public override string Describe() => $"{Kind} listener on {Listener.Address}";

    public override bool Owns(Port port) => port.Name.StartsWith(prefix, StringComparison.Ordinal);

    public override void Dispose() => Listener.Dispose();
}
