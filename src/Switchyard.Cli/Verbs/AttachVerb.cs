// `switchyard attach`: a network namespace or a process's namespace joined to a network at run time (docs/namespaces.md).
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.Engine.Host;

namespace Switchyard.Cli;

internal static partial class Program
{
    private static Command AttachVerb()
    {
        var network = new Argument<string>("network") { Description = "The network (e.g. default)" };
        var netns = new Option<string?>("--netns") { Description = "A named network namespace (ip netns add NAME)", HelpName = "NAME" };
        var pid = new Option<int?>("--pid") { Description = "The network namespace of this process (e.g. a container's init)" };
        var ifname = new Option<string>("--ifname") { Description = "The interface created inside the namespace", DefaultValueFactory = _ => Defaults.NetnsIfName };
        var name = new Option<string?>("--name") { Description = "The port name (default: the namespace name, or pid-PID)" };
        var command = new Command(
            "attach",
            "Join a network namespace to a running network: create a tap inside it (up, no address) as a port. Same as 'port add NETWORK NAME netns,...'. The daemon must run as root.")
        {
            network, netns, pid, ifname, name, JsonOption,
        };
        command.SetAction((r, ct) =>
        {
            string? ns = r.GetValue(netns);
            int? p = r.GetValue(pid);
            if ((ns is null) == (p is null))
            {
                return Task.FromResult(Fail(r, "give either --netns NAME or --pid PID (exactly one)", 2));
            }

            string spec = ns is not null
                ? $"netns,name={ns.Replace(",", ",,", StringComparison.Ordinal)},ifname={r.GetValue(ifname)}"
                : string.Create(CultureInfo.InvariantCulture, $"netns,pid={p},ifname={r.GetValue(ifname)}");
            string portName = r.GetValue(name) ?? ns?.ToLowerInvariant() ?? string.Create(CultureInfo.InvariantCulture, $"pid-{p}");
            return ClientAsync(r, RunDir(r), new PortAddCommand(r.GetValue(network), portName, spec), r.GetValue(JsonOption), Tables.Message, ct);
        });
        return command;
    }
}
