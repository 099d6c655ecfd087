// Issue 10 from outside the process: raw stream peers that forge any MAC and speak TCP to a real
// `switchyard up` gateway. Each test asserts the daemon survives, a healthy pair of other guests keeps
// echoing throughout, an honest second guest still gets its connection, and the attacker is bounded and
// counted in `show`.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Switchyard.Protocols;
using Switchyard.TestKit;
using Switchyard.TestKit.Hostile;
using Xunit.Abstractions;

namespace Switchyard.EndToEnd;

public sealed class GatewayIsolationTests(ITestOutputHelper output)
{
    private const ulong GatewayMac = 0x5255_0A00_0202UL;
    private static readonly IpAddr Gateway = IpAddr.FromV4(0x0A00_0202);

    [Fact]
    public async Task FlowLimit_EightSpoofedMacsOnOneStreamPort_BoundedPerPort_HonestGuestStillConnects()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start(1024);
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(
            extraArgs: ["--gateway", "user,max-flows-per-guest=32"], log: output.WriteLine);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);
        using RawGuest attacker = await RawGuest.ConnectAsync(sy.StreamSocket);
        pair.ResetGap();

        for (int i = 0; i < 256; i++)
        {
            ulong mac = 0x02AA_0000_0000UL + (ulong)(i % 8);
            IpAddr source = IpAddr.FromV4(0x0A00_0264u + (uint)(i % 8));
            await attacker.SendSynAsync(mac, source, (ushort)(10000 + i), Gateway, (ushort)port);
        }

        using RawGuest honest = await RawGuest.ConnectAsync(sy.StreamSocket);
        byte flags = await honest.ConnectAsync(0x02BB_0000_0001UL, IpAddr.FromV4(0x0A00_02C8), 5555, Gateway, (ushort)port, TimeSpan.FromSeconds(10));

        JsonElement show = await sy.ShowAsync();
        output.WriteLine(show.ToString());
        Assert.False(sy.HasExited);
        Assert.Equal(TcpHeader.FlagSyn | TcpHeader.FlagAck, flags);
        JsonElement drops = show.GetProperty("networks")[0].GetProperty("gateway").GetProperty("drops");
        Assert.True(drops.TryGetProperty("guest_flow_limit", out JsonElement limited) && limited.GetInt64() >= 256 - 32, drops.ToString());
        await pair.AssertHealthyAsync(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task OwnListener_SynThroughGatewayToTheWebPort_RstAndCounted_OtherLoopbackPortsReachable()
    {
        int webPort;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            webPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        using var other = new TcpListener(IPAddress.Loopback, 0);
        other.Start(16);
        int otherPort = ((IPEndPoint)other.LocalEndpoint).Port;
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(
            extraArgs: ["--http", $"127.0.0.1:{webPort}"], log: output.WriteLine);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);
        using RawGuest guest = await RawGuest.ConnectAsync(sy.StreamSocket);
        pair.ResetGap();

        IpAddr source = IpAddr.FromV4(0x0A00_020F);
        byte toWeb = await guest.ConnectAsync(0x02CC_0000_0001UL, source, 6000, Gateway, (ushort)webPort, TimeSpan.FromSeconds(10));
        byte toOther = await guest.ConnectAsync(0x02CC_0000_0001UL, source, 6001, Gateway, (ushort)otherPort, TimeSpan.FromSeconds(10));

        JsonElement show = await sy.ShowAsync();
        output.WriteLine(show.ToString());
        Assert.False(sy.HasExited);
        Assert.True((toWeb & TcpHeader.FlagRst) != 0, $"flags {toWeb:x2}");
        Assert.Equal(TcpHeader.FlagSyn | TcpHeader.FlagAck, toOther);
        JsonElement drops = show.GetProperty("networks")[0].GetProperty("gateway").GetProperty("drops");
        Assert.Equal(1, drops.GetProperty("tcp_to_own_listener").GetInt64());
        await pair.AssertHealthyAsync(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Fdb_OnePeerSendsFromThousandsOfMacs_HeldToPortLimitAndCounted_PairKeepsEchoing()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);
        using RawGuest attacker = await RawGuest.ConnectAsync(sy.StreamSocket);
        pair.ResetGap();

        for (int i = 0; i < 5000; i++)
        {
            await attacker.SendRawAsync(ulong.MaxValue >> 16, 0x02DD_0000_0000UL + (ulong)i, 0x88B5);
        }

        JsonElement show = await sy.WaitForShowAsync(
            s => s.GetProperty("networks")[0].GetProperty("counters").GetProperty("fdb_port_limit").GetInt64() >= 5000 - 1024,
            TimeSpan.FromSeconds(10), "fdb_port_limit to count the MACs past the port's limit");
        JsonElement counters = show.GetProperty("networks")[0].GetProperty("counters");
        output.WriteLine(counters.ToString());
        Assert.False(sy.HasExited);
        Assert.True(counters.GetProperty("fdb_entries").GetInt64() <= 1024 + 8, counters.ToString());
        Assert.Equal(0, counters.GetProperty("fdb_full").GetInt64());
        await pair.AssertHealthyAsync(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Dhcp_OnePortCyclesMacs_HeldToPortLeaseLimitAndCounted_HonestGuestGetsAnOffer()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);
        using RawGuest attacker = await RawGuest.ConnectAsync(sy.StreamSocket);
        pair.ResetGap();

        for (int i = 0; i < 239; i++)
        {
            await attacker.SendDiscoverAsync(0x02EE_0000_0000UL + (ulong)i, (uint)i);
        }

        using RawGuest honest = await RawGuest.ConnectAsync(sy.StreamSocket);
        const ulong HonestMac = 0x02EF_0000_0001UL;
        await honest.SendDiscoverAsync(HonestMac, 0x7777);
        byte[] offer = await honest.WaitForAsync(
            f => f.Length > 42 + 240 && BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(36)) == DhcpMessage.ClientPort
                && f[42] == DhcpMessage.OpReply && BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(42 + 4)) == 0x7777,
            TimeSpan.FromSeconds(10));

        JsonElement show = await sy.ShowAsync();
        JsonElement drops = show.GetProperty("networks")[0].GetProperty("gateway").GetProperty("drops");
        output.WriteLine(drops.ToString());
        Assert.False(sy.HasExited);
        Assert.NotEqual(0u, BinaryPrimitives.ReadUInt32BigEndian(offer.AsSpan(42 + 16)));
        Assert.Equal(239 - 32, drops.GetProperty("dhcp_port_lease_limit").GetInt64());
        Assert.False(drops.TryGetProperty("dhcp_pool_exhausted", out _), drops.ToString());
        await pair.AssertHealthyAsync(TimeSpan.FromSeconds(1));
    }

    /// <summary>A stream peer that builds its own frames (QEMU stream framing: 4-byte length, then the frame).</summary>
    private sealed class RawGuest : IDisposable
    {
        private readonly Socket socket;

        private RawGuest(Socket socket) => this.socket = socket;

        public static async Task<RawGuest> ConnectAsync(string path)
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await s.ConnectAsync(new UnixDomainSocketEndPoint(path));
            return new RawGuest(s);
        }

        public async Task SendSynAsync(ulong mac, IpAddr source, ushort sourcePort, IpAddr destination, ushort destinationPort)
        {
            byte[] frame = new byte[4 + PacketWriter.L4Offset(false) + TcpHeader.MinLength];
            Span<byte> f = frame.AsSpan(4);
            Span<byte> tcp = f[PacketWriter.L4Offset(false)..];
            BinaryPrimitives.WriteUInt16BigEndian(tcp, sourcePort);
            BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], destinationPort);
            BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], 1000);
            tcp[12] = (TcpHeader.MinLength / 4) << 4;
            tcp[13] = TcpHeader.FlagSyn;
            BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
            PacketWriter.WriteEthernetAndIp(f, GatewayMac, mac, source, destination, InternetChecksum.ProtocolTcp, TcpHeader.MinLength, 1);
            PacketWriter.WriteL4Checksum(tcp, source, destination, InternetChecksum.ProtocolTcp, TcpHeader.ChecksumOffset);
            BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)(frame.Length - 4));
            await socket.SendAsync(frame);
        }

        /// <summary>Sends a SYN and returns the TCP flags of the gateway's answer to that port.</summary>
        public async Task<byte> ConnectAsync(ulong mac, IpAddr source, ushort sourcePort, IpAddr destination, ushort destinationPort, TimeSpan timeout)
        {
            await SendSynAsync(mac, source, sourcePort, destination, destinationPort);
            byte[] answer = await WaitForAsync(
                frame => frame.Length >= PacketWriter.L4Offset(false) + TcpHeader.MinLength
                    && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) == 0x0800
                    && frame[23] == InternetChecksum.ProtocolTcp
                    && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(PacketWriter.L4Offset(false) + 2)) == sourcePort,
                timeout);
            return answer[PacketWriter.L4Offset(false) + 13];
        }

        /// <summary>The next frame from the daemon that matches <paramref name="wanted"/>.</summary>
        public async Task<byte[]> WaitForAsync(Func<byte[], bool> wanted, TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            byte[] header = new byte[4];
            while (true)
            {
                await ReadExactlyAsync(header, cts.Token);
                int length = (int)BinaryPrimitives.ReadUInt32BigEndian(header);
                byte[] frame = new byte[length];
                await ReadExactlyAsync(frame, cts.Token);
                if (wanted(frame))
                {
                    return frame;
                }
            }
        }

        /// <summary>Sends a 60-byte frame of <paramref name="etherType"/> from <paramref name="source"/>.</summary>
        public async Task SendRawAsync(ulong destination, ulong source, ushort etherType)
        {
            byte[] frame = new byte[4 + 60];
            BinaryPrimitives.WriteUInt32BigEndian(frame, 60);
            PacketWriter.WriteEthernet(frame.AsSpan(4), destination, source, etherType);
            await socket.SendAsync(frame);
        }

        /// <summary>Broadcasts a DHCPDISCOVER for <paramref name="mac"/> with transaction id <paramref name="xid"/>.</summary>
        public async Task SendDiscoverAsync(ulong mac, uint xid)
        {
            const int PayloadLength = DhcpMessage.MinimumLength;
            byte[] frame = new byte[4 + PacketWriter.UdpPayloadOffset(false) + PayloadLength];
            Span<byte> f = frame.AsSpan(4);
            Span<byte> dhcp = f[PacketWriter.UdpPayloadOffset(false)..];
            dhcp[0] = DhcpMessage.OpRequest;
            dhcp[1] = 1;
            dhcp[2] = 6;
            BinaryPrimitives.WriteUInt32BigEndian(dhcp[4..], xid);
            BinaryPrimitives.WriteUInt16BigEndian(dhcp[10..], DhcpMessage.FlagBroadcast);
            BinaryPrimitives.WriteUInt16BigEndian(dhcp[28..], (ushort)(mac >> 32));
            BinaryPrimitives.WriteUInt32BigEndian(dhcp[30..], (uint)mac);
            BinaryPrimitives.WriteUInt32BigEndian(dhcp[DhcpMessage.FixedLength..], DhcpMessage.MagicCookie);
            dhcp[DhcpMessage.OptionsOffset] = DhcpMessage.OptionMessageType;
            dhcp[DhcpMessage.OptionsOffset + 1] = 1;
            dhcp[DhcpMessage.OptionsOffset + 2] = DhcpMessage.Discover;
            dhcp[DhcpMessage.OptionsOffset + 3] = 255;
            PacketWriter.WriteUdpFrame(f, ulong.MaxValue >> 16, mac, IpAddr.FromV4(0), DhcpMessage.ClientPort, IpAddr.FromV4(0xFFFF_FFFF), DhcpMessage.ServerPort, PayloadLength);
            BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)(frame.Length - 4));
            await socket.SendAsync(frame);
        }

        public void Dispose() => socket.Dispose();

        private async Task ReadExactlyAsync(byte[] buffer, CancellationToken token)
        {
            int read = 0;
            while (read < buffer.Length)
            {
                int n = await socket.ReceiveAsync(buffer.AsMemory(read), token);
                if (n == 0)
                {
                    throw new IOException("the daemon closed the stream");
                }

                read += n;
            }
        }
    }
}
