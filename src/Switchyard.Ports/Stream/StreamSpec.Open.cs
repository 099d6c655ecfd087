// Opening a stream port: a listener whose every connection is a StreamPort, or one StreamPort that
// Switchyard connects (and reconnects, with reconnect-ms). On the loop.
namespace Switchyard.Ports.Stream;

public sealed partial record StreamSpec
{
    internal override PortHandle Open(PortContext context) => Server ? OpenListener(context) : OpenClient(context);

    private ListenerPortHandle OpenListener(PortContext context)
    {
        SocketListener listener = SocketListener.Open(context.Name, context.Loop, context.Logger, Address.ToEndPoint(), accepted =>
        {
            var streamPort = new StreamPort(accepted.PortName, context.Loop, context.Logger, accepted.Peer, persistent: false);
            context.Attach(streamPort);
            streamPort.Connect(accepted.Socket);
            return streamPort;
        });
        return new ListenerPortHandle(Kind, context.Name, listener);
    }

    private ClientPortHandle OpenClient(PortContext context)
    {
        var streamPort = new StreamPort(context.Name, context.Loop, context.Logger, Address.ToString() ?? "?", persistent: true);
        context.Attach(streamPort);
        var client = new SocketClient(streamPort, context.Loop, context.Logger, Address.ToEndPoint(), Reconnect);
        client.Start();
        return new ClientPortHandle(Kind, client);
    }
}
