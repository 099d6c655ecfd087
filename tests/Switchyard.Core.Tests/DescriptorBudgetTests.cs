// The descriptor budget's arithmetic and its refusals (issue 10, hole 4): what a peer may make the
// daemon hold out of RLIMIT_NOFILE, and what is kept back for the runtime and for new connections.
using Switchyard.Core.Loop;

namespace Switchyard.Core.Tests;

public class DescriptorBudgetTests
{
    [Fact]
    public void DescriptorBudget_SmallLimit_KeepsTheMinimumReserveAndAQuarterForConnections()
    {
        var budget = new DescriptorBudget(256);
        Assert.Equal(DescriptorBudget.MinReserve, budget.Reserve);
        Assert.Equal(192, budget.PeerCeiling);
        Assert.Equal(48, budget.MaxConnections); // A quarter of what the reserve leaves, below the asked 1024.
        Assert.Equal(144, budget.GatewayCeiling);
    }

    [Fact]
    public void DescriptorBudget_LargeLimit_ReserveCappedAndConnectionCapAsConfigured()
    {
        var budget = new DescriptorBudget(1 << 20, maxConnections: 2000, maxConnectionsPerListener: 300);
        Assert.Equal(DescriptorBudget.MaxReserve, budget.Reserve);
        Assert.Equal(2000, budget.MaxConnections);
        Assert.Equal(300, budget.MaxConnectionsPerListener);
        Assert.Equal(budget.PeerCeiling - 2000, budget.GatewayCeiling);
    }

    [Fact]
    public void TryTakeConnection_GlobalCapReached_RefusesAndCounts()
    {
        var budget = new DescriptorBudget(1 << 16, maxConnections: 2);
        Assert.True(budget.TryTakeConnection(10));
        Assert.True(budget.TryTakeConnection(11));
        Assert.False(budget.TryTakeConnection(12));
        Assert.Equal(2, budget.Connections);
        Assert.Equal(1, budget.ConnectionsRefusedGlobalCap);
        Assert.Equal(0, budget.ConnectionsRefusedNoDescriptors);
    }

    [Fact]
    public void TryTakeConnection_DescriptorInTheReserve_RefusesAndCounts()
    {
        var budget = new DescriptorBudget(256);
        Assert.False(budget.TryTakeConnection(budget.PeerCeiling));
        Assert.True(budget.TryTakeConnection(budget.PeerCeiling - 1));
        Assert.Equal(1, budget.ConnectionsRefusedNoDescriptors);
        Assert.Equal(1, budget.Connections);
    }

    [Fact]
    public void ReleaseConnection_AfterTheCapWasReached_AdmitsTheNextOne()
    {
        var budget = new DescriptorBudget(1 << 16, maxConnections: 1);
        Assert.True(budget.TryTakeConnection(10));
        Assert.False(budget.TryTakeConnection(11));
        budget.ReleaseConnection();
        Assert.True(budget.TryTakeConnection(11));
        budget.ReleaseConnection();
        budget.ReleaseConnection(); // A double release must not let the count run negative.
        Assert.Equal(0, budget.Connections);
    }

    [Fact]
    public void AdmitsHostSocket_AtOrAboveTheGatewayCeiling_RefusesAndCounts()
    {
        var budget = new DescriptorBudget(1024);
        Assert.True(budget.AdmitsHostSocket(budget.GatewayCeiling - 1));
        Assert.False(budget.AdmitsHostSocket(budget.GatewayCeiling));
        Assert.False(budget.AdmitsHostSocket(budget.PeerCeiling));
        Assert.Equal(2, budget.HostSocketsRefused);

        // The connections' share lies between the two ceilings: the gateway can never take it.
        Assert.Equal(budget.MaxConnections, budget.PeerCeiling - budget.GatewayCeiling);
    }
}
