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
            using var cts = new CancellationTokenSource(timeout);
            byte[] header = new byte[4];
            while (true)
            {
                await ReadExactlyAsync(header, cts.Token);
                int length = (int)BinaryPrimitives.ReadUInt32BigEndian(header);
                byte[] frame = new byte[length];
                await ReadExactlyAsync(frame, cts.Token);
                if (length >= PacketWriter.L4Offset(false) + TcpHeader.MinLength
                    && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) == 0x0800
                    && frame[23] == InternetChecksum.ProtocolTcp
                    && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(PacketWriter.L4Offset(false) + 2)) == sourcePort)
                {
                    return frame[PacketWriter.L4Offset(false) + 13];
                }
            }
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
