// The isolation tests' witness, checked on its own: two stream guests echo frames through a real daemon.
using Switchyard.TestKit;
using Switchyard.TestKit.Hostile;
using Xunit.Abstractions;

namespace Switchyard.EndToEnd;

public sealed class HealthyPairTests(ITestOutputHelper output)
{
    [Fact]
    public async Task HealthyStreamPair_QuietDaemon_EchoesFlowWithoutGaps()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(log: output.WriteLine);
        await using HealthyStreamPair pair = await HealthyStreamPair.StartAsync(sy.StreamSocket);
        await Task.Delay(TimeSpan.FromSeconds(1));
        await pair.AssertHealthyAsync(TimeSpan.FromSeconds(1));
        Assert.True(pair.Echoed >= 50, $"echoed {pair.Echoed}");
        Assert.Null(pair.Failure);
    }
}
