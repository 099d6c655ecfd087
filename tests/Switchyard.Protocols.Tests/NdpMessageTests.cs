using FsCheck;
using FsCheck.Fluent;

namespace Switchyard.Protocols.Tests;

public class NdpMessageTests
{
    private static void Touch(ReadOnlySpan<byte> bytes)
    {
        if (!NdpMessage.TryParse(bytes, out NdpMessage m))
        {
            return;
        }

        _ = m.Type + m.Flags + m.RouterLifetime + m.ReachableTime + m.RetransTimer + m.CurHopLimit + m.Target.Length;
        m.TryGetLinkLayerAddress(1, out _);
        foreach (NdpOption o in m.Options)
        {
            if (NdpPrefixInformation.TryParse(o, out NdpPrefixInformation p))
            {
                _ = p.Prefix;
                _ = p.ValidLifetime + p.PreferredLifetime + p.Flags + p.PrefixLength;
            }

            NdpOptions.TryReadMtu(o, out _);
            NdpOptions.TryReadRdnss(o, out _, out _);
            NdpOptions.TryReadDnssl(o, out _, out _);
        }
    }

    [Fact]
    public void NdpMessage_RandomBytes_NeverThrows() =>
        Prop.ForAll<byte[]>(bytes =>
        {
            Touch(bytes);
            if (bytes.Length > 0)
            {
                // Random bytes behind a valid NDP type, so the option walk is exercised.
                bytes[0] = (byte)(133 + (bytes[0] % 4));
                if (bytes.Length > 1)
                {
                    bytes[1] = 0;
                }

                Touch(bytes);
            }

            return true;
        }).QuickCheckThrowOnFailure();

    private static byte[] Advertisement(out int length)
    {
        var buffer = new byte[256];
        int n = NdpBuilder.WriteRouterAdvertisement(buffer, 64, NdpMessage.FlagOther, 1800, 1000, 2000);
        n = NdpBuilder.AppendLinkLayerAddress(buffer, n, NdpMessage.OptionSourceLinkLayer, 0x5255_0A00_0202UL);
        n = NdpBuilder.AppendMtu(buffer, n, 1500);
        n = NdpBuilder.AppendPrefixInformation(buffer, n, new IpAddr(0xFD00_0000_0000_0000UL, 0), 64, 0xC0, 86400, 14400);
        n = NdpBuilder.AppendRdnss(buffer, n, 1800, [new IpAddr(0xFD00_0000_0000_0000UL, 3)]);
        n = NdpBuilder.AppendDnssl(buffer, n, 1800, DhcpDomainSearch.Encode(["example.test"]));
        length = n;
        return buffer;
    }

    [Fact]
    public void RouterAdvertisement_RoundTrip_AllOptions()
    {
        byte[] buffer = Advertisement(out int length);
        Assert.True(NdpMessage.TryParse(buffer.AsSpan(0, length), out NdpMessage ra));
        Assert.Equal(NdpMessage.TypeRouterAdvertisement, ra.Type);
        Assert.Equal(64, ra.CurHopLimit);
        Assert.Equal(NdpMessage.FlagOther, ra.Flags);
        Assert.Equal(1800, ra.RouterLifetime);
        Assert.Equal(1000u, ra.ReachableTime);
        Assert.Equal(2000u, ra.RetransTimer);
        Assert.True(ra.TryGetLinkLayerAddress(NdpMessage.OptionSourceLinkLayer, out ulong mac));
        Assert.Equal(0x5255_0A00_0202UL, mac);
        int count = 0;
        foreach (NdpOption o in ra.Options)
        {
            count++;
            if (NdpPrefixInformation.TryParse(o, out NdpPrefixInformation p))
            {
                Assert.Equal(64, p.PrefixLength);
                Assert.Equal(0xC0, p.Flags);
                Assert.Equal(86400u, p.ValidLifetime);
                Assert.Equal(14400u, p.PreferredLifetime);
                Assert.Equal(new IpAddr(0xFD00_0000_0000_0000UL, 0), p.Prefix);
            }
            else if (NdpOptions.TryReadMtu(o, out uint mtu))
            {
                Assert.Equal(1500u, mtu);
            }
            else if (NdpOptions.TryReadRdnss(o, out uint lifetime, out ReadOnlySpan<byte> servers))
            {
                Assert.Equal(1800u, lifetime);
                Assert.Equal(new IpAddr(0xFD00_0000_0000_0000UL, 3), IpAddr.Read(servers));
            }
            else if (NdpOptions.TryReadDnssl(o, out _, out ReadOnlySpan<byte> names))
            {
                Assert.Equal(DhcpDomainSearch.Encode(["example.test"]), names[..14].ToArray());
                Assert.All(names[14..].ToArray(), b => Assert.Equal(0, b));
            }
        }

        Assert.Equal(5, count);
    }

    [Fact]
    public void NdpOption_LengthZero_MessageRejected()
    {
        byte[] buffer = Advertisement(out int length);
        buffer[16 + 8 + 1] = 0; // the MTU option's length
        Assert.False(NdpMessage.TryParse(buffer.AsSpan(0, length), out _));
    }

    [Fact]
    public void NdpOption_PastEnd_MessageRejected()
    {
        byte[] buffer = Advertisement(out int length);
        Assert.False(NdpMessage.TryParse(buffer.AsSpan(0, length - 1), out _));
    }

    [Fact]
    public void NdpMessage_NonzeroCode_Rejected()
    {
        var buffer = new byte[24];
        NdpBuilder.WriteNeighbourMessage(buffer, NdpMessage.TypeNeighbourSolicitation, 0, new IpAddr(1, 2));
        buffer[1] = 1;
        Assert.False(NdpMessage.TryParse(buffer, out _));
    }

    [Fact]
    public void NdpMessage_EchoType_Rejected() => Assert.False(NdpMessage.TryParse(new byte[32] { 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, out _));

    [Fact]
    public void NeighbourMessage_RoundTrip_TargetFlagsAndLinkLayer() =>
        Prop.ForAll<ulong, ulong, ulong>((high, low, seed) =>
        {
            bool advert = (seed >> 63) != 0;
            ulong mac = seed & 0xFFFF_FFFF_FFFFUL;
            var target = new IpAddr(high, low);
            var buffer = new byte[32];
            byte type = advert ? NdpMessage.TypeNeighbourAdvertisement : NdpMessage.TypeNeighbourSolicitation;
            byte flags = advert ? (byte)(NdpMessage.FlagRouter | NdpMessage.FlagSolicited) : (byte)0;
            int n = NdpBuilder.WriteNeighbourMessage(buffer, type, flags, target);
            n = NdpBuilder.AppendLinkLayerAddress(buffer, n, advert ? NdpMessage.OptionTargetLinkLayer : NdpMessage.OptionSourceLinkLayer, mac);
            return n == 32 && NdpMessage.TryParse(buffer, out NdpMessage m) && m.Type == type && m.Flags == flags
                && IpAddr.Read(m.Target) == target
                && m.TryGetLinkLayerAddress(advert ? NdpMessage.OptionTargetLinkLayer : NdpMessage.OptionSourceLinkLayer, out ulong got) && got == mac;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void Rdnss_EvenLength_Rejected()
    {
        var buffer = new byte[16 + 40];
        int n = NdpBuilder.WriteRouterAdvertisement(buffer, 64, 0, 0, 0, 0);
        NdpBuilder.AppendRdnss(buffer, n, 1, [new IpAddr(1, 1), new IpAddr(2, 2)]);
        Assert.True(NdpMessage.TryParse(buffer, out NdpMessage ra));
        foreach (NdpOption o in ra.Options)
        {
            Assert.True(NdpOptions.TryReadRdnss(o, out _, out ReadOnlySpan<byte> servers));
            Assert.Equal(32, servers.Length);
        }

        buffer[17] = 4; // length 4 (even) is invalid for RDNSS (RFC 8106 §5.1)
        Assert.True(NdpMessage.TryParse(buffer.AsSpan(0, 16 + 32), out ra));
        foreach (NdpOption o in ra.Options)
        {
            Assert.False(NdpOptions.TryReadRdnss(o, out _, out _));
        }
    }
}
