using FsCheck;
using FsCheck.Fluent;

namespace Switchyard.Protocols.Tests;

public class DhcpMessageTests
{
    private static void Touch(ReadOnlySpan<byte> bytes)
    {
        if (!DhcpMessage.TryParse(bytes, out DhcpMessage m))
        {
            return;
        }

        _ = m.Op + m.HardwareType + m.HardwareLength + m.Hops + m.Seconds + m.Flags + m.MessageType + m.ClientHardwareAddress.Length;
        _ = m.TransactionId + m.ClientAddress + m.YourAddress + m.ServerAddress + m.RelayAddress;
        _ = m.ClientMac;
        foreach (DhcpOption o in m.Options)
        {
            _ = o.Value.Length + o.Code;
        }

        m.TryGetAddressOption(DhcpMessage.OptionRequestedAddress, out _);
    }

    private static byte[] Valid()
    {
        var buffer = new byte[400];
        var b = new DhcpBuilder(buffer, DhcpMessage.OpRequest, 0x11223344, DhcpMessage.FlagBroadcast, 0, 0, 0, 0, 0x5254_0012_3456UL);
        b.AddByte(DhcpMessage.OptionMessageType, DhcpMessage.Discover);
        b.AddUInt32(DhcpMessage.OptionRequestedAddress, 0x0A00020F);
        b.AddAscii(DhcpMessage.OptionHostname, "guest");
        return buffer[..b.Finish()];
    }

    [Fact]
    public void DhcpMessage_RandomBytes_NeverThrows() =>
        Prop.ForAll<byte[]>(bytes =>
        {
            Touch(bytes);
            return true;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void DhcpMessage_RandomOptionsBehindValidHeader_NeverThrows() =>
        Prop.ForAll<byte[]>(options =>
        {
            byte[] header = Valid()[..DhcpMessage.OptionsOffset];
            Touch([.. header, .. options]);
            return true;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void DhcpMessage_MutatedValid_NeverThrows() =>
        Prop.ForAll<int, byte, int>((position, value, cut) =>
        {
            byte[] m = Valid();
            m[(position & int.MaxValue) % m.Length] = value;
            Touch(m.AsSpan(0, (cut & int.MaxValue) % (m.Length + 1)));
            return true;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void DhcpBuilder_RoundTrip_HeaderAndOptions() =>
        Prop.ForAll<ulong, uint, byte[]>((seed, yiaddr, value) =>
        {
            uint xid = (uint)seed;
            uint ciaddr = (uint)(seed >> 32);
            var buffer = new byte[2048];
            var b = new DhcpBuilder(buffer, DhcpMessage.OpReply, xid, 0, ciaddr, yiaddr, 7, 9, 0x0000_1122_3344UL);
            b.AddByte(DhcpMessage.OptionMessageType, DhcpMessage.Ack);
            byte[] small = value.Length > 255 ? value[..255] : value;
            b.Add(224, small);
            int n = b.Finish();
            return DhcpMessage.TryParse(buffer.AsSpan(0, n), out DhcpMessage m)
                && n >= DhcpMessage.MinimumLength
                && m.Op == DhcpMessage.OpReply && m.TransactionId == xid && m.ClientAddress == ciaddr && m.YourAddress == yiaddr
                && m.ServerAddress == 7 && m.RelayAddress == 9 && m.ClientMac == 0x0000_1122_3344UL
                && m.MessageType == DhcpMessage.Ack
                && m.TryGetOption(224, out ReadOnlySpan<byte> got) && got.SequenceEqual(small);
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void DhcpBuilder_LongOption_SplitIntoPieces()
    {
        var buffer = new byte[2048];
        var b = new DhcpBuilder(buffer, DhcpMessage.OpReply, 1, 0, 0, 0, 0, 0, 1);
        b.Add(DhcpMessage.OptionDomainSearch, new byte[600]);
        Assert.True(DhcpMessage.TryParse(buffer.AsSpan(0, b.Finish()), out DhcpMessage m));
        int pieces = 0, total = 0;
        foreach (DhcpOption o in m.Options)
        {
            pieces++;
            total += o.Value.Length;
        }

        Assert.Equal(3, pieces);
        Assert.Equal(600, total);
    }

    [Fact]
    public void DhcpOption_Duplicate_FirstWins()
    {
        var buffer = new byte[400];
        var b = new DhcpBuilder(buffer, DhcpMessage.OpRequest, 1, 0, 0, 0, 0, 0, 1);
        b.AddByte(DhcpMessage.OptionMessageType, DhcpMessage.Request);
        b.AddByte(DhcpMessage.OptionMessageType, DhcpMessage.Release);
        Assert.True(DhcpMessage.TryParse(buffer.AsSpan(0, b.Finish()), out DhcpMessage m));
        Assert.Equal(DhcpMessage.Request, m.MessageType);
    }

    [Fact]
    public void DhcpOption_PadSkippedAndEndStops()
    {
        byte[] m = [.. Valid()[..DhcpMessage.OptionsOffset], 0, 0, 53, 1, 3, 255, 53, 1, 7];
        Assert.True(DhcpMessage.TryParse(m, out DhcpMessage parsed));
        Assert.Equal(DhcpMessage.Request, parsed.MessageType);
        Assert.Equal(5, parsed.OptionBytes.Length);
    }

    [Fact]
    public void DhcpOption_Overrunning_Rejected()
    {
        byte[] m = [.. Valid()[..DhcpMessage.OptionsOffset], 53, 4, 1];
        Assert.False(DhcpMessage.TryParse(m, out _));
    }

    [Fact]
    public void DhcpMessage_WithoutEnd_Accepted()
    {
        byte[] m = [.. Valid()[..DhcpMessage.OptionsOffset], 53, 1, 1];
        Assert.True(DhcpMessage.TryParse(m, out DhcpMessage parsed));
        Assert.Equal(DhcpMessage.Discover, parsed.MessageType);
    }

    [Fact]
    public void DhcpMessage_BadCookie_Rejected()
    {
        byte[] m = Valid();
        m[DhcpMessage.FixedLength + 3] ^= 1;
        Assert.False(DhcpMessage.TryParse(m, out _));
    }

    [Fact]
    public void DhcpMessage_BadOp_Rejected()
    {
        byte[] m = Valid();
        m[0] = 3;
        Assert.False(DhcpMessage.TryParse(m, out _));
    }

    [Fact]
    public void Dhcpv6Message_RandomBytes_NeverThrows() =>
        Prop.ForAll<byte[]>(bytes =>
        {
            if (Dhcpv6Message.TryParse(bytes, out Dhcpv6Message m))
            {
                _ = m.MessageType + m.TransactionId;
                foreach (Dhcpv6Option o in m.Options)
                {
                    _ = o.Code + o.Value.Length;
                }

                m.TryGetOption(1, out _);
            }

            return true;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void Dhcpv6Builder_RoundTrip_Options() =>
        Prop.ForAll<uint, ushort, byte[]>((xid, code, value) =>
        {
            var buffer = new byte[4096];
            var b = new Dhcpv6Builder(buffer, Dhcpv6Message.Reply, xid);
            b.Add(code, value);
            b.AddAddresses(Dhcpv6Message.OptionDnsServers, [new IpAddr(1, 2)]);
            return Dhcpv6Message.TryParse(buffer.AsSpan(0, b.Length), out Dhcpv6Message m)
                && m.MessageType == Dhcpv6Message.Reply && m.TransactionId == (xid & 0xFF_FFFF)
                && m.TryGetOption(code, out ReadOnlySpan<byte> got) && got.SequenceEqual(value)
                && m.TryGetOption(Dhcpv6Message.OptionDnsServers, out ReadOnlySpan<byte> dns) && (code == Dhcpv6Message.OptionDnsServers || IpAddr.Read(dns) == new IpAddr(1, 2));
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void Dhcpv6Message_OptionPastEnd_Rejected() =>
        Assert.False(Dhcpv6Message.TryParse([11, 0, 0, 1, 0, 1, 0, 5, 1, 2], out _));

    [Fact]
    public void Dhcpv6Message_RelayForward_Rejected() =>
        Assert.False(Dhcpv6Message.TryParse([12, 0, 0, 0], out _));
}
