// Frames through the whole path: guest driver, rings in shared memfd memory, the back-end's queues.
//
// Theory of operation: after the front-end's QEMU sequence has started the rings, the test kit's
// VirtioNetDriver (guest side) and TestDataPlane (device side, SplitQueue + NetTx/NetRx on the
// SplitQueue the back-end built) exchange frames through the same memory pages, as a guest and a
// vhost-user back-end do. These tests pin the driver's layouts (one buffer, header apart, header split
// over two buffers, indirect table), mergeable and single-buffer receive, multiqueue, and one run
// against a back-end on its own thread behind a real listening socket path.
using System.Net.Sockets;
using Switchyard.Core.Frames;
using Switchyard.TestKit.VhostUser;
using Switchyard.VhostUser.Tests.Support;
using Switchyard.Virtio;

namespace Switchyard.VhostUser.Tests;

[Collection(DescriptorTableCollection.Name)]
public class DataPathTests
{
    [Theory]
    [InlineData(TxLayout.Single)]
    [InlineData(TxLayout.HeaderApart)]
    [InlineData(TxLayout.ThreeWay)]
    [InlineData(TxLayout.Indirect)]
    public void SendFrame_AnyLayout_DataPlaneGetsTheFrame(TxLayout layout) => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start();
        byte[] frame = Frames.Make(1514, 7);

        driver.SendFrame(frame, layout: layout);

        Assert.True(driver.WaitForCall(BackendHarness.LongWait, ringIndex: 1));
        (int ring, byte[] received, VirtioNetHeader header) = Assert.Single(h.DataPlane.TxFrames);
        Assert.Equal(1, ring);
        Assert.Equal(frame, received);
        Assert.Equal(default, header);
        Assert.Equal(1, driver.ReclaimTx());
        Assert.Equal(driver.TxRing().Size, driver.TxRing().FreeCount);
    });

    [Fact]
    public void SendFrame_ManyMoreThanTheRingHolds_EveryFrameArrivesInOrder() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver(new VirtioNetDriverOptions { TxQueueSize = 16 });
        driver.Start();

        for (int i = 0; i < 100; i++)
        {
            driver.SendFrame(Frames.Make(60 + i, (byte)i), layout: (TxLayout)(i % 4));
            Assert.True(driver.WaitForCall(BackendHarness.LongWait, ringIndex: 1));
        }

        Assert.Equal(100, h.DataPlane.TxFrames.Count);
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(Frames.Make(60 + i, (byte)i), h.DataPlane.TxFrames[i].Frame);
        }

        Assert.Empty(h.DataPlane.QueueErrors);
    });

    [Fact]
    public void SendFrame_WithChecksumOffload_DeviceSeesTheHeader() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start();
        var offload = new OffloadInfo(OffloadInfo.FlagNeedsChecksum, OffloadInfo.GsoNone, 0, 0, 34, 16);

        driver.SendFrame(Frames.Make(100, 3), offload, TxLayout.HeaderApart);

        Assert.True(driver.WaitForCall(BackendHarness.LongWait, ringIndex: 1));
        VirtioNetHeader header = Assert.Single(h.DataPlane.TxFrames).Header;
        Assert.Equal(offload, header.ToOffloadInfo());
    });

    [Fact]
    public void ReceiveFrame_MergeableSmallBuffers_FrameSpansNumBuffers() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start();
        Assert.True(driver.Mergeable);
        driver.PostRxBuffers(8, 256);
        byte[] frame = Frames.Make(1000, 9);

        Assert.Equal(NetRxStatus.Delivered, h.DataPlane.Deliver(0, frame));

        Assert.True(driver.WaitForCall(BackendHarness.LongWait, ringIndex: 0));
        Assert.True(driver.TryReceiveFrame(out byte[] received, out GuestNetHeader header));
        Assert.Equal(frame, received);
        Assert.Equal(4, header.NumBuffers); // 12 + 1000 bytes in 256-byte buffers.
        Assert.False(driver.TryReceiveFrame(out _, out _));
    });

    [Fact]
    public void ReceiveFrame_WithoutMergeable_OneBufferPerFrame() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start(new NegotiateOptions { WantedFeatures = FrontEndFeatures.LinuxGuestDefaults & ~FrontEndFeatures.Bit(FrontEndFeatures.MrgRxbuf) });
        Assert.False(driver.Mergeable);
        driver.PostRxBuffers(4, 1526 + 12);

        Assert.Equal(NetRxStatus.Delivered, h.DataPlane.Deliver(0, Frames.Make(1514, 1)));
        Assert.Equal(NetRxStatus.Delivered, h.DataPlane.Deliver(0, Frames.Make(60, 2)));

        Assert.True(driver.WaitForCall(BackendHarness.LongWait, ringIndex: 0));
        Assert.True(driver.TryReceiveFrame(out byte[] first, out GuestNetHeader firstHeader));
        Assert.True(driver.TryReceiveFrame(out byte[] second, out _));
        Assert.Equal(Frames.Make(1514, 1), first);
        Assert.Equal(Frames.Make(60, 2), second);
        Assert.Equal(1, firstHeader.NumBuffers);
    });

    [Fact]
    public void Traffic_TwoQueuePairs_EachPairCarriesItsOwnFrames() => BackendHarness.RunChecked(
        h =>
        {
            using VirtioNetDriver driver = h.CreateDriver(new VirtioNetDriverOptions { QueuePairs = 2 });
            driver.Start();
            driver.PostRxBuffers(4, 2048, pair: 1);

            driver.SendFrame(Frames.Make(80, 1), pair: 1);
            Assert.True(driver.WaitForCall(BackendHarness.LongWait, ringIndex: 3));
            Assert.Equal(NetRxStatus.Delivered, h.DataPlane.Deliver(2, Frames.Make(90, 2)));
            Assert.True(driver.WaitForCall(BackendHarness.LongWait, ringIndex: 2));

            Assert.Equal(3, Assert.Single(h.DataPlane.TxFrames).Ring);
            Assert.True(driver.TryReceiveFrame(out byte[] received, out _, pair: 1));
            Assert.Equal(Frames.Make(90, 2), received);
            Assert.False(driver.TryReceiveFrame(out _, out _, pair: 0));
        },
        new VhostUserBackendOptions(MaxQueuePairs: 2));

    [Fact]
    public void FrontEnd_ConnectedBySocketPath_NegotiatesAndCarriesAFrame()
    {
        string directory = Directory.CreateTempSubdirectory("switchyard-vhost-").FullName;
        string path = Path.Combine(directory, "vhost.sock");
        try
        {
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            var device = new RecordingDevice();
            var dataPlane = new TestDataPlane(device);
            using var stop = new CancellationTokenSource();

            // The back-end runs on its own thread, as it will behind the real listener: accept, then pump.
            var backEnd = new Thread(() =>
            {
                using Socket connection = listener.Accept();
                using var backend = new VhostUserBackend(new VhostUserBackendOptions(), device);
                using var pump = new ConnectionPump(backend, (int)connection.Handle, connection);
                pump.Run(stop.Token, dataPlane.Run);
            })
            { IsBackground = true };
            backEnd.Start();
            try
            {
                using var frontEnd = VhostUserFrontEnd.Connect(path);
                using var driver = new VirtioNetDriver(frontEnd);
                driver.Start();
                driver.SendFrame(Frames.Make(64, 5));

                Assert.True(driver.WaitForCall(BackendHarness.LongWait, ringIndex: 1));
                Assert.Equal(Frames.Make(64, 5), Assert.Single(dataPlane.TxFrames).Frame);
                Assert.Equal(2, device.EventsOf(DeviceEventKind.RingStarted).Length);
            }
            finally
            {
                stop.Cancel();
                Assert.True(backEnd.Join(BackendHarness.LongWait));
            }

            Assert.Equal(2, device.EventsOf(DeviceEventKind.RingStopped).Length);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
