// SCM_RIGHTS over a socketpair: descriptors arrive working, excess descriptors are closed, never leaked,
// and the data path neither blocks nor allocates.
namespace Switchyard.Native.Tests;

public class FdPassingTests
{
    [Fact]
    public void SendWithFds_ThreeEventFds_ArriveAndShareTheCounter()
    {
        using SocketPair pair = SocketPair.Create(out int front, out int back);
        using var a = new EventFd();
        using var b = new EventFd();
        using var c = new EventFd();

        IoResult sent = FdPassing.SendWithFds(front, "kick"u8, [a.Fd, b.Fd, c.Fd]);
        Assert.True(sent.Ok, sent.ErrorMessage);
        Assert.Equal(4, sent.Bytes);

        Span<byte> buffer = stackalloc byte[16];
        Span<int> fds = stackalloc int[FdPassing.MaxFds];
        IoResult got = FdPassing.ReceiveWithFds(back, buffer, fds, out int count, out bool truncated);

        Assert.True(got.Ok, got.ErrorMessage);
        Assert.Equal("kick"u8.ToArray(), buffer[..got.Bytes].ToArray());
        Assert.Equal(3, count);
        Assert.False(truncated);
        using var ra = new EventFd(fds[0]);
        using var rb = new EventFd(fds[1]);
        using var rc = new EventFd(fds[2]);
        Assert.NotEqual(a.Fd, ra.Fd);

        // Same open file description: a signal on one is readable on the other, in both directions.
        a.Signal();
        Assert.True(ra.Drain());
        Assert.False(a.Drain());
        rc.Signal();
        Assert.True(c.Drain());
        Assert.False(b.Drain());
        Assert.False(rb.Drain());
    }

    [Fact]
    public void ReceiveWithFds_MoreFdsThanSpan_ClosesTheExcessAndReportsTruncated()
    {
        using SocketPair pair = SocketPair.Create(out int front, out int back);
        using SocketPair probe = SocketPair.Create(out int probeReader, out _);
        using var a = new EventFd();
        using var b = new EventFd();

        // The third descriptor is the probe's writer end: once every copy of it is closed, the reader sees EOF.
        Assert.True(FdPassing.SendWithFds(front, "x"u8, [a.Fd, b.Fd, probe.Second]).Ok);
        FileDescriptors.Close(probe.DetachSecond());

        Span<byte> buffer = stackalloc byte[4];
        Span<int> fds = stackalloc int[2];
        IoResult got = FdPassing.ReceiveWithFds(back, buffer, fds, out int count, out bool truncated);
        FileDescriptors.CloseAll(fds[..count]);

        Assert.True(got.Ok);
        Assert.Equal(2, count);
        Assert.True(truncated);
        IoResult eof = SocketIo.Receive(probeReader, buffer);
        Assert.True(eof.Ok, "the excess descriptor was leaked (reader would block instead of seeing EOF)");
        Assert.Equal(0, eof.Bytes);
    }

    [Fact]
    public void ReceiveWithFds_PeerSendsMoreThanControlBuffer_ReportsTruncatedAndLeaksNothing()
    {
        using SocketPair pair = SocketPair.Create(out int front, out int back);
        using SocketPair probe = SocketPair.Create(out int probeReader, out _);
        int[] ten = new int[FdPassing.MaxFds + 2];
        Array.Fill(ten, probe.Second);
        Assert.True(FdPassing.SendWithFdsUncapped(front, "x"u8, ten).Ok);
        FileDescriptors.Close(probe.DetachSecond());

        Span<int> fds = stackalloc int[FdPassing.MaxFds + 2];
        IoResult got = FdPassing.ReceiveWithFds(back, stackalloc byte[4], fds, out int count, out bool truncated);

        // The control buffer holds MaxFds; the kernel drops the rest and sets MSG_CTRUNC.
        Assert.True(got.Ok);
        Assert.Equal(FdPassing.MaxFds, count);
        Assert.True(truncated);
        FileDescriptors.CloseAll(fds[..count]);
        IoResult eof = SocketIo.Receive(probeReader, stackalloc byte[1]);
        Assert.True(eof.Ok, "a descriptor dropped by MSG_CTRUNC was leaked");
        Assert.Equal(0, eof.Bytes);
    }

    [Fact]
    public void ReceiveWithFds_NothingQueued_ReturnsWouldBlock()
    {
        using SocketPair pair = SocketPair.Create(out _, out int back);
        Span<int> fds = stackalloc int[1];
        IoResult got = FdPassing.ReceiveWithFds(back, stackalloc byte[4], fds, out int count, out bool truncated);
        Assert.True(got.WouldBlock);
        Assert.Equal(0, count);
        Assert.False(truncated);
    }

    [Fact]
    public void ReceiveWithFds_PeerClosed_ReturnsZeroBytes()
    {
        using SocketPair pair = SocketPair.Create(out _, out int back);
        FileDescriptors.Close(pair.DetachFirst());
        IoResult got = FdPassing.ReceiveWithFds(back, stackalloc byte[4], stackalloc int[1], out int count, out _);
        Assert.True(got.Ok);
        Assert.Equal(0, got.Bytes);
        Assert.Equal(0, count);
    }

    [Fact]
    public void ReceiveWithFds_PlainData_ReturnsNoFds()
    {
        using SocketPair pair = SocketPair.Create(out int front, out int back);
        Assert.True(FdPassing.SendWithFds(front, "hello"u8, []).Ok);
        Span<byte> buffer = stackalloc byte[8];
        IoResult got = FdPassing.ReceiveWithFds(back, buffer, stackalloc int[2], out int count, out bool truncated);
        Assert.Equal(5, got.Bytes);
        Assert.Equal(0, count);
        Assert.False(truncated);
    }

    [Fact]
    public void SendWithFds_MoreThanMaxFds_Throws()
    {
        using SocketPair pair = SocketPair.Create(out int front, out _);
        int[] nine = new int[FdPassing.MaxFds + 1];
        Array.Fill(nine, front);
        Assert.Throws<ArgumentException>(() => FdPassing.SendWithFds(front, "x"u8, nine));
    }

    [Fact]
    public void SendWithFds_FdsWithoutData_Throws()
    {
        using SocketPair pair = SocketPair.Create(out int front, out _);
        Assert.Throws<ArgumentException>(() => FdPassing.SendWithFds(front, [], [front]));
    }

    [Fact]
    public void SendAndReceiveWithFds_SteadyState_DoNotAllocate()
    {
        using SocketPair pair = SocketPair.Create(out int front, out int back);
        using var e = new EventFd();
        byte[] data = new byte[12];
        byte[] buffer = new byte[64];
        int[] fds = new int[FdPassing.MaxFds];

        void RoundTrip()
        {
            _ = FdPassing.SendWithFds(front, data, [e.Fd]);
            _ = FdPassing.ReceiveWithFds(back, buffer, fds, out int count, out _);
            FileDescriptors.CloseAll(fds.AsSpan(0, count));
        }

        RoundTrip();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            RoundTrip();
        }

        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}

[Collection(FdCountCollection.Name)]
public class FdPassingDescriptorTableTests
{
    [Fact]
    public void ReceiveWithFds_MoreFdsThanSpan_LeavesDescriptorCountUnchanged()
    {
        using SocketPair pair = SocketPair.Create(out int front, out int back);
        using var e = new EventFd();
        Span<byte> buffer = stackalloc byte[4];
        Span<int> fds = stackalloc int[2];

        void SendFiveReceiveTwo(Span<byte> buffer, Span<int> fds)
        {
            Assert.True(FdPassing.SendWithFds(front, "x"u8, [e.Fd, e.Fd, e.Fd, e.Fd, e.Fd]).Ok);
            IoResult got = FdPassing.ReceiveWithFds(back, buffer, fds, out int count, out bool truncated);
            Assert.True(got.Ok);
            Assert.Equal(2, count);
            Assert.True(truncated);
            FileDescriptors.CloseAll(fds[..count]);
        }

        SendFiveReceiveTwo(buffer, fds); // warm up: anything the runtime opens lazily is open now
        int before = FdCountCollection.OpenDescriptorCount();
        for (int i = 0; i < 10; i++)
        {
            SendFiveReceiveTwo(buffer, fds);
        }

        Assert.Equal(before, FdCountCollection.OpenDescriptorCount());
    }
}
