// The qemu-args builder as a pure function: which port it picks, the mirror image of each spec, and
// the errors a user gets for what a network cannot give.
using Switchyard.Core.Config;
using Switchyard.Engine.Config;
using Switchyard.Engine.Networks;

namespace Switchyard.Engine.Tests;

public sealed class QemuArgsBuilderTests
{
    private static readonly PortConfig Tap = PortConfig.Create("up", "tap,ifname=sy-test0");
    private static readonly PortConfig StreamClient = PortConfig.Create("qemu", "stream,addr.type=unix,addr.path=/tmp/q.sock,server=off");
    private static readonly PortConfig StreamListener = PortConfig.Create("guests", "stream,addr.type=unix,addr.path=/tmp/g.sock,server=on");
    private static readonly PortConfig Vhost = PortConfig.Create("vm", "vhost-user,path=/tmp/vm.sock,server=on,queues=4");
    private static readonly PortConfig Dgram = PortConfig.Create("d", "dgram,local.type=inet,local.host=127.0.0.1,local.port=7000,remote.type=inet,remote.host=127.0.0.1,remote.port=7001");

    private static string Build(IReadOnlyList<PortConfig> ports, QemuArgsOptions options) =>
        QemuArgsBuilder.ToShell(QemuArgsBuilder.Build("lab", ports, options));

    [Fact]
    public void Build_NoKind_ListenerBeforeSinglePeerPort()
    {
        Assert.Equal(
            "-netdev stream,id=n0,server=off,addr.type=unix,addr.path=/tmp/g.sock -device virtio-net-pci,netdev=n0",
            Build([Tap, StreamClient, StreamListener], new QemuArgsOptions()));
    }

    [Fact]
    public void Build_StreamClientPort_QemuListens()
    {
        Assert.Equal(
            "-netdev stream,id=n0,server=on,addr.type=unix,addr.path=/tmp/q.sock -device virtio-net-pci,netdev=n0",
            Build([StreamClient], new QemuArgsOptions(Kind: "stream")));
    }

    [Fact]
    public void Build_Dgram_SidesSwapped()
    {
        Assert.Equal(
            "-netdev dgram,id=net-x,local.type=inet,local.host=127.0.0.1,local.port=7001,remote.type=inet,remote.host=127.0.0.1,remote.port=7000 -device virtio-net-pci,netdev=net-x,mac=" + QemuArgsBuilder.Mac("x"),
            Build([StreamListener, Dgram], new QemuArgsOptions(Kind: "dgram", VmName: "x")));
    }

    [Fact]
    public void Build_VhostUserWithoutMemory_PlaceholderSize()
    {
        Assert.Equal(
            "-object memory-backend-memfd,id=mem,size=SIZE,share=on -numa node,memdev=mem -chardev socket,id=c0,path=/tmp/vm.sock,reconnect=1 -netdev vhost-user,id=n0,chardev=c0 -device virtio-net-pci,netdev=n0,vectors=0",
            Build([Vhost], new QemuArgsOptions()));
    }

    [Theory]
    [InlineData("512", "512M")]
    [InlineData("2g", "2G")]
    [InlineData("1024M", "1024M")]
    public void Build_Memory_WrittenWithAnExplicitUnit(string memory, string size)
    {
        Assert.Contains($"size={size},", Build([Vhost], new QemuArgsOptions(Memory: memory)), StringComparison.Ordinal);
    }

    [Fact]
    public void Build_NamedPort_Chosen()
    {
        Assert.Contains("addr.path=/tmp/q.sock", Build([StreamListener, StreamClient], new QemuArgsOptions(Port: "qemu")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dgram", null, null, null, null, "network lab has no dgram port; it has: guests (stream listener), up (tap)")]
    [InlineData(null, null, 2, null, null, "--queues applies to vhost-user; port guests is stream")]
    [InlineData("vhost-user", null, 8, null, null, "port vm offers 4 queue pairs (queues=4 in its spec)")]
    [InlineData(null, "9lives", null, null, null, "--name '9lives' is not usable")]
    [InlineData("vhost-user", null, null, "lots", null, "--memory 'lots' is not a size")]
    [InlineData(null, null, null, null, "up", "port up on network lab is a tap port, which a QEMU guest cannot attach to")]
    [InlineData(null, null, null, null, "nope", "network lab has no port named 'nope'")]
    public void Build_WhatTheNetworkCannotGive_ClearError(string? kind, string? name, int? queues, string? memory, string? port, string message)
    {
        PortConfig[] ports = kind == "dgram" ? [StreamListener, Tap] : [StreamListener, Tap, Vhost];

        var ex = Assert.Throws<ConfigException>(() => QemuArgsBuilder.Build("lab", ports, new QemuArgsOptions(kind, name, queues, memory, port)));

        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToShell_WordWithASpace_Quoted()
    {
        Assert.Equal("-device 'a b' 'it'\\''s'", QemuArgsBuilder.ToShell(["-device", "a b", "it's"]));
    }
}
