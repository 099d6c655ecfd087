// The QEMU command-line fragment that attaches a guest to a port: the mirror image of the port's
// own spec (our listener is QEMU's client, our local address is QEMU's remote, and so on).
using Switchyard.Engine.Config;

namespace Switchyard.Engine.Networks;

public static class QemuHints
{
    /// <summary>The -netdev/-device arguments for a guest on <paramref name="spec"/>, or null if none apply.</summary>
    public static string? For(NetdevSpec spec, string id = "n0", string device = "virtio-net-pci") => spec switch
    {
        StreamSpec { Address: UnixSocketAddress u } s =>
            $"-netdev stream,id={id},server={(s.Server ? "off" : "on")},addr.type=unix,addr.path={u.Path} -device {device},netdev={id}",
        StreamSpec { Address: InetSocketAddress i } s =>
            $"-netdev stream,id={id},server={(s.Server ? "off" : "on")},addr.type=inet,addr.host={ClientHost(i.Host)},addr.port={i.Port} -device {device},netdev={id}",
        DgramSpec { Local: InetSocketAddress l, Remote: InetSocketAddress r } =>
            $"-netdev dgram,id={id},local.type=inet,local.host={r.Host},local.port={r.Port},remote.type=inet,remote.host={ClientHost(l.Host)},remote.port={l.Port} -device {device},netdev={id}",
        DgramSpec { Local: UnixSocketAddress l, Remote: UnixSocketAddress r } =>
            $"-netdev dgram,id={id},local.type=unix,local.path={r.Path},remote.type=unix,remote.path={l.Path} -device {device},netdev={id}",
        VhostUserSpec { Server: true } v =>
            $"-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem -chardev socket,id=c0,path={v.Path},reconnect=1 -netdev vhost-user,id={id},chardev=c0 -device virtio-net-pci,netdev={id},vectors=0"
            + " (memory size = the guest's -m; vectors=0 avoids a QEMU 7.2 crash under TCG, see docs/vhost-user.md; for several queues add queues=N to -netdev and mq=on to -device)",
        VhostUserSpec v =>
            $"-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem -chardev socket,id=c0,path={v.Path},server=on,wait=off -netdev vhost-user,id={id},chardev=c0 -device virtio-net-pci,netdev={id},vectors=0",
        _ => null,
    };

    private static string ClientHost(string host) => host is "0.0.0.0" or "" ? "127.0.0.1" : host is "::" ? "::1" : host;
}
