// The one exception type the configuration model throws.
//
// Theory of operation: configuration comes from people (a YAML file, CLI flags, an API call), so a
// mistake is reported the way a compiler reports one: every problem found, each on its own line,
// each saying what is wrong and how to fix it. Parsers and validators collect messages into a list
// and throw one ConfigException at the end (STYLE.md habit 15); nothing in Config throws after the
// first problem it sees, except constructors called directly by code, which are a programmer's
// contract and report the one rule that was broken.
namespace Switchyard.Core.Config;

/// <summary>One or more configuration errors, each a complete sentence with a hint.</summary>
public sealed class ConfigException : Exception
{
    /// <summary>A generic error; prefer a constructor that says what is wrong.</summary>
    public ConfigException()
        : this("invalid configuration")
    {
    }

    /// <summary>A single error.</summary>
    public ConfigException(string error)
        : this([error])
    {
    }

    /// <summary>A single error caused by an operating-system failure (a file that cannot be read, a host
    /// name that does not resolve).</summary>
    public ConfigException(string error, Exception innerException)
        : base(error, innerException)
    {
        Errors = [error];
    }

    /// <summary>All errors found, in the order they should be shown. Must not be empty.</summary>
    public ConfigException(IEnumerable<string> errors)
        : this(Freeze(errors))
    {
    }

    private ConfigException(string[] errors)
        : base(string.Join('\n', errors))
    {
        Errors = errors;
    }

    /// <summary>Every problem found, one message each; <see cref="Exception.Message"/> is these joined
    /// with newlines.</summary>
    public IReadOnlyList<string> Errors { get; }

    private static string[] Freeze(IEnumerable<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        string[] list = [.. errors];
        if (list.Length == 0)
        {
            throw new ArgumentException("A ConfigException needs at least one error.", nameof(errors));
        }

        return list;
    }
}
