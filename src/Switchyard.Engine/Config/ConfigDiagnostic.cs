// One problem in a topology file, with where it is: the line (0 when unknown), the path in YAML terms
// ("networks[0].ports[1].name") and the message. `switchyard check` and `reload` print these as
// "FILE:LINE: path: message", the way compilers report errors, so editors can jump to them.
using System.Globalization;

namespace Switchyard.Engine.Config;

/// <summary>A problem at a line (0: unknown) and YAML path (empty: the whole file).</summary>
public sealed record ConfigDiagnostic(int Line, string Path, string Message)
{
    /// <summary>"line N: path: message", the form <see cref="ConfigException"/> messages take.</summary>
    public override string ToString()
    {
        string where = Path.Length == 0 ? string.Empty : Path + ": ";
        return Line > 0 ? $"line {Line.ToString(CultureInfo.InvariantCulture)}: {where}{Message}" : where + Message;
    }

    /// <summary>"FILE:LINE: path: message" (or "FILE: path: message" without a line).</summary>
    public string Format(string file)
    {
        string where = Path.Length == 0 ? string.Empty : Path + ": ";
        return Line > 0 ? $"{file}:{Line.ToString(CultureInfo.InvariantCulture)}: {where}{Message}" : $"{file}: {where}{Message}";
    }
}
