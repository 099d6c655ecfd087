// Tests of NetRx: mergeable and single-buffer delivery with exact bytes and used lengths, rollback when
// buffers run out, chains returned empty, dirty logging, and the RX header's offload negotiation.
using System.Buffers.Binary;
using Switchyard.Core.Frames;
using Switchyard.Virtio.Tests.Support;

namespace Switchyard.Virtio.Tests;

/// <summary>Frames into RX queues: mergeable buffers, single-buffer mode, rollback, offload negotiation,
/// and the RX chain rules (virtio 1.2 §5.1.6.3, §5.1.6.4).</summary>
public class NetRxTests
{
    private const NegotiatedFeatures Mrg = NegotiatedFeatures.Version1 | NegotiatedFeatures.MrgRxbuf;

    private readonly HeapGuestMemory memory = new(0x10_0000, 1 << 20);
    private readonly GuestDriver driver;
    private readonly SplitQueue queue;

    public NetRxTests()
    {
        driver = new GuestDriver(memory, 16);
        queue = driver.CreateQueue();
    }

    private static byte[] Frame(int length, ushort etherType = Ethernet.EtherTypeIPv4)
    {
        byte[] frame = new byte[length];
        for (int i = 0; i < length; i++)
        {
            frame[i] = (byte)((i * 13) + 1);
        }

        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), etherType);
        return frame;
    }

    private VirtioNetHeader HeaderAt(ulong address) => VirtioNetHeader.Read(memory.At(address, VirtioNetHeader.Size));

    [Fact]
    public void TryDeliver_MergeableSpanningThreeBuffers_NumBuffersThreeAndExactBytes()
    {
        var rx = new NetRx(queue, Mrg);
        var buffers = new (ushort Head, ulong Address)[3];
        for (int i = 0; i < 3; i++)
        {
            buffers[i] = driver.PostBuffer(1000, writable: true);
        }

        byte[] frame = Frame(2500);
        Assert.Equal(NetRxStatus.Delivered, rx.TryDeliver(new EgressFrame(frame)));
        Assert.Equal(3, rx.LastNumBuffers);
        Assert.True(queue.PublishUsed());

        Assert.Equal(3, driver.UsedIdx);
        Assert.Equal(((uint)buffers[0].Head, 1000u), driver.UsedElement(0));
        Assert.Equal(((uint)buffers[1].Head, 1000u), driver.UsedElement(1));
        Assert.Equal(((uint)buffers[2].Head, 512u), driver.UsedElement(2));

        Assert.Equal(new VirtioNetHeader(0, 0, 0, 0, 0, 0, 3), HeaderAt(buffers[0].Address));
        byte[] received = [.. driver.Read(buffers[0].Address + 12, 988), .. driver.Read(buffers[1].Address, 1000), .. driver.Read(buffers[2].Address, 512)];
        Assert.Equal(frame, received);

        // Nothing beyond the used length of the last buffer was written.
        Assert.All(driver.Read(buffers[2].Address + 512, 488), b => Assert.Equal(0, b));
    }

    [Fact]
    public void TryDeliver_MergeableFitsOneBuffer_NumBuffersOne()
    {
        var rx = new NetRx(queue, Mrg);
        var (head, address) = driver.PostBuffer(2048, writable: true);
        byte[] frame = Frame(60);
        Assert.Equal(NetRxStatus.Delivered, rx.TryDeliver(new EgressFrame(frame)));
        queue.PublishUsed();
        Assert.Equal(((uint)head, 72u), driver.UsedElement(0));
        Assert.Equal(1, HeaderAt(address).NumBuffers);
        Assert.Equal(frame, driver.Read(address + 12, 60));
    }

    [Fact]
    public void TryDeliver_HeaderStraddlingDescriptors_WrittenAcrossThem()
    {
        var rx = new NetRx(queue, Mrg);
        GuestBuffer a = driver.WritableBuffer(5), b = driver.WritableBuffer(200);
        ushort head = driver.PostChain(a, b);
        byte[] frame = Frame(100);
        Assert.Equal(NetRxStatus.Delivered, rx.TryDeliver(new EgressFrame(frame)));
        queue.PublishUsed();
        Assert.Equal(((uint)head, 112u), driver.UsedElement(0));
        byte[] stream = [.. driver.Read(a.Address, 5), .. driver.Read(b.Address, 107)];
        Assert.Equal(1, VirtioNetHeader.Read(stream).NumBuffers);
        Assert.Equal(frame, stream[12..]);
    }

    [Fact]
    public void TryDeliver_NotMergeableOneBigBuffer_NumBuffersOne()
    {
        var rx = new NetRx(queue, NegotiatedFeatures.Version1);
        var (head, address) = driver.PostBuffer(1526, writable: true);
        byte[] frame = Frame(1514);
        Assert.Equal(NetRxStatus.Delivered, rx.TryDeliver(new EgressFrame(frame)));
        queue.PublishUsed();
        Assert.Equal(((uint)head, 1526u), driver.UsedElement(0));
        Assert.Equal(1, HeaderAt(address).NumBuffers);
        Assert.Equal(frame, driver.Read(address + 12, 1514));
    }

    [Fact]
    public void TryDeliver_NotMergeableBufferTooSmall_DropsFrameAndKeepsBufferForNext()
    {
        var rx = new NetRx(queue, NegotiatedFeatures.Version1);
        var (head, address) = driver.PostBuffer(512, writable: true);

        Assert.Equal(NetRxStatus.BufferTooSmall, rx.TryDeliver(new EgressFrame(Frame(1514))));
        Assert.Equal(0, queue.NextAvail);
        Assert.Equal(0, queue.UsedIdx);
        Assert.False(queue.PublishUsed());

        byte[] small = Frame(400);
        Assert.Equal(NetRxStatus.Delivered, rx.TryDeliver(new EgressFrame(small)));
        queue.PublishUsed();
        Assert.Equal(((uint)head, 412u), driver.UsedElement(0));
        Assert.Equal(small, driver.Read(address + 12, 400));
    }

    [Fact]
    public void TryDeliver_BuffersRunOutMidFrame_RollsBackAndLaterUsesSameBuffers()
    {
        var rx = new NetRx(queue, Mrg);
        ushort first = driver.PostBuffer(1000, writable: true).Head;
        ushort second = driver.PostBuffer(1000, writable: true).Head;
        byte[] frame = Frame(2500);

        Assert.Equal(NetRxStatus.NoBuffers, rx.TryDeliver(new EgressFrame(frame)));
        Assert.Equal(0, queue.NextAvail);
        Assert.Equal(0, queue.UsedIdx);
        Assert.False(queue.PublishUsed());
        Assert.Equal(0, driver.UsedIdx);

        ushort third = driver.PostBuffer(1000, writable: true).Head;
        Assert.Equal(NetRxStatus.Delivered, rx.TryDeliver(new EgressFrame(frame)));
        queue.PublishUsed();
        Assert.Equal(first, (ushort)driver.UsedElement(0).Id);
        Assert.Equal(second, (ushort)driver.UsedElement(1).Id);
        Assert.Equal(third, (ushort)driver.UsedElement(2).Id);
        Assert.Equal(3, queue.NextAvail);
    }

    [Fact]
    public void TryDeliver_NoBuffersAtAll_ReturnsNoBuffers()
    {
        var rx = new NetRx(queue, Mrg);
        Assert.Equal(NetRxStatus.NoBuffers, rx.TryDeliver(new EgressFrame(Frame(60))));
        Assert.Equal(0, queue.NextAvail);
    }

    [Fact]
    public void TryDeliver_ReadableDescriptorInRxChain_ReturnsFrameChainsEmpty()
    {
        var rx = new NetRx(queue, Mrg);
        ushort good = driver.PostBuffer(100, writable: true).Head;
        ushort bad = driver.PostChain(driver.Readable(new byte[100]));
        Assert.Equal(NetRxStatus.ReadableDescriptor, rx.TryDeliver(new EgressFrame(Frame(500))));
        queue.PublishUsed();
        Assert.Equal(2, driver.UsedIdx);
        Assert.Equal(((uint)good, 0u), driver.UsedElement(0));
        Assert.Equal(((uint)bad, 0u), driver.UsedElement(1));
    }

    [Fact]
    public void TryDeliver_MergeableBufferShorterThanHeader_ReturnsBufferShorterThanHeader()
    {
        var rx = new NetRx(queue, Mrg);
        ushort head = driver.PostBuffer(11, writable: true).Head;
        Assert.Equal(NetRxStatus.BufferShorterThanHeader, rx.TryDeliver(new EgressFrame(Frame(60))));
        queue.PublishUsed();
        Assert.Equal(((uint)head, 0u), driver.UsedElement(0));
    }

    [Fact]
    public void TryDeliver_ChainBreakingQueueRule_ReturnsInvalidChainAndReturnsItEmpty()
    {
        var rx = new NetRx(queue, Mrg);
        driver.WriteDescriptor(7, driver.Alloc(64), 64, GuestDriver.Write | GuestDriver.Next, next: 7);
        driver.Post(7);
        Assert.Equal(NetRxStatus.InvalidChain, rx.TryDeliver(new EgressFrame(Frame(60))));
        Assert.Equal(QueueError.DescriptorLoop, rx.LastQueueError);
        queue.PublishUsed();
        Assert.Equal((7u, 0u), driver.UsedElement(0));
    }

    [Fact]
    public void TryDeliver_BrokenQueue_ReturnsQueueBroken()
    {
        var rx = new NetRx(queue, Mrg);
        driver.SetAvailIdx(100);
        Assert.Equal(NetRxStatus.QueueBroken, rx.TryDeliver(new EgressFrame(Frame(60))));
        Assert.Equal(QueueError.AvailIndexJump, rx.LastQueueError);
        Assert.Equal(NetRxStatus.QueueBroken, rx.TryDeliver(new EgressFrame(Frame(60))));
    }

    [Fact]
    public void TryDeliver_FrameLongerThan65550_ReturnsFrameTooLong()
    {
        var rx = new NetRx(queue, Mrg);
        driver.PostBuffer(70000, writable: true);
        Assert.Equal(NetRxStatus.FrameTooLong, rx.TryDeliver(new EgressFrame(Frame(65551))));
        Assert.Equal(0, queue.NextAvail);
    }

    [Fact]
    public void TryDeliver_VlanInsert_AppliedWhileScattering()
    {
        var rx = new NetRx(queue, Mrg);
        var (_, a) = driver.PostBuffer(40, writable: true);
        var (_, b) = driver.PostBuffer(100, writable: true);
        byte[] frame = Frame(60);
        var egress = new EgressFrame(frame, VlanRewrite.Insert, 0x0064, OffloadInfo.None);
        byte[] expected = new byte[egress.Length];
        egress.CopyTo(expected);
        Assert.Equal(NetRxStatus.Delivered, rx.TryDeliver(egress));
        Assert.Equal(2, HeaderAt(a).NumBuffers);
        byte[] received = [.. driver.Read(a + 12, 28), .. driver.Read(b, 36)];
        Assert.Equal(expected, received);
    }

    [Fact]
    public void TryDeliver_DirtyLogging_LogsEveryWrittenByte()
    {
        memory.Logging = true;
        var rx = new NetRx(queue, Mrg);
        var (_, a) = driver.PostBuffer(1000, writable: true);
        var (_, b) = driver.PostBuffer(1000, writable: true);
        Assert.Equal(NetRxStatus.Delivered, rx.TryDeliver(new EgressFrame(Frame(1500))));
        var logged = new HashSet<ulong>();
        foreach (var (address, length) in memory.Dirty)
        {
            for (ulong i = 0; i < (ulong)length; i++)
            {
                logged.Add(address + i);
            }
        }

        for (ulong i = 0; i < 1000; i++)
        {
            Assert.Contains(a + i, logged);
        }

        for (ulong i = 0; i < 512; i++)
        {
            Assert.Contains(b + i, logged);
        }

        Assert.DoesNotContain(b + 512, logged);
    }

    // ---- Offloads on the RX header ----

    private VirtioNetHeader DeliverWith(NegotiatedFeatures features, OffloadInfo offload, NetRxStatus expected = NetRxStatus.Delivered, ushort etherType = Ethernet.EtherTypeIPv4)
    {
        var rx = new NetRx(queue, Mrg | features);
        var (_, address) = driver.PostBuffer(2048, writable: true);
        Assert.Equal(expected, rx.TryDeliver(new EgressFrame(Frame(1000, etherType), VlanRewrite.None, 0, offload)));
        return HeaderAt(address);
    }

    [Fact]
    public void TryDeliver_NeedsCsumWithoutGuestCsum_ReturnsOffloadNotNegotiated()
    {
        DeliverWith(NegotiatedFeatures.None, new OffloadInfo(OffloadInfo.FlagNeedsChecksum, 0, 0, 0, 34, 16), NetRxStatus.OffloadNotNegotiated);
        Assert.Equal(0, queue.NextAvail);
    }

    [Fact]
    public void TryDeliver_NeedsCsumWithGuestCsum_PassedThrough() =>
        Assert.Equal(
            new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, 0, 0, 0, 34, 16, 1),
            DeliverWith(NegotiatedFeatures.GuestCsum, new OffloadInfo(OffloadInfo.FlagNeedsChecksum, 0, 0, 0, 34, 16)));

    [Fact]
    public void TryDeliver_DataValidWithoutGuestCsum_FlagsZero() =>
        Assert.Equal(0, DeliverWith(NegotiatedFeatures.None, new OffloadInfo(OffloadInfo.FlagDataValid, 0, 0, 0, 0, 0)).Flags);

    [Fact]
    public void TryDeliver_DataValidWithGuestCsum_PassedThrough() =>
        Assert.Equal(VirtioNetHeader.FlagDataValid, DeliverWith(NegotiatedFeatures.GuestCsum, new OffloadInfo(OffloadInfo.FlagDataValid, 0, 0, 0, 0, 0)).Flags);

    [Fact]
    public void TryDeliver_TcpV4GsoWithoutGuestTso4_ReturnsOffloadNotNegotiated() =>
        DeliverWith(NegotiatedFeatures.GuestCsum, new OffloadInfo(1, OffloadInfo.GsoTcpV4, 54, 1448, 34, 16), NetRxStatus.OffloadNotNegotiated);

    [Fact]
    public void TryDeliver_TcpV4GsoWithGuestTso4_PassedThrough() =>
        Assert.Equal(
            new VirtioNetHeader(1, OffloadInfo.GsoTcpV4, 54, 1448, 34, 16, 1),
            DeliverWith(NegotiatedFeatures.GuestCsum | NegotiatedFeatures.GuestTso4, new OffloadInfo(1, OffloadInfo.GsoTcpV4, 54, 1448, 34, 16)));

    [Fact]
    public void TryDeliver_EcnWithoutGuestEcn_ReturnsOffloadNotNegotiated() =>
        DeliverWith(
            NegotiatedFeatures.GuestCsum | NegotiatedFeatures.GuestTso4,
            new OffloadInfo(1, OffloadInfo.GsoTcpV4 | OffloadInfo.GsoEcn, 54, 1448, 34, 16),
            NetRxStatus.OffloadNotNegotiated);

    [Theory]
    [InlineData(Ethernet.EtherTypeIPv4, NegotiatedFeatures.GuestUso4, NetRxStatus.Delivered)]
    [InlineData(Ethernet.EtherTypeIPv4, NegotiatedFeatures.GuestUso6, NetRxStatus.OffloadNotNegotiated)]
    [InlineData(Ethernet.EtherTypeIPv6, NegotiatedFeatures.GuestUso6, NetRxStatus.Delivered)]
    [InlineData(Ethernet.EtherTypeIPv6, NegotiatedFeatures.GuestUso4, NetRxStatus.OffloadNotNegotiated)]
    public void TryDeliver_UdpL4Gso_NeedsUsoFeatureOfItsIpVersion(ushort etherType, NegotiatedFeatures uso, NetRxStatus expected) =>
        DeliverWith(NegotiatedFeatures.GuestCsum | uso, new OffloadInfo(1, OffloadInfo.GsoUdpL4, 42, 1400, 34, 6), expected, etherType);
}
