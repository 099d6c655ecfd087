// `switchyard exec [NETWORK] -- CMD [ARGS...]`: parses the command line and prints the outcome; the
// namespace, the port and the DHCP lease are Engine/Host/NamespaceExec's work (docs/namespaces.md).
using System.CommandLine;
using Switchyard.Engine.Config;
using Switchyard.Engine.Host;

namespace Switchyard.Cli;

internal static partial class Program
{
    private static Command ExecVerb()
    {
        var words = new Argument<string[]>("args")
        {
            Description = "[NETWORK] -- CMD [ARGS...]: the network to attach to (default: default; it needs a NAT gateway), then the command after '--'",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command(
            "exec",
            "Run a command in a fresh network namespace attached to a network and configured from its gateway (address, default route, MTU, DNS), like 'pasta -- CMD'. Usage: switchyard exec [NETWORK] -- CMD [ARGS...]. Needs root, iproute2 and busybox (udhcpc); rootless is not supported. The command's exit code is returned; the namespace is removed when it exits.")
        {
            words,
        };
        command.SetAction((r, ct) =>
        {
            // Words after "--" are the command; at most one word before it names the network.
            string[] values = r.GetValue(words) ?? [];
            int dash = -1;
            for (int i = 0; i < r.Tokens.Count; i++)
            {
                if (r.Tokens[i].Type == System.CommandLine.Parsing.TokenType.DoubleDash)
                {
                    dash = i;
                    break;
                }
            }

            if (dash < 0)
            {
                return Task.FromResult(Fail(r, "put '--' before the command: switchyard exec [NETWORK] -- CMD [ARGS...]", 2));
            }

            int after = r.Tokens.Count - dash - 1;
            string[] before = values[..^after];
            if (before.Length > 1)
            {
                return Task.FromResult(Fail(r, $"only one network may come before '--' (got {string.Join(' ', before)})", 2));
            }

            return ExecAsync(r, before.Length == 1 ? before[0] : Defaults.NetworkName, values[^after..], ct);
        });
        return command;
    }

    private static async Task<int> ExecAsync(ParseResult r, string network, string[] commandLine, CancellationToken ct)
    {
        ExecOutcome outcome = await NamespaceExec.RunAsync(RunDir(r), network, commandLine, ct).ConfigureAwait(false);
        return outcome.Error is { } error ? Fail(r, error, outcome.ExitCode) : outcome.ExitCode;
    }
}
