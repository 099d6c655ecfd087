// A port on one stream-socket connection (QEMU stream/socket peers, vhost-user front-ends).
//
// Theory of operation: such a port is either made by a listener for one accepted connection, and
// then lives exactly as long as it (when the peer goes, the port is removed from its switch), or it
// is a client port (server=off) that outlives its connections: when one ends it drops the socket,
// raises Disconnected, and its SocketClient dials again and calls Connect. This class holds that one
// rule so every connection-based port follows it the same way.
using Switchyard.Core.Ports;

namespace Switchyard.Ports;

public abstract class ConnectionPort(string name, bool persistent) : Port(name), IConnectionPort
{
    /// <summary>Raised on the loop when a persistent port loses its connection.</summary>
    public event Action<Port, string>? Disconnected;

    /// <summary>True for client ports that survive the end of a connection.</summary>
    public bool Persistent { get; } = persistent;

    public abstract bool IsConnected { get; }

    public abstract void Connect(System.Net.Sockets.Socket connected, string? peerDescription = null);

    /// <summary>Releases the current connection (socket, registrations, per-connection state).</summary>
    protected abstract void DetachConnection();

    /// <summary>The connection ended (peer hung up, I/O error, protocol violation): a persistent port waits
    /// for its client to reconnect; any other port is removed from its switch.</summary>
    protected void EndConnection(string reason)
    {
        if (Persistent)
        {
            DetachConnection();
            Disconnected?.Invoke(this, reason);
        }
        else
        {
            CloseFromPeer(reason);
        }
    }
}
