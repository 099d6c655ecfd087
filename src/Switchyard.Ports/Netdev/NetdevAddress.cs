// Socket addresses as they appear in netdev specs: a unix socket path or an inet host and port.
//
// Theory of operation: an address is a validated value, nothing more. Its constructor enforces the
// rules that hold wherever the address is used (a unix path fits sun_path; a port is 0..65535; a
// host is an IP literal or a plausible host name); rules that depend on the role of the address (port
// 0 only where we listen) belong to the spec that holds it. No I/O happens until ToEndPoint(), which
// is where a host name is resolved, so parsing a configuration never touches the network.
using System.Net;
using System.Net.Sockets;
using System.Text;
using Switchyard.Core.Config;

namespace Switchyard.Ports;

/// <summary>Where a socket is: <see cref="UnixSocketAddress"/> or <see cref="InetSocketAddress"/>.</summary>
public abstract record NetdevAddress
{
    private protected NetdevAddress()
    {
    }

    /// <summary>"unix" or "inet", as in QEMU's <c>addr.type</c>.</summary>
    public abstract string Type { get; }

    /// <summary>The endpoint to bind or connect. Resolves a host name (the only I/O in this model);
    /// throws <see cref="ConfigException"/> if it does not resolve.</summary>
    public abstract EndPoint ToEndPoint();

    /// <summary>For display: a unix path (abstract names as <c>@name</c>) or <c>host:port</c>.
    /// Not spec syntax; see <see cref="NetdevSpec.ToString"/> for that.</summary>
    public sealed override string ToString() => Display();

    private protected abstract string Display();
}

/// <summary>A unix domain socket: a filesystem path, or a name in Linux's abstract namespace.</summary>
public sealed record UnixSocketAddress : NetdevAddress
{
    /// <summary>Throws <see cref="ConfigException"/> if the path is empty, holds a NUL, or is longer than
    /// <see cref="MaxPathBytes"/> bytes in UTF-8.</summary>
    public UnixSocketAddress(string path, bool @abstract = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (CheckPath(path, @abstract) is { } problem)
        {
            throw new ConfigException(problem);
        }

        Path = path;
        Abstract = @abstract;
    }

    /// <summary>The path, or for an abstract socket the name without its leading NUL.</summary>
    public string Path { get; }

    /// <summary>True for Linux's abstract namespace (no file; QEMU <c>addr.abstract=on</c>).</summary>
    public bool Abstract { get; }

    /// <summary>Room in struct sockaddr_un.sun_path (108 bytes) less the terminating NUL, or less the
    /// leading NUL of an abstract name.</summary>
    public const int MaxPathBytes = 107;

    public override string Type => "unix";

    /// <summary>A <see cref="UnixDomainSocketEndPoint"/>; an abstract name gets its leading NUL here.</summary>
    public override EndPoint ToEndPoint() => new UnixDomainSocketEndPoint(Abstract ? "\0" + Path : Path);

    public void Deconstruct(out string path, out bool @abstract) => (path, @abstract) = (Path, Abstract);

    private protected override string Display() => Abstract ? "@" + Path : Path;

    /// <summary>Null if the path can be a unix socket address, else the problem with a hint.</summary>
    internal static string? CheckPath(string path, bool @abstract)
    {
        string what = @abstract ? "an abstract socket name" : "a unix socket path";
        if (path.Length == 0)
        {
            return $"{what} must not be empty";
        }

        if (path.Contains('\0', StringComparison.Ordinal))
        {
            return $"{what} must not contain a NUL character";
        }

        // Length limit from struct sockaddr_un: 108 bytes of sun_path, one of them the terminating NUL
        // (or, for an abstract name, the leading NUL).
        int bytes = Encoding.UTF8.GetByteCount(path);
        if (bytes > MaxPathBytes)
        {
            return $"{what} holds at most {MaxPathBytes} bytes (sun_path) but {ConfigText.Quote(path)} is {bytes} bytes; use a shorter path, for example under $XDG_RUNTIME_DIR";
        }

        return null;
    }
}

/// <summary>An IPv4/IPv6 address or host name, and a TCP or UDP port.</summary>
public sealed record InetSocketAddress : NetdevAddress
{
    /// <summary>Throws <see cref="ConfigException"/> if the host is neither an IP literal nor a host
    /// name, or the port is outside 0..65535. Port 0 ("pick any") is allowed here; specs allow it only
    /// where Switchyard listens or binds.</summary>
    public InetSocketAddress(string host, int port)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (CheckHost(host) is { } hostProblem)
        {
            throw new ConfigException(hostProblem);
        }

        if (CheckPort(port) is { } portProblem)
        {
            throw new ConfigException(portProblem);
        }

        Host = host;
        Port = port;
    }

    /// <summary>As written: an IP literal or a host name (resolved only by <see cref="ToEndPoint"/>).</summary>
    public string Host { get; }

    /// <summary>Host a legacy <c>socket,listen=:PORT</c> (or <c>localaddr=:PORT</c>) binds when the host
    /// is left empty. QEMU binds INADDR_ANY there, and so do we: the port is reachable from other
    /// machines unless a firewall says otherwise. Write <c>listen=127.0.0.1:PORT</c> to stay local.</summary>
    public const string WildcardHost = "0.0.0.0";

    public int Port { get; }

    public override string Type => "inet";

    /// <summary>The host parsed as an IP literal ("localhost" counts as 127.0.0.1), or null for a
    /// host name that needs resolving.</summary>
    public IPAddress? Literal =>
        IPAddress.TryParse(Host, out IPAddress? address) ? address
        : string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
        : null;

    /// <summary>An <see cref="IPEndPoint"/>. A host name is resolved now, preferring IPv4 (QEMU's
    /// listeners usually bind 0.0.0.0); throws <see cref="ConfigException"/> if it does not resolve.</summary>
    public override EndPoint ToEndPoint()
    {
        if (Literal is { } literal)
        {
            return new IPEndPoint(literal, Port);
        }

        IPAddress[] addresses;
        try
        {
            addresses = Dns.GetHostAddresses(Host);
        }
        catch (SocketException ex)
        {
            throw new ConfigException($"cannot resolve host {ConfigText.Quote(Host)}: {ex.Message} (check the name, or use an IP address)", ex);
        }
        catch (ArgumentException ex)
        {
            throw new ConfigException($"cannot resolve host {ConfigText.Quote(Host)}: {ex.Message} (check the name, or use an IP address)", ex);
        }

        IPAddress? chosen = Array.Find(addresses, a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? (addresses.Length > 0 ? addresses[0] : null);
        return chosen is null
            ? throw new ConfigException($"host {ConfigText.Quote(Host)} resolves to no address (check the name, or use an IP address)")
            : new IPEndPoint(chosen, Port);
    }

    public void Deconstruct(out string host, out int port) => (host, port) = (Host, Port);

    private protected override string Display() =>
        Host.Contains(':', StringComparison.Ordinal) && !Host.StartsWith('[') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    /// <summary>Null if <paramref name="host"/> is an IP literal or looks like a host name.</summary>
    internal static string? CheckHost(string host)
    {
        if (host.Length == 0)
        {
            return "a host must not be empty (use an IP address such as 127.0.0.1, or a host name)";
        }

        if (IPAddress.TryParse(host, out _))
        {
            return null;
        }

        // Host names: letters, digits, '-', '_' and '.', at most 253 characters (RFC 1035 plus the
        // underscore many resolvers accept). Anything else is a typo, not a name to look up.
        bool ok = host.Length <= 253 && char.IsAsciiLetterOrDigit(host[0]);
        foreach (char c in host)
        {
            ok &= char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.';
        }

        return ok
            ? null
            : $"{ConfigText.Quote(host)} is neither an IP address nor a host name (e.g. 127.0.0.1, ::1 or host.example)";
    }

    /// <summary>Null if <paramref name="port"/> is 0..65535.</summary>
    internal static string? CheckPort(int port) =>
        port is >= 0 and <= 65535 ? null : $"port {port} is out of range (a port is 0..65535)";
}
