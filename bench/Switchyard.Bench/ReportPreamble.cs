// The opening every benchmark report shares: the title with the finish time, the command that
// produced it, and the process command line when the script ran something longer.
using System.Globalization;
using System.Text;

namespace Switchyard.Bench;

internal static class ReportPreamble
{
    public static void Append(StringBuilder sb, string title, string command, string? invocation)
    {
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"# {title}, finished {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC"));
        sb.AppendLine();
        AppendCode(sb, "Produced by:", command);
        if (invocation is not null && invocation != command)
        {
            AppendCode(sb, "which ran the benchmark process as:", invocation);
        }
    }

    private static void AppendCode(StringBuilder sb, string lead, string code)
    {
        sb.AppendLine(lead);
        sb.AppendLine();
        sb.AppendLine("```sh");
        sb.AppendLine(code);
        sb.AppendLine("```");
        sb.AppendLine();
    }
}
