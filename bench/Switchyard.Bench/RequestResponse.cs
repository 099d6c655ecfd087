// `switchyard-bench rr-server` and `rr-client`: TCP request/response latency, one byte each way.
//
// Theory of operation: the client connects once (the connect is not measured), then repeats "send one
// byte, wait for the one byte the server echoes" for a fixed time and records every round trip with
// Stopwatch ticks. One transaction is in flight at a time, so each round trip is the path's latency
// (both stacks, the NAT daemon's wake-up and its two socket hops), not its throughput. TCP_NODELAY on
// both ends keeps Nagle's algorithm out of it. The server is a thread per connection on blocking
// sockets: it only ever has one or two clients (a run's client and, in tests, a probe).
//
// The client prints one line of key=value pairs that NatBenchmark parses:
//   rr-client: transactions=N seconds=S median_us=M p90_us=... p99_us=... min_us=... max_us=... mean_us=...
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Switchyard.Bench;

internal static class RequestResponse
{
    public const string ServerHelp = """
        Usage: switchyard-bench rr-server --listen ADDR:PORT

        Accepts TCP connections on ADDR:PORT and echoes every byte it receives, one thread per
        connection, TCP_NODELAY on. Prints "rr-server: listening on ADDR:PORT" once it accepts, and runs
        until it is killed.

        """;

    public const string ClientHelp = """
        Usage: switchyard-bench rr-client --connect ADDR:PORT [--seconds S] [--warmup S]

        Connects once to an rr-server, then sends one byte and waits for its echo, again and again, for
        --warmup seconds (not recorded, default 0.5) and then --seconds seconds (default 5, at most
        600). Prints one line:
          rr-client: transactions=N seconds=S median_us=... p90_us=... p99_us=... min_us=... max_us=... mean_us=...
        Exits 1 (with a message) if the connection fails or the server stops answering for 5 s.

        """;

    public static int Server(string[] args)
    {
        IPEndPoint? listen = null;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                switch (args[i])
                {
                    case "-h" or "--help":
                        Console.Out.Write(ServerHelp);
                        return 0;
                    case "--listen" when i + 1 < args.Length:
                        listen = ParseEndPoint(args[++i]);
                        break;
                    default:
                        throw new UsageException($"unexpected argument '{args[i]}'");
                }
            }
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"switchyard-bench rr-server: {e.Message}");
            Console.Error.Write(ServerHelp);
            return 2;
        }

        if (listen is null)
        {
            Console.Error.Write(ServerHelp);
            return 2;
        }

        using var listener = new Socket(listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(listen);
        listener.Listen(16);
        Console.Out.WriteLine($"rr-server: listening on {listen}");
        Console.Out.Flush();
        while (true)
        {
            Socket connection = listener.Accept();
            var thread = new Thread(() => Echo(connection)) { IsBackground = true, Name = "rr-echo" };
            thread.Start();
        }
    }

    public static int Client(string[] args)
    {
        IPEndPoint? target = null;
        double seconds = 5;
        double warmup = 0.5;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                switch (args[i])
                {
                    case "-h" or "--help":
                        Console.Out.Write(ClientHelp);
                        return 0;
                    case "--connect" when i + 1 < args.Length:
                        target = ParseEndPoint(args[++i]);
                        break;
                    case "--seconds" when i + 1 < args.Length:
                        seconds = ParseSeconds(args[i], args[++i]);
                        break;
                    case "--warmup" when i + 1 < args.Length:
                        warmup = ParseSeconds(args[i], args[++i]);
                        break;
                    default:
                        throw new UsageException($"unexpected argument '{args[i]}'");
                }
            }
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"switchyard-bench rr-client: {e.Message}");
            Console.Error.Write(ClientHelp);
            return 2;
        }

        if (target is null)
        {
            Console.Error.Write(ClientHelp);
            return 2;
        }

        try
        {
            RrStats stats = Measure(target, seconds, warmup);
            Console.Out.WriteLine(FormattableString.Invariant(
                $"rr-client: transactions={stats.Transactions} seconds={stats.Seconds:F3} median_us={stats.MedianUs:F1} p90_us={stats.P90Us:F1} p99_us={stats.P99Us:F1} min_us={stats.MinUs:F1} max_us={stats.MaxUs:F1} mean_us={stats.MeanUs:F1}"));
            return 0;
        }
        catch (Exception e) when (e is SocketException or IOException or BenchException)
        {
            Console.Error.WriteLine($"switchyard-bench rr-client: {e.Message}");
            return 1;
        }
    }

    /// <summary>Parses the client's output line; null if it is not there.</summary>
    public static RrStats? ParseClientLine(string output)
    {
        foreach (string line in output.Split('\n'))
        {
            if (!line.StartsWith("rr-client: transactions=", StringComparison.Ordinal))
            {
                continue;
            }

            var kv = new Dictionary<string, double>();
            foreach (string part in line["rr-client: ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = part.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0 && double.TryParse(part[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                {
                    kv[part[..eq]] = v;
                }
            }

            double Get(string key) => kv.TryGetValue(key, out double v) ? v : double.NaN;
            return new RrStats((long)Get("transactions"), Get("seconds"), Get("median_us"), Get("p90_us"), Get("p99_us"), Get("min_us"), Get("max_us"), Get("mean_us"));
        }

        return null;
    }

    private static RrStats Measure(IPEndPoint target, double seconds, double warmup)
    {
        using var s = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        s.ReceiveTimeout = 5000; // a NAT that stops forwarding ends the run instead of hanging it
        s.SendTimeout = 5000;
        s.Connect(target);

        // One slot per transaction, allocated up front: 20 µs round trips for 600 s would be 30 M; a
        // list that grows is fine below that and keeps the loop free of anything but the two syscalls.
        var samples = new List<long>(1 << 20);
        byte[] request = [0x2a];
        byte[] response = new byte[1];
        long frequency = Stopwatch.Frequency;
        long warmupEnd = Stopwatch.GetTimestamp() + (long)(warmup * frequency);
        long end = warmupEnd + (long)(seconds * frequency);
        long windowStart = 0;
        while (true)
        {
            long t0 = Stopwatch.GetTimestamp();
            if (t0 >= end)
            {
                break;
            }

            if (s.Send(request) != 1)
            {
                throw new BenchException("send() took no byte");
            }

            if (s.Receive(response) != 1)
            {
                throw new BenchException("the server closed the connection");
            }

            long t1 = Stopwatch.GetTimestamp();
            if (t0 >= warmupEnd)
            {
                if (windowStart == 0)
                {
                    windowStart = t0;
                }

                samples.Add(t1 - t0);
            }
        }

        if (samples.Count == 0)
        {
            throw new BenchException("no round trip completed in the measured window");
        }

        double window = (double)(Stopwatch.GetTimestamp() - windowStart) / frequency;
        samples.Sort();
        double Us(long ticks) => ticks * 1e6 / frequency;
        double Quantile(double q) => Us(samples[Math.Min(samples.Count - 1, (int)(q * samples.Count))]);
        double sum = 0;
        foreach (long t in samples)
        {
            sum += t;
        }

        double median = samples.Count % 2 == 1
            ? Us(samples[samples.Count / 2])
            : (Us(samples[(samples.Count / 2) - 1]) + Us(samples[samples.Count / 2])) / 2;
        return new RrStats(samples.Count, window, median, Quantile(0.90), Quantile(0.99), Us(samples[0]), Us(samples[^1]), Us((long)(sum / samples.Count)));
    }

    private static void Echo(Socket connection)
    {
        using (connection)
        {
            connection.NoDelay = true;
            byte[] buffer = new byte[4096];
            try
            {
                while (true)
                {
                    int n = connection.Receive(buffer);
                    if (n == 0)
                    {
                        return;
                    }

                    int sent = 0;
                    while (sent < n)
                    {
                        sent += connection.Send(buffer.AsSpan(sent, n - sent));
                    }
                }
            }
            catch (SocketException)
            {
                // The client went away (reset): this connection is done, the server carries on.
            }
        }
    }

    private static IPEndPoint ParseEndPoint(string text) =>
        IPEndPoint.TryParse(text, out IPEndPoint? ep) && ep.Port != 0
            ? ep
            : throw new UsageException($"expected ADDR:PORT, not '{text}'");

    private static double ParseSeconds(string option, string text) =>
        double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double v) && v >= 0 && v <= 600
            ? v
            : throw new UsageException($"{option} takes seconds from 0 to 600, not '{text}'");
}

/// <summary>What one rr-client run measured: round-trip times in microseconds.</summary>
internal sealed record RrStats(long Transactions, double Seconds, double MedianUs, double P90Us, double P99Us, double MinUs, double MaxUs, double MeanUs)
{
    public double PerSecond => Seconds > 0 ? Transactions / Seconds : 0;
}
