// The examples of docs/topology.md and docs/deploy.md, run: every topology passes `check`, the broken
// one gives exactly the output shown, the reload answer is what a reload of that change prints, the
// systemd unit passes `systemd-analyze verify`, the libvirt domain passes `virt-xml-validate`, and the
// qemu-args line is what the daemon answers for the deploy topology. Examples are found by the
// `<!-- test: NAME -->` comment above their fence. Paths under /run/switchyard and /etc/switchyard
// are moved to a temp directory, and host port 2222 to a free one; nothing else is changed.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Cli;
using Switchyard.Engine.Config;
using Switchyard.Engine.Networks;
using Switchyard.TestKit.Qemu;
using Xunit.Abstractions;

namespace Switchyard.Engine.Tests.Cli;

[Collection(CliCollection.Name)]
public sealed partial class TopologyDocsTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("sy-docs-").FullName;
    private readonly int port = FreeTcpPort();

    private static string Root => GuestImage.FindRepositoryRoot(AppContext.BaseDirectory)
        ?? throw new InvalidOperationException("cannot find the repository root");

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public async Task TopologyDoc_EveryValidExample_PassesCheck()
    {
        string doc = await File.ReadAllTextAsync(Path.Combine(Root, "docs", "topology.md"));
        List<(string? Name, string Language, string Body)> blocks = Blocks(doc);
        List<string> valid = [.. blocks.Where(b => b.Language == "yaml" && b.Name != "check-broken").Select(b => b.Body)];
        Assert.True(valid.Count >= 2, "topology.md has its YAML examples");
        foreach (string yaml in valid)
        {
            string file = Path.Combine(dir, "example.yaml");
            await File.WriteAllTextAsync(file, Local(yaml));
            (int code, string output, string error) = await Run("check", "-c", file);
            Assert.True(code == 0, yaml + "\n" + error);
            Assert.Contains("is valid", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task TopologyDoc_BrokenExample_CheckPrintsExactlyTheDocumentedOutput()
    {
        string doc = await File.ReadAllTextAsync(Path.Combine(Root, "docs", "topology.md"));
        string yaml = Block(doc, "check-broken");
        (string command, string expected) = Transcript(Block(doc, "check-broken-output"));
        Assert.Equal("switchyard check -c lab.yaml", command);
        string file = Path.Combine(dir, "lab.yaml");
        await File.WriteAllTextAsync(file, yaml);

        (int code, string output, string error) = await Run("check", "-c", file);

        Assert.Equal(1, code);
        Assert.Equal(string.Empty, output);
        Assert.Equal(expected, error.Replace(dir + "/", string.Empty, StringComparison.Ordinal));
    }

    [Fact]
    public async Task TopologyDoc_ReloadExample_IsWhatThatReloadPrints()
    {
        string doc = await File.ReadAllTextAsync(Path.Combine(Root, "docs", "topology.md"));
        (string command, string expected) = Transcript(Block(doc, "reload-output"));
        Assert.Equal("switchyard reload", command);
        string file = Path.Combine(dir, "topology.yaml");
        string Port(string name) => $"      - name: {name}\n        netdev: \"stream,addr.type=unix,addr.path={dir}/{name}.sock,server=on\"\n";
        await File.WriteAllTextAsync(file, "networks:\n  - name: lab\n    gateway: true\n    ports:\n" + Port("p1") + Port("p2"));
        await using Daemon daemon = await Daemon.StartAsync(new DaemonOptions(dir, TopologyLoader.LoadFile(file), NullLoggerFactory.Instance, ConfigPath: file));
        await File.WriteAllTextAsync(file, $"networks:\n  - name: lab\n    gateway: \"user,hostfwd=tcp:127.0.0.1:{port}-:22\"\n    ports:\n" + Port("p2") + Port("p3"));

        (int code, string output, string error) = await Run("reload");

        Assert.True(code == 0, error);
        Assert.Equal(Local(expected), output);
    }

    [Fact]
    public async Task DeployDoc_Topology_PassesCheck()
    {
        string doc = await File.ReadAllTextAsync(Path.Combine(Root, "docs", "deploy.md"));
        string file = Path.Combine(dir, "topology.yaml");
        await File.WriteAllTextAsync(file, Local(Block(doc, "deploy-topology")));

        (int code, string output, string error) = await Run("check", "-c", file);

        Assert.True(code == 0, error);
        Assert.Contains("2 ports, 1 gateway, 1 forward", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeployDoc_QemuArgs_IsWhatTheDaemonAnswersForTheDeployTopology()
    {
        string doc = await File.ReadAllTextAsync(Path.Combine(Root, "docs", "deploy.md"));
        TopologyConfig topology = TopologyLoader.Load(Local(Block(doc, "deploy-topology")));
        (string command, string expected) = Transcript(Block(doc, "deploy-qemu-args"));
        string[] args = Local(command).Split(' ')[1..];
        await using Daemon daemon = await Daemon.StartAsync(new DaemonOptions(dir, topology, NullLoggerFactory.Instance));

        var output = new StringWriter();
        var error = new StringWriter();
        int code = await Program.RunAsync(args, new InvocationConfiguration { Output = output, Error = error });

        Assert.True(code == 0, error.ToString());
        Assert.Equal(Local(expected), output.ToString());
        Assert.Equal(string.Empty, error.ToString());
    }

    [Fact]
    public async Task DeployDoc_LibvirtDomain_ValidatesAndMatchesTheTopologyAndQemuArgs()
    {
        string doc = await File.ReadAllTextAsync(Path.Combine(Root, "docs", "deploy.md"));
        string xml = Block(doc, "deploy-libvirt");
        Assert.Contains($"<mac address='{QemuArgsBuilder.Mac("vm1")}'/>", xml, StringComparison.Ordinal);
        Assert.Contains("<source type='unix' path='/run/switchyard/vm.sock' mode='client'/>", xml, StringComparison.Ordinal);
        Assert.Contains("vhost-user,path=/run/switchyard/vm.sock,server=on", Block(doc, "deploy-topology"), StringComparison.Ordinal);
        if (Which("virt-xml-validate") is not { } validator || Which("xmllint") is null)
        {
            log.WriteLine("skipped the schema check: virt-xml-validate or xmllint not installed (apt-get install libvirt-clients libxml2-utils)");
            return;
        }

        string file = Path.Combine(dir, "vm1.xml");
        await File.WriteAllTextAsync(file, xml);
        (int code, string text) = Execute(validator, file, "domain");
        Assert.True(code == 0, text);
    }

    [Fact]
    public async Task DeployDoc_SystemdUnit_PassesSystemdAnalyzeVerify()
    {
        string doc = await File.ReadAllTextAsync(Path.Combine(Root, "docs", "deploy.md"));
        string unit = Block(doc, "deploy-unit");
        Assert.Contains("Type=notify", unit, StringComparison.Ordinal);
        Assert.Contains("ExecReload=/bin/kill -HUP $MAINPID", unit, StringComparison.Ordinal);
        Assert.Contains("ExecStart=/usr/local/bin/switchyard up -c /etc/switchyard/topology.yaml", unit, StringComparison.Ordinal);
        if (Which("systemd-analyze") is not { } analyze)
        {
            log.WriteLine("skipped: systemd-analyze not installed");
            return;
        }

        // verify wants the executables to exist: the unit runs a stand-in at the binary's place.
        string binary = Path.Combine(dir, "switchyard");
        await File.WriteAllTextAsync(binary, "#!/bin/sh\nexit 0\n");
        File.SetUnixFileMode(binary, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string file = Path.Combine(dir, "switchyard.service");
        await File.WriteAllTextAsync(file, unit.Replace("/usr/local/bin/switchyard", binary, StringComparison.Ordinal));

        (int code, string text) = Execute(analyze, "verify", file);

        log.WriteLine(text);
        Assert.True(code == 0, text);
        Assert.DoesNotContain("switchyard.service:", text, StringComparison.Ordinal); // No complaint about our unit.
    }

    // ---- helpers ----

    // /run/switchyard and /etc/switchyard to the temp directory; port 2222 to a free one.
    private string Local(string text) => text
        .Replace("/run/switchyard", dir, StringComparison.Ordinal)
        .Replace("/etc/switchyard", dir, StringComparison.Ordinal)
        .Replace(":2222-", string.Create(CultureInfo.InvariantCulture, $":{port}-"), StringComparison.Ordinal);

    private static string Block(string doc, string name) =>
        Blocks(doc).FirstOrDefault(b => b.Name == name).Body ?? throw new InvalidOperationException($"no example '{name}'");

    private static List<(string? Name, string Language, string Body)> Blocks(string doc)
    {
        var blocks = new List<(string?, string, string)>();
        foreach (Match m in Fence().Matches(doc))
        {
            string? name = m.Groups["name"].Success ? m.Groups["name"].Value : null;
            blocks.Add((name, m.Groups["lang"].Value, m.Groups["body"].Value));
        }

        return blocks;
    }

    // "$ COMMAND\nOUTPUT" -> (COMMAND, OUTPUT).
    private static (string Command, string Output) Transcript(string block)
    {
        Assert.StartsWith("$ ", block, StringComparison.Ordinal);
        int newline = block.IndexOf('\n', StringComparison.Ordinal);
        return (block[2..newline], block[(newline + 1)..]);
    }

    private async Task<(int Code, string Output, string Error)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await Program.RunAsync([.. args, "--run-dir", dir], new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    private static string? Which(string program) =>
        new[] { "/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin" }.Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists);

    private static (int Code, string Output) Execute(string program, params string[] args)
    {
        using Process p = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), $"{program} did not finish");
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    private static int FreeTcpPort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"(?:<!-- test: (?<name>[a-z0-9-]+) -->\n)?```(?<lang>[a-z]*)\n(?<body>.*?)```", RegexOptions.Singleline)]
    private static partial Regex Fence();
}
