// Opening a dgram port: one DgramPort bound to the local address, sending to the remote one. On the loop.
namespace Switchyard.Ports.Dgram;

public sealed partial record DgramSpec
{
    internal override PortHandle Open(PortContext context)
    {
        DgramPort dgram = DgramPort.Open(context.Name, context.Loop, context.Logger, Local.ToEndPoint(), Remote.ToEndPoint());
        context.Attach(dgram);
        dgram.Start();
        return new SinglePortHandle(Kind, dgram);
    }
}
