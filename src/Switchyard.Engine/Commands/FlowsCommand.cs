// `flows`: the live NAT flows of one network's gateway, or of every gateway.
using Switchyard.Engine.Control;
using Switchyard.UserNet;

namespace Switchyard.Engine.Commands;

/// <param name="Network">Only this network (null: every network with a gateway).</param>
public sealed record FlowsCommand(string? Network = null) : ControlRequest
{
    internal override Task<ControlResponse> HandleAsync(CommandContext context) =>
        context.Loop.InvokeAsync(() => new ControlResponse(true, Flows: Flows(context)));

    private List<FlowRow> Flows(CommandContext context)
    {
        var rows = new List<FlowRow>();
        foreach ((string network, NatGateway gateway) in context.Gateways(Network))
        {
            foreach (FlowInfo f in gateway.Flows())
            {
                rows.Add(new FlowRow(network, f.Protocol, f.Guest, f.Remote, f.State, f.Inbound, f.BytesFromGuest, f.BytesToGuest, f.Idle.TotalSeconds));
            }
        }

        return rows;
    }
}
