// Network namespaces: run a short piece of work (opening a tap, bringing a link up) inside another
// network namespace, from a process that stays in its own.
//
// Theory of operation: setns(2) with CLONE_NEWNET changes the network namespace of the calling
// thread only. So NetNamespace.Invoke starts a dedicated, short-lived thread; that thread remembers
// its namespace (/proc/thread-self/ns/net), enters the target, runs the work, and enters its old
// namespace again before it ends. A tap opened there is created in the target namespace (a tun
// file's namespace is the opener's) and its descriptor keeps working from any thread afterwards.
// If going back fails the thread still ends, so no thread of ours is ever left in a foreign
// namespace. Entering a namespace needs CAP_SYS_ADMIN (in practice: root).
//
// What it owns: the namespace descriptor (close-on-exec), closed by Dispose. What it trusts: the
// caller's path or pid, which are checked (missing, not a namespace) with errors that say what to do.
//
// Links are brought up with SIOCGIFFLAGS/SIOCSIFFLAGS on an AF_INET datagram socket opened inside
// the namespace (netdevice(7)): no netlink and no iproute2 needed.
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Switchyard.Native;

#pragma warning disable CA1707, IDE1006 // C names on purpose.

internal static unsafe partial class LibC
{
    public const int CLONE_NEWNET = 0x40000000;
    public const int O_RDONLY = 0;
    public const uint SIOCGIFFLAGS = 0x8913;
    public const uint SIOCSIFFLAGS = 0x8914;
    public const short IFF_UP = 0x1;
    public const int ESRCH = 3;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setns(int fd, int nstype);
}

#pragma warning restore CA1707, IDE1006

/// <summary>An open network namespace (a descriptor for /run/netns/NAME or /proc/PID/ns/net).</summary>
public sealed class NetNamespace : IDisposable
{
    /// <summary>Where `ip netns add NAME` mounts named namespaces.</summary>
    public const string NamedDirectory = "/run/netns";

    private int fd;

    private NetNamespace(int fd, string description)
    {
        this.fd = fd;
        Description = description;
    }

    /// <summary>"netns NAME" or "the network namespace of pid PID", for messages.</summary>
    public string Description { get; }

    /// <summary>Opens the named namespace /run/netns/<paramref name="name"/> (created by `ip netns add`).</summary>
    /// <exception cref="IOException">It does not exist or cannot be opened; the message says what to do.</exception>
    public static NetNamespace OpenNamed(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('/', StringComparison.Ordinal) || name is "." or "..")
        {
            throw new IOException($"'{name}' is not a namespace name (a name under {NamedDirectory}, without '/')");
        }

        string path = Path.Combine(NamedDirectory, name);
        return Open(path, $"netns {name}", $"network namespace {name} does not exist: create it with 'ip netns add {name}' (see 'ip netns list')");
    }

    /// <summary>Opens the network namespace of process <paramref name="pid"/>.</summary>
    /// <exception cref="IOException">No such process, or it cannot be opened; the message says what to do.</exception>
    public static NetNamespace OpenOfProcess(int pid)
    {
        if (pid <= 0)
        {
            throw new IOException($"pid {pid} is not a process id (give a positive number)");
        }

        string path = string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/ns/net");
        return Open(path, string.Create(CultureInfo.InvariantCulture, $"the network namespace of pid {pid}"), string.Create(CultureInfo.InvariantCulture, $"there is no process {pid}: give the pid of a running process (e.g. a container's init)"));
    }

    private static NetNamespace Open(string path, string description, string missing)
    {
        int nsFd = LibC.open(path, LibC.O_RDONLY | LibC.O_CLOEXEC);
        if (nsFd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException(errno switch
            {
                LibC.ENOENT or LibC.ESRCH => missing,
                Sockets.EACCES or Sockets.EPERM => $"permission denied opening {path}: entering another network namespace needs root (CAP_SYS_ADMIN); run switchyard as root",
                _ => $"opening {path} failed: {Marshal.GetPInvokeErrorMessage(errno)}",
            });
        }

        return new NetNamespace(nsFd, description);
    }

    /// <summary>Runs <paramref name="work"/> on a new thread inside this namespace and returns its
    /// result (or rethrows its exception). The calling thread's namespace is not changed.</summary>
    /// <exception cref="IOException">The namespace cannot be entered (not root), or <paramref name="work"/> failed with it.</exception>
    public T Invoke<T>(Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref fd) < 0, this);
        T? result = default;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = RunInside(work);
            }
#pragma warning disable CA1031 // Any failure is handed back to the caller's thread and rethrown there.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failure = ex;
            }
        })
        {
            IsBackground = true,
            Name = "netns",
        };
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        }

        return result!;
    }

    /// <summary>Opens (creates) tap <paramref name="interfaceName"/> inside this namespace and brings it up there.</summary>
    /// <exception cref="IOException">See <see cref="TapDevice.Open"/> and <see cref="Invoke"/>.</exception>
    public TapDevice OpenTap(string interfaceName) => Invoke(() =>
    {
        TapDevice tap = TapDevice.Open(interfaceName);
        try
        {
            SetLinkUp(tap.Name);
            return tap;
        }
        catch
        {
            tap.Dispose();
            throw;
        }
    });

    /// <summary>Sets IFF_UP on <paramref name="interfaceName"/> in the calling thread's namespace
    /// (call it from inside <see cref="Invoke"/> for another namespace).</summary>
    /// <exception cref="IOException">No such interface, or not permitted.</exception>
    public static unsafe void SetLinkUp(string interfaceName)
    {
        ArgumentException.ThrowIfNullOrEmpty(interfaceName);
        byte[] nameBytes = Encoding.UTF8.GetBytes(interfaceName);
        if (nameBytes.Length >= LibC.IFNAMSIZ)
        {
            throw new ArgumentException($"'{interfaceName}' is longer than 15 bytes", nameof(interfaceName));
        }

        int sock = LibC.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
        if (sock < 0)
        {
            throw new IOException($"socket(AF_INET) for bringing {interfaceName} up failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        try
        {
            ifreq request = default;

            // SAFETY: ifr_name is a 16-byte fixed buffer and nameBytes is at most 15 bytes, so the name stays NUL-terminated.
            nameBytes.CopyTo(new Span<byte>(request.ifr_name, LibC.IFNAMSIZ));

            // SAFETY: SIOCGIFFLAGS reads and writes one struct ifreq (40 bytes) at &request, a live local.
            if (LibC.ioctl(sock, LibC.SIOCGIFFLAGS, &request) < 0)
            {
                throw new IOException($"reading the flags of {interfaceName} failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            }

            request.ifr_flags |= LibC.IFF_UP;

            // SAFETY: SIOCSIFFLAGS reads one struct ifreq (40 bytes) at &request, a live local.
            if (LibC.ioctl(sock, LibC.SIOCSIFFLAGS, &request) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException(errno is Sockets.EPERM or Sockets.EACCES
                    ? $"bringing {interfaceName} up needs CAP_NET_ADMIN; run as root or 'ip link set {interfaceName} up' yourself"
                    : $"bringing {interfaceName} up failed: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }
        finally
        {
            _ = LibC.close(sock);
        }
    }

    public void Dispose() => FileDescriptors.Close(Interlocked.Exchange(ref fd, -1));

    // On the dedicated thread: enter, work, go back. The thread ends right after, whatever happens.
    private T RunInside<T>(Func<T> work)
    {
        int home = LibC.open("/proc/thread-self/ns/net", LibC.O_RDONLY | LibC.O_CLOEXEC);
        if (home < 0)
        {
            throw new IOException($"opening /proc/thread-self/ns/net failed ({Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}); is /proc mounted?");
        }

        try
        {
            if (LibC.setns(Volatile.Read(ref fd), LibC.CLONE_NEWNET) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException(errno switch
                {
                    Sockets.EPERM => $"entering {Description} needs root (CAP_SYS_ADMIN); run switchyard as root",
                    LibC.EINVAL => $"{Description} is not a network namespace",
                    _ => $"setns into {Description} failed: {Marshal.GetPInvokeErrorMessage(errno)}",
                });
            }

            try
            {
                return work();
            }
            finally
            {
                // Best effort: if this fails the thread is ending anyway and takes the namespace with it.
                _ = LibC.setns(home, LibC.CLONE_NEWNET);
            }
        }
        finally
        {
            _ = LibC.close(home);
        }
    }
}
