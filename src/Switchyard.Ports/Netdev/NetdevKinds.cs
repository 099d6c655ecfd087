// The port kinds, as names, for code above Ports that lists them (help texts, `qemu-args --kind`).
//
// Theory of operation: the list is NetdevParser.Syntaxes, the one registry of type words, less the
// `socket` alias (which makes stream and dgram specs). Whether a QEMU guest can attach to a kind is
// not a flag to keep in step: it is whether the kind's example specs have a QEMU mirror image.
namespace Switchyard.Ports;

/// <summary>The port kinds Switchyard has (see the file header).</summary>
public static class NetdevKinds
{
    /// <summary>Every port kind ("stream", "dgram", "vhost-user", "tap", "netns"), in the order messages list them.</summary>
    public static IReadOnlyList<string> All { get; } =
        [.. NetdevParser.Syntaxes.Where(s => s.Produces is not null).Select(s => s.Type)];

    /// <summary>The kinds a QEMU guest can attach to, in the order of <see cref="All"/>.</summary>
    public static IReadOnlyList<string> GuestAttachable { get; } =
        [.. NetdevParser.Syntaxes.Where(s => s.Produces is not null && s.Examples.All(e => NetdevSpec.Parse(e).Qemu(Probe) is not null)).Select(s => s.Type)];

    private static QemuGuest Probe => new("n0", "virtio-net-pci,netdev=n0", "mem", "c0", Queues: 1, Memory: "256M");
}
