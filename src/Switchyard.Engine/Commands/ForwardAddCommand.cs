// `forward-add`: a port forward opened on a running gateway (QEMU hostfwd syntax; docs/gateway.md).
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;
using Switchyard.UserNet;

namespace Switchyard.Engine.Commands;

/// <param name="Network">The network whose gateway forwards (null: the default network).</param>
/// <param name="Rule">[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT.</param>
public sealed record ForwardAddCommand(string? Network = null, string? Rule = null) : ControlRequest
{
    internal override Task<ControlResponse> HandleAsync(CommandContext context)
    {
        if (string.IsNullOrWhiteSpace(Rule))
        {
            return Task.FromResult(ControlResponse.Fail($"forward-add needs a rule ({ForwardRuleParser.Syntax})"));
        }

        if (!ForwardRuleParser.TryParse(Rule, out ForwardRule? rule, out string? error))
        {
            return Task.FromResult(ControlResponse.Fail(error));
        }

        return context.Loop.InvokeAsync(() =>
        {
            NatGateway gateway = context.GatewayOf(Network);
            string network = Network ?? Defaults.NetworkName;
            if (ForwardRuleParser.Check(rule, gateway.Options) is { } problem)
            {
                return ControlResponse.Fail(problem);
            }

            try
            {
                gateway.AddForward(rule);
            }
            catch (HostNetworkException ex)
            {
                return ControlResponse.Fail($"forward {rule} on network {network}: {ex.Message}");
            }

            CommandLog.ForwardAdded(context.Logger, network, rule.ToString());
            return new ControlResponse(true, Message: $"added forward {rule} on network {network}", Forwards: [ForwardListCommand.ToRow(network, gateway, rule)]);
        });
    }
}
