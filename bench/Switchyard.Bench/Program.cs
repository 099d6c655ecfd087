// switchyard-bench: benchmarks that run Switchyard and the tool a user would otherwise pick side by
// side in one run, alternating (A B A B ...), every run time-bounded, and report medians and ratios.
// Subcommands: `stream` (two synthetic peers through the switch; see StreamBenchmark) and `vhost`
// (DPDK virtio-user guests through Switchyard's vhost-user back-end and the DPDK ceiling; see VhostBenchmark),
// `nat` (a namespace behind Switchyard's NAT gateway, pasta and slirp4netns; see NatBenchmark), `l2` (two
// namespaces joined by Switchyard, the Linux bridge and vde_switch; see L2Benchmark), and the
// `rr-server`/`rr-client` pair that `nat` and `l2` run inside its namespaces (see RequestResponse).
namespace Switchyard.Bench;

internal static class Program
{
    private const string Usage = """
        Usage: switchyard-bench <command> [options]

        Commands:
          stream   Two synthetic peers through the switch (Switchyard's stream socket, vde_switch, a ceiling)
          vhost    DPDK virtio-user guests through Switchyard's vhost-user back-end and the DPDK vhost ceiling
          nat      A network namespace through Switchyard's NAT gateway, pasta and slirp4netns to the host
          l2       Two network namespaces joined by Switchyard (taps), the Linux bridge (veth) and vde_switch (taps)
          rr-server  Echo server for the TCP request/response latency test
          rr-client  One-byte TCP request/response loop against rr-server; prints the round-trip times

        Run `switchyard-bench <command> --help` for the options of a command.

        """;

    private static int Main(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.Write(Usage);
            return 2;
        }

        switch (args[0])
        {
            case "-h" or "--help" or "help":
                Console.Out.Write(Usage);
                return 0;
            case "stream":
                return RunStream(args[1..]);
            case "vhost":
                return RunVhost(args[1..]);
            case "nat":
                return RunNat(args[1..]);
            case "l2":
                return RunL2(args[1..]);
            case "rr-server":
                return RequestResponse.Server(args[1..]);
            case "rr-client":
                return RequestResponse.Client(args[1..]);
            default:
                Console.Error.WriteLine($"switchyard-bench: unknown command '{args[0]}'");
                Console.Error.Write(Usage);
                return 2;
        }
    }

    private static int RunStream(string[] args)
    {
        StreamOptions? options;
        try
        {
            options = StreamOptions.Parse(args);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"switchyard-bench stream: {e.Message}");
            Console.Error.WriteLine("Run `switchyard-bench stream --help` for the options.");
            return 2;
        }

        if (options is null)
        {
            Console.Out.Write(StreamOptions.Help);
            return 0;
        }

        using var children = new ChildProcesses();
        try
        {
            return new StreamBenchmark(options, children).Run();
        }
        catch (BenchException e)
        {
            Console.Error.WriteLine($"switchyard-bench stream: {e.Message}");
            return 1;
        }
    }

    private static int RunVhost(string[] args)
    {
        VhostOptions? options;
        try
        {
            options = VhostOptions.Parse(args);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"switchyard-bench vhost: {e.Message}");
            Console.Error.WriteLine("Run `switchyard-bench vhost --help` for the options.");
            return 2;
        }

        if (options is null)
        {
            Console.Out.Write(VhostOptions.Help);
            return 0;
        }

        using var children = new ChildProcesses();
        try
        {
            return new VhostBenchmark(options, children).Run();
        }
        catch (BenchException e)
        {
            Console.Error.WriteLine($"switchyard-bench vhost: {e.Message}");
            return 1;
        }
    }

    private static int RunL2(string[] args)
    {
        L2Options? options;
        try
        {
            options = L2Options.Parse(args);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"switchyard-bench l2: {e.Message}");
            Console.Error.WriteLine("Run `switchyard-bench l2 --help` for the options.");
            return 2;
        }

        if (options is null)
        {
            Console.Out.Write(new L2Options().Help);
            return 0;
        }

        using var children = new ChildProcesses();
        try
        {
            return new L2Benchmark(options, children).Run();
        }
        catch (BenchException e)
        {
            Console.Error.WriteLine($"switchyard-bench l2: {e.Message}");
            return 1;
        }
    }

    private static int RunNat(string[] args)
    {
        NatOptions? options;
        try
        {
            options = NatOptions.Parse(args);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"switchyard-bench nat: {e.Message}");
            Console.Error.WriteLine("Run `switchyard-bench nat --help` for the options.");
            return 2;
        }

        if (options is null)
        {
            Console.Out.Write(new NatOptions().Help);
            return 0;
        }

        using var children = new ChildProcesses();
        try
        {
            return new NatBenchmark(options, children).Run();
        }
        catch (BenchException e)
        {
            Console.Error.WriteLine($"switchyard-bench nat: {e.Message}");
            return 1;
        }
    }
}

/// <summary>A bad command line; the message says what to change.</summary>
internal sealed class UsageException : Exception
{
    public UsageException()
    {
    }

    public UsageException(string message)
        : base(message)
    {
    }

    public UsageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The benchmark could not run (a tool missing, a daemon that never got ready, ...).</summary>
internal sealed class BenchException : Exception
{
    public BenchException()
    {
    }

    public BenchException(string message)
        : base(message)
    {
    }

    public BenchException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
