// Interop for internet sockets, tap devices and stat: struct layouts against x86_64 glibc's headers
// (STYLE.md habit 9) and one real round trip per wrapper on loopback.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Switchyard.TestKit;

namespace Switchyard.Native.Tests;

public class SocketsInteropTests
{
    private static readonly byte[] Loopback4 = [127, 0, 0, 1];

    [Fact]
    public void SockaddrIn_X86_64_Is16BytesWithCOffsets()
    {
        Assert.Equal(16, Unsafe.SizeOf<sockaddr_in>());
        Assert.Equal(0, (int)Marshal.OffsetOf<sockaddr_in>("sin_family"));
        Assert.Equal(2, (int)Marshal.OffsetOf<sockaddr_in>("sin_port"));
        Assert.Equal(4, (int)Marshal.OffsetOf<sockaddr_in>("sin_addr"));
        Assert.Equal(8, (int)Marshal.OffsetOf<sockaddr_in>("sin_zero"));
    }

    [Fact]
    public void SockaddrIn6_X86_64_Is28BytesWithCOffsets()
    {
        Assert.Equal(28, Unsafe.SizeOf<sockaddr_in6>());
        Assert.Equal(0, (int)Marshal.OffsetOf<sockaddr_in6>("sin6_family"));
        Assert.Equal(2, (int)Marshal.OffsetOf<sockaddr_in6>("sin6_port"));
        Assert.Equal(4, (int)Marshal.OffsetOf<sockaddr_in6>("sin6_flowinfo"));
        Assert.Equal(8, (int)Marshal.OffsetOf<sockaddr_in6>("sin6_addr"));
        Assert.Equal(24, (int)Marshal.OffsetOf<sockaddr_in6>("sin6_scope_id"));
        Assert.Equal(28, Sockets.SocketAddressSize);
    }

    [Fact]
    public void Linger_X86_64_Is8Bytes()
    {
        Assert.Equal(8, Unsafe.SizeOf<linger>());
        Assert.Equal(0, (int)Marshal.OffsetOf<linger>("l_onoff"));
        Assert.Equal(4, (int)Marshal.OffsetOf<linger>("l_linger"));
    }

    [Fact]
    public void Ifreq_X86_64_Is40BytesWithFlagsAt16()
    {
        Assert.Equal(40, Unsafe.SizeOf<ifreq>());
        Assert.Equal(0, (int)Marshal.OffsetOf<ifreq>("ifr_name"));
        Assert.Equal(16, (int)Marshal.OffsetOf<ifreq>("ifr_flags"));
    }

    [Fact]
    public void TunSetIff_IsIowT202Int()
    {
        // _IOW(type, nr, size) = (1 << 30) | (size << 16) | (type << 8) | nr.
        Assert.Equal((1u << 30) | (4u << 16) | ((uint)'T' << 8) | 202u, LibC.TUNSETIFF);
    }

    [Fact]
    public void TunOffloadIoctls_MatchIfTunH()
    {
        // linux/if_tun.h: TUNSETOFFLOAD _IOW('T', 208, unsigned int), TUNGETVNETHDRSZ _IOR('T', 215, int),
        // TUNSETVNETHDRSZ _IOW('T', 216, int); _IOR sets bit 31 instead of bit 30.
        Assert.Equal((1u << 30) | (4u << 16) | ((uint)'T' << 8) | 208u, LibC.TUNSETOFFLOAD);
        Assert.Equal((2u << 30) | (4u << 16) | ((uint)'T' << 8) | 215u, LibC.TUNGETVNETHDRSZ);
        Assert.Equal((1u << 30) | (4u << 16) | ((uint)'T' << 8) | 216u, LibC.TUNSETVNETHDRSZ);
        Assert.Equal(0x0100, LibC.IFF_MULTI_QUEUE);
        Assert.Equal(0x4000, LibC.IFF_VNET_HDR);
        Assert.Equal(
            [0x01u, 0x02u, 0x04u, 0x08u, 0x10u, 0x20u, 0x40u],
            new[] { LibC.TUN_F_CSUM, LibC.TUN_F_TSO4, LibC.TUN_F_TSO6, LibC.TUN_F_TSO_ECN, LibC.TUN_F_UFO, LibC.TUN_F_USO4, LibC.TUN_F_USO6 });
    }

    [Fact]
    public void ConnectAcceptSendReceive_Loopback4_PeerAddressIsV4Mapped()
    {
        int listener = Sockets.Open(InetSocketKind.Tcp, v6: false, out int errno);
        Assert.True(listener >= 0, $"socket: {errno}");
        int client = -1;
        int server = -1;
        try
        {
            Assert.Equal(0, Sockets.Bind(listener, Loopback4, 0));
            Assert.Equal(0, Sockets.Listen(listener, 4));
            byte[] local = new byte[16];
            Assert.Equal(0, Sockets.GetLocalAddress(listener, local, out ushort port));
            Assert.NotEqual(0, port);
            Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 127, 0, 0, 1 }, local);

            client = Sockets.Open(InetSocketKind.Tcp, v6: false, out _);
            int rc = Sockets.Connect(client, Loopback4, port);
            Assert.True(rc is 0 or Sockets.EINPROGRESS, $"connect: {rc}");

            byte[] peer = new byte[16];
            ushort peerPort = 0;
            for (int i = 0; i < 200 && server < 0; i++)
            {
                server = Sockets.Accept(listener, peer, out peerPort, out errno);
                if (server < 0)
                {
                    Assert.Equal(LibC.EAGAIN, errno);
                    Thread.Sleep(5);
                }
            }

            Assert.True(server >= 0);
            Assert.Equal(127, peer[12]);
            Assert.Equal(0xFF, peer[10]);
            Assert.Equal(0, Sockets.GetLocalAddress(client, local, out ushort clientPort));
            Assert.Equal(clientPort, peerPort);
            Assert.Equal(0, Sockets.TakeError(client));
            Assert.Equal(0, Sockets.GetPeerAddress(client, peer, out ushort serverPort));
            Assert.Equal(port, serverPort);

            Assert.Equal(5, SocketIo.Send(client, "hello"u8).Bytes);
            byte[] buffer = new byte[16];
            IoResult got = default;
            for (int i = 0; i < 200; i++)
            {
                got = SocketIo.Receive(server, buffer);
                if (!got.WouldBlock)
                {
                    break;
                }

                Thread.Sleep(5);
            }

            Assert.Equal(5, got.Bytes);
        }
        finally
        {
            FileDescriptors.Close(server);
            FileDescriptors.Close(client);
            FileDescriptors.Close(listener);
        }
    }

    [Fact]
    public void SendToReceiveFrom_Loopback6_ReportsSourceAddressAndPort()
    {
        byte[] loopback6 = new byte[16];
        loopback6[15] = 1;
        int a = Sockets.Open(InetSocketKind.Udp, v6: true, out _);
        int b = Sockets.Open(InetSocketKind.Udp, v6: true, out _);
        try
        {
            Assert.Equal(0, Sockets.Bind(a, loopback6, 0));
            Assert.Equal(0, Sockets.Bind(b, loopback6, 0));
            byte[] address = new byte[16];
            Assert.Equal(0, Sockets.GetLocalAddress(a, address, out ushort aPort));
            Assert.Equal(0, Sockets.GetLocalAddress(b, address, out ushort bPort));
            Assert.True(Sockets.SendTo(a, "ping"u8, loopback6, bPort).Ok);
            byte[] buffer = new byte[16];
            IoResult got = default;
            ushort from = 0;
            for (int i = 0; i < 200; i++)
            {
                got = Sockets.ReceiveFrom(b, buffer, address, out from);
                if (!got.WouldBlock)
                {
                    break;
                }

                Thread.Sleep(5);
            }

            Assert.Equal(4, got.Bytes);
            Assert.Equal(loopback6, address);
            Assert.Equal(aPort, from);
        }
        finally
        {
            FileDescriptors.Close(a);
            FileDescriptors.Close(b);
        }
    }

    [Fact]
    public void FileVersion_RewrittenFile_Differs()
    {
        string path = Path.GetTempFileName();
        try
        {
            Assert.True(FileVersion.TryGet(path, out FileVersion before));
            File.WriteAllText(path, "nameserver 192.0.2.1\n");
            Assert.True(FileVersion.TryGet(path, out FileVersion after));
            Assert.NotEqual(before, after);
            Assert.Equal(21, after.Size);
            Assert.False(FileVersion.TryGet(path + ".missing", out _));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TapDevice_NameTooLong_IsRejectedBeforeAnySyscall()
    {
        Assert.Throws<ArgumentException>(() => TapDevice.Open("a-name-of-16-byt"));
        Assert.Throws<ArgumentException>(() => TapDevice.Open("bad/name"));
    }

    [RequiresRootFact]
    public void TapDevice_Open_CreatesInterfaceAndCloseRemovesIt()
    {
        string name = $"syn{Environment.ProcessId % 100000}";
        using (TapDevice tap = TapDevice.Open(name))
        {
            Assert.Equal(name, tap.Name);
            Assert.True(Directory.Exists($"/sys/class/net/{name}"));
            Assert.True(tap.Read(new byte[2048]).WouldBlock, "a new tap that is down has nothing to read");
        }

        Assert.False(Directory.Exists($"/sys/class/net/{name}"), "closing a non-persistent tap deletes it");
    }
}
