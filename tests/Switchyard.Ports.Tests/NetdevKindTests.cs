// Every port kind has all its pieces: the compiler checks the abstract members of NetdevSpec; these
// tests check what it cannot: that each concrete spec record in Ports is registered with the parser
// (NetdevParser.Syntaxes), that its examples parse and print back, describe themselves, produce QEMU
// arguments or say they have none, list their host claims, and that the port factory opens them.
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Core.Config;
using Switchyard.Core.Ports;
using Switchyard.Engine.Config;
using Switchyard.Engine.Networks;

namespace Switchyard.Ports.Tests;

public sealed class NetdevKindTests : IDisposable
{
    private static readonly QemuGuest Guest = new("n0", "virtio-net-pci,netdev=n0", "mem", "c0", Queues: 1, Memory: "256M");

    private readonly LoopFixture fixture = new();

    public void Dispose() => fixture.Dispose();

    public static TheoryData<string> SpecTypes()
    {
        var data = new TheoryData<string>();
        foreach (Type t in ConcreteSpecTypes())
        {
            data.Add(t.Name);
        }

        return data;
    }

    public static TheoryData<string> Examples()
    {
        var data = new TheoryData<string>();
        foreach (NetdevSyntax syntax in NetdevParser.Syntaxes)
        {
            foreach (string example in syntax.Examples)
            {
                data.Add(example);
            }
        }

        return data;
    }

    [Fact]
    public void SpecTypes_FoundByReflection_AreTheKindsWeKnow()
    {
        // Guards the reflection below: if it finds nothing, every other test here passes vacuously.
        Assert.Superset(new HashSet<string> { "StreamSpec", "DgramSpec", "VhostUserSpec", "TapSpec", "NetnsSpec" }, ConcreteSpecTypes().Select(t => t.Name).ToHashSet());
    }

    [Theory]
    [MemberData(nameof(SpecTypes))]
    public void SpecType_EveryConcreteKind_IsRegisteredWithTheParserWithExamples(string typeName)
    {
        Type type = ConcreteSpecTypes().Single(t => t.Name == typeName);
        NetdevSyntax syntax = Assert.Single(NetdevParser.Syntaxes, s => s.Produces == type);
        Assert.NotEmpty(syntax.Examples);
        Assert.Contains(syntax.Type, NetdevKinds.All);
        foreach (string example in syntax.Examples)
        {
            NetdevSpec spec = NetdevSpec.Parse(example);
            Assert.IsType(type, spec);
            Assert.Equal(syntax.Type, spec.Kind);
        }
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void Example_ParsesPrintsBackDescribesAndClaims(string text)
    {
        NetdevSpec spec = NetdevSpec.Parse(text);
        string canonical = spec.ToString();
        Assert.StartsWith(spec.Kind, canonical, StringComparison.Ordinal);
        Assert.Equal(spec, NetdevSpec.Parse(canonical));
        Assert.True(NetdevSpec.TryParse(canonical, out NetdevSpec? again, out IReadOnlyList<string> errors), string.Join("; ", errors));
        Assert.Equal(spec, again);

        Assert.False(string.IsNullOrWhiteSpace(spec.Describe()));
        Assert.True(Enum.IsDefined(spec.Shape));
        Assert.NotNull(spec.HostClaims());
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void Example_QemuArgs_AreTheBuildersAndTheHintsAlike(string text)
    {
        NetdevSpec spec = NetdevSpec.Parse(text);
        QemuMirror? mirror = spec.Qemu(Guest);
        string? hint = QemuArgsBuilder.Hint(spec);
        if (mirror is null)
        {
            Assert.Null(hint);
            Assert.DoesNotContain(spec.Kind, QemuArgsBuilder.Kinds);
            ConfigException ex = Assert.Throws<ConfigException>(() => QemuArgsBuilder.Build("lab", [new PortConfig("p", spec)], new QemuArgsOptions()));
            Assert.Contains("QEMU guest can", ex.Message, StringComparison.Ordinal);
            return;
        }

        Assert.Contains(spec.Kind, QemuArgsBuilder.Kinds);
        Assert.Contains("-netdev", mirror.Args);
        Assert.Contains("-device", mirror.Args);

        // One producer of QEMU arguments: the hint is the builder's output with the banner's names.
        IReadOnlyList<string> built = QemuArgsBuilder.Build("lab", [new PortConfig("p", spec)], new QemuArgsOptions(Memory: "256M"));
        Assert.Equal(mirror.Args, built);
        Assert.StartsWith(string.Join(' ', built), hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Hint_AbstractStreamSocket_SaysAbstractAsTheBuilderDoes()
    {
        NetdevSpec spec = NetdevSpec.Parse("stream,addr.type=unix,addr.path=guests,addr.abstract=on,server=on");
        Assert.Equal("-netdev stream,id=n0,server=off,addr.type=unix,addr.path=guests,addr.abstract=on -device virtio-net-pci,netdev=n0", QemuArgsBuilder.Hint(spec));
    }

    [Theory]
    [InlineData("bogus")]
    [InlineData("vde")]
    [InlineData("addr.type=unix")]
    public void TypeMessages_SpellOutEveryRegisteredTypeWord(string text)
    {
        Assert.False(NetdevSpec.TryParse(text, out _, out IReadOnlyList<string> errors));
        Assert.Contains(NetdevParser.TypeList, Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void OtherQemuType_Message_NamesTheKindsAGuestCanUse()
    {
        Assert.False(NetdevSpec.TryParse("vde", out _, out IReadOnlyList<string> errors));
        IReadOnlyList<string> kinds = NetdevKinds.GuestAttachable;
        Assert.Contains($"give QEMU a matching {string.Join(", ", kinds.Take(kinds.Count - 1))} or {kinds[^1]} netdev", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void GuestAttachableKinds_AreTheQemuArgsKinds()
    {
        Assert.Equal(NetdevKinds.GuestAttachable.Order(), QemuArgsBuilder.Kinds.Order());
        Assert.Equal(new[] { "vhost-user", "stream", "dgram" }, QemuArgsBuilder.Kinds);
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task Example_PortFactory_OpensIt_OrRefusesWithAUserError(string text)
    {
        // Paths go to this test's directory; a tap or namespace needs privileges this run may not have,
        // which is a user error the network reports, not a missing piece.
        string dir = Path.GetDirectoryName(fixture.NewPath())!;
        NetdevSpec spec = NetdevSpec.Parse(text.Replace("/tmp/", dir + "/", StringComparison.Ordinal));
        var attached = new List<Port>();
        Exception? refused = null;
        PortHandle? handle = await fixture.Loop.InvokeAsync(() =>
        {
            try
            {
                return PortFactory.Open(spec, new PortContext("p", fixture.Loop, NullLogger.Instance, attached.Add));
            }
            catch (Exception ex) when (ex is ConfigException or IOException or SocketException or InvalidOperationException)
            {
                refused = ex;
                return null;
            }
        });
        if (handle is null)
        {
            Assert.NotNull(refused);
            Assert.Contains(spec.Kind, new[] { "tap", "netns", "dgram" });
            return;
        }

        await fixture.Loop.InvokeAsync(() =>
        {
            Assert.Equal(spec.Kind, handle.Kind);
            Assert.False(string.IsNullOrWhiteSpace(handle.Describe()));
            Assert.Null(handle.CheckGone());
            Assert.All(attached, p => Assert.True(handle.Owns(p)));
            Assert.Equal(spec.Shape == PortShape.Listener ? 0 : 1, attached.Count);
            handle.Dispose();
            foreach (Port p in attached)
            {
                p.Stop();
            }

            return true;
        });
    }

    private static IEnumerable<Type> ConcreteSpecTypes() =>
        typeof(NetdevSpec).Assembly.GetTypes().Where(t => t.IsSubclassOf(typeof(NetdevSpec)) && !t.IsAbstract);
}
