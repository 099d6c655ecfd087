// The control API's wire format across the move from one ControlRequest with every field to one
// record per command (issue 11): the lines the old client wrote parse to the right record and are
// written back byte for byte; the errors for a bad line are the ones clients already read.
using System.Text.Json;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Control;

namespace Switchyard.Engine.Tests.Control;

public sealed class ControlWireTests
{
    /// <summary>Lines as the old ControlRequest serialised them (its field order, nulls left out).</summary>
    public static TheoryData<string, ControlRequest> OldLines => new()
    {
        { """{"command":"show"}""", new ShowCommand() },
        { """{"command":"fdb","network":"default"}""", new FdbCommand("default") },
        { """{"command":"port-add","network":"default","name":"extra","netdev":"stream,addr.type=unix,addr.path=/tmp/x.sock,server=on","vlan":7}""", new PortAddCommand("default", "extra", "stream,addr.type=unix,addr.path=/tmp/x.sock,server=on", Vlan: 7) },
        { """{"command":"port-add","network":"lab","name":"t","netdev":"tap,ifname=t0","trunk":"10,20","nativeVlan":10}""", new PortAddCommand("lab", "t", "tap,ifname=t0", Trunk: "10,20", NativeVlan: 10) },
        { """{"command":"port-del","network":"default","name":"extra"}""", new PortDelCommand("default", "extra") },
        { """{"command":"leases","network":"default"}""", new LeasesCommand("default") },
        { """{"command":"flows"}""", new FlowsCommand() },
        { """{"command":"forward-list","network":"default"}""", new ForwardListCommand("default") },
        { """{"command":"forward-add","network":"default","rule":"tcp:127.0.0.1:2222-:22"}""", new ForwardAddCommand("default", "tcp:127.0.0.1:2222-:22") },
        { """{"command":"forward-del","network":"default","rule":"tcp:127.0.0.1:2222-:22"}""", new ForwardDelCommand("default", Rule: "tcp:127.0.0.1:2222-:22") },
        { """{"command":"forward-del","network":"default","protocol":"udp","hostPort":5353}""", new ForwardDelCommand("default", Protocol: "udp", HostPort: 5353) },
        { """{"command":"port-set","network":"default","name":"stream.1","vlan":5,"link":"down"}""", new PortSetCommand("default", "stream.1", Vlan: 5, Link: "down") },
        { """{"command":"events","network":"default"}""", new EventsCommand("default") },
        { """{"command":"reload"}""", new ReloadCommand() },
        { """{"command":"qemu-args","network":"default","name":"vm1","kind":"vhost-user","queues":2,"memory":"1G","port":"vhost-user"}""", new QemuArgsCommand("default", "vm1", "vhost-user", 2, "1G", "vhost-user") },
        { """{"command":"capture","network":"default","name":"stream.2","count":3,"duration":1.5,"snaplen":20}""", new CaptureCommand("default", "stream.2", Count: 3, Duration: 1.5, Snaplen: 20) },
        { """{"command":"capture","target":"stream.1","count":2}""", new CaptureCommand(Target: "stream.1", Count: 2) },
        { """{"command":"capture-stats","captureId":42}""", new CaptureStatsCommand(42) },
    };

    [Theory]
    [MemberData(nameof(OldLines))]
    public void OldRequestLine_ParsesToItsRecord_AndIsWrittenBackByteForByte(string line, ControlRequest expected)
    {
        ControlRequest? parsed = ControlCommands.Parse(System.Text.Encoding.UTF8.GetBytes(line), out string? error);

        Assert.Null(error);
        Assert.Equal(expected, parsed);
        Assert.Equal(line, JsonSerializer.Serialize(expected, ControlJson.Default.ControlRequest));
    }

    [Fact]
    public void CommandField_NeedNotComeFirst()
    {
        ControlRequest? parsed = ControlCommands.Parse("""{"network":"lab","command":"fdb"}"""u8, out string? error);

        Assert.Null(error);
        Assert.Equal(new FdbCommand("lab"), parsed);
    }

    [Fact]
    public void UnknownCommand_ListsEveryCommand_InTheOrderTheDocsGive()
    {
        Assert.Null(ControlCommands.Parse("""{"command":"frobnicate","network":"x"}"""u8, out string? error));

        Assert.Equal(
            "unknown command 'frobnicate' (known: show, fdb, port-add, port-del, leases, flows, forward-list, forward-add, forward-del, port-set, events, reload, qemu-args, capture, capture-stats)",
            error);
    }

    [Theory]
    [InlineData("""{"command":"show","bogus":1}""", "'bogus'")]
    [InlineData("""{"command":"show","network":"default"}""", "'network'")] // A field of another command is unknown to this one.
    [InlineData("""{"command":"port-set","vlan":"five"}""", "$.vlan")]
    [InlineData("{not json", "malformed request")]
    [InlineData("[]", "malformed request")]
    public void BadField_IsAMalformedRequest_NamingTheField(string line, string expected)
    {
        Assert.Null(ControlCommands.Parse(System.Text.Encoding.UTF8.GetBytes(line), out string? error));

        Assert.StartsWith("malformed request: ", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"command":""}""")]
    [InlineData("""{"command":null}""")]
    [InlineData("null")]
    public void NoCommand_SaysSo(string line)
    {
        Assert.Null(ControlCommands.Parse(System.Text.Encoding.UTF8.GetBytes(line), out string? error));

        Assert.Equal("request has no command", error);
    }

    [Fact]
    public void EveryCommandRecord_HasItsName()
    {
        foreach (string name in ControlCommands.Names)
        {
            ControlRequest? parsed = ControlCommands.Parse(System.Text.Encoding.UTF8.GetBytes($"{{\"command\":\"{name}\"}}"), out string? error);
            Assert.True(parsed is not null, error);
            Assert.Equal(name, parsed.Command);
        }
    }

    [Fact]
    public void Responses_AreWrittenAsBefore()
    {
        Assert.Equal("""{"ok":false,"error":"no"}""", JsonSerializer.Serialize(ControlResponse.Fail("no"), ControlJson.Default.ControlResponse));
        Assert.Equal("""{"ok":true,"message":"done"}""", JsonSerializer.Serialize(ControlResponse.Done("done"), ControlJson.Default.ControlResponse));
    }
}
