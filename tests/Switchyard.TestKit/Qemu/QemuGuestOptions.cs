namespace Switchyard.TestKit.Qemu;

/// <summary>How to start one test guest. Defaults give a 256 MiB TCG guest with no NIC.</summary>
public sealed record QemuGuestOptions
{
    /// <summary>Name used in log lines, exception messages and temp file names.</summary>
    public string Name { get; init; } = "guest";

    /// <summary>Guest RAM in MiB (<c>-m</c>); must equal the size of any memory backend in <see cref="ExtraArgs"/>.</summary>
    public int MemoryMiB { get; init; } = 256;

    /// <summary>
    /// Arguments appended to the QEMU command line: the netdev/device pairs, memory backends for
    /// vhost-user, and so on, e.g. <c>-netdev stream,id=n0,... -device virtio-net-pci,netdev=n0,romfile=</c>.
    /// </summary>
    public IReadOnlyList<string> ExtraArgs { get; init; } = [];

    /// <summary>The guest's <c>/test.sh</c>; /init runs it after boot and reports its exit code.</summary>
    public string? TestScript { get; init; }

    /// <summary>More files to add to the guest's root file system.</summary>
    public IReadOnlyList<GuestFile> ExtraFiles { get; init; } = [];

    /// <summary>Words appended to <c>console=ttyS0 quiet panic=-1</c>, e.g. <c>sy.hostname=a</c>.</summary>
    public string? ExtraKernelArgs { get; init; }

    /// <summary>Receives every console line (prefixed with <see cref="Name"/>), e.g. ITestOutputHelper.WriteLine.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>The image to boot; null means <see cref="GuestImage.Get"/>.</summary>
    public GuestImage? Image { get; init; }
}

/// <summary>What a guest's /test.sh reported.</summary>
/// <param name="ExitCode">The N of <c>GUEST-DONE rc=N</c>: the exit code of /test.sh.</param>
/// <param name="Console">The whole console output, escape sequences removed.</param>
/// <param name="QemuExitCode">QEMU's exit code, or null when it had to be killed after GUEST-DONE.</param>
public sealed record GuestResult(int ExitCode, string Console, int? QemuExitCode)
{
    /// <summary>True when /test.sh exited with 0.</summary>
    public bool Succeeded => ExitCode == 0;

    /// <summary>The console split into lines.</summary>
    public IReadOnlyList<string> Lines => Console.Split('\n');

    /// <summary>The last console line containing <paramref name="marker"/>, or null.</summary>
    public string? LastLineContaining(string marker)
    {
        string? found = null;
        foreach (string line in Lines)
        {
            if (line.Contains(marker, StringComparison.Ordinal))
                found = line;
        }

        return found;
    }
}

/// <summary>A guest failed to reach an expected point; the message carries the console's tail.</summary>
public sealed class QemuGuestException : Exception
{
    public QemuGuestException()
    {
    }

    public QemuGuestException(string message)
        : base(message)
    {
    }

    public QemuGuestException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
