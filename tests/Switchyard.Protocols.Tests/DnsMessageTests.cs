// The DNS message view: header fields, the bounded question walk, and header-only answers.
using FsCheck;
using FsCheck.Fluent;

namespace Switchyard.Protocols.Tests;

public sealed class DnsMessageTests
{
    // ID 0xBEEF, RD, one question: example.com A IN.
    private static readonly byte[] Query =
    [
        0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
        7, (byte)'e', (byte)'x', (byte)'a', (byte)'m', (byte)'p', (byte)'l', (byte)'e', 3, (byte)'c', (byte)'o', (byte)'m', 0,
        0, 1, 0, 1,
    ];

    [Fact]
    public void TryParse_Query_HeaderFieldsRead()
    {
        Assert.True(DnsMessage.TryParse(Query, out DnsMessage dns));
        Assert.Equal(0xBEEF, dns.Id);
        Assert.False(dns.IsResponse);
        Assert.Equal(0, dns.Opcode);
        Assert.Equal(1, dns.QuestionCount);
        Assert.Equal(0, dns.AnswerCount);
        Assert.True(dns.TryGetFirstQuestion(out ReadOnlySpan<byte> q, out ushort qtype, out ushort qclass));
        Assert.Equal(17, q.Length);
        Assert.Equal(1, qtype);
        Assert.Equal(1, qclass);
    }

    [Fact]
    public void TryParse_ShorterThanHeader_Rejected() => Assert.False(DnsMessage.TryParse(new byte[11], out _));

    [Fact]
    public void Question_NoQuestionCount_Rejected()
    {
        byte[] m = (byte[])Query.Clone();
        m[5] = 0;
        Assert.True(DnsMessage.TryParse(m, out DnsMessage dns));
        Assert.False(dns.TryGetFirstQuestion(out _, out _, out _));
    }

    [Fact]
    public void Question_LabelPastEnd_Rejected()
    {
        byte[] m = (byte[])Query.Clone();
        m[12] = 40;
        Assert.True(DnsMessage.TryParse(m, out DnsMessage dns));
        Assert.False(dns.TryGetFirstQuestion(out _, out _, out _));
    }

    [Fact]
    public void Question_MissingTypeAndClass_Rejected()
    {
        Assert.True(DnsMessage.TryParse(Query.AsSpan(0, Query.Length - 2), out DnsMessage dns));
        Assert.False(dns.TryGetFirstQuestion(out _, out _, out _));
    }

    [Fact]
    public void Question_NameLongerThan255_Rejected()
    {
        var m = new List<byte>(Query[..12]);
        for (int i = 0; i < 5; i++)
        {
            m.Add(63);
            m.AddRange(new byte[63]);
        }

        m.AddRange([0, 0, 1, 0, 1]);
        Assert.True(DnsMessage.TryParse(m.ToArray(), out DnsMessage dns));
        Assert.False(dns.TryGetFirstQuestion(out _, out _, out _));
    }

    [Fact]
    public void Question_PointerToItself_Rejected()
    {
        byte[] m = [.. Query[..12], 0xC0, 12, 0, 1, 0, 1];
        Assert.True(DnsMessage.TryParse(m, out DnsMessage dns));
        Assert.False(dns.TryGetFirstQuestion(out _, out _, out _));
    }

    [Fact]
    public void Question_PointerLoopBackwards_StoppedByBudget()
    {
        // "a" then a pointer back to "a": every hop goes backwards, yet the walk would cycle forever.
        byte[] m = [.. Query[..12], 1, (byte)'a', 0xC0, 12, 0, 1, 0, 1];
        Assert.True(DnsMessage.TryParse(m, out DnsMessage dns));
        Assert.False(dns.TryGetFirstQuestion(out _, out _, out _));
    }

    [Fact]
    public void Question_ReservedLabelType_Rejected()
    {
        byte[] m = (byte[])Query.Clone();
        m[12] = 0x47;
        Assert.True(DnsMessage.TryParse(m, out DnsMessage dns));
        Assert.False(dns.TryGetFirstQuestion(out _, out _, out _));
    }

    [Fact]
    public void QuestionsMatch_IgnoresAsciiCaseOnly()
    {
        Assert.True(DnsMessage.TryParse(Query, out DnsMessage a));
        a.TryGetFirstQuestion(out ReadOnlySpan<byte> qa, out _, out _);
        byte[] upper = (byte[])Query.Clone();
        upper[13] = (byte)'E';
        DnsMessage.TryParse(upper, out DnsMessage b);
        b.TryGetFirstQuestion(out ReadOnlySpan<byte> qb, out _, out _);
        Assert.True(DnsMessage.QuestionsMatch(qa, qb));

        byte[] other = (byte[])Query.Clone();
        other[28] = 28; // AAAA
        DnsMessage.TryParse(other, out DnsMessage c);
        c.TryGetFirstQuestion(out ReadOnlySpan<byte> qc, out _, out _);
        Assert.False(DnsMessage.QuestionsMatch(qa, qc));
    }

    [Fact]
    public void WriteHeaderOnlyAnswer_Servfail_KeepsIdRdAndQuestion()
    {
        byte[] withExtra = [.. Query, 0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0];
        withExtra[11] = 1; // an OPT record the answer must not echo
        byte[] answer = new byte[512];
        int n = DnsMessage.WriteHeaderOnlyAnswer(withExtra, answer, DnsMessage.RcodeServerFailure, truncated: false);

        Assert.Equal(Query.Length, n);
        Assert.True(DnsMessage.TryParse(answer.AsSpan(0, n), out DnsMessage dns));
        Assert.Equal(0xBEEF, dns.Id);
        Assert.True(dns.IsResponse);
        Assert.False(dns.IsTruncated);
        Assert.Equal(DnsMessage.RcodeServerFailure, dns.Rcode);
        Assert.Equal(0x0100, dns.Flags & 0x0100);
        Assert.Equal(1, dns.QuestionCount);
        Assert.Equal(0, dns.AdditionalCount);
        Assert.Equal(Query[12..], answer[12..n]);
    }

    [Fact]
    public void WriteHeaderOnlyAnswer_InPlace_Works()
    {
        byte[] m = (byte[])Query.Clone();
        int n = DnsMessage.WriteHeaderOnlyAnswer(m, m, 0, truncated: true);
        Assert.True(DnsMessage.TryParse(m.AsSpan(0, n), out DnsMessage dns));
        Assert.True(dns.IsTruncated);
        Assert.Equal(Query[12..], m[12..n]);
    }

    [Fact]
    public void WriteHeaderOnlyAnswer_NoQuestionOrNoRoom_Zero()
    {
        Assert.Equal(0, DnsMessage.WriteHeaderOnlyAnswer(Query.AsSpan(0, 12), new byte[64], 2, false));
        Assert.Equal(0, DnsMessage.WriteHeaderOnlyAnswer(Query, new byte[20], 2, false));
    }

    [Fact]
    public void View_RandomBytes_NeverThrows() =>
        Prop.ForAll<byte[]>(bytes =>
        {
            bytes ??= [];
            if (DnsMessage.TryParse(bytes, out DnsMessage dns))
            {
                _ = dns.Id + dns.Flags + dns.Opcode + dns.Rcode + dns.QuestionCount + dns.AnswerCount + dns.AuthorityCount + dns.AdditionalCount;
                if (dns.TryGetFirstQuestion(out ReadOnlySpan<byte> q, out _, out _))
                {
                    _ = DnsMessage.QuestionsMatch(q, q);
                }

                _ = DnsMessage.WriteHeaderOnlyAnswer(bytes, new byte[600], 2, true);
            }

            for (int start = 0; start < bytes.Length; start++)
            {
                _ = DnsMessage.TryWalkName(bytes, start, out _);
            }

            return true;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void View_RandomQuestionBodies_NeverThrow() =>
        Prop.ForAll<byte[]>(body =>
        {
            // A valid header with QDCOUNT 1 in front of random bytes reaches the name walk every time.
            byte[] m = [.. Query[..12], .. body ?? []];
            DnsMessage.TryParse(m, out DnsMessage dns);
            _ = dns.TryGetFirstQuestion(out _, out _, out _);
            return true;
        }).QuickCheckThrowOnFailure();
}
