// The back-end under a hostile front-end: one test per message rule, each with its disposition.
//
// Theory of operation: a front-end can send anything: wrong sizes, missing or surplus descriptors,
// memory tables that overlap, wrap or outrun their file, ring addresses outside guest memory, queue
// sizes and ring indices out of range, features never offered, unknown requests, bad version bits.
// The back-end validates in the fixed order of STYLE.md habit 5 and answers every break with one
// disposition (habit 3): close the connection with a reason that names the rule, or, for unusable
// ring addresses, leave the ring stopped, count it (BrokenRings) and keep the connection. Each test
// sends the bad message with the test kit's SendRaw (or a helper with bad values), asserts the
// disposition, and through RunChecked that no descriptor the message carried, and nothing the back-end
// built from it, outlives the connection.
using Switchyard.Native;
using Switchyard.TestKit.Memory;
using Switchyard.TestKit.VhostUser;
using Switchyard.VhostUser.Tests.Support;

namespace Switchyard.VhostUser.Tests;

[Collection(DescriptorTableCollection.Name)]
public class HostileMessageTests
{
    private const uint V1 = VhostUserFrontEnd.Version;

    // ---- Sizes ----

    [Fact]
    public void SetVringNum_FourBytePayload_ClosesConnection() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);

        h.FrontEnd.SendRaw((uint)FrontEndRequest.SetVringNum, V1, 4, [0, 0, 0, 0]);

        h.AssertClosed("SetVringNum", "payload is 4 bytes");
        Assert.Equal(VhostUserRejection.PayloadSizeWrong, h.Pump.CloseRejection);
        Assert.Equal(VhostUserRejectionDisposition.CloseConnection, h.Pump.CloseRejection.GetDisposition());
    });

    [Fact]
    public void SetMemTable_RegionCountDisagreesWithPayload_ClosesConnection() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        using TestGuestMemory memory = TestGuestMemory.OneRegion();

        // Two regions claimed, two fds, one region's worth of payload.
        byte[] payload = VhostUserPayloads.MemTable([memory.Regions[0]], claimedCount: 2);
        h.FrontEnd.SendRaw((uint)FrontEndRequest.SetMemTable, V1, (uint)payload.Length, payload, [memory.Fd, memory.Fd]);

        AssertClosedFds(h.Pump.LastMessageFds, memory.Fd);
        h.AssertClosed("SetMemTable", "2 regions with 2 fds in a 40-byte payload");
        Assert.Equal(VhostUserRejection.MemTableMalformed, h.Pump.CloseRejection);
    });

    [Fact]
    public void Connection_PayloadOver4096Claimed_ClosesBeforeReadingIt() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        int handled = h.Pump.Handled.Count;

        h.FrontEnd.SendRaw((uint)FrontEndRequest.SetMemTable, V1, 4097, []);

        h.AssertClosed("4097", "MaxPayload");
        Assert.Equal(handled, h.Pump.Handled.Count); // The back-end never saw it.
    });

    [Fact]
    public void Connection_PayloadOver4096Claimed_ItsDescriptorsAreClosed() => BackendHarness.RunChecked(h =>
    {
        using TestGuestMemory memory = TestGuestMemory.OneRegion();

        h.FrontEnd.SendRaw((uint)FrontEndRequest.SetMemTable, V1, 1 << 20, new byte[64], [memory.Fd]);

        h.AssertClosed("MaxPayload");
    });

    // ---- Descriptors ----

    [Fact]
    public void SetMemTable_FewerFdsThanRegions_ClosesConnectionAndTheFds() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        using TestGuestMemory memory = TestGuestMemory.TwoRegions();
        byte[] payload = VhostUserPayloads.MemTable([.. memory.Regions]);

        h.FrontEnd.SendRaw((uint)FrontEndRequest.SetMemTable, V1, (uint)payload.Length, payload, [memory.Fd]);

        Assert.Single(h.Pump.LastMessageFds);
        AssertClosedFds(h.Pump.LastMessageFds, memory.Fd);
        h.AssertClosed("SetMemTable", "2 regions with 1 fds");
        Assert.Null(h.Backend.Memory);
    });

    [Fact]
    public void SetMemTable_NoFds_ClosesConnection() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        using TestGuestMemory memory = TestGuestMemory.OneRegion();
        byte[] payload = VhostUserPayloads.MemTable([.. memory.Regions]);

        h.FrontEnd.SendRaw((uint)FrontEndRequest.SetMemTable, V1, (uint)payload.Length, payload);

        h.AssertClosed("SetMemTable", "one fd per region");
    });

    [Fact]
    public void SetVringKick_NoFdWithoutNoFdBit_ClosesConnection() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);

        h.FrontEnd.SendRaw((uint)FrontEndRequest.SetVringKick, V1, 8, VhostUserPayloads.U64(0));

        h.AssertClosed("SetVringKick", "needs exactly one fd, got 0");
    });

    [Fact]
    public void SetVringKick_NoFdBitSet_ClosesAsPollingIsUnsupported() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);

        h.FrontEnd.SendRaw((uint)FrontEndRequest.SetVringKick, V1, 8, VhostUserPayloads.U64(VhostUserFrontEnd.VringNoFdFlag));

        h.AssertClosed("SetVringKick", "polling");
    });

    [Fact]
    public void SetVringCall_NoFdBitSetButAnFdAttached_ClosesConnectionAndTheFd() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        using var call = new EventFd();

        h.FrontEnd.SendRaw((uint)FrontEndRequest.SetVringCall, V1, 8, VhostUserPayloads.U64(VhostUserFrontEnd.VringNoFdFlag), [call.Fd]);

        AssertClosedFds(h.Pump.LastMessageFds, call.Fd);
        h.AssertClosed("SetVringCall", "says no fd");
    });

    [Fact]
    public void SetFeatures_CarryingAnFd_ClosesConnectionAndTheFd() => BackendHarness.RunChecked(h =>
    {
        ulong offered = h.FrontEnd.GetFeatures();
        using var stray = new EventFd();

        h.FrontEnd.SendRaw((uint)FrontEndRequest.SetFeatures, V1, 8, VhostUserPayloads.U64(offered), [stray.Fd]);

        // The copy the back-end received is closed at once (and RunChecked finds nothing left in /proc/self/fd).
        Assert.Single(h.Pump.LastMessageFds);
        AssertClosedFds(h.Pump.LastMessageFds, stray.Fd);
        h.AssertClosed("SetFeatures", "takes no fds, got 1");
        Assert.Equal(0UL, h.Backend.Features);
    });

    [Fact]
    public void Message_NineFds_ClosesConnectionAndEveryFd() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        EventFd[] many = [.. Enumerable.Range(0, 9).Select(_ => new EventFd())];
        try
        {
            byte[] payload = VhostUserPayloads.MemTable([]);
            h.FrontEnd.SendRaw((uint)FrontEndRequest.SetMemTable, V1, (uint)payload.Length, payload, Array.ConvertAll(many, e => e.Fd));

            h.AssertClosed("more than 8 descriptors");
        }
        finally
        {
            Array.ForEach(many, e => e.Dispose());
        }
    });

    // ---- Memory regions ----

    [Fact]
    public void SetMemTable_OverlappingRegions_ClosesConnection() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        using TestGuestMemory memory = TestGuestMemory.OneRegion();
        GuestMemoryRegion a = memory.Regions[0] with { Size = 8 << 20 };
        GuestMemoryRegion b = a with { GuestPhysAddr = a.GuestPhysAddr + (4 << 20), UserAddr = a.UserAddr + (1UL << 36) };

        SendMemTable(h, [a, b], memory.Fd);

        h.AssertClosed("SetMemTable", "overlaps");
        Assert.Null(h.Backend.Memory);
    });

    [Fact]
    public void SetMemTable_GuestRangeWraps_ClosesConnection() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        using TestGuestMemory memory = TestGuestMemory.OneRegion();

        SendMemTable(h, [memory.Regions[0] with { GuestPhysAddr = ulong.MaxValue - 0xFFF }], memory.Fd);

        h.AssertClosed("SetMemTable", "overflows");
    });

    [Fact]
    public void SetMemTable_UserRangeWraps_ClosesConnection() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        using TestGuestMemory memory = TestGuestMemory.OneRegion();

        SendMemTable(h, [memory.Regions[0] with { UserAddr = ulong.MaxValue - 0xFFF }], memory.Fd);

        h.AssertClosed("SetMemTable", "userspace_addr", "overflows");
    });

    [Fact]
    public void SetMemTable_ZeroSizeRegion_ClosesConnection() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        using TestGuestMemory memory = TestGuestMemory.OneRegion();

        SendMemTable(h, [memory.Regions[0] with { Size = 0 }], memory.Fd);

        h.AssertClosed("SetMemTable", "memory_size 0");
    });

    [Fact]
    public void SetMemTable_FileSmallerThanRegion_ClosesConnection() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        using TestGuestMemory memory = TestGuestMemory.OneRegion(size: 1 << 20);

        SendMemTable(h, [memory.Regions[0] with { Size = 2 << 20 }], memory.Fd);

        h.AssertClosed("SetMemTable", "The file is");
    });

    [Fact]
    public void SetMemTable_BadTableAfterAGoodOne_ClosesAndKeepsNoStaleMapping() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        using TestGuestMemory memory = TestGuestMemory.OneRegion();
        h.FrontEnd.SetMemTable(memory);

        SendMemTable(h, [memory.Regions[0] with { Size = 0 }], memory.Fd);

        h.AssertClosed("SetMemTable", "memory_size 0");
        Assert.Equal(1, ((GuestMemory)h.Backend.Memory!).RegionCount); // All or nothing: the old table stayed.
    });

    [Fact]
    public void AddMemReg_OverlappingAnExistingRegion_ClosesConnectionAndLeaksNothing() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        using TestGuestMemory memory = TestGuestMemory.OneRegion();
        h.FrontEnd.AddMemRegions(memory);

        // Same start, different size: overlapping, not the identical copy QEMU 7.2 sends once per queue pair.
        byte[] payload = VhostUserPayloads.MemReg(memory.Regions[0] with { Size = memory.Regions[0].Size / 2 });
        h.FrontEnd.SendRaw((uint)FrontEndRequest.AddMemReg, V1, (uint)payload.Length, payload, [memory.Fd]);

        AssertClosedFds(h.Pump.LastMessageFds, memory.Fd);
        h.AssertClosed("AddMemReg", "overlaps");
        Assert.Equal(1, ((GuestMemory)h.Backend.Memory!).RegionCount);
    });

    [Fact]
    public void RemMemReg_UnknownRegion_ClosesConnection() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        using TestGuestMemory memory = TestGuestMemory.OneRegion();
        h.FrontEnd.SetMemTable(memory);

        Assert.Throws<VhostUserFrontEndException>(() => h.FrontEnd.RemMemReg(memory.Regions[0] with { Size = 4096 }));

        h.AssertClosed("RemMemReg", "No region");
    });

    // ---- Ring addresses ----

    [Theory]
    [InlineData("below every region")]
    [InlineData("descriptor table straddles the region end")]
    [InlineData("used ring beyond the region")]
    [InlineData("descriptor table not 16-byte aligned")]
    public void SetVringAddr_OutsideGuestMemory_RingNotStartedAndConnectionKept(string where) => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        using TestGuestMemory memory = TestGuestMemory.OneRegion(size: 1 << 20);
        h.FrontEnd.SetMemTable(memory);
        var ring = new GuestSplitRing(memory, 0, 256);
        GuestMemoryRegion region = memory.Regions[0];
        ulong regionEnd = region.UserAddr + region.Size;
        ulong desc = memory.ToUserAddress(ring.DescriptorTable);
        ulong avail = memory.ToUserAddress(ring.AvailRing);
        ulong used = memory.ToUserAddress(ring.UsedRing);
        (desc, used) = where switch
        {
            "below every region" => (0x1000UL, used),
            "descriptor table straddles the region end" => (regionEnd - 16, used),
            "used ring beyond the region" => (desc, regionEnd + 0x1000),
            _ => (desc + 8, used),
        };

        h.FrontEnd.SetVringNum(0, 256);
        h.FrontEnd.SetVringBase(0, 0);
        h.FrontEnd.SetVringAddr(0, desc, used, avail);
        h.FrontEnd.SetVringKick(0);

        Assert.Equal(1, h.Backend.BrokenRings);
        Assert.Empty(h.Device.EventsOf(DeviceEventKind.RingStarted));
        h.AssertOpen();

        // The connection still configures good rings.
        var good = new GuestSplitRing(memory, 1, 256);
        h.FrontEnd.SetVringNum(1, 256);
        h.FrontEnd.SetVringAddr(1, memory, good.Layout);
        h.FrontEnd.SetVringKick(1);
        Assert.Equal([new DeviceEvent(DeviceEventKind.RingStarted, 1, 256)], h.Device.EventsOf(DeviceEventKind.RingStarted));
    });

    // ---- Field values ----

    [Theory]
    [InlineData(0u)]
    [InlineData(3u)]
    [InlineData(100u)]
    [InlineData(65536u)]
    [InlineData(uint.MaxValue)]
    public void SetVringNum_QueueSizeNotAPowerOfTwoUpTo32768_ClosesConnection(uint size) => BackendHarness.RunChecked(h =>
    {
        Handshake(h);

        h.FrontEnd.SendRaw((uint)FrontEndRequest.SetVringNum, V1, 8, VhostUserPayloads.VringState(0, size));

        h.AssertClosed("SetVringNum", $"queue size {size}");
    });

    [Fact]
    public void SetVringNum_QueueSize32768_IsAccepted() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);

        h.FrontEnd.SetVringNum(1, 32768);

        h.AssertOpen();
    });

    [Theory]
    [InlineData(FrontEndRequest.SetVringNum, 2u)]
    [InlineData(FrontEndRequest.SetVringNum, uint.MaxValue)]
    [InlineData(FrontEndRequest.SetVringAddr, 2u)]
    [InlineData(FrontEndRequest.SetVringBase, 2u)]
    [InlineData(FrontEndRequest.SetVringBase, 0x8000_0000u)]
    [InlineData(FrontEndRequest.GetVringBase, 2u)]
    [InlineData(FrontEndRequest.SetVringKick, 2u)]
    [InlineData(FrontEndRequest.SetVringKick, 255u)]
    [InlineData(FrontEndRequest.SetVringCall, 2u)]
    [InlineData(FrontEndRequest.SetVringErr, 2u)]
    [InlineData(FrontEndRequest.SetVringEnable, 2u)]
    public void VringIndex_OutOfRange_ClosesConnection(FrontEndRequest request, uint index) => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        using var eventFd = new EventFd();
        switch (request)
        {
            case FrontEndRequest.SetVringAddr:
                h.FrontEnd.SendRaw((uint)request, V1, 40, VhostUserPayloads.VringAddr(index, 0, 0, 0));
                break;
            case FrontEndRequest.SetVringKick or FrontEndRequest.SetVringCall or FrontEndRequest.SetVringErr:
                h.FrontEnd.SendRaw((uint)request, V1, 8, VhostUserPayloads.U64(index), [eventFd.Fd]);
                AssertClosedFds(h.Pump.LastMessageFds, eventFd.Fd);
                break;
            default:
                h.FrontEnd.SendRaw((uint)request, V1, 8, VhostUserPayloads.VringState(index, request == FrontEndRequest.SetVringNum ? 256u : 1u));
                break;
        }

        h.AssertClosed(((VhostUserRequest)(uint)request).ToString(), "out of range");
    });

    [Fact]
    public void SetVringEnable_ValueTwo_ClosesConnection() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);

        h.FrontEnd.SendRaw((uint)FrontEndRequest.SetVringEnable, V1, 8, VhostUserPayloads.VringState(0, 2));

        h.AssertClosed("SetVringEnable", "neither 0 nor 1");
    });

    [Theory]
    [InlineData(0UL)]
    [InlineData(67UL)]
    [InlineData(65536UL)]
    public void NetSetMtu_OutOfRange_ClosesConnection(ulong mtu) => BackendHarness.RunChecked(h =>
    {
        Handshake(h);

        h.FrontEnd.SendRaw((uint)FrontEndRequest.NetSetMtu, V1, 8, VhostUserPayloads.U64(mtu));

        h.AssertClosed("NetSetMtu", $"MTU {mtu}");
    });

    // ---- Negotiation ----

    [Fact]
    public void SetFeatures_BitNotOffered_ClosesConnection() => BackendHarness.RunChecked(h =>
    {
        ulong offered = h.FrontEnd.GetFeatures();

        h.FrontEnd.SendRaw((uint)FrontEndRequest.SetFeatures, V1, 8, VhostUserPayloads.U64(offered | (1UL << 40)));

        h.AssertClosed("SetFeatures", "were not offered");
        Assert.Empty(h.Device.EventsOf(DeviceEventKind.FeaturesNegotiated));
    });

    [Fact]
    public void SetFeatures_WithoutVersion1_ClosesConnection() => BackendHarness.RunChecked(h =>
    {
        ulong offered = h.FrontEnd.GetFeatures();

        h.FrontEnd.SendRaw(
            (uint)FrontEndRequest.SetFeatures, V1, 8, VhostUserPayloads.U64(offered & ~FrontEndFeatures.Bit(FrontEndFeatures.Version1)));

        h.AssertClosed("SetFeatures", "VERSION_1");
    });

    [Fact]
    public void SetProtocolFeatures_BitNotOffered_ClosesConnection() => BackendHarness.RunChecked(h =>
    {
        ulong offered = h.FrontEnd.GetProtocolFeatures();

        h.FrontEnd.SendRaw((uint)FrontEndRequest.SetProtocolFeatures, V1, 8, VhostUserPayloads.U64(offered | (1UL << 12)));

        h.AssertClosed("SetProtocolFeatures", "were not offered");
    });

    [Theory]
    [InlineData(0u)]
    [InlineData(24u)] // GET_CONFIG: not implemented.
    [InlineData(35u)] // Reserved for VRING_KICK.
    [InlineData(999u)]
    public void Request_UnknownId_ClosesConnection(uint request) => BackendHarness.RunChecked(h =>
    {
        h.FrontEnd.SendRaw(request, V1, 0, []);

        h.AssertClosed($"unsupported request {request}");
    });

    [Theory]
    [InlineData(0x0u)]
    [InlineData(0x2u)]
    [InlineData(0x3u)]
    [InlineData(0x8u)]
    public void Header_VersionBitsNotOne_ClosesConnection(uint flags) => BackendHarness.RunChecked(h =>
    {
        h.FrontEnd.SendRaw((uint)FrontEndRequest.GetFeatures, flags, 0, []);

        h.AssertClosed("message version");
    });

    [Fact]
    public void ReplyAck_BadMessage_ConnectionClosesInsteadOfAck() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        Assert.True(h.FrontEnd.ReplyAckNegotiated);

        VhostUserFrontEndException ex = Assert.Throws<VhostUserFrontEndException>(() => h.FrontEnd.SetVringNum(0, 3));

        Assert.True(ex.PeerClosed);
        h.AssertClosed("SetVringNum");
    });

    /// <summary>GET_FEATURES, protocol features (with REPLY_ACK), SET_OWNER, SET_FEATURES: what comes before rings.</summary>
    // ---- What a peer hands over (issue 10) ----

    [Fact]
    public void SetVringKick_Memfd_ClosesWithVhostFdWrongType() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        int memFd = FileDescriptors.CreateMemFd("kick", 4096);
        try
        {
            h.FrontEnd.Send(FrontEndRequest.SetVringKick, VhostUserPayloads.U64(1), [memFd]);
            h.AssertClosed("SetVringKick", "not an eventfd");
            Assert.Equal(Core.Ports.DropReason.VhostFdWrongType, h.Pump.CloseDrop);
            Assert.Equal(VhostUserRejection.NotifierNotEventFd, h.Pump.CloseRejection);
        }
        finally
        {
            FileDescriptors.Close(memFd);
        }
    });

    [Fact]
    public void SetVringCall_Socket_ClosesWithVhostFdWrongType() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        using SocketPair pair = SocketPair.Create();
        h.FrontEnd.Send(FrontEndRequest.SetVringCall, VhostUserPayloads.U64(0), [pair.First]);
        h.AssertClosed("SetVringCall", "Socket, not an eventfd");
        Assert.Equal(Core.Ports.DropReason.VhostFdWrongType, h.Pump.CloseDrop);
    });

    [Fact]
    public void SetVringErr_Memfd_ClosesWithVhostFdWrongType() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        int memFd = FileDescriptors.CreateMemFd("err", 4096);
        try
        {
            h.FrontEnd.Send(FrontEndRequest.SetVringErr, VhostUserPayloads.U64(0), [memFd]);
            h.AssertClosed("SetVringErr", "not an eventfd");
            Assert.Equal(Core.Ports.DropReason.VhostFdWrongType, h.Pump.CloseDrop);
            Assert.Equal(VhostUserRejection.NotifierNotEventFd, h.Pump.CloseRejection);
        }
        finally
        {
            FileDescriptors.Close(memFd);
        }
    });

    [Fact]
    public void SetMemTable_NotSealableMemfd_ClosesWithVhostMemoryShrinkable() => BackendHarness.RunChecked(h =>
    {
        Handshake(h);
        using TestGuestMemory memory = TestGuestMemory.OneRegion(sealing: MemFdSealing.NotSealable);
        SendMemTable(h, [memory.Regions[0]], memory.Fd);
        h.AssertClosed("SetMemTable", "memory=trusted");
        Assert.Equal(Core.Ports.DropReason.VhostMemoryShrinkable, h.Pump.CloseDrop);
        Assert.Equal(VhostUserRejection.GuestMemoryRefused, h.Pump.CloseRejection);
        Assert.Equal(GuestMemoryRule.ShrinkableFile, h.Pump.CloseMemoryRule);
    });

    [Fact]
    public void SetMemTable_NotSealableMemfdOnTrustedPort_Accepted() => BackendHarness.RunChecked(
        h =>
        {
            Handshake(h);
            using TestGuestMemory memory = TestGuestMemory.OneRegion(sealing: MemFdSealing.NotSealable);
            SendMemTable(h, [memory.Regions[0]], memory.Fd);
            h.FrontEnd.Sync();
            h.AssertOpen();
        },
        new VhostUserBackendOptions { Memory = MemoryFilePolicy.Trusted });

        private static void Handshake(BackendHarness h)
    {
        ulong offered = h.FrontEnd.GetFeatures();
        h.FrontEnd.SetProtocolFeatures(h.FrontEnd.GetProtocolFeatures() & FrontEndProtocolFeatures.Supported);
        h.FrontEnd.SetOwner();
        h.FrontEnd.SetFeatures((offered & FrontEndFeatures.LinuxGuestDefaults) | FrontEndFeatures.Bit(FrontEndFeatures.ProtocolFeatures));
    }

    private static void SendMemTable(BackendHarness h, GuestMemoryRegion[] regions, int fd)
    {
        byte[] payload = VhostUserPayloads.MemTable(regions);
        int[] fds = new int[regions.Length];
        Array.Fill(fds, fd);
        h.FrontEnd.SendRaw((uint)FrontEndRequest.SetMemTable, V1, (uint)payload.Length, payload, fds);
    }

    /// <summary>Every descriptor the back-end received with the last message is closed: checked right after it was
    /// handled. Another thread of the test host may already have reused a freed number, so a number still open must at
    /// least no longer be the kind of object that was sent (RunChecked's table diff is the exact leak check).</summary>
    private static void AssertClosedFds(IReadOnlyList<int> fds, int sentFd)
    {
        string? sent = FdSnapshot.TargetOf(sentFd);
        Assert.NotNull(sent);
        Assert.NotEmpty(fds);
        Assert.All(fds, fd => Assert.NotEqual(sent, FdSnapshot.TargetOf(fd)));
    }
}
