// `forward-list`: the open port forwards of one network's gateway, or of every gateway.
using Switchyard.Engine.Control;
using Switchyard.Protocols;
using Switchyard.UserNet;

namespace Switchyard.Engine.Commands;

/// <param name="Network">Only this network (null: every network with a gateway).</param>
public sealed record ForwardListCommand(string? Network = null) : ControlRequest
{
    internal override Task<ControlResponse> HandleAsync(CommandContext context) =>
        context.Loop.InvokeAsync(() => new ControlResponse(true, Forwards: ForwardList(context)));

    /// <summary>A forward as the control API lists it (forward-list, forward-add, forward-del, the web view).</summary>
    internal static ForwardRow ToRow(string network, NatGateway gateway, ForwardRule rule) =>
        new(network, rule.ToString(), rule.Protocol == ForwardProtocol.Tcp ? "tcp" : "udp",
            rule.HostAddress == IpAddr.None ? null : rule.HostAddress.ToString(), rule.HostPort,
            (rule.GuestAddress == IpAddr.None ? gateway.Options.DhcpStart : rule.GuestAddress).ToString(), rule.GuestPort);

    private List<ForwardRow> ForwardList(CommandContext context)
    {
        var rows = new List<ForwardRow>();
        foreach ((string network, NatGateway gateway) in context.Gateways(Network))
        {
            foreach (ForwardRule rule in gateway.Forwards)
            {
                rows.Add(ToRow(network, gateway, rule));
            }
        }

        return rows;
    }
}
