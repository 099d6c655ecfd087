// Interop layouts: every struct passed to libc has the size and field offsets of x86_64 glibc's headers
// (STYLE.md habit 9), and the CMSG_* helpers agree with <bits/socket.h>.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Switchyard.Native.Tests;

public class InteropLayoutTests
{
    [Fact]
    public void EpollEvent_X86_64_Is12BytesPacked()
    {
        Assert.Equal(12, Unsafe.SizeOf<epoll_event>());
        Assert.Equal(0, (int)Marshal.OffsetOf<epoll_event>("events"));
        Assert.Equal(4, (int)Marshal.OffsetOf<epoll_event>("data"));
    }

    [Fact]
    public void Iovec_X86_64_Is16Bytes()
    {
        Assert.Equal(16, Unsafe.SizeOf<iovec>());
        Assert.Equal(0, (int)Marshal.OffsetOf<iovec>("iov_base"));
        Assert.Equal(8, (int)Marshal.OffsetOf<iovec>("iov_len"));
    }

    [Fact]
    public void Msghdr_X86_64_Is56BytesWithCOffsets()
    {
        Assert.Equal(56, Unsafe.SizeOf<msghdr>());
        Assert.Equal(0, (int)Marshal.OffsetOf<msghdr>("msg_name"));
        Assert.Equal(8, (int)Marshal.OffsetOf<msghdr>("msg_namelen"));
        Assert.Equal(16, (int)Marshal.OffsetOf<msghdr>("msg_iov"));
        Assert.Equal(24, (int)Marshal.OffsetOf<msghdr>("msg_iovlen"));
        Assert.Equal(32, (int)Marshal.OffsetOf<msghdr>("msg_control"));
        Assert.Equal(40, (int)Marshal.OffsetOf<msghdr>("msg_controllen"));
        Assert.Equal(48, (int)Marshal.OffsetOf<msghdr>("msg_flags"));
    }

    [Fact]
    public void Cmsghdr_X86_64_Is16Bytes()
    {
        Assert.Equal(16, Unsafe.SizeOf<cmsghdr>());
        Assert.Equal(0, (int)Marshal.OffsetOf<cmsghdr>("cmsg_len"));
        Assert.Equal(8, (int)Marshal.OffsetOf<cmsghdr>("cmsg_level"));
        Assert.Equal(12, (int)Marshal.OffsetOf<cmsghdr>("cmsg_type"));
    }

    [Fact]
    public void CmsgMacros_ForEightFds_MatchGlibc()
    {
        Assert.Equal(16, LibC.CMSG_LEN(0));
        Assert.Equal(48, LibC.CMSG_LEN(8 * sizeof(int)));
        Assert.Equal(48, LibC.CMSG_SPACE(8 * sizeof(int)));
        Assert.Equal(24, LibC.CMSG_SPACE(sizeof(int)));
        Assert.Equal(FdPassing.ControlBufferSize, LibC.CMSG_SPACE(FdPassing.MaxFds * sizeof(int)));
    }
}
