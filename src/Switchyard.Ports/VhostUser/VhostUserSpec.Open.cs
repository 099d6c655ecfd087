// Opening a vhost-user port: a listener whose every connection is a VhostUserPort (a front-end each), or
// one VhostUserPort that connects to QEMU's listening chardev. On the loop.
using System.Net.Sockets;
using Switchyard.VhostUser;

namespace Switchyard.Ports.VhostUser;

public sealed partial record VhostUserSpec
{
    internal override PortHandle Open(PortContext context) => Server ? OpenListener(context) : OpenClient(context);

    private VhostUserBackendOptions BackendOptions() => new(MaxQueuePairs: Queues) { Memory = Memory };

    private ListenerPortHandle OpenListener(PortContext context)
    {
        VhostUserBackendOptions options = BackendOptions();
        SocketListener listener = SocketListener.Open(context.Name, context.Loop, context.Logger, new UnixDomainSocketEndPoint(Path), accepted =>
        {
            var vhostPort = new VhostUserPort(accepted.PortName, context.Loop, context.Logger, accepted.Peer, options, persistent: false);
            context.Attach(vhostPort);
            vhostPort.Connect(accepted.Socket);
            return vhostPort;
        });
        return new ListenerPortHandle(Kind, context.Name, listener);
    }

    private ClientPortHandle OpenClient(PortContext context)
    {
        var vhostPort = new VhostUserPort(context.Name, context.Loop, context.Logger, Path, BackendOptions(), persistent: true);
        context.Attach(vhostPort);
        var client = new SocketClient(vhostPort, context.Loop, context.Logger, new UnixDomainSocketEndPoint(Path));
        client.Start();
        return new ClientPortHandle(Kind, client);
    }
}
