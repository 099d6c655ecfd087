// `fdb`: the learned MAC addresses of one network, or of every network.
using Switchyard.Core.Frames;
using Switchyard.Engine.Control;
using Switchyard.Engine.Networks;
using Switchyard.Switching;

namespace Switchyard.Engine.Commands;

/// <param name="Network">Only this network (null: every network).</param>
public sealed record FdbCommand(string? Network = null) : ControlRequest
{
    internal override Task<ControlResponse> HandleAsync(CommandContext context) =>
        context.Loop.InvokeAsync(() => new ControlResponse(true, Fdb: Fdb(context)));

    private List<FdbRow> Fdb(CommandContext context)
    {
        var rows = new List<FdbRow>();
        foreach (Network n in context.Networks)
        {
            if (Network is not null && n.Name != Network)
            {
                continue;
            }

            foreach (FdbEntry e in n.Switch.SnapshotFdb())
            {
                rows.Add(new FdbRow(n.Name, e.Vid, Ethernet.FormatMac(e.Mac), e.Port, e.Age.TotalSeconds));
            }
        }

        if (Network is not null && rows.Count == 0)
        {
            _ = context.FindNetwork(Network); // Throws a clear error for an unknown network.
        }

        return rows;
    }
}
