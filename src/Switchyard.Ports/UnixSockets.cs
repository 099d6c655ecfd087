// Unix socket path hygiene shared by every listener and datagram port.
using System.Net.Sockets;
using Switchyard.Native;

namespace Switchyard.Ports;

public static class UnixSockets
{
    /// <summary>Removes a socket file left behind by a process that died, and refuses to touch a path
    /// that a live process is listening on or that is not a socket.</summary>
    public static void RemoveStale(string path)
    {
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            return;
        }

        if (!FileKinds.IsSocket(path))
        {
            throw new IOException($"{path} exists and is not a socket; remove it or choose another path");
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new IOException($"another process is already listening on {path}; stop it or choose another path");
            }
            catch (SocketException)
            {
                // Nobody is listening (or it is a datagram socket): stale, safe to replace.
            }
        }

        File.Delete(path);
    }
}
