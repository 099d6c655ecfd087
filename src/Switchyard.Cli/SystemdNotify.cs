// sd_notify(3) without libsystemd: one datagram "READY=1" to $NOTIFY_SOCKET when it is set.
using System.Net.Sockets;
using System.Text;

namespace Switchyard.Cli;

internal static class SystemdNotify
{
    public static void Ready()
    {
        string? path = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(path))
        {
            return;
        }

        if (path[0] == '@')
        {
            path = "\0" + path[1..]; // Abstract namespace.
        }

        try
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            s.SendTo(Encoding.ASCII.GetBytes("READY=1"), new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException ex)
        {
            Console.Error.WriteLine($"switchyard: warning: cannot notify {path}: {ex.Message}");
        }
    }
}
