using Switchyard.Core.Ports;

namespace Switchyard.Core.Tests;

public class DropReasonTests
{
    [Fact]
    public void Names_EveryReason_HasAUniqueSnakeCaseName()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (DropReason reason in Enum.GetValues<DropReason>())
        {
            string name = DropReasons.Name(reason);
            Assert.Matches("^[a-z]+(_[a-z0-9]+)*$", name);
            Assert.True(names.Add(name), $"{name} is used twice");

            // The name spells the enum member: RxZeroLength -> rx_zero_length.
            Assert.Equal(reason.ToString().ToLowerInvariant(), name.Replace("_", "", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Counters_AddDrops_SumsEveryReason()
    {
        var a = new PortCounters();
        var b = new PortCounters();
        a.Drop(DropReason.RxRunt);
        b.Drop(DropReason.RxRunt);
        b.Drop(DropReason.TxQueueFull);
        a.AddDrops(b);
        Assert.Equal(2, a.Drops(DropReason.RxRunt));
        Assert.Equal(1, a.Drops(DropReason.TxQueueFull));
        Assert.Equal(3, a.TotalDrops);
    }
}
