using Switchyard.Core.Frames;

namespace Switchyard.Core.Tests;

public class EgressFrameTests
{
    public static TheoryData<VlanRewrite> Rewrites => new() { VlanRewrite.None, VlanRewrite.Strip, VlanRewrite.Insert };

    [Theory]
    [MemberData(nameof(Rewrites))]
    public void CopySlice_AnySplit_EqualsCopyTo(VlanRewrite rewrite)
    {
        byte[] input = new byte[200];
        for (int i = 0; i < input.Length; i++)
        {
            input[i] = (byte)i;
        }

        if (rewrite == VlanRewrite.Strip)
        {
            input[12] = 0x81;
            input[13] = 0x00;
        }

        var frame = new EgressFrame(input, rewrite, 0x2005, OffloadInfo.None);
        byte[] whole = new byte[frame.Length];
        Assert.Equal(frame.Length, frame.CopyTo(whole));

        foreach (int chunk in new[] { 1, 3, 7, 12, 13, 16, 17, 64, frame.Length })
        {
            byte[] pieces = new byte[frame.Length];
            for (int at = 0; at < frame.Length; at += chunk)
            {
                frame.CopySlice(at, pieces.AsSpan(at, Math.Min(chunk, frame.Length - at)));
            }

            Assert.Equal(whole, pieces);
        }
    }

    [Fact]
    public void CopyTo_Insert_PutsTpidAndTciAfterTheMacs()
    {
        byte[] input = new byte[60];
        input[12] = 0x08;
        var frame = new EgressFrame(input, VlanRewrite.Insert, 0x000A, OffloadInfo.None);
        byte[] output = new byte[frame.Length];
        frame.CopyTo(output);
        Assert.Equal(64, output.Length);
        Assert.Equal(new byte[] { 0x81, 0x00, 0x00, 0x0A, 0x08, 0x00 }, output[12..18]);
    }

    [Fact]
    public void Offload_Insert_ShiftsChecksumStartByTheTag()
    {
        var offload = new OffloadInfo(OffloadInfo.FlagNeedsChecksum, OffloadInfo.GsoTcpV4, 54, 1448, 34, 16);
        var frame = new EgressFrame(new byte[100], VlanRewrite.Insert, 10, offload);
        Assert.Equal(38, frame.Offload.ChecksumStart);
        Assert.Equal(58, frame.Offload.HeaderLength);
        Assert.Equal(16, frame.Offload.ChecksumOffset);
    }
}
