// TapPort against the kernel: a uniquely named tap moved into a network namespace the test creates,
// with an address, so traffic stays inside that namespace and our port.
//
// The namespace sends a UDP datagram to a neighbour (10.213.7.2) that does not exist; the kernel asks
// for it with an ARP request, which the port must deliver. The sink answers the ARP through
// Transmit; if the kernel accepted that frame, it learns the neighbour and releases the queued
// datagram to our MAC, which the port delivers too. So one test checks both directions.
using System.Buffers.Binary;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;
using Switchyard.Ports.Tap;
using Switchyard.TestKit;

namespace Switchyard.Ports.Tests;

public sealed class TapPortTests : IDisposable
{
    private static readonly byte[] NeighbourMac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
    private static readonly byte[] NeighbourIp = [10, 213, 7, 2];
    private static int counter;

    private readonly LoopFixture fixture = new();

    public void Dispose() => fixture.Dispose();

    [RequiresRootFact]
    public Task InNamespace_ArpRequestIsDelivered_AndTransmittedReplyReachesTheKernel() => ArpRoundTrip(tagged: false);

    [RequiresRootFact]
    public Task InNamespace_TransmitWithVlanStrip_KernelGetsTheUntaggedFrame() => ArpRoundTrip(tagged: true);

    [RequiresRootFact]
    public async Task Stop_ClosesDevice_AndTheNonPersistentInterfaceDisappears()
    {
        string ifname = NewInterfaceName();
        TapPort port = await fixture.Loop.InvokeAsync(() => Open(ifname, new ResponderSink()));
        Assert.Equal("tap", port.Kind);
        Assert.Equal(ifname, port.Peer);
        Assert.Equal(PortOffloads.None, port.Offloads);
        Assert.Equal(65535, port.MaxFrameLength);
        Assert.True(Directory.Exists($"/sys/class/net/{ifname}"));

        await fixture.Loop.InvokeAsync(() =>
        {
            port.Stop();
            port.Stop();
            port.Transmit(new EgressFrame(new byte[60]));
            return true;
        });
        Assert.False(Directory.Exists($"/sys/class/net/{ifname}"));
        Assert.Equal(1, port.Counters.Drops(DropReason.TxLinkDown));
    }

    [RequiresRootFact]
    public async Task Transmit_InterfaceDown_IsCountedAsDropNotThrown()
    {
        string ifname = NewInterfaceName();
        TapPort port = await fixture.Loop.InvokeAsync(() => Open(ifname, new ResponderSink()));
        try
        {
            await fixture.Loop.InvokeAsync(() =>
            {
                port.Transmit(new EgressFrame(BuildArpReply([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [10, 213, 7, 1], tagged: false)));
                return true;
            });
            Assert.Equal(0, port.Counters.TxFrames);
            Assert.Equal(1, port.Counters.Drops(DropReason.TxLinkDown)); // write(2) on a down tap fails with EIO.
        }
        finally
        {
            await fixture.Loop.InvokeAsync(() =>
            {
                port.Stop();
                return true;
            });
        }
    }

    [RequiresRootFact]
    public async Task InterfaceDeletedUnderThePort_PortClosesItselfAndTellsTheSink()
    {
        string ifname = NewInterfaceName();
        var sink = new ResponderSink();
        TapPort port = await fixture.Loop.InvokeAsync(() => Open(ifname, sink));
        try
        {
            Run("ip", $"link del {ifname}");
            await RecordingSink.WaitUntil(() => sink.Closed.Count == 1, "the port to close");
            Assert.Contains(ifname, sink.Closed[0], StringComparison.Ordinal);
        }
        finally
        {
            await fixture.Loop.InvokeAsync(() =>
            {
                port.Stop();
                return true;
            });
        }
    }

    [Fact]
    public void Open_InvalidInterfaceName_IsRejectedWithTheRule()
    {
        var ex = Assert.Throws<ArgumentException>(() => TapPort.Open("t", "sixteen-bytes-xx", fixture.Loop, NullLogger.Instance));
        Assert.Contains("at most 15 bytes", ex.Message, StringComparison.Ordinal);
    }

    private static string NewInterfaceName() =>
        $"sytp{Environment.ProcessId % 10000}x{Interlocked.Increment(ref counter)}";

    private static void Run(string file, string arguments)
    {
        var info = new ProcessStartInfo(file, arguments) { RedirectStandardError = true, RedirectStandardOutput = true };
        using Process process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        string stderr = process.StandardError.ReadToEnd();
        _ = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(15_000) || process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} failed: {stderr}");
        }
    }

    private static string Capture(string file, string arguments)
    {
        var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        string stdout = process.StandardOutput.ReadToEnd();
        _ = process.StandardError.ReadToEnd();
        process.WaitForExit(15_000);
        return stdout;
    }

    /// <summary>An ARP reply "10.213.7.2 is at 02:00:00:00:00:02" to <paramref name="targetMac"/>, optionally
    /// with an 802.1Q tag (VLAN 5) that the egress rewrite must strip.</summary>
    private static byte[] BuildArpReply(ReadOnlySpan<byte> targetMac, ReadOnlySpan<byte> targetIp, bool tagged)
    {
        int tag = tagged ? 4 : 0;
        byte[] frame = new byte[60 + tag];
        targetMac.CopyTo(frame);
        NeighbourMac.CopyTo(frame, 6);
        if (tagged)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), 5);
        }

        Span<byte> arp = frame.AsSpan(12 + tag);
        BinaryPrimitives.WriteUInt16BigEndian(arp, 0x0806);
        BinaryPrimitives.WriteUInt16BigEndian(arp[2..], 1); // htype Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(arp[4..], 0x0800); // ptype IPv4
        arp[6] = 6;
        arp[7] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp[8..], 2); // reply
        NeighbourMac.CopyTo(arp[10..]);
        NeighbourIp.CopyTo(arp[16..]);
        targetMac.CopyTo(arp[20..]);
        targetIp.CopyTo(arp[26..]);
        return frame;
    }

    private TapPort Open(string ifname, ResponderSink sink)
    {
        TapPort port = TapPort.Open("tap0", ifname, fixture.Loop, NullLogger.Instance);
        sink.Port = port;
        port.Attach(sink);
        port.Start();
        return port;
    }

    private async Task ArpRoundTrip(bool tagged)
    {
        string ifname = NewInterfaceName();
        string ns = $"sy-taptest-{Environment.ProcessId}-{Interlocked.Increment(ref counter)}";
        var sink = new ResponderSink { Tagged = tagged };
        TapPort port = await fixture.Loop.InvokeAsync(() => Open(ifname, sink));
        bool nsCreated = false;
        try
        {
            Run("ip", $"netns add {ns}");
            nsCreated = true;
            Run("ip", $"link set {ifname} netns {ns}");
            Run("ip", $"-n {ns} addr add 10.213.7.1/24 dev {ifname}");
            Run("ip", $"-n {ns} link set {ifname} up");
            Run("ip", $"netns exec {ns} bash -c \"echo probe > /dev/udp/10.213.7.2/9\"");

            await RecordingSink.WaitUntil(() => sink.ArpRequests.Count > 0, "an ARP request for 10.213.7.2 from the namespace");
            byte[] request = sink.ArpRequests[0];
            Assert.Equal(new byte[] { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, request[..6]);
            Assert.Equal(new byte[] { 10, 213, 7, 1 }, request[28..32]); // Sender protocol address.

            await RecordingSink.WaitUntil(() => sink.Datagrams.Count > 0, "the queued datagram, released by our ARP reply");
            byte[] ip = sink.Datagrams[0];
            Assert.Equal(NeighbourMac, ip[..6]);
            Assert.Equal(17, ip[14 + 9]); // UDP
            Assert.Equal(9, BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(14 + 20 + 2))); // Destination port.
            Assert.Equal("probe\n"u8.ToArray(), ip[(14 + 20 + 8)..(14 + 20 + 8 + 6)]);

            Assert.True(port.Counters.TxFrames >= 1);
            Assert.True(port.Counters.RxFrames >= 2);
            Assert.Contains("02:00:00:00:00:02", Capture("ip", $"-n {ns} neigh show 10.213.7.2"), StringComparison.Ordinal);
        }
        finally
        {
            await fixture.Loop.InvokeAsync(() =>
            {
                port.Stop();
                return true;
            });
            if (nsCreated)
            {
                Run("ip", $"netns del {ns}");
            }
        }
    }

    /// <summary>Records what the tap delivers and answers ARP requests for 10.213.7.2 (on the loop thread).</summary>
    private sealed class ResponderSink : IFrameSink
    {
        private readonly List<byte[]> arpRequests = [];
        private readonly List<byte[]> datagrams = [];
        private readonly List<string> closed = [];

        public TapPort? Port { get; set; }

        public bool Tagged { get; init; }

        public IReadOnlyList<byte[]> ArpRequests => Snapshot(arpRequests);

        public IReadOnlyList<byte[]> Datagrams => Snapshot(datagrams);

        public IReadOnlyList<string> Closed => Snapshot(closed);

        public void Receive(Port ingress, ReadOnlySpan<byte> frame, in OffloadInfo offload)
        {
            if (frame.Length < 42)
            {
                return;
            }

            ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
            if (type == 0x0806 && BinaryPrimitives.ReadUInt16BigEndian(frame[20..]) == 1 && frame[38..42].SequenceEqual(NeighbourIp))
            {
                lock (arpRequests)
                {
                    arpRequests.Add(frame.ToArray());
                }

                byte[] reply = BuildArpReply(frame[22..28], frame[28..32], Tagged);
                Port!.Transmit(Tagged
                    ? new EgressFrame(reply, VlanRewrite.Strip, 0, OffloadInfo.None)
                    : new EgressFrame(reply));
            }
            else if (type == 0x0800 && frame[..6].SequenceEqual(NeighbourMac))
            {
                lock (datagrams)
                {
                    datagrams.Add(frame.ToArray());
                }
            }
        }

        public void PortClosed(Port port, string reason)
        {
            lock (closed)
            {
                closed.Add(reason);
            }
        }

        private static List<T> Snapshot<T>(List<T> list)
        {
            lock (list)
            {
                return [.. list];
            }
        }
    }
}
