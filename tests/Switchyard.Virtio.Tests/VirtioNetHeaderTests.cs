// Tests of the virtio-net header: byte layout, OffloadInfo conversion, and one test per TX header rule.
using Switchyard.Core.Frames;

namespace Switchyard.Virtio.Tests;

/// <summary>The virtio-net header layout and one test per TX header rule (virtio 1.2 §5.1.6.2).</summary>
public class VirtioNetHeaderTests
{
    private const NegotiatedFeatures AllHost =
        NegotiatedFeatures.Csum | NegotiatedFeatures.HostTso4 | NegotiatedFeatures.HostTso6
        | NegotiatedFeatures.HostUfo | NegotiatedFeatures.HostUso | NegotiatedFeatures.HostEcn;

    private static byte[] Raw(byte flags = 0, byte gso = 0, ushort hdrLen = 0, ushort gsoSize = 0, ushort csumStart = 0, ushort csumOffset = 0, ushort numBuffers = 0)
    {
        byte[] bytes = new byte[VirtioNetHeader.Size];
        new VirtioNetHeader(flags, gso, hdrLen, gsoSize, csumStart, csumOffset, numBuffers).Write(bytes);
        return bytes;
    }

    private static NetTxError Parse(byte[] raw, NegotiatedFeatures features = AllHost, int frameLength = 1514) =>
        VirtioNetHeader.TryParseTx(raw, frameLength, features, out _);

    [Fact]
    public void Write_Fields_LittleEndianAtSpecOffsets()
    {
        byte[] bytes = new byte[12];
        new VirtioNetHeader(0x01, 0x04, 0x0102, 0x0304, 0x0506, 0x0708, 0x090A).Write(bytes);
        Assert.Equal(new byte[] { 0x01, 0x04, 0x02, 0x01, 0x04, 0x03, 0x06, 0x05, 0x08, 0x07, 0x0A, 0x09 }, bytes);
        Assert.Equal(new VirtioNetHeader(0x01, 0x04, 0x0102, 0x0304, 0x0506, 0x0708, 0x090A), VirtioNetHeader.Read(bytes));
    }

    [Fact]
    public void OffloadInfo_RoundTrips()
    {
        var offload = new OffloadInfo(OffloadInfo.FlagNeedsChecksum, OffloadInfo.GsoTcpV4, 54, 1448, 34, 16);
        VirtioNetHeader header = VirtioNetHeader.FromOffloadInfo(offload, 3);
        Assert.Equal(3, header.NumBuffers);
        Assert.Equal(offload, header.ToOffloadInfo());
    }

    [Fact]
    public void TryParseTx_PlainHeader_Accepted()
    {
        Assert.Equal(NetTxError.None, VirtioNetHeader.TryParseTx(Raw(), 60, NegotiatedFeatures.None, out VirtioNetHeader header));
        Assert.True(header.ToOffloadInfo().IsPlain);
    }

    [Fact]
    public void TryParseTx_TsoHeader_Accepted()
    {
        byte[] raw = Raw(VirtioNetHeader.FlagNeedsChecksum, VirtioNetHeader.GsoTcpV4, 66, 1448, 34, 16);
        Assert.Equal(NetTxError.None, VirtioNetHeader.TryParseTx(raw, 30000, AllHost, out VirtioNetHeader header));
        Assert.Equal(new OffloadInfo(1, 1, 66, 1448, 34, 16), header.ToOffloadInfo());
    }

    [Fact]
    public void TryParseTx_UnknownAndDataValidFlags_IgnoredAndChecksumFieldsZeroed()
    {
        // virtio 1.2 §5.1.6.2.2: the device ignores flag bits it does not recognise, and must not use csum_* without NEEDS_CSUM.
        byte[] raw = Raw(VirtioNetHeader.FlagDataValid | 0x40, 0, 0, 77, 12, 3, 5);
        Assert.Equal(NetTxError.None, VirtioNetHeader.TryParseTx(raw, 60, NegotiatedFeatures.None, out VirtioNetHeader header));
        Assert.Equal(new VirtioNetHeader(0, 0, 0, 0, 0, 0, 0), header);
    }

    [Fact]
    public void TryParseTx_FewerThan12Bytes_ReturnsShorterThanHeader() =>
        Assert.Equal(NetTxError.ShorterThanHeader, VirtioNetHeader.TryParseTx(new byte[11], 60, AllHost, out _));

    [Fact]
    public void TryParseTx_NeedsCsumWithoutCsumFeature_ReturnsChecksumNotNegotiated() =>
        Assert.Equal(NetTxError.ChecksumNotNegotiated, Parse(Raw(VirtioNetHeader.FlagNeedsChecksum, 0, 0, 0, 34, 16), NegotiatedFeatures.None));

    [Theory]
    [InlineData(34, 16, 51)]   // checksum at 50..51 needs 52 bytes
    [InlineData(60, 0, 60)]
    [InlineData(65535, 65535, 1514)]
    public void TryParseTx_ChecksumBeyondFrame_ReturnsChecksumOutsideFrame(int start, int offset, int frameLength) =>
        Assert.Equal(NetTxError.ChecksumOutsideFrame, Parse(Raw(VirtioNetHeader.FlagNeedsChecksum, 0, 0, 0, (ushort)start, (ushort)offset), frameLength: frameLength));

    [Fact]
    public void TryParseTx_ChecksumEndingAtFrameEnd_Accepted() =>
        Assert.Equal(NetTxError.None, Parse(Raw(VirtioNetHeader.FlagNeedsChecksum, 0, 0, 0, 34, 16), frameLength: 52));

    [Theory]
    [InlineData(2)]
    [InlineData(6)]
    [InlineData(0x20 | 1)]  // UDP tunnel bits are never offered
    [InlineData(0x80)]      // ECN without a TCP GSO type
    [InlineData(0x80 | 3)]  // ECN on UDP
    public void TryParseTx_UnknownGsoType_ReturnsGsoTypeUnknown(int gsoType) =>
        Assert.Equal(NetTxError.GsoTypeUnknown, Parse(Raw(VirtioNetHeader.FlagNeedsChecksum, (byte)gsoType, 54, 1448, 34, 16)));

    [Theory]
    [InlineData(VirtioNetHeader.GsoTcpV4, NegotiatedFeatures.HostTso4)]
    [InlineData(VirtioNetHeader.GsoTcpV6, NegotiatedFeatures.HostTso6)]
    [InlineData(VirtioNetHeader.GsoUdp, NegotiatedFeatures.HostUfo)]
    [InlineData(VirtioNetHeader.GsoUdpL4, NegotiatedFeatures.HostUso)]
    public void TryParseTx_GsoTypeWithoutItsFeature_ReturnsGsoNotNegotiated(byte gsoType, NegotiatedFeatures feature)
    {
        byte[] raw = Raw(VirtioNetHeader.FlagNeedsChecksum, gsoType, 54, 1448, 34, 6);
        Assert.Equal(NetTxError.GsoNotNegotiated, Parse(raw, AllHost & ~feature));
        Assert.Equal(NetTxError.None, Parse(raw, NegotiatedFeatures.Csum | feature));
    }

    [Fact]
    public void TryParseTx_EcnWithoutHostEcn_ReturnsEcnNotNegotiated() =>
        Assert.Equal(NetTxError.EcnNotNegotiated, Parse(
            Raw(VirtioNetHeader.FlagNeedsChecksum, VirtioNetHeader.GsoTcpV4 | VirtioNetHeader.GsoEcn, 54, 1448, 34, 16),
            AllHost & ~NegotiatedFeatures.HostEcn));

    [Fact]
    public void TryParseTx_GsoWithoutNeedsCsum_ReturnsGsoWithoutChecksum() =>
        Assert.Equal(NetTxError.GsoWithoutChecksum, Parse(Raw(0, VirtioNetHeader.GsoTcpV4, 54, 1448)));

    [Fact]
    public void TryParseTx_GsoSizeZero_ReturnsGsoSizeZero() =>
        Assert.Equal(NetTxError.GsoSizeZero, Parse(Raw(VirtioNetHeader.FlagNeedsChecksum, VirtioNetHeader.GsoTcpV6, 74, 0, 54, 16)));

    [Fact]
    public void TryParseTx_HdrLenBeyondFrame_ReturnsHeaderLengthBeyondFrame() =>
        Assert.Equal(NetTxError.HeaderLengthBeyondFrame, Parse(Raw(hdrLen: 61), frameLength: 60));
}
