// Signals: delivery to a child we started, and the terminal foreground check on a descriptor that is
// not a terminal (what `switchyard exec` sees under a supervisor or CI runner).
using System.Diagnostics;

namespace Switchyard.Native.Tests;

public sealed class SignalsTests
{
    [Fact]
    public async Task Send_Terminate_EndsAChild_WithExitCode143()
    {
        using Process sleeper = Process.Start(new ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        Assert.True(Signals.Send(sleeper.Id, Signals.Terminate));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await sleeper.WaitForExitAsync(cts.Token);
        Assert.Equal(128 + 15, sleeper.ExitCode);
    }

    [Fact]
    public void Send_ToNoProcess_IsFalse()
    {
        Assert.False(Signals.Send(0, Signals.Interrupt));
        Assert.False(Signals.Send(int.MaxValue, Signals.Interrupt));
    }

    [Fact]
    public void OwnsTerminalForeground_OfAPipeOrBadDescriptor_IsFalse()
    {
        Assert.False(Signals.OwnsTerminalForeground(-1));
        using var pipe = new System.IO.Pipes.AnonymousPipeServerStream();
        Assert.False(Signals.OwnsTerminalForeground((int)pipe.SafePipeHandle.DangerousGetHandle()));
    }
}
