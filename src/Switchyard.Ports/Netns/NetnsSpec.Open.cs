// Opening a namespace port, and noticing when its namespace goes.
//
// Theory of operation: the tap is created inside the namespace (NetNamespace.Invoke enters it on a
// short-lived thread) and brought up there; its descriptor then works from the network's loop like any
// other tap's. The tap's own socket holds a reference on the namespace it was created in, so
// `ip netns del` alone never destroys it and the tap never reports an error; the descriptors would stay
// held until `port del`. So the handle remembers the namespace's identity (the nsfs device and inode
// behind /run/netns/NAME or /proc/PID/ns/net), and the network asks it once a second (CheckGone);
// when the path is gone or names another namespace, the network closes the port, which lets the
// kernel free the namespace.
using Switchyard.Native;
using Switchyard.Ports.Tap;

namespace Switchyard.Ports.Netns;

public sealed partial record NetnsSpec
{
    internal override PortHandle Open(PortContext context)
    {
        using NetNamespace ns = Name is { } name ? NetNamespace.OpenNamed(name) : NetNamespace.OpenOfProcess(Pid!.Value);
        string nsPath = Name is { } n ? System.IO.Path.Combine(NetNamespace.NamedDirectory, n) : $"/proc/{Pid!.Value}/ns/net";
        bool watchable = FileVersion.TryGet(nsPath, out FileVersion identity);
        TapPort tap = ns.Invoke(() =>
        {
            TapPort opened = TapPort.Open(context.Name, IfName, context.Loop, context.Logger, vnetHeader: true, queueCount: 1);
            try
            {
                NetNamespace.SetLinkUp(opened.InterfaceName);
                return opened;
            }
            catch
            {
                opened.Stop();
                throw;
            }
        });
        context.Attach(tap);
        tap.Start();
        return new NamespaceTapHandle(Kind, tap, watchable ? new NamespaceWatch(nsPath, ns.Description, identity.Device, identity.Inode) : null);
    }

    /// <summary>Where a namespace port's namespace is named, and which namespace (nsfs device and inode) it was.</summary>
    private sealed record NamespaceWatch(string Path, string Description, ulong Device, ulong Inode);

    /// <summary>A tap in a namespace, gone when its namespace is (see the file header).</summary>
    private sealed class NamespaceTapHandle(string kind, TapPort tap, NamespaceWatch? watch) : SinglePortHandle(kind, tap)
    {
        public override string? CheckGone() =>
            watch is null || (FileVersion.TryGet(watch.Path, out FileVersion now) && now.Device == watch.Device && now.Inode == watch.Inode)
                ? null
                : $"{watch.Description} is gone (deleted, or its process exited)";
    }
}
