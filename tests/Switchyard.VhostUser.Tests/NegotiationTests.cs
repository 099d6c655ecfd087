// The back-end under a well-behaved front-end: QEMU's start-up sequence, ring lifecycle, replies.
//
// Theory of operation: each test drives a real VhostUserBackend through the test kit's front-end over a
// socketpair (BackendHarness: front-end, connection pump, recording device and data plane on the
// test's thread) and checks what a conforming back-end must do (vhost-user.rst; interop.md §2.4-§2.10):
// every ring configured by the sequence starts with its Queue Size, GET_VRING_BASE stops a ring and
// answers the next available index, REPLY_ACK answers 0, the GET_* requests report the options. Every
// test also checks, through RunChecked, that no descriptor outlives the connection.
using Switchyard.Native;
using Switchyard.TestKit.VhostUser;
using Switchyard.VhostUser.Tests.Support;

namespace Switchyard.VhostUser.Tests;

[Collection(DescriptorTableCollection.Name)]
public class NegotiationTests
{
    [Fact]
    public void Negotiate_OneQueuePair_StartsBothRingsWithTheirQueueSizes() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver(new VirtioNetDriverOptions { RxQueueSize = 512, TxQueueSize = 256 });
        NegotiationResult result = driver.Start();

        Assert.Equal(
            [new DeviceEvent(DeviceEventKind.RingStarted, 0, 512), new DeviceEvent(DeviceEventKind.RingStarted, 1, 256)],
            h.Device.EventsOf(DeviceEventKind.RingStarted));
        Assert.True(h.Device.Rings[0].Enabled);
        Assert.True(h.Device.Rings[1].Enabled);
        Assert.Equal(0, h.Backend.BrokenRings);
        Assert.Equal(result.AckedFeatures & ~FrontEndFeatures.Bit(FrontEndFeatures.ProtocolFeatures), (ulong)h.Device.Features & ~FrontEndFeatures.Bit(FrontEndFeatures.ProtocolFeatures));
        Assert.True(FrontEndFeatures.Has(result.AckedFeatures, FrontEndFeatures.Version1));
        h.AssertOpen();
    });

    [Fact]
    public void Negotiate_TwoQueuePairs_StartsFourRingsWithTheirQueueSizes() => BackendHarness.RunChecked(
        h =>
        {
            using VirtioNetDriver driver = h.CreateDriver(new VirtioNetDriverOptions { QueuePairs = 2, RxQueueSize = 1024, TxQueueSize = 128 });
            NegotiationResult result = driver.Start();

            Assert.Equal(2UL, result.QueueNum);
            Assert.Equal(
                [
                    new DeviceEvent(DeviceEventKind.RingStarted, 0, 1024),
                    new DeviceEvent(DeviceEventKind.RingStarted, 1, 128),
                    new DeviceEvent(DeviceEventKind.RingStarted, 2, 1024),
                    new DeviceEvent(DeviceEventKind.RingStarted, 3, 128),
                ],
                h.Device.EventsOf(DeviceEventKind.RingStarted));
            Assert.All(h.Device.Rings.Values, ring => Assert.True(ring.Enabled));
            h.AssertOpen();
        },
        new VhostUserBackendOptions(MaxQueuePairs: 2));

    [Fact]
    public void Negotiate_MoreQueuePairsThanTheBackEndHas_FrontEndStops() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver(new VirtioNetDriverOptions { QueuePairs = 2 });

        VhostUserFrontEndException ex = Assert.Throws<VhostUserFrontEndException>(() => driver.Start());

        Assert.Contains("supports 1", ex.Message, StringComparison.Ordinal);
        Assert.Empty(h.Device.EventsOf(DeviceEventKind.RingStarted));
    });

    [Fact]
    public void Negotiate_QemuSequence_EveryMessageIsHandledInOrder() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start();

        FrontEndRequest[] ring =
        [
            FrontEndRequest.SetVringNum, FrontEndRequest.SetVringBase, FrontEndRequest.SetVringAddr,
            FrontEndRequest.SetVringKick, FrontEndRequest.SetVringCall,
        ];
        FrontEndRequest[] expected =
        [
            FrontEndRequest.GetFeatures, FrontEndRequest.GetProtocolFeatures, FrontEndRequest.SetProtocolFeatures,
            FrontEndRequest.GetQueueNum, FrontEndRequest.GetMaxMemSlots, FrontEndRequest.SetOwner, FrontEndRequest.GetFeatures,
            FrontEndRequest.SetVringCall, FrontEndRequest.SetVringErr, FrontEndRequest.SetVringCall, FrontEndRequest.SetVringErr,
            FrontEndRequest.SetVringEnable, FrontEndRequest.SetVringEnable, FrontEndRequest.SetFeatures, FrontEndRequest.AddMemReg,
            .. ring, .. ring,
        ];
        Assert.Equal(expected, h.FrontEnd.Sent);
        Assert.Equal(Array.ConvertAll(expected, r => (VhostUserRequest)(uint)r), h.Pump.Handled);
    });

    [Theory]
    [InlineData(MemoryTableMode.SetMemTable, false)]
    [InlineData(MemoryTableMode.SetMemTable, true)]
    [InlineData(MemoryTableMode.AddMemReg, false)]
    [InlineData(MemoryTableMode.AddMemReg, true)]
    public void Negotiate_EitherMemoryTableMessage_MapsMemoryAndStartsRings(MemoryTableMode mode, bool twoRegions) => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver(new VirtioNetDriverOptions { TwoRegions = twoRegions });
        driver.Start(new NegotiateOptions { MemoryTable = mode });

        Assert.Equal(twoRegions ? 2 : 1, ((GuestMemory)h.Backend.Memory!).RegionCount);
        Assert.Equal(2, h.Device.Rings.Count);
        Assert.Contains(mode == MemoryTableMode.SetMemTable ? VhostUserRequest.SetMemTable : VhostUserRequest.AddMemReg, h.Pump.Handled);
    });

    [Fact]
    public void Negotiate_AddMemRegFromEveryQueuePairLikeQemu72_MapsOnceAndStartsEveryRing() => BackendHarness.RunChecked(
        h =>
        {
            using VirtioNetDriver driver = h.CreateDriver(new VirtioNetDriverOptions { QueuePairs = 2, TwoRegions = true });
            driver.Start(new NegotiateOptions { MemoryTable = MemoryTableMode.AddMemReg, MemRegPerQueuePair = true });

            Assert.Equal(4, h.Pump.Handled.Count(r => r == VhostUserRequest.AddMemReg));
            Assert.Equal(2, ((GuestMemory)h.Backend.Memory!).RegionCount);
            Assert.Equal(4, h.Device.Rings.Count);

            // Pair 1's copies go first; the regions stay mapped until pair 0's go too.
            h.FrontEnd.RemMemReg(driver.Memory.Regions[1]);
            Assert.Equal(2, ((GuestMemory)h.Backend.Memory!).RegionCount);
            h.FrontEnd.RemMemReg(driver.Memory.Regions[1]);
            Assert.Equal(1, ((GuestMemory)h.Backend.Memory!).RegionCount);
            Assert.Equal(4, h.Device.Rings.Count); // The rings live in the first region.
            h.AssertOpen();
        },
        new VhostUserBackendOptions(MaxQueuePairs: 2));

    [Fact]
    public void Negotiate_EnableAfterStart_RingsStartThenGetEnabled() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start(new NegotiateOptions { EnableOrder = VringEnableOrder.AfterStart });

        DeviceEvent[] events = h.Device.Events;
        int started = Array.FindLastIndex(events, e => e.Kind == DeviceEventKind.RingStarted);
        int enabled = Array.FindIndex(events, e => e.Kind == DeviceEventKind.RingEnabled && e.Value == 1);
        Assert.True(started < enabled);
        Assert.True(h.Device.Rings[0].Enabled);
        Assert.True(h.Device.Rings[1].Enabled);
    });

    [Fact]
    public void Negotiate_OnlyFirstPairEnabled_SecondPairStartsDisabled() => BackendHarness.RunChecked(
        h =>
        {
            using VirtioNetDriver driver = h.CreateDriver(new VirtioNetDriverOptions { QueuePairs = 2 });
            driver.Start(new NegotiateOptions { EnabledQueuePairs = 1 });

            Assert.Equal(4, h.Device.Rings.Count);
            Assert.True(h.Device.Rings[0].Enabled && h.Device.Rings[1].Enabled);
            Assert.False(h.Device.Rings[2].Enabled || h.Device.Rings[3].Enabled);
        },
        new VhostUserBackendOptions(MaxQueuePairs: 2));

    [Fact]
    public void GetVringBase_AfterThreeFrames_ReturnsThreeAndStopsTheRing() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start();
        for (int i = 0; i < 3; i++)
        {
            driver.SendFrame(Frames.Make(60, (byte)i));
        }

        Assert.True(driver.WaitForCall(BackendHarness.LongWait, ringIndex: 1));
        Assert.Equal(3, h.DataPlane.TxFrames.Count);

        Assert.Equal(3, h.FrontEnd.GetVringBase(1));
        Assert.Contains(new DeviceEvent(DeviceEventKind.RingStopped, 1, 0), h.Device.Events);
        Assert.False(h.Device.Rings.ContainsKey(1));
        Assert.True(h.Device.Rings.ContainsKey(0));

        // Suspended: the RX ring is still started; stopping it too leaves nothing for the data plane.
        Assert.Equal(0, h.FrontEnd.GetVringBase(0));
        Assert.Empty(h.Device.Rings);
        h.AssertOpen();
    });

    [Fact]
    public void GetVringBase_RingStartedAtABase_ReturnsBasePlusChainsPopped() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.RxRing().ResetIndices(65530);
        driver.TxRing().ResetIndices(65534);
        driver.Start();
        for (int i = 0; i < 4; i++)
        {
            driver.SendFrame(Frames.Make(60, (byte)i));
        }

        Assert.True(driver.WaitForCall(BackendHarness.LongWait, ringIndex: 1));

        Assert.Equal(4, h.DataPlane.TxFrames.Count);
        Assert.Equal(2, h.FrontEnd.GetVringBase(1)); // 65534 + 4 wraps past 65535 (free-running u16).
        Assert.Equal(65530, h.FrontEnd.GetVringBase(0));
    });

    [Fact]
    public void GetVringBase_ThenRestart_RingResumesWhereItStopped() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start();
        driver.SendFrame(Frames.Make(60, 1));
        Assert.True(driver.WaitForCall(BackendHarness.LongWait, ringIndex: 1));
        ushort next = h.FrontEnd.GetVringBase(1);

        // QEMU's vhost_virtqueue_start on a stopped ring: NUM, BASE, ADDR, KICK, CALL.
        h.FrontEnd.SetVringNum(1, driver.TxRing().Size);
        h.FrontEnd.SetVringBase(1, next);
        h.FrontEnd.SetVringAddr(1, driver.Memory, driver.TxRing().Layout);
        h.FrontEnd.SetVringKick(1);
        h.FrontEnd.SetVringCall(1);
        driver.SendFrame(Frames.Make(70, 2));

        Assert.True(driver.WaitForCall(BackendHarness.LongWait, ringIndex: 1));
        Assert.Equal(2, h.DataPlane.TxFrames.Count);
        Assert.Equal(2, h.Device.EventsOf(DeviceEventKind.RingStarted).Count(e => e.Ring == 1));
    });

    [Fact]
    public void SetVringKick_AgainOnARunningRing_RingGoesOnWhereItWas() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start();
        for (int i = 0; i < 3; i++)
        {
            driver.SendFrame(Frames.Make(60, (byte)i));
            Assert.True(driver.WaitForCall(BackendHarness.LongWait, ringIndex: 1));
        }

        h.FrontEnd.SetVringKick(1);
        driver.SendFrame(Frames.Make(99, 9));

        Assert.True(driver.WaitForCall(BackendHarness.LongWait, ringIndex: 1));
        Assert.Equal(4, h.DataPlane.TxFrames.Count); // Nothing popped twice.
        Assert.Equal(Frames.Make(99, 9), h.DataPlane.TxFrames[^1].Frame);
        Assert.Equal(0, driver.ForeignTxCompletions);
        Assert.Equal(4, h.FrontEnd.GetVringBase(1));
    });

    [Fact]
    public void ReplyAck_SuccessfulMessage_RepliesZero() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start();

        h.FrontEnd.Send(FrontEndRequest.SetVringEnable, VhostUserPayloads.VringState(0, 1), needReply: true);
        VhostUserReply reply = h.FrontEnd.ReadReply();

        Assert.Equal((uint)FrontEndRequest.SetVringEnable, reply.Request);
        Assert.Equal(VhostUserFrontEnd.ReplyFlag | VhostUserFrontEnd.Version, reply.Flags);
        Assert.Equal(8, reply.Payload.Length);
        Assert.Equal(0UL, reply.U64);
    });

    [Fact]
    public void ReplyAck_NotNegotiated_NeedReplyGetsNoReply() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start(new NegotiateOptions
        {
            WantedProtocolFeatures = FrontEndProtocolFeatures.Supported & ~FrontEndFeatures.Bit(FrontEndProtocolFeatures.ReplyAck),
        });

        h.FrontEnd.Send(FrontEndRequest.SetVringEnable, VhostUserPayloads.VringState(0, 1), needReply: true);

        Assert.False(h.FrontEnd.TryReadReply(BackendHarness.ShortWait, out _));
        h.AssertOpen();
    });

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(8)]
    public void GetQueueNum_Always_ReturnsMaxQueuePairs(int pairs) => BackendHarness.RunChecked(
        h =>
        {
            h.FrontEnd.SetProtocolFeatures(h.FrontEnd.GetProtocolFeatures() & FrontEndProtocolFeatures.Supported);

            Assert.Equal((ulong)pairs, h.FrontEnd.GetQueueNum());
        },
        new VhostUserBackendOptions(MaxQueuePairs: pairs));

    [Fact]
    public void GetMaxMemSlots_Always_ReturnsTheRegionLimit() => BackendHarness.RunChecked(h =>
    {
        h.FrontEnd.SetProtocolFeatures(h.FrontEnd.GetProtocolFeatures() & FrontEndProtocolFeatures.Supported);

        Assert.Equal((ulong)GuestMemory.MaxRegions, h.FrontEnd.GetMaxMemSlots());
    });

    [Fact]
    public void GetFeatures_DefaultOptions_OfferVersion1AndProtocolFeaturesAndTheDefaults() => BackendHarness.RunChecked(h =>
    {
        ulong features = h.FrontEnd.GetFeatures();
        ulong protocol = h.FrontEnd.GetProtocolFeatures();

        Assert.Equal(VhostUserBackendOptions.DefaultFeatures, features);
        Assert.Equal(VhostUserBackendOptions.DefaultProtocolFeatures, protocol);
        Assert.True(FrontEndFeatures.Has(features, FrontEndFeatures.Version1));
        Assert.True(FrontEndFeatures.Has(features, FrontEndFeatures.ProtocolFeatures));
        Assert.True(FrontEndFeatures.Has(protocol, FrontEndProtocolFeatures.ReplyAck));
    });

    [Fact]
    public void SetFeatures_WithoutProtocolFeaturesBit_EnablesEveryRing() => BackendHarness.RunChecked(
        h =>
        {
            using VirtioNetDriver driver = h.CreateDriver();
            driver.Start();

            Assert.Equal(2, h.Device.Rings.Count);
            Assert.All(h.Device.Rings.Values, ring => Assert.True(ring.Enabled));
            Assert.DoesNotContain(VhostUserRequest.SetVringEnable, h.Pump.Handled);
        },
        new VhostUserBackendOptions
        {
            Features = VhostUserBackendOptions.DefaultFeatures & ~FrontEndFeatures.Bit(FrontEndFeatures.ProtocolFeatures),
        });

    [Fact]
    public void SetVringEnable_Zero_ReportsTheRingDisabled() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start();

        h.FrontEnd.SetVringEnable(1, false);

        Assert.False(h.Device.Rings[1].Enabled);
        Assert.Equal(new DeviceEvent(DeviceEventKind.RingEnabled, 1, 0), h.Device.Events[^1]);
    });

    [Fact]
    public void SetVringCall_OnAStartedRing_ReportsTheNewCall() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start();

        h.FrontEnd.SetVringCallNoFd(0);
        Assert.Equal(new DeviceEvent(DeviceEventKind.CallChanged, 0, 0), h.Device.Events[^1]);
        Assert.Null(h.Device.Rings[0].Call);

        h.FrontEnd.SetVringCall(0);
        Assert.Equal(new DeviceEvent(DeviceEventKind.CallChanged, 0, 1), h.Device.Events[^1]);
        Assert.NotNull(h.Device.Rings[0].Call);
    });

    [Fact]
    public void SendRarp_GuestMac_IsAnnounced() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start();

        h.FrontEnd.SendRarp([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

        Assert.Equal(new DeviceEvent(DeviceEventKind.AnnounceMac, -1, 0x5254_0012_3456), h.Device.Events[^1]);
    });

    [Fact]
    public void NetSetMtu_InRange_IsAckedAndKept() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start(new NegotiateOptions { Mtu = 9000 });

        Assert.Equal(9000, h.Backend.Mtu);
        Assert.Contains(VhostUserRequest.NetSetMtu, h.Pump.Handled);
    });

    [Fact]
    public void SetLogBase_WithLogShmfd_RepliesStartsLoggingAndLeaksNothing() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start();
        int log = FileDescriptors.CreateMemFd("switchyard-test-log", 4096);
        try
        {
            h.FrontEnd.SetLogBase(log, 4096);
        }
        finally
        {
            FileDescriptors.Close(log);
        }

        Assert.True(((GuestMemory)h.Backend.Memory!).IsLogging);
        h.AssertOpen();
    });

    [Fact]
    public void FrontEndHangsUp_AfterStart_EveryRingStops() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start();

        h.FrontEnd.Dispose();
        h.Pump.RunUntilIdle();

        Assert.Equal("front-end closed", h.Pump.CloseReason);
        Assert.Empty(h.Device.Rings);
        Assert.Equal(2, h.Device.EventsOf(DeviceEventKind.RingStopped).Length);
    });

    [Fact]
    public void ResetOwner_AfterStart_StopsEveryRing() => BackendHarness.RunChecked(h =>
    {
        using VirtioNetDriver driver = h.CreateDriver();
        driver.Start();

        h.FrontEnd.ResetOwner();

        Assert.Empty(h.Device.Rings);
        h.AssertOpen();
    });
}
