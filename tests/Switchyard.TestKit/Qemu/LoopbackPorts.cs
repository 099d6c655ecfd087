// Theory of operation: QEMU's socket/stream/dgram netdevs meet on loopback ports. A free port is
// found by binding port 0 on 127.0.0.1 and releasing it (a small race with other processes, which a
// test survives by retrying). A QEMU that listens must be listening before its peer QEMU connects,
// and probing the port with a connect would be taken as the peer itself (QEMU accepts one client),
// so readiness is read from /proc/net/tcp instead: an entry for the port in state 0A (LISTEN).
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Switchyard.TestKit.Qemu;

/// <summary>Loopback port helpers for wiring QEMU peers together.</summary>
public static class LoopbackPorts
{
    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago.</summary>
    public static int GetFreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A UDP port on 127.0.0.1 that was free a moment ago.</summary>
    public static int GetFreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>True when some socket listens on TCP <paramref name="port"/> (IPv4 or IPv6), per /proc/net/tcp*.</summary>
    public static bool IsTcpListening(int port)
    {
        string portHex = port.ToString("X4", CultureInfo.InvariantCulture);
        foreach (string table in (string[])["/proc/net/tcp", "/proc/net/tcp6"])
        {
            if (!File.Exists(table))
                continue;

            foreach (string line in File.ReadLines(table))
            {
                // "  sl  local_address rem_address   st ..." ; local_address is HEXADDR:HEXPORT.
                string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 4)
                    continue;
                int colon = fields[1].LastIndexOf(':');
                if (colon > 0 && fields[1].AsSpan(colon + 1).Equals(portHex, StringComparison.OrdinalIgnoreCase) && fields[3] == "0A")
                    return true;
            }
        }

        return false;
    }

    /// <summary>Polls until something listens on TCP <paramref name="port"/>; false after <paramref name="timeout"/>.</summary>
    public static async Task<bool> WaitForTcpListenerAsync(int port, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            if (IsTcpListening(port))
                return true;
            if (Environment.TickCount64 >= deadline)
                return false;
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
    }
}
