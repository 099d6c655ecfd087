// The daemon-wide limits (flags of `switchyard up`, issue 10): defaults in one place, every bad value reported at once.
using Switchyard.Core.Config;
using Switchyard.Core.Loop;
using Switchyard.Engine.Config;

namespace Switchyard.Engine.Tests.Config;

public class DaemonLimitsTests
{
    [Fact]
    public void DaemonLimits_NoValues_AreTheDocumentedDefaults()
    {
        DaemonLimits d = DaemonLimits.Default;
        Assert.Equal(DescriptorBudget.DefaultMaxConnections, d.MaxConnections);
        Assert.Equal(1024, d.MaxConnections);
        Assert.Equal(256, d.MaxListenerConnections);
        Assert.Equal(32, d.MaxControlClients);
        Assert.Equal(TimeSpan.FromSeconds(60), d.ControlIdleTimeout);
    }

    [Fact]
    public void DaemonLimits_EveryValueOutOfRange_AllReportedTogether()
    {
        var ex = Assert.Throws<ConfigException>(() => new DaemonLimits(0, 0, 0, TimeSpan.Zero));
        Assert.Equal(4, ex.Errors.Count);
        Assert.Contains(ex.Errors, e => e.StartsWith("--max-connections 0", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("--max-listener-connections 0", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("--max-control-clients 0", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("--control-idle-timeout 0", StringComparison.Ordinal));
    }

    [Fact]
    public void UpCommand_LimitFlags_Parse()
    {
        System.CommandLine.ParseResult r = Switchyard.Cli.Program.BuildRoot().Parse(
            ["up", "--max-connections", "64", "--max-listener-connections", "16", "--max-control-clients", "8", "--control-idle-timeout", "30"]);
        Assert.Empty(r.Errors);
    }
}
