// RLIMIT_NOFILE interop and the errno-returning accept that listeners use (issue 10, hole 4).
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Switchyard.Native.Tests;

public class ProcessLimitsTests
{
    [Fact]
    public void Rlimit_X86_64_Is16BytesWithCOffsets()
    {
        Assert.Equal(16, Unsafe.SizeOf<rlimit>());
        Assert.Equal(0, (int)Marshal.OffsetOf<rlimit>("rlim_cur"));
        Assert.Equal(8, (int)Marshal.OffsetOf<rlimit>("rlim_max"));
    }

    [Fact]
    public void GetOpenFiles_ThisProcess_SoftAtMostHardAndAgreesWithProc()
    {
        OpenFilesLimit limit = Assert.NotNull(ProcessLimits.GetOpenFiles());
        Assert.True(limit.Soft <= limit.Hard, $"{limit}");
        string line = File.ReadLines("/proc/self/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        Assert.Contains(limit.Soft.ToString(System.Globalization.CultureInfo.InvariantCulture), line, StringComparison.Ordinal);
    }

    [Fact]
    public void AcceptStream_NothingPending_ReturnsMinusOneWithEagain()
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint("\0sy-accept-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")));
        listener.Listen(1);
        listener.Blocking = false;
        Assert.Equal(-1, ProcessLimits.AcceptStream((int)listener.Handle, out int errno));
        Assert.Equal(11, errno); // EAGAIN
    }

    [Fact]
    public void AcceptStream_ClientWaiting_ReturnsANonBlockingCloseOnExecDescriptor()
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        var address = new UnixDomainSocketEndPoint("\0sy-accept-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N"));
        listener.Bind(address);
        listener.Listen(1);
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        client.Connect(address);

        int fd = ProcessLimits.AcceptStream((int)listener.Handle, out int errno);
        try
        {
            Assert.True(fd >= 0, $"errno {errno}");
            Assert.NotEqual(0, LibC.fcntl(fd, 3 /* F_GETFL */, 0) & LibC.O_NONBLOCK);
            Assert.NotEqual(0, LibC.fcntl(fd, LibC.F_GETFD, 0) & 1); // FD_CLOEXEC
        }
        finally
        {
            FileDescriptors.Close(fd);
        }
    }
}
