// The switchyard executable: the root command and the options every verb shares. Each verb is one file in
// Verbs/ (`up` runs the daemon; the others are clients of its control socket, or read the host). Every
// verb writes through the ParseResult's InvocationConfiguration, so tests run verbs in-process.
using System.CommandLine;
using System.Net.Sockets;
using System.Text.Json;
using Switchyard.Engine.Commands;
using Switchyard.Engine.Config;
using Switchyard.Engine.Control;

namespace Switchyard.Cli;

internal static partial class Program
{
    private static readonly Option<string?> RunDirOption = new("--run-dir")
    {
        Description = "Directory for the daemon's sockets (default: $XDG_RUNTIME_DIR/switchyard, or /run/switchyard for root)",
        Recursive = true,
    };

    private static readonly Option<bool> JsonOption = new("--json") { Description = "Print the raw JSON answer of the control API" };

    private static readonly Option<bool> PrintCapabilitiesOption = new("--print-capabilities")
    {
        Description = "Print the vhost-user back-end capabilities as JSON (vhost-user.rst, \"Backend program conventions\") and exit",
    };

    private static Task<int> Main(string[] args) => RunAsync(args);

    /// <summary>Runs the CLI with <paramref name="args"/>; output and errors go to the writers of
    /// <paramref name="configuration"/> (the console by default), so tests can run verbs in-process.</summary>
    internal static async Task<int> RunAsync(string[] args, InvocationConfiguration? configuration = null) =>
        await BuildRoot().Parse(args).InvokeAsync(configuration ?? new InvocationConfiguration()).ConfigureAwait(false);

    /// <summary>The whole command tree; tests parse documented command lines against it.</summary>
    internal static RootCommand BuildRoot()
    {
        var root = new RootCommand("Switchyard: the host side of virtual-machine networking (switch, NAT gateway, vhost-user back-end, QEMU stream/socket/dgram peers).")
        {
            RunDirOption,
            PrintCapabilitiesOption,
            UpVerb(),
            ShowVerb(),
            FdbVerb(),
            PortVerb(),
            LeasesVerb(),
            FlowsVerb(),
            ForwardVerb(),
            AttachVerb(),
            ExecVerb(),
            TapsVerb(),
            EventsVerb(),
            CheckVerb(), ReloadVerb(), QemuArgsVerb(),
            CaptureVerb(),
        };
        root.SetAction(r =>
        {
            if (r.GetValue(PrintCapabilitiesOption))
            {
                // The vhost-user.json schema: a net back-end; no type-specific features are defined for net.
                Out(r).Write("{\n  \"type\": \"net\"\n}\n");
                return 0;
            }

            Err(r).WriteLine("switchyard: a command is required (try 'switchyard up', or 'switchyard --help')");
            return 2;
        });
        return root;
    }

    /// <summary>
    /// The old `-n/--network NETWORK` of `fdb` and `forward add|del|list`. Every verb that acts on one network
    /// now takes it as its first argument (`port add NETWORK ...`, `leases NETWORK`, `forward add NETWORK RULE`);
    /// the option still works, hidden from help, and says so on stderr.
    /// </summary>
    private static Option<string?> DeprecatedNetworkOption() => new("--network", "-n")
    {
        Description = "Deprecated: give the network as the first argument",
        Hidden = true,
    };

    /// <summary>The network a verb was given, positional or by the deprecated option (with a warning).
    /// False, after a usage error, when both name different networks.</summary>
    private static bool TryNetwork(ParseResult r, Argument<string?> positional, Option<string?> deprecated, string usage, out string? network) =>
        TryNetwork(r, r.GetValue(positional), deprecated, usage, out network);

    private static bool TryNetwork(ParseResult r, string? positional, Option<string?> deprecated, string usage, out string? network)
    {
        network = positional;
        if (r.GetValue(deprecated) is not { } old)
        {
            return true;
        }

        Err(r).WriteLine($"switchyard: warning: -n/--network is deprecated; give the network first: {usage}");
        if (positional is not null && positional != old)
        {
            Fail(r, $"two networks given ({positional} and --network {old}); give one: {usage}", 2);
            return false;
        }

        network = old;
        return true;
    }

    private static TextWriter Out(ParseResult r) => r.InvocationConfiguration.Output;

    private static TextWriter Err(ParseResult r) => r.InvocationConfiguration.Error;

    private static string RunDir(ParseResult r) => r.GetValue(RunDirOption) is { Length: > 0 } dir ? Path.GetFullPath(dir) : Defaults.RunDirectory();

    private static async Task<int> ClientAsync(ParseResult r, string runDir, ControlRequest request, bool json, Func<ControlResponse, string> render, CancellationToken ct)
    {
        ControlResponse response;
        try
        {
            response = await ControlClient.SendAsync(Path.Combine(runDir, Defaults.ControlSocketFileName), request, ct).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            return Fail(r, ex.Message, 1);
        }

        if (json)
        {
            await Out(r).WriteLineAsync(JsonSerializer.Serialize(response, ControlJson.Default.ControlResponse)).ConfigureAwait(false);
            return response.Ok ? 0 : 1;
        }

        if (!response.Ok)
        {
            return Fail(r, response.Error ?? "failed", 1);
        }

        await Out(r).WriteAsync(render(response)).ConfigureAwait(false);
        return 0;
    }

    private static int Fail(ParseResult r, string message, int code)
    {
        foreach (string line in message.Split('\n'))
        {
            Err(r).WriteLine($"switchyard: error: {line}");
        }

        return code;
    }
}
