// What a configured port name stands for on a network: the port's configuration and the handle the
// port factory opened for it (one port, a reconnecting client port, or a listener that spawns a port
// per connection; see Switchyard.Ports.PortFactory).
using Switchyard.Core.Ports;
using Switchyard.Engine.Config;
using Switchyard.Ports;
using Switchyard.Switching;

namespace Switchyard.Engine.Networks;

public sealed class Attachment(PortConfig config, PortHandle handle) : IDisposable
{
    public PortConfig Config { get; } = config;

    /// <summary>What the port factory opened for this name.</summary>
    public PortHandle Handle { get; } = handle;

    public string Name => Config.Name;

    /// <summary>A line for <c>switchyard show</c>: what it is and where.</summary>
    public string Describe() => Handle.Describe();

    /// <summary>The live ports this attachment owns on <paramref name="sw"/>.</summary>
    public IEnumerable<Port> LivePorts(LearningSwitch sw)
    {
        ArgumentNullException.ThrowIfNull(sw);
        var ports = new List<Port>();
        foreach (Port p in sw.Ports)
        {
            if (Handle.Owns(p))
            {
                ports.Add(p);
            }
        }

        return ports;
    }

    public void Dispose() => Handle.Dispose();
}
