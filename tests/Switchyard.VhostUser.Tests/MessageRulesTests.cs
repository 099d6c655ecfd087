using System.Buffers.Binary;

namespace Switchyard.VhostUser.Tests;

public class MessageRulesTests
{
    [Fact]
    public void Header_RoundTrip_IsTwelveNativeEndianBytes()
    {
        var header = new VhostUserHeader(VhostUserRequest.SetVringAddr, VhostUserHeader.Version | VhostUserHeader.NeedReplyFlag, 40);
        byte[] bytes = new byte[VhostUserHeader.Length];
        header.Write(bytes);
        Assert.Equal(new byte[] { 9, 0, 0, 0, 9, 0, 0, 0, 40, 0, 0, 0 }, bytes);
        Assert.Equal(header, VhostUserHeader.Read(bytes));
        Assert.True(VhostUserHeader.Read(bytes).NeedsReply);
    }

    [Theory]
    [InlineData(VhostUserRequest.GetFeatures, 0)]
    [InlineData(VhostUserRequest.SetFeatures, 8)]
    [InlineData(VhostUserRequest.SetVringAddr, 40)]
    [InlineData(VhostUserRequest.SetLogBase, 16)]
    [InlineData(VhostUserRequest.AddMemReg, 40)]
    [InlineData(VhostUserRequest.SetMemTable, -1)]
    public void PayloadSize_KnownRequests_MatchTheSpec(VhostUserRequest request, int size)
    {
        Assert.Equal(size, MessageRules.PayloadSize(request));
    }

    [Fact]
    public void CheckFds_VringKickWithNoFdBitAndAnFd_IsRejected()
    {
        byte[] payload = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, 0x100 | 1);
        Assert.NotNull(MessageRules.CheckFds(VhostUserRequest.SetVringKick, payload, 1));
        Assert.Null(MessageRules.CheckFds(VhostUserRequest.SetVringKick, payload, 0));
    }

    [Fact]
    public void CheckFds_VringCallWithoutNoFdBit_NeedsExactlyOneFd()
    {
        byte[] payload = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, 1);
        Assert.NotNull(MessageRules.CheckFds(VhostUserRequest.SetVringCall, payload, 0));
        Assert.NotNull(MessageRules.CheckFds(VhostUserRequest.SetVringCall, payload, 2));
        Assert.Null(MessageRules.CheckFds(VhostUserRequest.SetVringCall, payload, 1));
    }

    [Theory]
    [InlineData(VhostUserRequest.SetMemTable, 0)]
    [InlineData(VhostUserRequest.SetMemTable, 9)]
    [InlineData(VhostUserRequest.AddMemReg, 0)]
    [InlineData(VhostUserRequest.AddMemReg, 2)]
    [InlineData(VhostUserRequest.SetFeatures, 1)]
    [InlineData(VhostUserRequest.GetVringBase, 1)]
    public void CheckFds_WrongCount_IsRejected(VhostUserRequest request, int fds)
    {
        Assert.NotNull(MessageRules.CheckFds(request, new byte[8], fds));
    }

    [Fact]
    public void IsKnown_UnimplementedRequests_AreNot()
    {
        Assert.False(MessageRules.IsKnown(VhostUserRequest.GetConfig));
        Assert.False(MessageRules.IsKnown((VhostUserRequest)999));
        Assert.True(MessageRules.IsKnown(VhostUserRequest.AddMemReg));
    }
}
