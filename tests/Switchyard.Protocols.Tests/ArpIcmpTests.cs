using FsCheck;
using FsCheck.Fluent;

namespace Switchyard.Protocols.Tests;

public class ArpIcmpTests
{
    [Fact]
    public void ArpPacket_RoundTrip_FieldsPreserved() =>
        Prop.ForAll<bool, ulong, ulong>((request, a, b) =>
        {
            ulong sha = a & 0xFFFF_FFFF_FFFFUL;
            uint spa = (uint)(a >> 16) ^ (uint)b;
            ulong tha = b & 0xFFFF_FFFF_FFFFUL;
            uint tpa = (uint)(b >> 32);
            var buffer = new byte[28];
            ArpBuilder.Write(buffer, request ? ArpPacket.OperationRequest : ArpPacket.OperationReply, sha, spa, tha, tpa);
            return ArpPacket.TryParse(buffer, out ArpPacket p) && p.IsRequest == request
                && p.SenderMac == sha && p.SenderIp == spa && p.TargetMac == tha && p.TargetIp == tpa;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void ArpPacket_RandomBytes_NeverThrows() =>
        Prop.ForAll<byte[]>(bytes =>
        {
            if (ArpPacket.TryParse(bytes, out ArpPacket p))
            {
                _ = p.SenderMac + p.TargetMac + p.SenderIp + p.TargetIp + p.Operation;
            }

            return true;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void ArpPacket_MutatedValidPacket_NeverThrows() =>
        Prop.ForAll<int, byte, int>((position, value, cut) =>
        {
            var buffer = new byte[28];
            ArpBuilder.Write(buffer, 1, 0x5254_0012_3456UL, 0x0A00020F, 0, 0x0A000202);
            buffer[(position & int.MaxValue) % 28] = value;
            ArpPacket.TryParse(buffer.AsSpan(0, (cut & int.MaxValue) % 29), out _);
            return true;
        }).QuickCheckThrowOnFailure();

    [Theory]
    [InlineData(27)]
    [InlineData(0)]
    public void ArpPacket_Short_Rejected(int length) => Assert.False(ArpPacket.TryParse(new byte[length], out _));

    [Fact]
    public void ArpPacket_OperationThree_Rejected()
    {
        var buffer = new byte[28];
        ArpBuilder.Write(buffer, 3, 1, 2, 3, 4);
        Assert.False(ArpPacket.TryParse(buffer, out _));
    }

    [Fact]
    public void IcmpEcho_RoundTripV4_ChecksumVerifies() =>
        Prop.ForAll<ushort, ushort, byte[]>((id, seq, data) =>
        {
            var buffer = new byte[8 + data.Length];
            int n = IcmpBuilder.WriteEcho(buffer, IcmpMessage.EchoReplyV4, id, seq, data, IpAddr.FromV4(1), IpAddr.FromV4(2));
            return n == buffer.Length && InternetChecksum.Compute(buffer) == 0
                && IcmpMessage.TryParse(buffer, out IcmpMessage m) && m.Type == 0 && m.Identifier == id && m.Sequence == seq && m.Data.SequenceEqual(data);
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void IcmpEcho_RoundTripV6_ChecksumCoversPseudoHeader() =>
        Prop.ForAll<ushort, ushort, byte[]>((id, seq, data) =>
        {
            var source = new IpAddr(0xFE80_0000_0000_0000UL, 1);
            var destination = new IpAddr(0xFD00_0000_0000_0000UL, 2);
            var buffer = new byte[8 + data.Length];
            IcmpBuilder.WriteEcho(buffer, IcmpMessage.EchoReplyV6, id, seq, data, source, destination);
            uint pseudo = PacketWriter.PseudoHeaderSum(source, destination, PacketWriter.ProtocolIcmpV6, buffer.Length);
            return InternetChecksum.Compute(buffer, pseudo) == 0 && IcmpMessage.TryParse(buffer, out IcmpMessage m) && m.Type == 129;
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void IcmpMessage_Short_Rejected() => Assert.False(IcmpMessage.TryParse(new byte[7], out _));
}
