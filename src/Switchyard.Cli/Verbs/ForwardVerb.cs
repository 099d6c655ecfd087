// `switchyard forward add|del|list`: the NAT gateway's port forwards at run time (forward-add, forward-del, forward-list).
using System.CommandLine;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.UserNet;

namespace Switchyard.Cli;

internal static partial class Program
{
    private static Command ForwardVerb()
    {
        const string RuleHelp = "[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, e.g. tcp:127.0.0.1:2222-:22 (empty guest address: the first DHCP address)";
        const string DelHelp = "The forward: its rule as listed, its host side (tcp:127.0.0.1:2222), or PROTOCOL:HOSTPORT (tcp:2222, udp:5353; 2222 means tcp)";
        Argument<string?> NetworkArgument() => new("network")
        {
            Description = $"The network whose gateway forwards (default: {Defaults.NetworkName})",
            Arity = ArgumentArity.ZeroOrOne,
        };

        // NETWORK is optional and comes first: with one word, that word is the rule.
        Argument<string?> RuleArgument(string description) => new("rule") { Description = description, Arity = ArgumentArity.ZeroOrOne };

        var addNetwork = NetworkArgument();
        var addRule = RuleArgument(RuleHelp);
        var addOld = DeprecatedNetworkOption();
        var add = new Command("add", "Open a port forward from the host to a guest: forward add [NETWORK] RULE.") { addNetwork, addRule, addOld, JsonOption };
        add.SetAction((r, ct) => NetworkAndRule(r, addNetwork, addRule, addOld, "switchyard forward add NETWORK RULE") is (string network, string rule)
            ? ClientAsync(r, RunDir(r), new ForwardAddCommand(network, Rule: rule), r.GetValue(JsonOption), Tables.Message, ct)
            : Task.FromResult(2));

        var delNetwork = NetworkArgument();
        var delRule = RuleArgument(DelHelp);
        var delOld = DeprecatedNetworkOption();
        var del = new Command("del", "Close a port forward: forward del [NETWORK] RULE.") { delNetwork, delRule, delOld, JsonOption };
        del.SetAction((r, ct) => NetworkAndRule(r, delNetwork, delRule, delOld, "switchyard forward del NETWORK RULE") is (string network, string rule)
            ? ClientAsync(r, RunDir(r), ForwardDelRequest(network, rule), r.GetValue(JsonOption), Tables.Message, ct)
            : Task.FromResult(2));

        var listNetwork = NetworkArgument();
        var listOld = DeprecatedNetworkOption();
        var list = new Command("list", "List the open port forwards: forward list [NETWORK].") { listNetwork, listOld, JsonOption };
        list.SetAction((r, ct) => TryNetwork(r, listNetwork, listOld, "switchyard forward list NETWORK", out string? network)
            ? ClientAsync(r, RunDir(r), new ForwardListCommand(network ?? Defaults.NetworkName), r.GetValue(JsonOption), Tables.Forwards, ct)
            : Task.FromResult(2));

        return new Command("forward", "Add, remove or list the NAT gateway's port forwards (QEMU hostfwd rules) at run time.") { add, del, list };
    }

    // [NETWORK] RULE, or the deprecated -n NETWORK RULE; null after printing a usage error.
    private static (string Network, string Rule)? NetworkAndRule(ParseResult r, Argument<string?> network, Argument<string?> rule, Option<string?> deprecated, string usage)
    {
        string? first = r.GetValue(network);
        string? second = r.GetValue(rule);
        if (second is null)
        {
            (first, second) = (null, first); // One word: the rule.
        }

        if (second is null)
        {
            Fail(r, $"give the forward's rule: {usage}", 2);
            return null;
        }

        if (!TryNetwork(r, first, deprecated, usage, out string? chosen))
        {
            return null;
        }

        return (chosen ?? Defaults.NetworkName, second);
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
