// Options of `switchyard-bench nat`: the shared scenario options (ScenarioOptions) plus the MTUs, the
// anchors' binaries and the guest interface's queue.
using System.Globalization;
using static Switchyard.Bench.OptionText;

namespace Switchyard.Bench;

/// <summary>The user-mode NAT between the guest namespace and the host namespace.</summary>
internal enum NatTool
{
    /// <summary>Switchyard's NAT gateway, the guest on a tap port of the same network.</summary>
    Switchyard,

    /// <summary>pasta (Debian package passt), attached to the guest namespace with --netns.</summary>
    Pasta,

    /// <summary>slirp4netns (libslirp), attached to the guest namespace with --netns-type=path.</summary>
    Slirp4netns,
}

internal sealed record NatOptions : ScenarioOptions<NatTool>
{
    private static readonly ToolName<NatTool>[] Names =
    [
        new(NatTool.Switchyard, "switchyard"),
        new(NatTool.Pasta, "pasta", "passt"),
        new(NatTool.Slirp4netns, "slirp4netns", "slirp"),
    ];

    public NatOptions()
    {
        Runs = 3;
        NetnsPrefix = string.Create(CultureInfo.InvariantCulture, $"synat-{Environment.ProcessId}");
    }

    public override IReadOnlyList<ToolName<NatTool>> ToolNames => Names;

    public IReadOnlyList<int> Mtus { get; init; } = [1500, 65520];

    public string Pasta { get; init; } = "pasta";

    public string Slirp4netns { get; init; } = "slirp4netns";

    /// <summary>The guest interface's transmit queue in frames (0: the kernel's default); see the help.</summary>
    public int GuestQueueLength { get; init; } = 10000;

    protected override string Usage => """
        Usage: switchyard-bench nat [options]

        TCP throughput and latency from a network namespace (the "guest") through a user-mode NAT to
        servers on the loopback of another namespace (the "host"), both created by the benchmark for
        every run and deleted afterwards; the NAT daemon and the servers run in the host namespace, the
        clients in the guest. Per run: a 1-byte TCP request/response loop (rr-client to rr-server), ping
        to the host namespace's address, iperf3 guest -> host and iperf3 -R (host -> guest), all
        against the gateway address 10.0.2.2, which every tool maps to the host's loopback. Tools
        alternate run by run (A B C A B C ...) at every MTU. Needs root, ip (iproute2), iperf3, busybox
        (ping), and the tools' binaries; bench/run-nat.sh installs the missing Debian packages.

        """;

    protected override string OwnHelp => """
          --mtus LIST           MTUs of the guest's interface, 576..65520 (default: 1500,65520)
          --pasta P             pasta binary (default: pasta on PATH)
          --slirp4netns P       slirp4netns binary (default: slirp4netns on PATH)
          --guest-txqueuelen N  Transmit queue of the guest's interface, in frames, set alike for every
                                tool once it is up (default: 10000; 0: leave the kernel's 1000). A tap
                                drops what overflows it, and pasta recovers from such a loss only by
                                retransmission timeouts: at 1000 frames (1.5 MB at MTU 1500, less than
                                one TCP window) its guest -> host stream stalls on a busy machine

        """;

    protected override string NamespaceHelp => "Names of the namespaces: NAME-host and NAME-guest (default: synat-PID)";

    /// <summary>Parses the arguments after `nat`; null means help was asked for.</summary>
    public static NatOptions? Parse(IReadOnlyList<string> args) => Parse(new NatOptions(), args);

    protected override ScenarioOptions<NatTool>? ParseOwn(string arg, IReadOnlyList<string> args, ref int i) => arg switch
    {
        "--mtus" => this with { Mtus = ParseList(arg, Value(args, ref i), 576, 65520) },
        "--pasta" => this with { Pasta = Value(args, ref i) },
        "--slirp4netns" => this with { Slirp4netns = Value(args, ref i) },
        "--guest-txqueuelen" => this with { GuestQueueLength = ParseInt(arg, Value(args, ref i), 0, 1_000_000) },
        _ => null,
    };
}
