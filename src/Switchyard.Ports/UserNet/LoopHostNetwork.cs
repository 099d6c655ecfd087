// Host sockets for the NAT gateway, on the gateway's event loop.
// (Placeholder: the host-socket work replaces this with real non-blocking sockets.)
using Switchyard.Core.Loop;
using Switchyard.Protocols;
using Switchyard.UserNet;

namespace Switchyard.Ports.UserNet;

public sealed class LoopHostNetwork : IHostNetwork
{
    private const int EOPNOTSUPP = 95;
    private readonly IEventLoop loop;

    public LoopHostNetwork(IEventLoop loop) => this.loop = loop;

    public IHostTcpSocket? ConnectTcp(IpAddr address, ushort port, IHostSocketOwner owner, out int errno)
    {
        _ = loop;
        errno = EOPNOTSUPP;
        return null;
    }

    public IHostDatagramSocket? OpenUdp(IpAddr address, ushort port, IHostSocketOwner owner, out int errno)
    {
        errno = EOPNOTSUPP;
        return null;
    }

    public IHostDatagramSocket? OpenPing(bool v6, IHostSocketOwner owner, out int errno)
    {
        errno = EOPNOTSUPP;
        return null;
    }

    public IHostTcpListener ListenTcp(IpAddr address, ushort port, IHostSocketOwner owner) =>
        throw new HostNetworkException("host sockets are not built yet");

    public IHostDatagramSocket BindUdp(IpAddr address, ushort port, IHostSocketOwner owner) =>
        throw new HostNetworkException("host sockets are not built yet");
}
