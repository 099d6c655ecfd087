// Seed corpora: valid inputs for every target, built with the project's own builders (frames, messages)
// and taken from the documentation (YAML topologies, -netdev specs), so the fuzzer starts past the
// first checks. run.sh writes them once into fuzz/corpus/TARGET/ when that folder is empty; the fuzzer
// then grows and minimizes the corpus from there.
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Switchyard.Core.Frames;
using Switchyard.Fuzz.Targets;
using Switchyard.Protocols;
using Switchyard.VhostUser;

namespace Switchyard.Fuzz;

public static partial class Seeds
{
    public static void WriteAll(string outputDirectory, string repoRoot)
    {
        Write(outputDirectory, "vhost-user", VhostUser());
        Write(outputDirectory, "virtqueue", Virtqueue());
        Write(outputDirectory, "frames", Frames());
        Write(outputDirectory, "tcp", Tcp());
        Write(outputDirectory, "config", Config(repoRoot));
    }

    private static void Write(string root, string target, IEnumerable<byte[]> inputs)
    {
        string directory = Path.Combine(root, target);
        Directory.CreateDirectory(directory);
        int n = 0;
        foreach (byte[] input in inputs)
        {
            string name = "seed-" + Convert.ToHexStringLower(SHA1.HashData(input))[..16];
            File.WriteAllBytes(Path.Combine(directory, name), input);
            n++;
        }

        Console.WriteLine($"{target}: {n} seeds in {directory}");
    }

    // ---- vhost-user: message streams ----

    private const ulong UserBase = 0x7f00_0000_0000;
    private const ulong GuestBase = 0;

    private static IEnumerable<byte[]> VhostUser()
    {
        ulong features = VhostUserBackendOptions.DefaultFeatures & ~VirtioFeatures.Bit(VirtioFeatures.LogAll);
        var negotiate = new List<byte[]>
        {
            Message(0, VhostUserRequest.GetFeatures, []),
            Message(0, VhostUserRequest.SetFeatures, U64(features)),
            Message(0, VhostUserRequest.GetProtocolFeatures, []),
            Message(0, VhostUserRequest.SetProtocolFeatures, U64(VhostUserBackendOptions.DefaultProtocolFeatures)),
            Message(0, VhostUserRequest.SetOwner, []),
            Message(0, VhostUserRequest.GetQueueNum, []),
            Message(0, VhostUserRequest.GetMaxMemSlots, []),
        };
        byte[] memTable = MemTable((GuestBase, VhostUserTarget.MemFdSize, UserBase, 0));
        var start = new List<byte[]>(negotiate) { Message(1 | 4, VhostUserRequest.SetMemTable, memTable) };
        for (uint ring = 0; ring < 2; ring++)
        {
            ulong area = ring * 0x4000;
            start.Add(Message(0, VhostUserRequest.SetVringNum, VringState(ring, 256)));
            start.Add(Message(0, VhostUserRequest.SetVringAddr, VringAddr(ring, UserBase + area, UserBase + area + 0x2000, UserBase + area + 0x1000)));
            start.Add(Message(0, VhostUserRequest.SetVringBase, VringState(ring, 0)));
            start.Add(Message(1, VhostUserRequest.SetVringCall, U64(ring)));
            start.Add(Message(1, VhostUserRequest.SetVringKick, U64(ring)));
            start.Add(Message(0, VhostUserRequest.SetVringEnable, VringState(ring, 1)));
        }

        yield return Concat(negotiate);
        yield return Concat(start);
        yield return Concat([.. start, Message(0, VhostUserRequest.GetVringBase, VringState(0, 0)), Message(0, VhostUserRequest.GetVringBase, VringState(1, 0))]);
        yield return Concat([.. start, Message(1 | 4, VhostUserRequest.SetMemTable, memTable)]);
        yield return Concat([.. start, Message(0, VhostUserRequest.ResetOwner, []), .. start]);
        yield return Concat([.. start, Message(0, VhostUserRequest.SendRarp, U64(0x5254_0012_3456)), Message(0, VhostUserRequest.NetSetMtu, U64(1500))]);
        yield return Concat([.. negotiate,
            Message(1 | 4, VhostUserRequest.AddMemReg, MemRegion(GuestBase, VhostUserTarget.MemFdSize, UserBase, 0)),
            Message(1 | 4, VhostUserRequest.AddMemReg, MemRegion(0x1_0000_0000, 0x8000, UserBase + 0x10_0000, 0x8000)),
            Message(0, VhostUserRequest.RemMemReg, MemRegion(0x1_0000_0000, 0x8000, UserBase + 0x10_0000, 0x8000))]);
        yield return Concat([.. start, Message(1 | 4, VhostUserRequest.SetLogBase, [.. U64(0x1000), .. U64(0)]),
            Message(0, VhostUserRequest.SetFeatures, U64(features | VirtioFeatures.Bit(VirtioFeatures.LogAll)))]);
        yield return Concat([.. negotiate, Message(2 | 4, VhostUserRequest.SetMemTable,
            MemTable((GuestBase, 0x8000, UserBase, 0), (0x1_0000_0000, 0x8000, UserBase + 0x10_0000, 0x8000)))]);
        yield return Concat([Message(0, VhostUserRequest.SetVringCall, U64(0x100)), Message(1, VhostUserRequest.SetVringErr, U64(1))]);
    }

    private static byte[] Message(byte fdSpec, VhostUserRequest request, byte[] payload)
    {
        byte[] message = new byte[1 + VhostUserHeader.Length + payload.Length];
        message[0] = fdSpec;
        new VhostUserHeader(request, VhostUserHeader.Version, (uint)payload.Length).Write(message.AsSpan(1));
        payload.CopyTo(message, 1 + VhostUserHeader.Length);
        return message;
    }

    private static byte[] MemTable(params (ulong Guest, ulong Size, ulong User, ulong Offset)[] regions)
    {
        var bytes = new List<byte>();
        bytes.AddRange(U32((uint)regions.Length));
        bytes.AddRange(U32(0));
        foreach ((ulong guest, ulong size, ulong user, ulong offset) in regions)
        {
            bytes.AddRange(MemRegion(guest, size, user, offset)[8..]);
        }

        return [.. bytes];
    }

    /// <summary>ADD/REM_MEM_REG payload: 8 bytes of padding, then one region.</summary>
    private static byte[] MemRegion(ulong guest, ulong size, ulong user, ulong offset) =>
        [.. U64(0), .. U64(guest), .. U64(size), .. U64(user), .. U64(offset)];

    private static byte[] VringState(uint index, uint num) => [.. U32(index), .. U32(num)];

    private static byte[] VringAddr(uint index, ulong desc, ulong used, ulong avail) =>
        [.. U32(index), .. U32(0), .. U64(desc), .. U64(used), .. U64(avail), .. U64(0)];

    // ---- virtqueue: ring images ----

    private static IEnumerable<byte[]> Virtqueue()
    {
        byte[] frame = UdpFrame(0x5254_0012_3456, 0xFFFF_FFFF_FFFF, IpAddr.FromV4(0x0A00_020F), 1234, IpAddr.FromV4(0x0A00_0202), 53, Encoding.ASCII.GetBytes("hello"));
        yield return Ring(8, 0b0100_0000, rx: false, [(frame, false)]);
        yield return Ring(8, 0b0100_0001, rx: false, [(frame, true)]);
        yield return Ring(16, 0b0100_0010, rx: false, [(frame, false), (frame, false)]);
        yield return Ring(8, 0b1100_0100, rx: true, [(new byte[1600], false), (new byte[1600], false)]);
        yield return Ring(4, 0b1100_0000, rx: true, [(new byte[64], false)]);

        // A TCP frame the driver asks to checksum (NEEDS_CSUM) and one to segment (GSO TCPv4).
        byte[] tcp = TcpFrame(3000);
        yield return Ring(8, 0b0101_1000, rx: false, [(tcp, false)], new VirtioNetHeaderBytes(1, 0, 54, 0, 34, 16));
        yield return Ring(8, 0b0101_1000, rx: false, [(tcp, false)], new VirtioNetHeaderBytes(1, 1, 54, 1460, 34, 16));
    }

    private readonly record struct VirtioNetHeaderBytes(byte Flags, byte GsoType, ushort HeaderLength, ushort GsoSize, ushort CsumStart, ushort CsumOffset);

    /// <summary>A ring image in the virtqueue target's layout: descriptor table, avail ring, used ring, then
    /// buffers; each buffer is one descriptor (or an indirect table of one), readable for TX, writable for RX.</summary>
    private static byte[] Ring(int size, byte featureByte, bool rx, (byte[] Data, bool Indirect)[] buffers, VirtioNetHeaderBytes? netHeader = null)
    {
        int availOffset = 16 * size;
        int usedOffset = (availOffset + 6 + (2 * size) + 3) & ~3;
        int bufferOffset = (usedOffset + 6 + (8 * size) + 15) & ~15;
        var image = new List<byte>(new byte[bufferOffset]);
        byte[] ring = new byte[bufferOffset];
        for (int i = 0; i < buffers.Length; i++)
        {
            byte[] header = new byte[12];
            if (netHeader is { } h)
            {
                header[0] = h.Flags;
                header[1] = h.GsoType;
                BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(2), h.HeaderLength);
                BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), h.GsoSize);
                BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(6), h.CsumStart);
                BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), h.CsumOffset);
            }

            byte[] data = rx ? buffers[i].Data : [.. header, .. buffers[i].Data];
            ulong dataAddress = ArrayGuestMemory.Base + (ulong)image.Count;
            image.AddRange(data);
            while (image.Count % 16 != 0)
            {
                image.Add(0);
            }

            ushort flags = rx ? (ushort)2 : (ushort)0;
            if (buffers[i].Indirect)
            {
                ulong tableAddress = ArrayGuestMemory.Base + (ulong)image.Count;
                image.AddRange(Descriptor(dataAddress, (uint)data.Length, flags, 0));
                WriteDescriptor(ring, i, tableAddress, 16, 4, 0);
            }
            else
            {
                WriteDescriptor(ring, i, dataAddress, (uint)data.Length, flags, 0);
            }

            BinaryPrimitives.WriteUInt16LittleEndian(ring.AsSpan(availOffset + 4 + (2 * i)), (ushort)i);
        }

        BinaryPrimitives.WriteUInt16LittleEndian(ring.AsSpan(availOffset + 2), (ushort)buffers.Length);
        for (int i = 0; i < ring.Length; i++)
        {
            image[i] = ring[i];
        }

        int sizeByte = System.Numerics.BitOperations.Log2((uint)size);
        byte[] preamble = [(byte)sizeByte, featureByte, 0, 0, 0, 0, 0, 0, 0];
        return [.. preamble, .. image];
    }

    private static byte[] Descriptor(ulong address, uint length, ushort flags, ushort next)
    {
        byte[] d = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(d, address);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(8), length);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(12), flags);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(14), next);
        return d;
    }

    private static void WriteDescriptor(byte[] ring, int index, ulong address, uint length, ushort flags, ushort next) =>
        Descriptor(address, length, flags, next).CopyTo(ring, 16 * index);

    // ---- frames: one of each protocol ----

    private static IEnumerable<byte[]> Frames()
    {
        const ulong Guest = 0x5254_0012_3456;
        const ulong Gateway = 0x5255_0A00_0202;
        IpAddr guest = IpAddr.FromV4(0x0A00_020F);
        IpAddr gateway = IpAddr.FromV4(0x0A00_0202);
        IpAddr guest6 = new(0xFE80_0000_0000_0000UL, 0x5054_00FF_FE12_3456UL);
        IpAddr allRouters = new(0xFF02_0000_0000_0000UL, 2);

        byte[] arp = new byte[42];
        Ethernet.WriteMac(arp, 0xFFFF_FFFF_FFFF);
        Ethernet.WriteMac(arp.AsSpan(6), Guest);
        BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(12), Ethernet.EtherTypeArp);
        ArpBuilder.Write(arp.AsSpan(14), 1, Guest, guest.V4, 0, gateway.V4);
        yield return [0, .. arp];

        byte[] tagged = [.. arp[..12], 0x81, 0x00, 0x00, 0x0A, .. arp[12..]];
        yield return [0, .. tagged];

        byte[] dhcp = DhcpDiscover(Guest);
        yield return [0, .. UdpFrame(Guest, 0xFFFF_FFFF_FFFF, IpAddr.FromV4(0), 68, IpAddr.FromV4(0xFFFF_FFFF), 67, dhcp)];
        yield return [2, .. dhcp];

        byte[] dns = DnsQuery("example.com");
        yield return [0, .. UdpFrame(Guest, Gateway, guest, 40000, IpAddr.FromV4(0x0A00_0203), 53, dns)];
        yield return [1, .. dns];

        byte[] dhcpv6 = [1, 0x12, 0x34, 0x56, 0, 1, 0, 10, 0, 3, 0, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0, 6, 0, 4, 0, 23, 0, 24];
        yield return [0, .. UdpFrame(Guest, 0x3333_0001_0002, guest6, 546, new IpAddr(0xFF02_0000_0000_0000UL, 0x1_0002), 547, dhcpv6)];
        yield return [3, .. dhcpv6];

        byte[] rs = new byte[16];
        int n = NdpBuilder.WriteRouterSolicitation(rs);
        n = NdpBuilder.AppendLinkLayerAddress(rs, n, 1, Guest);
        yield return [4, .. rs[..n]];
        byte[] ra = new byte[256];
        int m = NdpBuilder.WriteRouterAdvertisement(ra, 64, 0, 1800, 0, 0);
        m = NdpBuilder.AppendLinkLayerAddress(ra, m, 1, Gateway);
        m = NdpBuilder.AppendPrefixInformation(ra, m, new IpAddr(0xFD00_0000_0000_0000UL, 0), 64, 0xC0, 3600, 1800);
        m = NdpBuilder.AppendMtu(ra, m, 1500);
        m = NdpBuilder.AppendRdnss(ra, m, 600, [new IpAddr(0xFD00_0000_0000_0000UL, 3)]);
        yield return [4, .. ra[..m]];
        byte[] icmp6 = rs[..n];
        byte[] icmpFrame = new byte[14 + 40 + icmp6.Length];
        icmp6.CopyTo(icmpFrame, 54);
        PacketWriter.WriteL4Checksum(icmpFrame.AsSpan(54), guest6, allRouters, PacketWriter.ProtocolIcmpV6, 2);
        PacketWriter.WriteEthernetAndIp(icmpFrame, 0x3333_0000_0002, Guest, guest6, allRouters, PacketWriter.ProtocolIcmpV6, icmp6.Length, ttl: 255);
        yield return [0, .. icmpFrame];

        byte[] echo = new byte[64];
        int e = IcmpBuilder.WriteEcho(echo, 8, 1, 1, Encoding.ASCII.GetBytes("ping"), guest, gateway);
        byte[] echoFrame = new byte[14 + 20 + e];
        echo.AsSpan(0, e).CopyTo(echoFrame.AsSpan(34));
        PacketWriter.WriteEthernetAndIp(echoFrame, Gateway, Guest, guest, gateway, PacketWriter.ProtocolIcmp, e);
        yield return [0, .. echoFrame];

        byte[] tcp = TcpFrame(100);
        yield return [0, .. tcp];
        yield return [5, .. tcp[34..]];
        byte[] gso = TcpFrame(4000);
        yield return [6, 1, 1, 54, 0, 0xB4, 0x05, 34, 0, 16, 0, .. gso];
        yield return [6, 1, 0, 0, 0, 0, 0, 34, 0, 16, 0, .. tcp];
    }

    private static byte[] UdpFrame(ulong source, ulong destination, IpAddr sourceIp, ushort sourcePort, IpAddr destinationIp, ushort destinationPort, byte[] payload)
    {
        int offset = sourceIp.IsV4 ? 42 : 62;
        byte[] frame = new byte[offset + payload.Length];
        payload.CopyTo(frame, offset);
        PacketWriter.WriteUdpFrame(frame, destination, source, sourceIp, sourcePort, destinationIp, destinationPort, payload.Length);
        return frame;
    }

    private static byte[] TcpFrame(int payloadLength)
    {
        IpAddr guest = IpAddr.FromV4(0x0A00_020F);
        IpAddr remote = IpAddr.FromV4(0xC000_0201);
        byte[] options = new byte[TcpOptions.MaxSynLength];
        int optionsLength = TcpOptions.WriteSyn(options, 1460, 7, sackPermitted: true);
        int headerLength = 20 + ((optionsLength + 3) & ~3);
        byte[] l4 = new byte[headerLength + payloadLength];
        BinaryPrimitives.WriteUInt16BigEndian(l4, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(2), 80);
        BinaryPrimitives.WriteUInt32BigEndian(l4.AsSpan(4), 1000);
        l4[12] = (byte)((headerLength / 4) << 4);
        l4[13] = TcpHeader.FlagSyn;
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(14), 65535);
        options.AsSpan(0, optionsLength).CopyTo(l4.AsSpan(20));
        PacketWriter.WriteL4Checksum(l4, guest, remote, InternetChecksum.ProtocolTcp, TcpHeader.ChecksumOffset);
        byte[] frame = new byte[34 + l4.Length];
        l4.CopyTo(frame, 34);
        PacketWriter.WriteEthernetAndIp(frame, 0x5255_0A00_0202, 0x5254_0012_3456, guest, remote, InternetChecksum.ProtocolTcp, l4.Length, 1);
        return frame;
    }

    private static byte[] DhcpDiscover(ulong mac)
    {
        byte[] buffer = new byte[DhcpMessage.MinimumLength + 64];
        var builder = new DhcpBuilder(buffer, DhcpMessage.OpRequest, 0x1234_5678, DhcpMessage.FlagBroadcast, 0, 0, 0, 0, mac);
        builder.AddByte(53, DhcpMessage.Discover);
        builder.Add(55, [1, 3, 6, 15, 119]);
        builder.AddAscii(12, "vm");
        return buffer[..builder.Finish()];
    }

    private static byte[] DnsQuery(string name)
    {
        var bytes = new List<byte> { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
        foreach (string label in name.Split('.'))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(Encoding.ASCII.GetBytes(label));
        }

        bytes.AddRange([0, 0, 1, 0, 1]);
        return [.. bytes];
    }

    // ---- tcp: gateway scripts ----

    private static IEnumerable<byte[]> Tcp()
    {
        byte[] syn = Segment(v6: false, ports: 0, flags: TcpHeader.FlagSyn, relative: false, seq: 1000, ack: 0, options: [2, 4, 5, 0xB4, 1, 3, 3, 7], payload: []);
        byte[] ack = Segment(v6: false, ports: 0, flags: TcpHeader.FlagAck, relative: true, seq: 0, ack: 0, options: [], payload: []);
        byte[] data = Segment(v6: false, ports: 0, flags: TcpHeader.FlagAck | TcpHeader.FlagPsh, relative: true, seq: 0, ack: 0, options: [], payload: Encoding.ASCII.GetBytes("GET / HTTP/1.0\r\n\r\n"));
        byte[] fin = Segment(v6: false, ports: 0, flags: TcpHeader.FlagAck | TcpHeader.FlagFin, relative: true, seq: 0, ack: 0, options: [], payload: []);
        byte[] rst = Segment(v6: false, ports: 0, flags: TcpHeader.FlagRst, relative: true, seq: 0, ack: 0, options: [], payload: []);
        byte[] hostData = [3, 0, .. U16(600), .. new byte[600]];
        byte[] hostEof = [3, 0, 0, 0];
        byte[] tick = [5, .. U16(100)];
        byte[] longTick = [5, .. U16(30000)];
        byte[] writable = [4, 0, 0, .. U16(100)];
        yield return syn;
        yield return [.. syn, .. ack];
        yield return [.. syn, .. ack, .. data, .. hostData, .. ack, .. tick];
        yield return [.. syn, .. ack, .. data, .. hostData, .. tick, .. tick, .. longTick];
        yield return [.. syn, .. ack, .. hostData, .. hostData, .. ack, .. hostEof, .. fin, .. ack, .. longTick];
        yield return [.. syn, .. ack, .. fin, .. hostEof, .. ack, .. longTick];
        yield return [.. syn, .. ack, .. data, .. writable, .. rst];
        yield return [.. syn, .. tick, .. longTick];
        yield return Segment(v6: true, ports: 5, flags: TcpHeader.FlagSyn, relative: false, seq: 7, ack: 0, options: [2, 4, 5, 0x8C], payload: []);
        yield return [.. Segment(v6: true, ports: 5, flags: TcpHeader.FlagSyn, relative: false, seq: 7, ack: 0, options: [], payload: []),
            .. Segment(v6: true, ports: 5, flags: TcpHeader.FlagAck, relative: true, seq: 0, ack: 0, options: [], payload: new byte[1400])];

        byte[] raw = TcpFrame(10);
        raw[0] = 0x52;
        raw[1] = 0x55;
        yield return [2, .. U16((ushort)raw.Length), .. raw];
    }

    private static byte[] Segment(bool v6, byte ports, byte flags, bool relative, uint seq, uint ack, byte[] options, byte[] payload) =>
        [v6 ? (byte)1 : (byte)0, ports, flags, relative ? (byte)1 : (byte)0, .. U32(seq), .. U32(ack), .. U16(65535),
            (byte)(options.Length / 4), .. options, .. U16((ushort)payload.Length), .. payload];

    // ---- config: specs and YAML from the docs ----

    private static IEnumerable<byte[]> Config(string repoRoot)
    {
        string[] netdevs =
        [
            "stream,addr.type=unix,addr.path=/tmp/g1.sock,server=on",
            "stream,addr.type=inet,addr.host=127.0.0.1,addr.port=5000,reconnect-ms=100",
            "dgram,local.type=inet,local.host=127.0.0.1,local.port=1,remote.type=inet,remote.host=127.0.0.1,remote.port=2",
            "dgram,local.type=unix,local.path=/a,remote.type=unix,remote.path=/b",
            "socket,listen=:5000",
            "socket,connect=[::1]:5000",
            "socket,udp=127.0.0.1:2,localaddr=:1",
            "vhost-user,path=/tmp/vu.sock,server=off,queues=4",
            "tap,ifname=tap0,vnet_hdr=off",
        ];
        string[] gateways =
        [
            "user",
            "user,net=10.0.3.0/24,hostfwd=tcp:127.0.0.1:2222-:22",
            "net=192.168.7.0/255.255.255.0,host=192.168.7.1,dns=192.168.7.53,dhcpstart=192.168.7.100,mtu=9000",
            "ipv6-prefix=fd42::,ipv6-prefixlen=64,ipv6-host=fd42::1,dnssearch=a.example,dnssearch=b.example",
            "ipv6=off,mtu=576,restrict=on,host-loopback=off,lease-time=1h,max-flows=100,max-flows-per-guest=10",
            "dns-upstream=9.9.9.9:53,dns-upstream=[2620:fe::fe],hostfwd=udp:[::1]:5353-[fd00::15]:53,hostname=vm,domainname=lab.example",
        ];
        string[] forwards = ["tcp:127.0.0.1:2222-:22", "udp:[::1]:5353-[fd00::15]:53", "tcp::8080-10.0.2.15:80"];
        foreach (string s in netdevs)
        {
            yield return [0, .. Encoding.UTF8.GetBytes(s)];
        }

        foreach (string s in gateways)
        {
            yield return [1, .. Encoding.UTF8.GetBytes(s)];
        }

        foreach (string s in forwards)
        {
            yield return [2, .. Encoding.UTF8.GetBytes(s)];
        }

        foreach (string doc in Directory.GetFiles(Path.Combine(repoRoot, "docs"), "*.md"))
        {
            foreach (Match match in YamlBlock().Matches(File.ReadAllText(doc)))
            {
                yield return [3, .. Encoding.UTF8.GetBytes(match.Groups[1].Value)];
            }
        }
    }

    [GeneratedRegex("```yaml\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex YamlBlock();

    private static byte[] Concat(List<byte[]> parts) => [.. parts.SelectMany(p => p)];

    private static byte[] U16(ushort v) => [(byte)v, (byte)(v >> 8)];

    private static byte[] U32(uint v)
    {
        byte[] b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        return b;
    }

    private static byte[] U64(ulong v)
    {
        byte[] b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        return b;
    }
}
