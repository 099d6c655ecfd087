// Two test guests on one Switchyard socket, the shape most end-to-end tests start from: guest "a" is
// 10.0.0.1 with MAC QemuGuest.Mac(1), guest "b" is 10.0.0.2 with Mac(2) (the scripts set the addresses, by
// GuestScripts.StaticIPv4). Both boot at once, in parallel; if the second fails to start, the first is
// stopped. Disposing the pair stops both.
namespace Switchyard.TestKit.Qemu;

public sealed class GuestPair : IAsyncDisposable
{
    private GuestPair(QemuGuest a, QemuGuest b) => (A, B) = (a, b);

    public QemuGuest A { get; }

    public QemuGuest B { get; }

    /// <summary>Two guests on the stream socket <paramref name="streamSocket"/> (QEMU's <c>-netdev stream</c>),
    /// with NIC models <paramref name="modelA"/> and <paramref name="modelB"/> (virtio-net-pci, e1000, rtl8139).</summary>
    public static GuestPair OnStream(string streamSocket, string scriptA, string scriptB, Action<string>? log, string modelA = "virtio-net-pci", string modelB = "e1000") =>
        Start(
            VhostUserGuests.StreamGuest("a", streamSocket, 1, scriptA, log, modelA),
            VhostUserGuests.StreamGuest("b", streamSocket, 2, scriptB, log, modelB));

    /// <summary>Two guests with virtio-net NICs served over the vhost-user socket <paramref name="socket"/>.</summary>
    public static GuestPair OnVhostUser(string socket, string scriptA, string scriptB, Action<string>? log, VhostUserNic? nic = null) =>
        Start(
            VhostUserGuests.Guest("a", socket, 1, scriptA, log, nic),
            VhostUserGuests.Guest("b", socket, 2, scriptB, log, nic));

    private static GuestPair Start(QemuGuestOptions a, QemuGuestOptions b)
    {
        QemuGuest first = QemuGuest.Start(a);
        try
        {
            return new GuestPair(first, QemuGuest.Start(b));
        }
        catch
        {
            first.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await B.DisposeAsync().ConfigureAwait(false);
        await A.DisposeAsync().ConfigureAwait(false);
    }
}
