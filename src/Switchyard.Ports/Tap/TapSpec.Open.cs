// Opening a tap port: /dev/net/tun attached to the named interface, one descriptor per queue. On the loop.
namespace Switchyard.Ports.Tap;

public sealed partial record TapSpec
{
    internal override PortHandle Open(PortContext context)
    {
        TapPort tap = TapPort.Open(context.Name, IfName, context.Loop, context.Logger, VnetHeader, Queues);
        context.Attach(tap);
        tap.Start();
        return new SinglePortHandle(Kind, tap);
    }
}
