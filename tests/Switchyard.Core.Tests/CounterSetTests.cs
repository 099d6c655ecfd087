// The one counter mechanism: names derived once from the enum, [NotCounted] outcomes left out, array increments
// that allocate nothing.
using Switchyard.Core.Counters;
using Switchyard.Core.Ports;

namespace Switchyard.Core.Tests;

public class CounterSetTests
{
    private enum Sample
    {
        [NotCounted]
        Ok,

        RxBadThing,

        [Counter("Help text.", Name = "renamed", Metric = "renamed_frames")]
        Custom,

        NotARegularFile,

        Dhcpv6Malformed,
    }

    [Fact]
    public void Names_MemberInSnakeCase_UnlessTheAttributeRenamesIt()
    {
        Assert.Equal("rx_bad_thing", CounterNames<Sample>.Name(Sample.RxBadThing));
        Assert.Equal("renamed", CounterNames<Sample>.Name(Sample.Custom));
        Assert.Equal("renamed_frames", CounterNames<Sample>.Metric((int)Sample.Custom));
        Assert.Equal("Help text.", CounterNames<Sample>.Help((int)Sample.Custom));
        Assert.Null(CounterNames<Sample>.Help((int)Sample.RxBadThing));
        Assert.Equal("not_a_regular_file", CounterNames<Sample>.Name(Sample.NotARegularFile));
        Assert.Equal("dhcpv6_malformed", CounterNames<Sample>.Name(Sample.Dhcpv6Malformed));
    }

    [Fact]
    public void Snapshot_NotCountedOutcome_IsLeftOut()
    {
        var set = new CounterSet<Sample>("sample");
        set.Increment(Sample.Ok);
        set.Increment(Sample.RxBadThing);
        set.Add(Sample.Custom, 2);

        Assert.Equal(3, set.Total);
        Assert.Equal(new Dictionary<string, long> { ["rx_bad_thing"] = 1, ["renamed"] = 2 }, set.Snapshot(includeZeros: false));
        Dictionary<string, long> all = set.Snapshot(includeZeros: true);
        Assert.Equal(4, all.Count);
        Assert.DoesNotContain("ok", all.Keys);
    }

    [Fact]
    public void AddTo_TwoSets_SumsByName()
    {
        var a = new CounterSet<Sample>();
        var b = new CounterSet<Sample>();
        a.Increment(Sample.RxBadThing);
        b.Increment(Sample.RxBadThing);
        b.Increment(Sample.Custom);
        var totals = new Dictionary<string, long>(StringComparer.Ordinal);

        a.AddTo(totals);
        b.AddTo(totals);

        Assert.Equal(2, totals["rx_bad_thing"]);
        Assert.Equal(1, totals["renamed"]);
        Assert.Equal(0, totals["dhcpv6_malformed"]);
    }

    [Fact]
    public void Increment_OnTheDataPath_AllocatesNothing()
    {
        var set = new CounterSet<DropReason>();
        set.Increment(DropReason.RxRunt); // Warm up: static constructors and JIT.
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            set.Increment(DropReason.RxBadDescriptor);
        }

        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
        Assert.Equal(1000, set[DropReason.RxBadDescriptor]);
    }
}
