// Parser for port-forward rules in QEMU's hostfwd syntax.
//
// Theory of operation: a rule is `[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT`, the text QEMU
// takes after `hostfwd=`. The same parser serves the topology file (hostfwd: lists), the `user,...`
// gateway spec, `switchyard forward add|del` and the control API, so a rule means one thing
// everywhere. IP addresses contain no '-', so the first '-' splits the host side from the guest side;
// an IPv6 address is written in brackets. An empty protocol is tcp (as in QEMU, `hostfwd=::2222-:22`),
// and the protocol field may be left out entirely (`127.0.0.1:2222-:22`). An empty host address is
// IpAddr.None (every address, both families); an empty guest address is the gateway's first DHCP
// address. Parsing checks syntax only and never throws; Check adds the rules that need the gateway's
// options (the guest address must be on the guests' side). ForwardRule.ToString() writes text that
// parses back to an equal rule.
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Switchyard.Core.Config;
using Switchyard.Protocols;
using Switchyard.UserNet;

namespace Switchyard.Engine.Config;

/// <summary>Parses and checks <see cref="ForwardRule"/> text. See the file header.</summary>
public static class ForwardRuleParser
{
    /// <summary>The syntax, for messages.</summary>
    public const string Syntax = "[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, e.g. tcp:127.0.0.1:2222-10.0.2.15:22";

    /// <summary>Parses one rule. On failure <paramref name="error"/> names every problem in the text
    /// (joined with "; ") and says what to write.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out ForwardRule? rule, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        rule = null;
        var problems = new List<string>();
        string quoted = ConfigText.Quote(text);
        int dash = text.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            error = $"forward rule {quoted} has no '-' between the host side and the guest side (expected {Syntax})";
            return false;
        }

        string hostSide = text[..dash];
        string guestSide = text[(dash + 1)..];
        ForwardProtocol protocol = ForwardProtocol.Tcp;
        if (!TrySplitProtocol(hostSide, out string? protocolText, out string hostEndpoint))
        {
            problems.Add($"unknown protocol {ConfigText.Quote(protocolText ?? string.Empty)} (tcp or udp; empty means tcp)");
        }
        else if (protocolText == "udp")
        {
            protocol = ForwardProtocol.Udp;
        }

        (IpAddr hostAddress, ushort hostPort) = ReadEndpoint(hostEndpoint, "host", problems);
        (IpAddr guestAddress, ushort guestPort) = ReadEndpoint(guestSide, "guest", problems);
        if (problems.Count == 0 && hostAddress.IsMulticastOrBroadcast)
        {
            problems.Add($"host address {hostAddress} is multicast or broadcast; give a local unicast address, or leave it empty for every address");
        }

        if (problems.Count == 0 && !guestAddress.IsUnspecified && (guestAddress.IsMulticastOrBroadcast || guestAddress.IsLoopback))
        {
            problems.Add($"guest address {guestAddress} is not a guest's unicast address; give the guest's address, or leave it empty for the first DHCP address");
        }

        if (problems.Count > 0)
        {
            error = $"bad forward rule {quoted}: {string.Join("; ", problems)} (expected {Syntax})";
            return false;
        }

        rule = new ForwardRule(protocol, hostAddress, hostPort, guestAddress, guestPort);
        error = null;
        return true;
    }

    /// <summary>Parses one rule or throws <see cref="ConfigException"/>.</summary>
    public static ForwardRule Parse(string text) =>
        TryParse(text, out ForwardRule? rule, out string? error) ? rule : throw new ConfigException(error);

    /// <summary>The rules a rule must follow on a gateway with <paramref name="options"/>: the guest
    /// address (when given) is on the guests' IPv4 network, or on the IPv6 prefix with IPv6 on, and is
    /// not the network, broadcast or a gateway address. Null if all hold.</summary>
    public static string? Check(ForwardRule rule, GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(options);
        IpAddr guest = rule.GuestAddress;
        if (guest == IpAddr.None)
        {
            return null;
        }

        bool inside = guest.IsV4 ? options.Network.Contains(guest) : options.Ipv6 && options.Network6.Contains(guest);
        if (!inside)
        {
            string networks = options.Ipv6 ? $"{options.Network} or {options.Network6}" : options.Network.ToString();
            string v6Off = !guest.IsV4 && !options.Ipv6 ? " (IPv6 is off on this gateway)" : string.Empty;
            return $"forward {rule}: guest address {guest} is not on the guests' network{v6Off}; give an address in {networks}, or leave it empty for {options.DhcpStart}";
        }

        if (guest == options.Host || guest == options.Dns || (options.Ipv6 && (guest == options.Host6 || guest == options.Dns6)))
        {
            return $"forward {rule}: guest address {guest} is the gateway's own address; give a guest's address (e.g. {options.DhcpStart})";
        }

        if (guest.IsV4 && (guest == options.Network.NetworkAddress || guest == options.Network.BroadcastAddress))
        {
            return $"forward {rule}: guest address {guest} is the network or broadcast address of {options.Network}; give a guest's address (e.g. {options.DhcpStart})";
        }

        return null;
    }

    // "tcp:ADDR:PORT", "udp:ADDR:PORT", ":ADDR:PORT" (empty protocol) or "ADDR:PORT" (left out).
    private static bool TrySplitProtocol(string hostSide, out string? protocol, out string rest)
    {
        int colon = hostSide.IndexOf(':', StringComparison.Ordinal);
        string first = colon < 0 ? hostSide : hostSide[..colon];
        if (first is "tcp" or "udp" or "")
        {
            // ":2222" is an empty protocol with the port; "::2222" an empty protocol and an empty address.
            bool justPort = colon == 0 && hostSide.IndexOf(':', 1) < 0;
            protocol = first.Length == 0 ? "tcp" : first;
            rest = justPort ? hostSide : colon < 0 ? string.Empty : hostSide[(colon + 1)..];
            return true;
        }

        if (colon >= 0 && first.All(char.IsAsciiLetter) && !first.All(char.IsAsciiHexDigit))
        {
            protocol = first;
            rest = hostSide[(colon + 1)..];
            return false;
        }

        protocol = "tcp";
        rest = hostSide;
        return true;
    }

    // "[ADDR]:PORT" where ADDR is empty, IPv4, or IPv6 in brackets.
    private static (IpAddr Address, ushort Port) ReadEndpoint(string text, string side, List<string> problems)
    {
        string addressText;
        string portText;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
            {
                problems.Add($"{side} side {ConfigText.Quote(text)} is not [IPV6]:PORT");
                return default;
            }

            addressText = text[1..close];
            portText = text[(close + 2)..];
            if (addressText.Length == 0 || !addressText.Contains(':', StringComparison.Ordinal))
            {
                problems.Add($"{side} address {ConfigText.Quote(addressText)} in brackets is not an IPv6 address");
                return default;
            }
        }
        else
        {
            int colon = text.LastIndexOf(':');
            if (colon < 0)
            {
                problems.Add($"{side} side {ConfigText.Quote(text)} has no ':' before the port (write [ADDR]:PORT, e.g. :22)");
                return default;
            }

            addressText = text[..colon];
            portText = text[(colon + 1)..];
            if (addressText.Contains(':', StringComparison.Ordinal))
            {
                problems.Add($"{side} address {ConfigText.Quote(addressText)}: write an IPv6 address in brackets, e.g. [::1]:2222");
                return default;
            }
        }

        IpAddr address = IpAddr.None;
        bool ok = true;
        if (addressText.Length > 0)
        {
            if (GatewaySpec.TryParseIp(addressText, out IpAddr parsed))
            {
                address = parsed;
            }
            else
            {
                problems.Add($"{side} address {ConfigText.Quote(addressText)} is not an IPv4 or IPv6 address");
                ok = false;
            }
        }

        ushort port = 0;
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int number) || number is < 1 or > 65535)
        {
            problems.Add($"{side} port {ConfigText.Quote(portText)} is not a port number (1 to 65535)");
            ok = false;
        }
        else
        {
            port = (ushort)number;
        }

        return ok ? (address, port) : default;
    }
}
