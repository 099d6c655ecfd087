// One mechanism for every family of named counters: port drops, switch and network counters, gateway drops and
// events, and the per-rule counters of a vhost-user port (QueueError, NetTxError, VhostUserRejection).
//
// Theory of operation: a family is an enum whose values are 0..N-1. CounterNames<T> derives, once per enum, each
// value's stable snake_case name (the member name, "RxBadDescriptor" -> "rx_bad_descriptor", unless [Counter(Name =
// ...)] says otherwise), the help text and metric name that /metrics prints ([Counter]), and which values are
// outcomes rather than counters ([NotCounted]: QueueError.Ok, NetTxError.None). CounterSet<T> is a long[] indexed by
// the enum. Adding a counter is adding an enum member: `show` and /metrics enumerate the names, so nothing else is
// written twice.
//
// Writing: only the event loop that owns the set increments it (a plain array increment, no dictionary, no
// allocation, no interlocked operation: cheap enough per frame). Reading: any thread, through Volatile reads; a
// snapshot may be a few frames stale. Snapshots allocate and belong to the control side.
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;

namespace Switchyard.Core.Counters;

/// <summary>Metadata of one counter: its help text for /metrics (where the counter has a family of its own), and
/// optionally a name other than the member's snake_case or a metric name other than that name.</summary>
[AttributeUsage(AttributeTargets.Field)]
public sealed class CounterAttribute(string? help = null) : Attribute
{
    public string? Help { get; } = help;

    /// <summary>The stable name in `show` and JSON; default: the member name in snake_case.</summary>
    public string? Name { get; init; }

    /// <summary>The middle of the metric name (switchyard_&lt;family&gt;_&lt;Metric&gt;_total); default: <see cref="Name"/>.</summary>
    public string? Metric { get; init; }
}

/// <summary>An enum value that is an outcome, not a failure (QueueError.Ok, NetTxError.None): it has no counter in
/// snapshots, totals or metrics.</summary>
[AttributeUsage(AttributeTargets.Field)]
public sealed class NotCountedAttribute : Attribute;

/// <summary>The names of the counters of enum <typeparamref name="T"/>, derived once.</summary>
public static class CounterNames<T>
    where T : struct, Enum
{
    private static readonly string[] NameArray;
    private static readonly string[] MetricArray;
    private static readonly string?[] HelpArray;
    private static readonly bool[] CountedArray;

    static CounterNames()
    {
        if (Enum.GetUnderlyingType(typeof(T)) != typeof(int))
        {
            throw new InvalidOperationException($"{typeof(T).Name}: a counter enum must be int-based");
        }

        T[] values = Enum.GetValues<T>();
        Count = values.Length;
        NameArray = new string[Count];
        MetricArray = new string[Count];
        HelpArray = new string?[Count];
        CountedArray = new bool[Count];
        foreach (FieldInfo field in typeof(T).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            int i = (int)field.GetValue(null)!;
            if ((uint)i >= (uint)Count || NameArray[i] is not null)
            {
                // Our bug, not input: the array index must be the value.
                throw new InvalidOperationException($"{typeof(T).Name}.{field.Name}: counter enums must number their values 0..N-1");
            }

            CounterAttribute? meta = field.GetCustomAttribute<CounterAttribute>();
            NameArray[i] = meta?.Name ?? SnakeCase(field.Name);
            MetricArray[i] = meta?.Metric ?? NameArray[i];
            HelpArray[i] = meta?.Help;
            CountedArray[i] = field.GetCustomAttribute<NotCountedAttribute>() is null;
        }
    }

    /// <summary>Values of the enum (counted or not); the length of a <see cref="CounterSet{T}"/>.</summary>
    public static int Count { get; }

    public static string Name(T value) => NameArray[Index(value)];

    public static string Name(int index) => NameArray[index];

    /// <summary>The metric name's middle part ([Counter(Metric = ...)], else the name).</summary>
    public static string Metric(int index) => MetricArray[index];

    /// <summary>The /metrics help text ([Counter("...")]), or null where the enum documents itself only in XML docs.</summary>
    public static string? Help(int index) => HelpArray[index];

    /// <summary>False for outcomes marked [NotCounted].</summary>
    public static bool IsCounted(int index) => CountedArray[index];

    /// <summary>The array index of <paramref name="value"/>: its int value, with no boxing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Index(T value) => Unsafe.BitCast<T, int>(value);

    /// <summary>"RxBadDescriptor" -> "rx_bad_descriptor", "Dhcpv6Malformed" -> "dhcpv6_malformed",
    /// "NotARegularFile" -> "not_a_regular_file".</summary>
    public static string SnakeCase(string pascal)
    {
        ArgumentNullException.ThrowIfNull(pascal);
        var sb = new StringBuilder(pascal.Length + 8);
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            bool wordStart = i > 0 && char.IsUpper(c)
                && (char.IsLower(pascal[i - 1]) || char.IsDigit(pascal[i - 1]) || (i + 1 < pascal.Length && char.IsUpper(pascal[i - 1]) && char.IsLower(pascal[i + 1])));
            if (wordStart)
            {
                sb.Append('_');
            }

            sb.Append(char.ToLowerInvariant(c));
        }

        return sb.ToString();
    }
}

/// <summary>A counter set seen without its enum type: what `show` and /metrics enumerate.</summary>
public interface ICounterSet
{
    /// <summary>The set's name where a port has several (e.g. "virtqueue"); the label /metrics gives it.</summary>
    string Name { get; }

    /// <summary>Writes every counter (not the [NotCounted] outcomes) by name into <paramref name="target"/>;
    /// zeros too when <paramref name="includeZeros"/>.</summary>
    void CopyTo(IDictionary<string, long> target, bool includeZeros);

    /// <summary>Adds every counter (zeros too, so every name is there) into the running totals <paramref name="totals"/>
    /// (to keep the counts of a port that closed).</summary>
    void AddTo(IDictionary<string, long> totals);
}

/// <summary>One long per value of <typeparamref name="T"/>. Written by one loop, read by any thread.</summary>
public sealed class CounterSet<T> : ICounterSet
    where T : struct, Enum
{
    private readonly long[] values = new long[CounterNames<T>.Count];

    public CounterSet(string name = "") => Name = name;

    public string Name { get; }

    /// <summary>The value now (Volatile read).</summary>
    public long this[T counter] => Volatile.Read(ref values[CounterNames<T>.Index(counter)]);

    /// <summary>The sum of every counted value.</summary>
    public long Total
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < values.Length; i++)
            {
                if (CounterNames<T>.IsCounted(i))
                {
                    sum += Volatile.Read(ref values[i]);
                }
            }

            return sum;
        }
    }

    /// <summary>Counts one; on the owning loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Increment(T counter) => values[CounterNames<T>.Index(counter)]++;

    /// <summary>Counts <paramref name="n"/> (negative for a gauge going down); on the owning loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(T counter, long n) => values[CounterNames<T>.Index(counter)] += n;

    /// <summary>Sets a gauge or a value summed from elsewhere; on the owning loop.</summary>
    public void Set(T counter, long value) => Volatile.Write(ref values[CounterNames<T>.Index(counter)], value);

    /// <summary>Adds every counter of <paramref name="other"/> into this one (to keep the counts of a port that closed).</summary>
    public void AddFrom(CounterSet<T> other)
    {
        ArgumentNullException.ThrowIfNull(other);
        for (int i = 0; i < values.Length; i++)
        {
            values[i] += Volatile.Read(ref other.values[i]);
        }
    }

    /// <summary>Counted values by name; zeros too when <paramref name="includeZeros"/>.</summary>
    public Dictionary<string, long> Snapshot(bool includeZeros)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        CopyTo(result, includeZeros);
        return result;
    }

    public void AddTo(IDictionary<string, long> totals)
    {
        ArgumentNullException.ThrowIfNull(totals);
        for (int i = 0; i < values.Length; i++)
        {
            if (CounterNames<T>.IsCounted(i))
            {
                string name = CounterNames<T>.Name(i);
                totals[name] = totals.TryGetValue(name, out long sum) ? sum + Volatile.Read(ref values[i]) : Volatile.Read(ref values[i]);
            }
        }
    }

    public void CopyTo(IDictionary<string, long> target, bool includeZeros)
    {
        ArgumentNullException.ThrowIfNull(target);
        for (int i = 0; i < values.Length; i++)
        {
            long v = Volatile.Read(ref values[i]);
            if (CounterNames<T>.IsCounted(i) && (includeZeros || v != 0))
            {
                target[CounterNames<T>.Name(i)] = v;
            }
        }
    }
}
