// A hostile stream peer (zero or oversized length prefix, truncated frame) loses only its own
// connection, with a logged reason and a counter; two guests keep talking throughout.
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text.Json;
using Switchyard.TestKit;
using Switchyard.TestKit.Qemu;
using Xunit.Abstractions;
using static Switchyard.TestKit.Qemu.GuestScripts;

namespace Switchyard.EndToEnd;

public sealed class BadPeerTests(ITestOutputHelper output)
{
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(180);

    [RequiresGuestFact]
    public async Task BadLengthPrefixesAndTruncation_CloseOnlyThatConnection_GuestsKeepTalking()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        await using GuestPair guests = GuestPair.OnStream(
            sy.StreamSocket,
            Shebang + StaticIPv4(1) + "sleep 150\n",
            Shebang + StaticIPv4(2) + WaitForPing(TestAddress(1), attempts: 90) + "echo ATTACK-NOW\n" + Ping(TestAddress(1), 20),
            output.WriteLine,
            modelA: "virtio-net-pci",
            modelB: "e1000");
        QemuGuest a = guests.A;
        QemuGuest b = guests.B;
        await b.WaitForLineAsync("ATTACK-NOW", GuestTimeout);

        byte[] oversized = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(oversized, 69633);
        byte[] truncated = new byte[4 + 30];
        BinaryPrimitives.WriteUInt32BigEndian(truncated, 100);
        await AttackAsync(sy.StreamSocket, [0, 0, 0, 0], halfClose: false);
        await AttackAsync(sy.StreamSocket, oversized, halfClose: false);
        await AttackAsync(sy.StreamSocket, truncated, halfClose: true);

        // Each attacker's connection was closed for its own reason and counted; nobody else's was.
        JsonElement show = await sy.WaitForShowAsync(
            s => s.ToString().Contains("\"ports_closed_by_peer\":3", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20),
            "three closed attacker ports");
        string closed = show.GetProperty("networks")[0].GetProperty("closedPortDrops").ToString();
        Assert.Contains("\"rx_zero_length\":1", closed, StringComparison.Ordinal);
        Assert.Contains("\"rx_oversized\":1", closed, StringComparison.Ordinal);
        Assert.Contains("\"rx_truncated\":1", closed, StringComparison.Ordinal);
        Assert.Contains("rx_zero_length: length prefix of zero", sy.Output, StringComparison.Ordinal);
        Assert.Contains("rx_oversized", sy.Output, StringComparison.Ordinal);
        Assert.Contains("rx_truncated", sy.Output, StringComparison.Ordinal);
        Assert.Equal(2, SwitchyardProcess.Ports(show).Count());

        // The guests never noticed: B's 20 pings across the attack all came back.
        GuestResult bDone = await b.RunToCompletionAsync(GuestTimeout);
        Assert.Contains("20 packets transmitted, 20 packets received", bDone.Console, StringComparison.Ordinal);
        Assert.False(sy.HasExited, "the daemon survived");
    }

    private static async Task AttackAsync(string path, byte[] bytes, bool halfClose)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await s.ConnectAsync(new UnixDomainSocketEndPoint(path));
        await s.SendAsync(bytes);
        if (halfClose)
        {
            s.Shutdown(SocketShutdown.Send);
        }

        // The daemon closes the connection: our reads end in EOF (or a reset). Until it does, the attacker
        // is a port like any other and may be sent frames flooded by the guests: skip them.
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            while (await s.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) > 0)
            {
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            // Also a close.
        }
    }
}
