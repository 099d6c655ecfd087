// `switchyard forward add|del|list`: the NAT gateway's port forwards at run time (forward-add, forward-del, forward-list).
using System.CommandLine;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Switchyard.Engine;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.Native;
using Switchyard.UserNet;

namespace Switchyard.Cli;

internal static partial class Program
{
    private static Command ForwardVerb()
    {
        const string RuleHelp = "[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, e.g. tcp:127.0.0.1:2222-:22 (empty guest address: the first DHCP address)";
        Option<string> NetworkOption() => new("--network", "-n")
        {
            Description = $"The network whose gateway forwards (default: {Defaults.NetworkName})",
            DefaultValueFactory = _ => Defaults.NetworkName,
        };

        var addNetwork = NetworkOption();
        var addRule = new Argument<string>("rule") { Description = RuleHelp };
        var add = new Command("add", "Open a port forward from the host to a guest.") { addNetwork, addRule, JsonOption };
        add.SetAction((r, ct) => ClientAsync(
            r, RunDir(r), new ForwardAddCommand(r.GetValue(addNetwork), Rule: r.GetValue(addRule)), r.GetValue(JsonOption), Tables.Message, ct));

        var delNetwork = NetworkOption();
        var delRule = new Argument<string>("rule")
        {
            Description = "The forward: its rule as listed, its host side (tcp:127.0.0.1:2222), or PROTOCOL:HOSTPORT (tcp:2222, udp:5353; 2222 means tcp)",
        };
        var del = new Command("del", "Close a port forward.") { delNetwork, delRule, JsonOption };
        del.SetAction((r, ct) => ClientAsync(r, RunDir(r), ForwardDelRequest(r.GetValue(delNetwork), r.GetValue(delRule) ?? string.Empty), r.GetValue(JsonOption), Tables.Message, ct));

        var listNetwork = NetworkOption();
        var list = new Command("list", "List the open port forwards.") { listNetwork, JsonOption };
        list.SetAction((r, ct) => ClientAsync(r, RunDir(r), new ForwardListCommand(r.GetValue(listNetwork)), r.GetValue(JsonOption), Tables.Forwards, ct));

        return new Command("forward", "Add, remove or list the NAT gateway's port forwards (QEMU hostfwd rules) at run time.") { add, del, list };
    }

    /// <summary>What `forward del TEXT` asks for: a whole rule; PROTOCOL:HOSTPORT or HOSTPORT (any host
    /// address); or a host side [PROTOCOL]:[HOSTADDR]:HOSTPORT (sent as a rule; only its host side counts).</summary>
    internal static ForwardDelCommand ForwardDelRequest(string? network, string text)
    {
        if (text.Contains('-', StringComparison.Ordinal))
        {
            return new ForwardDelCommand(network, Rule: text);
        }

        string[] parts = text.Split(':');
        string protocol = parts.Length == 2 ? parts[0] : "tcp";
        string portText = parts[^1];
        if (parts.Length <= 2 && protocol is "tcp" or "udp" or "" && int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port))
        {
            return new ForwardDelCommand(network, Protocol: protocol.Length == 0 ? "tcp" : protocol, HostPort: port);
        }

        // A host side: any guest side will do, the daemon matches the host side only.
        return new ForwardDelCommand(network, Rule: ForwardRuleParser.TryParse(text + "-:1", out ForwardRule? rule, out _) ? rule.ToString() : text);
    }
}
