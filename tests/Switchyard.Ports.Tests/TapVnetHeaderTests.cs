// The tap's virtio_net_hdr to and from OffloadInfo (TapVnetHeader), one test per rule a header the
// kernel hands us must follow, and the flow hash that keeps one flow on one tap queue.
using System.Buffers.Binary;
using Switchyard.Core.Frames;
using Switchyard.Native;
using Switchyard.Ports.Tap;
using Switchyard.Virtio;

namespace Switchyard.Ports.Tests;

public sealed class TapVnetHeaderTests
{
    private const TapOffloads Offered = TapOffloads.Checksum | TapOffloads.Tcp;
    private const int Frame = 14 + 20 + 20 + 1448;

    private static readonly OffloadInfo TcpV4Gso = new(OffloadInfo.FlagNeedsChecksum, OffloadInfo.GsoTcpV4, 54, 1448, 34, 16);

    [Fact]
    public void Write_ThenTryRead_GsoTcpV4_RoundTrips()
    {
        byte[] header = new byte[TapVnetHeader.Size];
        TapVnetHeader.Write(TcpV4Gso, header);

        Assert.Equal(NetTxError.None, TapVnetHeader.TryRead(header, Frame, Offered, out OffloadInfo read));
        Assert.Equal(TcpV4Gso, read);
    }

    [Fact]
    public void Write_GsoTcpV6Ecn_FieldsAtVirtioOffsetsLittleEndian()
    {
        var offload = new OffloadInfo(OffloadInfo.FlagNeedsChecksum, OffloadInfo.GsoTcpV6 | OffloadInfo.GsoEcn, 74, 1428, 54, 16);
        byte[] header = new byte[TapVnetHeader.Size];
        header.AsSpan().Fill(0xEE);

        TapVnetHeader.Write(offload, header);

        Assert.Equal(OffloadInfo.FlagNeedsChecksum, header[0]);
        Assert.Equal(OffloadInfo.GsoTcpV6 | OffloadInfo.GsoEcn, header[1]);
        Assert.Equal(74, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(2)));
        Assert.Equal(1428, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(4)));
        Assert.Equal(54, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(6)));
        Assert.Equal(16, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(8)));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(10))); // num_buffers
    }

    [Fact]
    public void Write_PlainFrame_AllZeroHeader()
    {
        byte[] header = new byte[TapVnetHeader.Size];
        header.AsSpan().Fill(0xEE);

        TapVnetHeader.Write(OffloadInfo.None, header);

        Assert.All(header, b => Assert.Equal(0, b));
    }

    [Fact]
    public void TryRead_AllZero_PlainFrame()
    {
        Assert.Equal(NetTxError.None, TapVnetHeader.TryRead(new byte[12], 60, Offered, out OffloadInfo read));
        Assert.True(read.IsPlain);
    }

    [Fact]
    public void TryRead_DataValidOnly_PlainFrame()
    {
        // The kernel marks frames whose checksum it verified; the switch has nothing to do for them.
        byte[] header = Header(OffloadInfo.FlagDataValid, 0, 0, 0, 0, 0);

        Assert.Equal(NetTxError.None, TapVnetHeader.TryRead(header, 60, Offered, out OffloadInfo read));
        Assert.Equal(OffloadInfo.None, read);
    }

    [Fact]
    public void TryRead_NeedsChecksum_Accepted()
    {
        byte[] header = Header(OffloadInfo.FlagNeedsChecksum, 0, 0, 0, 34, 6);

        Assert.Equal(NetTxError.None, TapVnetHeader.TryRead(header, 60, Offered, out OffloadInfo read));
        Assert.True(read.NeedsChecksum);
        Assert.Equal(34, read.ChecksumStart);
        Assert.Equal(6, read.ChecksumOffset);
    }

    [Fact]
    public void TryRead_ShorterThanHeader_Rejected()
    {
        Assert.Equal(NetTxError.ShorterThanHeader, TapVnetHeader.TryRead(new byte[11], 60, Offered, out OffloadInfo read));
        Assert.Equal(OffloadInfo.None, read);
    }

    [Fact]
    public void TryRead_ChecksumOutsideFrame_Rejected()
    {
        byte[] header = Header(OffloadInfo.FlagNeedsChecksum, 0, 0, 0, 58, 1);

        Assert.Equal(NetTxError.ChecksumOutsideFrame, TapVnetHeader.TryRead(header, 60, Offered, out _));
    }

    [Fact]
    public void TryRead_NeedsChecksumWithoutTunFCsum_Rejected()
    {
        byte[] header = Header(OffloadInfo.FlagNeedsChecksum, 0, 0, 0, 34, 6);

        Assert.Equal(NetTxError.ChecksumNotNegotiated, TapVnetHeader.TryRead(header, 60, TapOffloads.None, out _));
    }

    [Fact]
    public void TryRead_TsoWithoutTunFTso_Rejected()
    {
        byte[] header = Header(OffloadInfo.FlagNeedsChecksum, OffloadInfo.GsoTcpV4, 54, 1448, 34, 16);

        Assert.Equal(NetTxError.GsoNotNegotiated, TapVnetHeader.TryRead(header, Frame, TapOffloads.Checksum, out _));
    }

    [Fact]
    public void TryRead_UsoOnlyWhenTunFUsoAccepted()
    {
        byte[] header = Header(OffloadInfo.FlagNeedsChecksum, OffloadInfo.GsoUdpL4, 42, 1400, 34, 6);

        Assert.Equal(NetTxError.GsoNotNegotiated, TapVnetHeader.TryRead(header, 3000, Offered, out _));
        Assert.Equal(NetTxError.None, TapVnetHeader.TryRead(header, 3000, Offered | TapOffloads.Udp, out OffloadInfo read));
        Assert.Equal(OffloadInfo.GsoUdpL4, read.GsoType);
    }

    [Fact]
    public void TryRead_LegacyUfo_Rejected()
    {
        // TUN_F_UFO is never offered, so a VIRTIO_NET_HDR_GSO_UDP header cannot be honoured.
        byte[] header = Header(OffloadInfo.FlagNeedsChecksum, OffloadInfo.GsoUdp, 42, 1400, 34, 6);

        Assert.Equal(NetTxError.GsoNotNegotiated, TapVnetHeader.TryRead(header, 3000, Offered | TapOffloads.Udp, out _));
    }

    [Theory]
    [InlineData(0x02)]
    [InlineData(0x20)]
    [InlineData(0x41)]
    public void TryRead_UnknownGsoType_Rejected(byte gsoType)
    {
        byte[] header = Header(OffloadInfo.FlagNeedsChecksum, gsoType, 54, 1448, 34, 16);

        Assert.Equal(NetTxError.GsoTypeUnknown, TapVnetHeader.TryRead(header, Frame, Offered | TapOffloads.Udp, out _));
    }

    [Fact]
    public void TryRead_GsoWithoutNeedsChecksum_Rejected()
    {
        byte[] header = Header(0, OffloadInfo.GsoTcpV4, 54, 1448, 0, 0);

        Assert.Equal(NetTxError.GsoWithoutChecksum, TapVnetHeader.TryRead(header, Frame, Offered, out _));
    }

    [Fact]
    public void TryRead_GsoSizeZero_Rejected()
    {
        byte[] header = Header(OffloadInfo.FlagNeedsChecksum, OffloadInfo.GsoTcpV4, 54, 0, 34, 16);

        Assert.Equal(NetTxError.GsoSizeZero, TapVnetHeader.TryRead(header, Frame, Offered, out _));
    }

    [Fact]
    public void TryRead_HeaderLengthBeyondFrame_Rejected()
    {
        byte[] header = Header(OffloadInfo.FlagNeedsChecksum, OffloadInfo.GsoTcpV4, 9000, 1448, 34, 16);

        Assert.Equal(NetTxError.HeaderLengthBeyondFrame, TapVnetHeader.TryRead(header, Frame, Offered, out _));
    }

    [Fact]
    public void TryRead_ChecksumFieldsWithoutNeedsChecksum_Zeroed()
    {
        // csum_start/csum_offset mean nothing without NEEDS_CSUM (virtio 1.2 §5.1.6.2.2); they must not travel on.
        byte[] header = Header(0, 0, 0, 0, 999, 999);

        Assert.Equal(NetTxError.None, TapVnetHeader.TryRead(header, 60, Offered, out OffloadInfo read));
        Assert.Equal(OffloadInfo.None, read);
    }

    [Fact]
    public void TryRead_RandomHeaders_NeverThrow_AndAcceptedOnesAreConsistent()
    {
        var random = new Random(5);
        byte[] header = new byte[TapVnetHeader.Size];
        for (int i = 0; i < 20_000; i++)
        {
            random.NextBytes(header);
            header[0] &= 0x03;
            int frameLength = random.Next(0, 70_000);
            if (TapVnetHeader.TryRead(header, frameLength, Offered | TapOffloads.Udp, out OffloadInfo read) == NetTxError.None)
            {
                Assert.True(read.HeaderLength <= frameLength);
                Assert.True(!read.NeedsChecksum || read.ChecksumStart + read.ChecksumOffset + 2 <= frameLength);
                Assert.True(!read.IsGso || (read.NeedsChecksum && read.GsoSize > 0));
            }
        }
    }

    [Fact]
    public void FeaturesFor_MapsTunFlagsToVirtioFeatures()
    {
        Assert.Equal(NegotiatedFeatures.None, TapVnetHeader.FeaturesFor(TapOffloads.None));
        Assert.Equal(
            NegotiatedFeatures.Csum | NegotiatedFeatures.HostTso4 | NegotiatedFeatures.HostTso6 | NegotiatedFeatures.HostEcn | NegotiatedFeatures.HostUso,
            TapVnetHeader.FeaturesFor(TapOffloads.Checksum | TapOffloads.Tcp | TapOffloads.Udp));
    }

    [Fact]
    public void FlowHash_SameFlow_SameHashWhateverThePayloadAndTag()
    {
        byte[] a = Tcp4(sourcePort: 40000, payloadByte: 1, tagged: false);
        byte[] b = Tcp4(sourcePort: 40000, payloadByte: 2, tagged: true);

        Assert.Equal(TapPort.FlowHash(a), TapPort.FlowHash(b));
    }

    [Fact]
    public void FlowHash_DifferentPorts_SpreadOverQueues()
    {
        var queues = new HashSet<uint>();
        for (int port = 40000; port < 40064; port++)
        {
            queues.Add(TapPort.FlowHash(Tcp4(port, 0, tagged: false)) % 4);
        }

        Assert.Equal(4, queues.Count);
    }

    [Fact]
    public void FlowHash_ShortOrOddFrames_DoNotThrow()
    {
        Assert.Equal(0u, TapPort.FlowHash(new byte[5]));
        _ = TapPort.FlowHash(new byte[14]);
        byte[] truncatedIp = Tcp4(1, 0, tagged: false)[..20];
        _ = TapPort.FlowHash(truncatedIp);
    }

    private static byte[] Header(byte flags, byte gsoType, ushort headerLength, ushort gsoSize, ushort checksumStart, ushort checksumOffset)
    {
        byte[] header = new byte[TapVnetHeader.Size];
        new VirtioNetHeader(flags, gsoType, headerLength, gsoSize, checksumStart, checksumOffset, 0).Write(header);
        return header;
    }

    private static byte[] Tcp4(int sourcePort, byte payloadByte, bool tagged)
    {
        int l2 = tagged ? 18 : 14;
        byte[] frame = new byte[l2 + 20 + 20 + 10];
        frame[5] = 1;
        frame[11] = 2;
        if (tagged)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), Ethernet.EtherTypeVlan);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), 7);
        }

        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l2 - 2), Ethernet.EtherTypeIPv4);
        Span<byte> ip = frame.AsSpan(l2);
        ip[0] = 0x45;
        ip[9] = 6;
        ip[12] = 10;
        ip[15] = 1;
        ip[16] = 10;
        ip[19] = 2;
        BinaryPrimitives.WriteUInt16BigEndian(ip[20..], (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(ip[22..], 5201);
        frame.AsSpan(l2 + 40).Fill(payloadByte);
        return frame;
    }
}
