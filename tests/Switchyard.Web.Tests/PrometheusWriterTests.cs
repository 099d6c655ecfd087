// The exposition writer against the format's rules, checked by the strict reader in PrometheusText
// (which is itself checked here to reject what the format forbids).
namespace Switchyard.Web.Tests;

public sealed class PrometheusWriterTests
{
    [Fact]
    public void LabelValues_WithBackslashQuoteAndNewline_AreEscapedAndReadBackExactly()
    {
        var w = new PrometheusWriter();
        w.Family("switchyard_port_info", MetricType.Gauge, "Help with a \\ backslash\nand a newline.");
        string nasty = "/tmp/a \"quoted\" dir\\with\nnewline";
        w.Sample(1, ("network", "default"), ("peer", nasty));

        string text = w.ToString();
        Assert.Contains("peer=\"/tmp/a \\\"quoted\\\" dir\\\\with\\nnewline\"", text, StringComparison.Ordinal);
        Assert.Contains("# HELP switchyard_port_info Help with a \\\\ backslash\\nand a newline.\n", text, StringComparison.Ordinal);
        PrometheusText parsed = PrometheusText.Parse(text);
        Assert.Equal(nasty, Assert.Single(parsed.Samples).Label("peer"));
        Assert.Equal("Help with a \\ backslash\nand a newline.", parsed.Help["switchyard_port_info"]);
    }

    [Fact]
    public void Counter_WithoutTotalSuffix_IsRefused()
    {
        var w = new PrometheusWriter();
        Assert.Throws<ArgumentException>(() => w.Family("switchyard_frames", MetricType.Counter, "x"));
    }

    [Fact]
    public void Family_WrittenTwice_IsRefused()
    {
        var w = new PrometheusWriter();
        w.Family("switchyard_a", MetricType.Gauge, "x");
        Assert.Throws<InvalidOperationException>(() => w.Family("switchyard_a", MetricType.Gauge, "x"));
    }

    [Theory]
    [InlineData("9lives")]
    [InlineData("switchyard-port")]
    [InlineData("")]
    [InlineData("switchyard port")]
    public void MetricName_OutsideTheGrammar_IsRefused(string name)
    {
        var w = new PrometheusWriter();
        Assert.Throws<ArgumentException>(() => w.Family(name, MetricType.Gauge, "x"));
    }

    [Theory]
    [InlineData("__reserved")]
    [InlineData("a:b")]
    [InlineData("0port")]
    public void LabelName_OutsideTheGrammar_IsRefused(string label)
    {
        var w = new PrometheusWriter();
        w.Family("switchyard_a", MetricType.Gauge, "x");
        Assert.Throws<ArgumentException>(() => w.Sample(1, (label, "v")));
    }

    [Fact]
    public void SpecialValues_AreWrittenAsTheFormatSpellsThem()
    {
        Assert.Equal("NaN", PrometheusWriter.FormatDouble(double.NaN));
        Assert.Equal("+Inf", PrometheusWriter.FormatDouble(double.PositiveInfinity));
        Assert.Equal("-Inf", PrometheusWriter.FormatDouble(double.NegativeInfinity));
        Assert.Equal("0.25", PrometheusWriter.FormatDouble(0.25));
        Assert.Equal("1E+20", PrometheusWriter.FormatDouble(1e20));
        Assert.Equal(1e20, PrometheusText.Parse("# HELP a x\n# TYPE a gauge\na 1E+20\n").Samples[0].Value);
    }

    [Theory]
    [InlineData("a 1\n", "without a TYPE")]
    [InlineData("# TYPE a gauge\na 1\n", "without a HELP")]
    [InlineData("# HELP a x\n# TYPE a gauge\na{l=\"1\"} 1\na{l=\"1\"} 2\n", "duplicate series")]
    [InlineData("# HELP a x\n# TYPE a gauge\na{l=\"\\t\"} 1\n", "invalid escape")]
    [InlineData("# HELP a x\n# TYPE a gauge\na{l=1} 1\n", "quoted")]
    [InlineData("# HELP a_total x\n# TYPE a_total counter\na_total -1\n", "negative")]
    [InlineData("# HELP a x\n# TYPE a counter\na 1\n", "_total")]
    [InlineData("# HELP a x\n# TYPE a gauge\n# HELP b x\n# TYPE b gauge\nb 1\na 1\n", "together")]
    [InlineData("# HELP a x\n# TYPE a gauge\na 1", "line feed")]
    [InlineData("# HELP a x\n# TYPE a gauge\n\na 1\n", "blank line")]
    [InlineData("# HELP a x\n# TYPE a gauge\na one\n", "not a number")]
    public void StrictReader_RejectsWhatTheFormatForbids(string text, string why)
    {
        FormatException ex = Assert.Throws<FormatException>(() => PrometheusText.Parse(text));
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
    }
}
