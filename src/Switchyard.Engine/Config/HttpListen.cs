// The address of the optional HTTP listener (metrics and the web view): `switchyard up --http
// HOST:PORT` or `http: HOST:PORT` at the top of a topology file.
//
// The listener has no authentication, so the rule that matters is here: only a loopback address is
// accepted unless the user also says --http-allow-remote. HOST is an IPv4 literal, a bracketed IPv6
// literal, or `localhost` (127.0.0.1); names are not resolved, so what is checked is what is bound.
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Switchyard.Engine.Config;

public static class HttpListen
{
    public const string Syntax = "HOST:PORT, e.g. 127.0.0.1:9100 or [::1]:9100 (HOST an IP address or localhost; PORT 0 picks a free one)";

    /// <summary>Parses <paramref name="text"/> as HOST:PORT. On failure <paramref name="error"/> says what to write.</summary>
    public static bool TryParse(string? text, out IPEndPoint? endpoint, out string? error)
    {
        endpoint = null;
        error = null;
        string t = text?.Trim() ?? string.Empty;
        int colon = t.LastIndexOf(':');
        if (colon <= 0 || colon == t.Length - 1)
        {
            error = $"'{text}' is not an HTTP listen address; expected {Syntax}";
            return false;
        }

        string host = t[..colon];
        string portText = t[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > IPEndPoint.MaxPort)
        {
            error = $"'{portText}' in '{text}' is not a port number (0 to 65535)";
            return false;
        }

        IPAddress? address;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            address = IPAddress.Loopback;
        }
        else if (host.StartsWith('[') && host.EndsWith(']'))
        {
            address = IPAddress.TryParse(host[1..^1], out IPAddress? v6) && v6.AddressFamily == AddressFamily.InterNetworkV6 ? v6 : null;
        }
        else
        {
            address = IPAddress.TryParse(host, out IPAddress? v4) && v4.AddressFamily == AddressFamily.InterNetwork ? v4 : null;
        }

        if (address is null)
        {
            error = $"'{host}' in '{text}' is not an IP address (write an IPv4 address, [IPv6] in brackets, or localhost; names are not resolved)";
            return false;
        }

        endpoint = new IPEndPoint(address, port);
        return true;
    }

    /// <summary>Null when <paramref name="endpoint"/> may be used; otherwise why not. Only loopback
    /// addresses are allowed unless <paramref name="allowRemote"/>: the listener has no authentication.</summary>
    public static string? Check(IPEndPoint endpoint, bool allowRemote)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return allowRemote || IPAddress.IsLoopback(endpoint.Address)
            ? null
            : $"refusing to serve HTTP on {Format(endpoint)}: it is not a loopback address and the listener has no authentication " +
              "(anyone who can reach it sees the topology, MACs, addresses and counters). Use 127.0.0.1, or add --http-allow-remote if that is what you want";
    }

    /// <summary>HOST:PORT as a URL authority (IPv6 in brackets).</summary>
    public static string Format(IPEndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return endpoint.AddressFamily == AddressFamily.InterNetworkV6
            ? string.Create(CultureInfo.InvariantCulture, $"[{endpoint.Address}]:{endpoint.Port}")
            : string.Create(CultureInfo.InvariantCulture, $"{endpoint.Address}:{endpoint.Port}");
    }
}
