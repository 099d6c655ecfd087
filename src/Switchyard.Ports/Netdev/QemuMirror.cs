// What a spec needs to write the QEMU side of its port, and what it writes.
//
// Theory of operation: QemuArgsBuilder (Engine) decides the names (netdev, chardev and memory-backend
// ids, the -device with its MAC) and what the user asked for (queue pairs, memory size); each spec
// kind turns those into the mirror image of itself (NetdevSpec.Qemu). Nothing here does I/O.
namespace Switchyard.Ports;

/// <summary>The names and sizes a spec's QEMU arguments use.</summary>
/// <param name="NetdevId">The -netdev id, e.g. <c>n0</c>.</param>
/// <param name="Device">The complete -device value, e.g. <c>virtio-net-pci,netdev=n0</c>.</param>
/// <param name="MemoryId">The id of the shared memory backend (vhost-user).</param>
/// <param name="ChardevId">The id of the chardev (vhost-user).</param>
/// <param name="Queues">Queue pairs the guest asks for (vhost-user).</param>
/// <param name="Memory">The memory backend's size, as QEMU writes it (<c>1G</c>).</param>
public sealed record QemuGuest(string NetdevId, string Device, string MemoryId, string ChardevId, int Queues, string Memory);

/// <summary>The QEMU arguments of a guest on a port, one element per word, and a note for a person
/// reading them in the daemon's banner (null if none).</summary>
public sealed record QemuMirror(IReadOnlyList<string> Args, string? Note = null)
{
    /// <summary>QEMU connects where we listen: a listener becomes a client, so connect to a wildcard
    /// bind's loopback address.</summary>
    public static string ClientHost(string host) => host is "0.0.0.0" or "" ? "127.0.0.1" : host is "::" ? "::1" : host;

    /// <summary>QEMU's spelling of a boolean option.</summary>
    public static string OnOff(bool value) => value ? "on" : "off";
}
