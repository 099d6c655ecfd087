// Fuzz target: the configuration parsers a user (or a file someone else wrote) feeds the daemon. The first
// input byte (modulo 4) picks the parser, the rest is UTF-8 text:
//   0 a -netdev spec (NetdevSpec.TryParse / Parse)   1 a gateway spec (GatewaySpec.TryParse / Parse)
//   2 a port-forward rule (ForwardRuleParser.TryParse)   3 a YAML topology (TopologyLoader.TryLoad / Load)
// Rules checked: the only exception is ConfigException (the documented, user-actionable one); TryParse and
// Parse agree; a parsed spec's canonical text parses back to an equal spec (NetdevSpec promises
// Parse(spec.ToString()) == spec; a gateway spec's Format parses again).
using System.Text;
using Switchyard.Core.Config;
using Switchyard.Engine.Config;
using Switchyard.Ports;
using Switchyard.UserNet;

namespace Switchyard.Fuzz.Targets;

public sealed class ConfigTarget : IFuzzTarget
{
    public string Name => "config";

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        string text = Encoding.UTF8.GetString(input[1..]);
        switch (input[0] % 4)
        {
            case 0:
                Netdev(text);
                break;
            case 1:
                Gateway(text);
                break;
            case 2:
                Forward(text);
                break;
            default:
                Topology(text);
                break;
        }
    }

    private static void Netdev(string text)
    {
        bool ok = NetdevSpec.TryParse(text, out NetdevSpec? spec, out IReadOnlyList<string> errors);
        bool parsed = ParseOrConfigError(() => NetdevSpec.Parse(text));
        if (ok != parsed || (!ok && errors.Count == 0))
        {
            throw new FuzzFindingException($"NetdevSpec.TryParse said {ok} ({errors.Count} errors), Parse said {parsed}");
        }

        if (spec is not null)
        {
            string canonical = spec.ToString();
            if (!NetdevSpec.TryParse(canonical, out NetdevSpec? again, out IReadOnlyList<string> againErrors) || !again.Equals(spec))
            {
                throw new FuzzFindingException($"'{canonical}' (canonical text of '{text}') does not parse back to the same spec: {string.Join("; ", againErrors)}");
            }
        }
    }

    private static void Gateway(string text)
    {
        bool ok = GatewaySpec.TryParse(text, out GatewayOptions? options, out IReadOnlyList<string> errors);
        bool parsed = ParseOrConfigError(() => GatewaySpec.Parse(text));
        if (ok != parsed || (!ok && errors.Count == 0))
        {
            throw new FuzzFindingException($"GatewaySpec.TryParse said {ok} ({errors.Count} errors), Parse said {parsed}");
        }

        if (options is not null)
        {
            string canonical = GatewaySpec.Format(options);
            if (!GatewaySpec.TryParse(canonical, out _, out IReadOnlyList<string> againErrors))
            {
                throw new FuzzFindingException($"'{canonical}' (formatted from '{text}') does not parse: {string.Join("; ", againErrors)}");
            }
        }
    }

    private static void Forward(string text)
    {
        if (ForwardRuleParser.TryParse(text, out ForwardRule? rule, out string? error))
        {
            _ = ForwardRuleParser.Check(rule, GatewayOptions.Default);
        }
        else if (string.IsNullOrEmpty(error))
        {
            throw new FuzzFindingException("ForwardRuleParser.TryParse failed without an error");
        }
    }

    private static void Topology(string text)
    {
        TopologyConfig? config = TopologyLoader.TryLoad(text, hostChecks: false, out IReadOnlyList<ConfigDiagnostic> problems);
        if (config is null && problems.Count == 0)
        {
            throw new FuzzFindingException("TopologyLoader.TryLoad failed without a diagnostic");
        }

        bool loaded = ParseOrConfigError(() => TopologyLoader.Load(text));
        if (loaded != (config is not null))
        {
            throw new FuzzFindingException($"TopologyLoader.TryLoad and Load disagree ({problems.Count} problems)");
        }

        if (config is not null)
        {
            _ = TopologyDiff.Plan(config, config);
        }
    }

    /// <summary>True when <paramref name="parse"/> returned, false when it threw ConfigException; any other
    /// exception goes on to the fuzzer.</summary>
    private static bool ParseOrConfigError(Action parse)
    {
        try
        {
            parse();
            return true;
        }
        catch (ConfigException)
        {
            return false;
        }
    }
}
