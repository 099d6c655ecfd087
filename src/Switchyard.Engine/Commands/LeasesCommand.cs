// `leases`: the DHCP leases of one network's gateway, or of every gateway.
using Switchyard.Core.Frames;
using Switchyard.Engine.Control;
using Switchyard.UserNet;

namespace Switchyard.Engine.Commands;

/// <param name="Network">Only this network (null: every network with a gateway).</param>
public sealed record LeasesCommand(string? Network = null) : ControlRequest
{
    internal override Task<ControlResponse> HandleAsync(CommandContext context) =>
        context.Loop.InvokeAsync(() => new ControlResponse(true, Leases: Leases(context)));

    private List<LeaseRow> Leases(CommandContext context)
    {
        DateTimeOffset now = context.Loop.Clock.GetUtcNow();
        var rows = new List<LeaseRow>();
        foreach ((string network, NatGateway gateway) in context.Gateways(Network))
        {
            foreach (LeaseInfo l in gateway.Leases())
            {
                rows.Add(new LeaseRow(network, Ethernet.FormatMac(l.Mac), l.Address.ToString(), l.Hostname, l.Expires, (l.Expires - now).TotalSeconds, l.Active));
            }
        }

        return rows;
    }
}
