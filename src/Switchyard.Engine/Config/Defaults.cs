// Every default and every limit of the configuration model, in one place (STYLE.md habit 15).
//
// Theory of operation: the YAML loader, the CLI and the API all build the same records; when a
// value is not given, each of them takes it from here, so "what happens if I leave this out" has one
// answer. Limits (largest VLAN id, longest unix socket path, ...) live here too, because a default
// and the range it must sit in are read together. Nothing here has side effects except
// RunDirectory(), which reads the environment and /proc but creates nothing.
using System.Globalization;
using Switchyard.Native;
using Switchyard.Ports;
using Switchyard.Ports.Netns;
using Switchyard.Ports.Stream;
using Switchyard.Ports.Tap;
using Switchyard.Ports.VhostUser;

namespace Switchyard.Engine.Config;

/// <summary>Defaults and limits for every configuration value.</summary>
public static class Defaults
{
    // ---- Topology ----

    /// <summary>Name of the network created when no topology is given.</summary>
    public const string NetworkName = "default";

    /// <summary>Name of the port created in the default network.</summary>
    public const string PortName = "stream";

    /// <summary>The default network's vhost-user listener port.</summary>
    public const string VhostUserPortName = "vhost-user";

    /// <summary>Name of the NAT gateway's internal port in a network that has one.</summary>
    public const string GatewayPortName = "gateway";

    /// <summary>How long a learned MAC address stays in the forwarding table without traffic
    /// (300 s, as in Linux bridges and 802.1D).</summary>
    public static readonly TimeSpan MacAgeing = TimeSpan.FromSeconds(300);

    /// <summary>Forwarding-table capacity per network; beyond it, unknown sources are not learned.</summary>
    public const int MaxMacs = 8192;

    /// <summary>Forwarding-table entries one port may hold (max-macs-per-port); beyond it that port's new
    /// source addresses are not learned, so one peer's MAC flood cannot fill the table for the others.</summary>
    public const int MaxMacsPerPort = 1024;

    /// <summary>A network floods everything only when asked to (hub: true).</summary>
    public const bool Hub = false;

    // ---- VLANs (IEEE 802.1Q) ----

    /// <summary>The VLAN of a port that says nothing about VLANs: access port on VLAN 1.</summary>
    public const ushort Vlan = 1;

    /// <summary>Smallest usable VLAN id (0 means "priority tag only").</summary>
    public const ushort MinVid = 1;

    /// <summary>Largest usable VLAN id (4095 is reserved).</summary>
    public const ushort MaxVid = 4094;

    // ---- Netdev specs (QEMU -netdev option syntax) ----
    // Each port kind's spec record owns its defaults and limits (Ports/<Kind>/<Kind>Spec.cs); they are
    // repeated here by name so this stays the one list to read.

    /// <summary>stream: QEMU's default is client (server=off).</summary>
    public const bool StreamServer = StreamSpec.DefaultServer;

    /// <summary>vhost-user: Switchyard creates the socket and QEMU connects to it.</summary>
    public const bool VhostUserServer = VhostUserSpec.DefaultServer;

    /// <summary>vhost-user: one queue pair unless asked for more.</summary>
    public const int VhostUserQueues = VhostUserSpec.DefaultQueues;

    /// <summary>vhost-user: guest memory must be a memfd the front-end cannot shrink (memory=sealed); memory=trusted
    /// opts a port out (docs/vhost-user.md).</summary>
    public const MemoryFilePolicy VhostUserMemory = VhostUserSpec.DefaultMemory;

    /// <summary>vhost-user: most queue pairs a port may ask for.</summary>
    public const int MaxVhostUserQueues = VhostUserSpec.MaxQueues;

    /// <summary>Host a legacy <c>socket,listen=:PORT</c> (or <c>localaddr=:PORT</c>) binds when the host
    /// is left empty (INADDR_ANY, as QEMU).</summary>
    public const string WildcardHost = InetSocketAddress.WildcardHost;

    /// <summary>Room in struct sockaddr_un.sun_path (108 bytes) less the terminating NUL, or less the
    /// leading NUL of an abstract name.</summary>
    public const int MaxUnixPathBytes = UnixSocketAddress.MaxPathBytes;

    /// <summary>tap: offloads travel with frames to and from the kernel (IFF_VNET_HDR) unless vnet_hdr=off.</summary>
    public const bool TapVnetHeader = TapSpec.DefaultVnetHeader;

    /// <summary>tap: one queue unless queues=N asks for a multiqueue interface.</summary>
    public const int TapQueues = TapSpec.DefaultQueues;

    /// <summary>tap: most queues a tap port opens.</summary>
    public const int MaxTapQueues = TapSpec.MaxQueues;

    /// <summary>tap: longest interface name (IFNAMSIZ 16 less the terminating NUL).</summary>
    public const int MaxIfNameLength = TapSpec.MaxIfNameLength;

    /// <summary>netns: the interface a namespace port creates inside the namespace unless ifname= says otherwise.</summary>
    public const string NetnsIfName = NetnsSpec.DefaultIfName;

    /// <summary>netns: longest namespace name accepted (names are files under /run/netns).</summary>
    public const int MaxNetnsNameLength = NetnsSpec.MaxNameLength;

    // ---- NAT gateway (the values of its options are in GatewayOptions.Default; these are the rules) ----

    /// <summary>A network in a topology file has a gateway only when it says `gateway:`; the built-in
    /// default topology (no file) has one.</summary>
    public const bool GatewayInFile = false;

    /// <summary>Smallest MTU a gateway announces: the IPv4 minimum datagram every host must accept (RFC 791).</summary>
    public const int MinGatewayMtu = 576;

    /// <summary>Smallest MTU when IPv6 is on (RFC 8200 section 5).</summary>
    public const int MinGatewayMtuIpv6 = 1280;

    /// <summary>Largest MTU a gateway announces (slirp's limit).</summary>
    public const int MaxGatewayMtu = 65520;

    /// <summary>Shortest IPv4 prefix accepted for net=.</summary>
    public const int MinGatewayPrefixLength = 8;

    /// <summary>Longest IPv4 prefix accepted for net= (a /30 leaves two usable addresses).</summary>
    public const int MaxGatewayPrefixLength = 30;

    /// <summary>The only IPv6 prefix length SLAAC works with (RFC 4862 section 5.5.3 with a 64-bit interface id).</summary>
    public const int GatewayPrefixLength6 = 64;

    /// <summary>Shortest DHCP lease accepted (guests renew at half the lease).</summary>
    public static readonly TimeSpan MinLeaseTime = TimeSpan.FromSeconds(60);

    /// <summary>Most NAT flows a gateway may be configured to keep.</summary>
    public const int MaxGatewayFlowsLimit = 1 << 20;

    // ---- Limits on topology values ----

    /// <summary>Longest network or port name.</summary>
    public const int MaxNameLength = 32;

    /// <summary>Shortest MAC ageing time accepted.</summary>
    public static readonly TimeSpan MinMacAgeing = TimeSpan.FromSeconds(1);

    /// <summary>Longest MAC ageing time accepted (one day).</summary>
    public static readonly TimeSpan MaxMacAgeing = TimeSpan.FromDays(1);

    /// <summary>Largest forwarding-table capacity accepted.</summary>
    public const int MaxMacsLimit = 1 << 20;

    // ---- Daemon-wide limits (DaemonLimits; issue 10) ----

    /// <summary>Clients the control socket serves at once; more are refused with an error line.</summary>
    public const int MaxControlClients = 32;

    /// <summary>Largest --max-control-clients accepted.</summary>
    public const int MaxControlClientsLimit = 4096;

    /// <summary>A control client idle this long (no request, no streaming command) is closed.</summary>
    public static readonly TimeSpan ControlIdleTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Largest --max-connections / --max-listener-connections accepted (the descriptor limit bounds them further).</summary>
    public const int MaxConnectionsLimit = 1 << 20;

    // ---- Files in the run directory ----

    /// <summary>Socket of the default stream port.</summary>
    public const string StreamSocketFileName = "stream.sock";

    /// <summary>Socket of a default vhost-user port.</summary>
    public const string VhostUserSocketFileName = "vhost-user.sock";

    /// <summary>Socket of the control API.</summary>
    public const string ControlSocketFileName = "control.sock";

    /// <summary>Where Switchyard puts its sockets: <c>$XDG_RUNTIME_DIR/switchyard</c> when that variable
    /// holds an absolute path, else <c>/run/switchyard</c> for root, else <c>/tmp/switchyard-&lt;uid&gt;</c>.
    /// Creates nothing.</summary>
    public static string RunDirectory() =>
        RunDirectory(Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR"), CurrentUserId());

    /// <summary>The rule of <see cref="RunDirectory()"/> with its inputs given, for tests.
    /// <paramref name="userId"/> is the numeric uid, or a user name when the uid is unknown.</summary>
    internal static string RunDirectory(string? xdgRuntimeDir, string userId)
    {
        if (!string.IsNullOrEmpty(xdgRuntimeDir) && Path.IsPathRooted(xdgRuntimeDir))
        {
            return Path.Combine(xdgRuntimeDir, "switchyard");
        }

        return userId == "0" ? "/run/switchyard" : "/tmp/switchyard-" + userId;
    }

    // The BCL has no getuid(); the real uid is the first number on the "Uid:" line of
    // /proc/self/status. Off Linux (or without /proc) fall back to "root or not" and the user name.
    private static string CurrentUserId()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Uid:", StringComparison.Ordinal))
                {
                    string[] fields = line[4..].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                    if (fields.Length > 0 && uint.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out uint uid))
                    {
                        return uid.ToString(CultureInfo.InvariantCulture);
                    }
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return Environment.IsPrivilegedProcess ? "0" : Environment.UserName;
    }
}
