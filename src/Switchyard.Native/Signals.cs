// Signals for a command run on the user's behalf (switchyard exec): whether Ctrl-C typed at the
// terminal already reaches it, and passing on a signal that was sent to us alone.
namespace Switchyard.Native;

/// <summary>Terminal foreground checks and signal delivery to a child process.</summary>
public static class Signals
{
    public const int Interrupt = LibC.SIGINT;

    public const int Terminate = LibC.SIGTERM;

    public const int Hangup = LibC.SIGHUP;

    /// <summary>
    /// Puts <paramref name="signal"/> back to its default disposition. A signal ignored by whoever started
    /// us (nohup, some CI runners and supervisors ignore SIGHUP) stays ignored across exec, and .NET then
    /// never delivers it to a PosixSignalRegistration; call this before registering one to handle it.
    /// </summary>
    public static void RestoreDefault(int signal) => _ = LibC.signal(signal, LibC.SIG_DFL);

    /// <summary>
    /// True when <paramref name="fd"/> is a terminal whose foreground process group is ours: a Ctrl-C
    /// typed there is delivered by the kernel to every process in the group, children included.
    /// </summary>
    public static bool OwnsTerminalForeground(int fd)
    {
        int foreground = LibC.tcgetpgrp(fd);
        return foreground >= 0 && foreground == LibC.getpgrp();
    }

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; false when it is gone or not ours to signal.</summary>
    public static bool Send(int pid, int signal) => pid > 0 && LibC.kill(pid, signal) == 0;
}
