using FsCheck;
using FsCheck.Fluent;
using Switchyard.Protocols;

namespace Switchyard.Protocols.Tests;

public class TcpOptionsTests
{
    [Fact]
    public void WriteSyn_ThenParse_RoundTrips()
    {
        byte[] buffer = new byte[TcpOptions.MaxSynLength];
        int n = TcpOptions.WriteSyn(buffer, 1460, 7, sackPermitted: true);
        Assert.Equal(0, n % 4);
        Assert.True(TcpOptions.TryParse(buffer.AsSpan(0, n), out TcpOptions o));
        Assert.Equal(1460, o.Mss);
        Assert.Equal(7, o.WindowScale);
        Assert.True(o.SackPermitted);
        Assert.False(o.HasTimestamps);
    }

    [Fact]
    public void WriteSyn_NoWindowScale_OnlyMss()
    {
        byte[] buffer = new byte[TcpOptions.MaxSynLength];
        int n = TcpOptions.WriteSyn(buffer, 536, -1, sackPermitted: false);
        Assert.Equal(4, n);
        Assert.True(TcpOptions.TryParse(buffer.AsSpan(0, n), out TcpOptions o));
        Assert.Equal(-1, o.WindowScale);
    }

    [Fact]
    public void WriteSyn_ShortBuffer_WritesNothing() => Assert.Equal(0, TcpOptions.WriteSyn(new byte[8], 1460, 7, true));

    [Fact]
    public void Parse_Timestamps_ReadsBothValues()
    {
        byte[] buffer = new byte[12];
        Assert.Equal(12, TcpOptions.WriteTimestamps(buffer, 0x01020304, 0xA0B0C0D0));
        Assert.True(TcpOptions.TryParse(buffer, out TcpOptions o));
        Assert.True(o.HasTimestamps);
        Assert.Equal(0x01020304u, o.TimestampValue);
        Assert.Equal(0xA0B0C0D0u, o.TimestampEcho);
    }

    [Fact]
    public void Parse_WindowScaleAbove14_ClampedTo14() // RFC 7323 §2.3
    {
        Assert.True(TcpOptions.TryParse([3, 3, 20, 0], out TcpOptions o));
        Assert.Equal(14, o.WindowScale);
    }

    [Fact]
    public void Parse_EndOfList_StopsBeforeLaterOptions()
    {
        Assert.True(TcpOptions.TryParse([0, 2, 4, 5, 0xB4], out TcpOptions o));
        Assert.Equal(0, o.Mss);
    }

    [Fact]
    public void Parse_LengthBelowTwo_MalformedKeepsEarlierOptions()
    {
        Assert.False(TcpOptions.TryParse([2, 4, 5, 0xB4, 8, 1], out TcpOptions o));
        Assert.Equal(1460, o.Mss);
    }

    [Fact]
    public void Parse_LengthPastEnd_Malformed() => Assert.False(TcpOptions.TryParse([1, 2, 4, 5], out _));

    [Fact]
    public void Parse_KnownKindWrongLength_Ignored()
    {
        Assert.True(TcpOptions.TryParse([2, 3, 5, 3, 4, 9, 1, 1], out TcpOptions o));
        Assert.Equal(0, o.Mss);
        Assert.Equal(-1, o.WindowScale);
    }

    [Fact]
    public void Parse_UnknownKind_Skipped()
    {
        Assert.True(TcpOptions.TryParse([30, 4, 0, 0, 2, 4, 1, 0], out TcpOptions o));
        Assert.Equal(256, o.Mss);
    }

    [Fact]
    public void Parse_RandomBytes_NeverThrowsAndStaysInRange() =>
        Prop.ForAll<byte[]>(bytes =>
        {
            TcpOptions.TryParse(bytes ?? [], out TcpOptions o);
            return o.WindowScale is >= -1 and <= 14;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void TcpHeader_RandomBytes_ParseAndOptionsNeverThrow() =>
        Prop.ForAll<byte[]>(bytes =>
        {
            bytes ??= [];
            if (TcpHeader.TryParse(bytes, out TcpHeader h))
            {
                TcpOptions.TryParse(h, out _);
                return h.Payload.Length == bytes.Length - h.HeaderLength && h.Options.Length == h.HeaderLength - 20;
            }

            return bytes.Length < 20 || (bytes[12] >> 4) * 4 < 20 || (bytes[12] >> 4) * 4 > bytes.Length;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void WriteSyn_AnyValues_ParsesBack() =>
        Prop.ForAll<ushort, byte, bool>((mss, shift, sack) =>
        {
            int ws = shift % 16 - 1;
            byte[] buffer = new byte[TcpOptions.MaxSynLength];
            int n = TcpOptions.WriteSyn(buffer, mss, ws, sack);
            return TcpOptions.TryParse(buffer.AsSpan(0, n), out TcpOptions o) && o.Mss == mss
                && o.WindowScale == (ws < 0 ? -1 : Math.Min(ws, 14)) && o.SackPermitted == sack && n % 4 == 0;
        }).QuickCheckThrowOnFailure();
}
