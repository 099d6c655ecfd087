// `switchyard port add|set|del`: ports added, changed or removed at run time (port-add, port-set, port-del).
using Switchyard.Engine.Commands;
using Switchyard.Engine.Events;
using System.CommandLine;
using System.Globalization;

namespace Switchyard.Cli;

internal static partial class Program
{
    private static Command PortVerb()
    {
        var network = new Argument<string>("network") { Description = "The network (e.g. default)" };
        var name = new Argument<string>("name") { Description = "The port name" };
        var spec = new Argument<string>("netdev") { Description = "A QEMU -netdev style spec, from Switchyard's side, e.g. 'stream,addr.type=unix,addr.path=/tmp/g.sock,server=on'" };
        var vlan = new Option<int?>("--vlan") { Description = "Access port in this VLAN (1-4094; default 1)" };
        var trunk = new Option<string?>("--trunk") { Description = "Trunk port carrying these VLANs tagged, e.g. 10,20,30-40" };
        var native = new Option<int?>("--native-vlan") { Description = "With --trunk: the VLAN that travels untagged" };
        var add = new Command("add", "Add a port to a running network.") { network, name, spec, vlan, trunk, native, JsonOption };
        add.SetAction((r, ct) => ClientAsync(
            r,
            RunDir(r),
            new PortAddCommand(r.GetValue(network), r.GetValue(name), r.GetValue(spec), r.GetValue(vlan), r.GetValue(trunk), r.GetValue(native)),
            r.GetValue(JsonOption),
            Tables.Message,
            ct));

        var delNetwork = new Argument<string>("network") { Description = "The network" };
        var delName = new Argument<string>("name") { Description = "The port (or listener) name" };
        var del = new Command("del", "Remove a port (a listener removes all its connections).") { delNetwork, delName, JsonOption };
        del.SetAction((r, ct) => ClientAsync(r, RunDir(r), new PortDelCommand(r.GetValue(delNetwork), r.GetValue(delName)), r.GetValue(JsonOption), Tables.Message, ct));

        return new Command("port", "Add, change or remove ports at run time.") { add, PortSetVerb(), del };
    }

    private static Command PortSetVerb()
    {
        var network = new Argument<string>("network") { Description = "The network (e.g. default)" };
        var name = new Argument<string>("name") { Description = "The port, as 'switchyard show' lists it (e.g. vhost-user.1)" };
        var link = new Option<string?>("--link") { Description = "Set the port's link up or down (down: its frames are dropped, nothing is sent to it)", HelpName = "up|down" };
        link.AcceptOnlyFromAmong("up", "down");
        var vlan = new Option<int?>("--vlan") { Description = "Make it an access port in this VLAN (1-4094)" };
        var trunk = new Option<string?>("--trunk") { Description = "Make it a trunk carrying these VLANs tagged, e.g. 10,20,30-40" };
        var native = new Option<int?>("--native-vlan") { Description = "With --trunk: the VLAN that travels untagged" };
        var command = new Command("set", "Change a live port: its link state, or its VLANs (its learned addresses are forgotten). Example: switchyard port set default vhost-user.1 --link down") { network, name, link, vlan, trunk, native, JsonOption };
        command.SetAction((r, ct) => ClientAsync(
            r,
            RunDir(r),
            new PortSetCommand(r.GetValue(network), r.GetValue(name), Vlan: r.GetValue(vlan), Trunk: r.GetValue(trunk), NativeVlan: r.GetValue(native), Link: r.GetValue(link)),
            r.GetValue(JsonOption),
            Tables.Message,
            ct));
        return command;
    }
}
