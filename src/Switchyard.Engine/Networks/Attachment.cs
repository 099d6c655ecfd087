// What a configured port name stands for on a network: one port, a reconnecting client port, or a
// listener that spawns a port per connection.
using Switchyard.Core.Ports;
using Switchyard.Engine.Config;
using Switchyard.Ports;
using Switchyard.Ports.Stream;
using Switchyard.Switching;

namespace Switchyard.Engine.Networks;

public abstract class Attachment(PortConfig config) : IDisposable
{
    public PortConfig Config { get; } = config;

    public string Name => Config.Name;

    /// <summary>A line for <c>switchyard show</c>: what it is and where.</summary>
    public abstract string Describe();

    /// <summary>The live ports this attachment owns on <paramref name="sw"/>.</summary>
    public abstract IEnumerable<Port> LivePorts(LearningSwitch sw);

    public abstract void Dispose();
}

public sealed class SinglePortAttachment(PortConfig config, Port port) : Attachment(config)
{
    public Port Port { get; } = port;

    public override string Describe() => $"{Port.Kind} {Port.Peer}";

    public override IEnumerable<Port> LivePorts(LearningSwitch sw) => sw.FindPort(Port.Name) is { } p ? [p] : [];

    public override void Dispose()
    {
        // The port itself is stopped by Network.RemovePort.
    }
}

public sealed class ClientAttachment(PortConfig config, SocketClient client) : Attachment(config)
{
    public SocketClient Client { get; } = client;

    public override string Describe() => $"{Config.Netdev.Kind} client to {Client.Port.Peer} ({(Client.Port.IsConnected ? "connected" : "connecting")})";

    public override IEnumerable<Port> LivePorts(LearningSwitch sw) => sw.FindPort(Client.Port.Name) is { } p ? [p] : [];

    public override void Dispose() => Client.Dispose();
}

public sealed class ListenerAttachment(PortConfig config, SocketListener listener) : Attachment(config)
{
    public SocketListener Listener { get; } = listener;

    public override string Describe() => $"{Config.Netdev.Kind} listener on {Listener.Address}";

    public override IEnumerable<Port> LivePorts(LearningSwitch sw)
    {
        string prefix = Name + ".";
        var ports = new List<Port>();
        foreach (Port p in sw.Ports)
        {
            if (p.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                ports.Add(p);
            }
        }

        return ports;
    }

    public override void Dispose() => Listener.Dispose();
}
