// The documentation's examples, checked against the code so the docs cannot drift from it:
//   * every `switchyard ...` command line in a shell block of README.md and docs/*.md parses with the
//     real CLI (the verb exists, its options exist, values are accepted);
//   * every YAML block that is a topology (starts with `networks:`) loads without an error, unless it
//     is marked <!-- test: ...broken... --> as a wrong file on purpose;
//   * every error message quoted in docs/troubleshooting.md is one the code can print (its fixed parts
//     appear in the sources).
// Running the examples for real is the end-to-end tests' job (tests/Switchyard.EndToEnd): they start
// the daemon and drive these verbs against QEMU guests and namespaces.
using System.CommandLine;
using System.Text;
using System.Text.RegularExpressions;
using Switchyard.Cli;
using Switchyard.Core.Config;
using Switchyard.Engine.Config;

namespace Switchyard.Engine.Tests.Cli;

public sealed partial class DocsExamplesTests
{
    private static readonly string Root = FindRoot();

    public static TheoryData<string> DocFiles() => [.. DocFileNames()];

    private static IEnumerable<string> DocFileNames() =>
        ["README.md", .. Directory.GetFiles(Path.Combine(Root, "docs"), "*.md").Order(StringComparer.Ordinal).Select(f => Path.GetRelativePath(Root, f))];

    [Theory]
    [MemberData(nameof(DocFiles))]
    public void ShellExamples_EverySwitchyardCommandLine_ParsesWithTheRealCli(string file)
    {
        var problems = new List<string>();
        foreach ((int line, string command) in SwitchyardCommands(file))
        {
            ParseResult parsed = Program.BuildRoot().Parse(Tokenize(command));
            if (parsed.Errors.Count > 0)
            {
                problems.Add($"{file}:{line}: `{command}`: {string.Join("; ", parsed.Errors.Select(e => e.Message))}");
            }
        }

        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [Fact]
    public void ShellExamples_AreFound_AndABadLineWouldFail()
    {
        List<(int Line, string Command)> all = [.. DocFileNames().SelectMany(SwitchyardCommands)];
        Assert.True(all.Count >= 20, $"only {all.Count} switchyard command lines found in the docs");
        Assert.Contains(all, c => c.Command.StartsWith("port set default vhost-user.1 --link down", StringComparison.Ordinal));
        Assert.NotEmpty(Program.BuildRoot().Parse(Tokenize("port set default x --link sideways")).Errors);
        Assert.NotEmpty(Program.BuildRoot().Parse(Tokenize("frobnicate --now")).Errors);
    }

    [Theory]
    [MemberData(nameof(DocFiles))]
    public void YamlExamples_EveryTopology_Loads(string file)
    {
        var problems = new List<string>();
        foreach ((int line, string lang, string text) in Blocks(file))
        {
            // A block marked <!-- test: ...broken... --> shows a wrong file on purpose (its errors are the example).
            bool broken = line >= 2 && File.ReadAllLines(Path.Combine(Root, file))[line - 2].Contains("broken", StringComparison.Ordinal);
            if (lang == "yaml" && !broken && text.TrimStart().StartsWith("networks:", StringComparison.Ordinal))
            {
                try
                {
                    _ = TopologyLoader.Load(text);
                }
                catch (ConfigException ex)
                {
                    problems.Add($"{file}:{line}: {ex.Message}");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [Fact]
    public void Troubleshooting_EveryQuotedErrorMessage_IsOneTheCodePrints()
    {
        string sources = string.Join('\n', Directory.GetFiles(Path.Combine(Root, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(File.ReadAllText));
        var problems = new List<string>();
        int checkedMessages = 0;
        foreach ((int line, string lang, string text) in Blocks("docs/troubleshooting.md"))
        {
            if (lang != "text")
            {
                continue;
            }

            foreach (string message in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                checkedMessages++;
                string body = message.Replace("switchyard: error: ", string.Empty, StringComparison.Ordinal);
                // <...> marks what varies (a path, a name, a number); the fixed parts must be in the code.
                foreach (string fragment in Placeholder().Split(body).Select(f => f.Trim()).Where(f => f.Length >= 12))
                {
                    if (!sources.Contains(fragment, StringComparison.Ordinal))
                    {
                        problems.Add($"docs/troubleshooting.md:{line}: \"{fragment}\" is not in the sources");
                    }
                }
            }
        }

        Assert.True(checkedMessages >= 10, $"only {checkedMessages} messages found in docs/troubleshooting.md's text blocks");
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    /// <summary>The switchyard invocations in a file's sh/bash/console blocks: continuations joined,
    /// `$ ` prompts and trailing comments removed, each part of a pipeline or list looked at.</summary>
    private static IEnumerable<(int Line, string Command)> SwitchyardCommands(string file)
    {
        foreach ((int line, string lang, string text) in Blocks(file))
        {
            if (lang is not ("sh" or "bash" or "console" or "shell"))
            {
                continue;
            }

            foreach (string logical in text.Replace("\\\n", " ", StringComparison.Ordinal).Split('\n'))
            {
                string l = logical.Trim();
                if (l.StartsWith("$ ", StringComparison.Ordinal))
                {
                    l = l[2..];
                }

                l = TrailingComment().Replace(l, string.Empty);
                foreach (string part in CommandSeparator().Split(l))
                {
                    string p = part.Trim();
                    foreach (string prefix in new[] { "sudo ", "exec " })
                    {
                        if (p.StartsWith(prefix, StringComparison.Ordinal))
                        {
                            p = p[prefix.Length..];
                        }
                    }

                    Match m = SwitchyardInvocation().Match(p);
                    if (m.Success)
                    {
                        yield return (line, m.Groups[1].Value.Trim());
                    }
                }
            }
        }
    }

    /// <summary>Fenced code blocks: (line of the opening fence, language, text).</summary>
    private static IEnumerable<(int Line, string Lang, string Text)> Blocks(string file)
    {
        string[] lines = File.ReadAllLines(Path.Combine(Root, file));
        for (int i = 0; i < lines.Length; i++)
        {
            string open = lines[i].TrimStart();
            if (!open.StartsWith("```", StringComparison.Ordinal))
            {
                continue;
            }

            string lang = open[3..].Trim();
            var text = new StringBuilder();
            int start = i + 1;
            for (i++; i < lines.Length && !lines[i].TrimStart().StartsWith("```", StringComparison.Ordinal); i++)
            {
                text.Append(lines[i]).Append('\n');
            }

            yield return (start, lang, text.ToString());
        }
    }

    /// <summary>Shell-like words: single and double quotes group, a backslash escapes in double quotes.</summary>
    private static string[] Tokenize(string command)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool inWord = false;
        char quote = '\0';
        for (int i = 0; i < command.Length; i++)
        {
            char c = command[i];
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
                else if (c == '\\' && quote == '"' && i + 1 < command.Length)
                {
                    word.Append(command[++i]);
                }
                else
                {
                    word.Append(c);
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }

        if (inWord)
        {
            words.Add(word.ToString());
        }

        return [.. words];
    }

    private static string FindRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "Switchyard.slnx")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException("the repository root (Switchyard.slnx) was not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^(?:\./|\S*/)?switchyard\s+(.*)$")]
    private static partial Regex SwitchyardInvocation();

    [GeneratedRegex(@"\s+#\s.*$")]
    private static partial Regex TrailingComment();

    [GeneratedRegex(@"\s*(?:\|\||&&|\||;)\s*")]
    private static partial Regex CommandSeparator();

    [GeneratedRegex(@"<[^>]+>")]
    private static partial Regex Placeholder();
}
