// `forward-del`: a port forward closed, named by its rule (its host side counts) or by its host port.
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.UserNet;

namespace Switchyard.Engine.Commands;

/// <param name="Network">The network whose gateway forwards (null: the default network).</param>
/// <param name="Rule">The forward's rule, or its host side; or null with <paramref name="HostPort"/>.</param>
/// <param name="Protocol">With <paramref name="HostPort"/>: tcp (the default) or udp.</param>
/// <param name="HostPort">The host port, matched on any host address.</param>
public sealed record ForwardDelCommand(string? Network = null, string? Rule = null, string? Protocol = null, int? HostPort = null) : ControlRequest
{
    internal override Task<ControlResponse> HandleAsync(CommandContext context)
    {
        ForwardRule? rule = null;
        ForwardProtocol protocol = ForwardProtocol.Tcp;
        if (!string.IsNullOrWhiteSpace(Rule))
        {
            if (Protocol is not null || HostPort is not null)
            {
                return Task.FromResult(ControlResponse.Fail("forward-del takes either a rule, or a protocol and a host port, not both"));
            }

            if (!ForwardRuleParser.TryParse(Rule, out rule, out string? error))
            {
                return Task.FromResult(ControlResponse.Fail(error));
            }
        }
        else
        {
            if (HostPort is not (>= 1 and <= 65535))
            {
                return Task.FromResult(ControlResponse.Fail($"forward-del needs a rule ({ForwardRuleParser.Syntax}), or a hostPort (1 to 65535) with an optional protocol (tcp or udp)"));
            }

            switch (Protocol)
            {
                case null or "tcp":
                    break;
                case "udp":
                    protocol = ForwardProtocol.Udp;
                    break;
                default:
                    return Task.FromResult(ControlResponse.Fail($"unknown protocol {Protocol} (tcp or udp)"));
            }
        }

        return context.Loop.InvokeAsync(() =>
        {
            NatGateway gateway = context.GatewayOf(Network);
            string network = Network ?? Defaults.NetworkName;
            var matches = new List<ForwardRule>();
            foreach (ForwardRule f in gateway.Forwards)
            {
                bool match = rule is not null
                    ? f.HostKey == rule.HostKey
                    : f.Protocol == protocol && f.HostPort == HostPort;
                if (match)
                {
                    matches.Add(f);
                }
            }

            string what = rule is not null
                ? $"{rule.ToString().Split('-')[0]}"
                : $"{(protocol == ForwardProtocol.Tcp ? "tcp" : "udp")} host port {HostPort}";
            string open = gateway.Forwards.Count == 0 ? "none" : string.Join(", ", gateway.Forwards);
            if (matches.Count == 0)
            {
                return ControlResponse.Fail($"network {network} has no forward for {what} (forwards: {open})");
            }

            if (matches.Count > 1)
            {
                return ControlResponse.Fail($"several forwards use {what} ({string.Join(", ", matches)}); give the whole rule");
            }

            ForwardRule existing = matches[0];
            gateway.RemoveForward(existing);
            CommandLog.ForwardRemoved(context.Logger, network, existing.ToString());
            return new ControlResponse(true, Message: $"removed forward {existing} from network {network}", Forwards: [ForwardListCommand.ToRow(network, gateway, existing)]);
        });
    }
}
