// A frame on its way out of the switch to one port.
//
// Theory of operation: the switch never copies a frame to rewrite its VLAN tag. It hands each egress
// port the ingress bytes plus a rewrite instruction, and the port applies the instruction while it
// copies the frame into its own medium (a socket staging buffer, guest RX buffers, a tap write). So a
// frame crosses the switch with exactly the copy its egress medium needs and no other. The frame also
// says which port it came in on (Port.Id, one int): the NAT gateway keys its per-guest budgets on it,
// since a peer can forge every address in the frame but not the attachment it was received on.
using System.Buffers.Binary;

namespace Switchyard.Core.Frames;

/// <summary>What the egress copy does to the 802.1Q tag.</summary>
public enum VlanRewrite : byte
{
    /// <summary>Copy the frame as it is.</summary>
    None,

    /// <summary>Remove the 4-byte tag after the source address.</summary>
    Strip,

    /// <summary>Insert a 4-byte tag after the source address.</summary>
    Insert,
}

/// <summary>The bytes of a frame, the tag rewrite to apply on the way out, and its offloads.
/// Valid only for the duration of the <c>Transmit</c> call it is passed to.</summary>
public readonly ref struct EgressFrame
{
    public EgressFrame(ReadOnlySpan<byte> data, VlanRewrite rewrite, ushort tagControl, OffloadInfo offload)
    {
        Data = data;
        Rewrite = rewrite;
        TagControl = tagControl;
        Offload = rewrite switch
        {
            VlanRewrite.Strip => offload.ShiftedBy(-Ethernet.VlanTagLength),
            VlanRewrite.Insert => offload.ShiftedBy(Ethernet.VlanTagLength),
            _ => offload,
        };
    }

    /// <summary>A plain frame with nothing to rewrite and no offloads.</summary>
    public EgressFrame(ReadOnlySpan<byte> data)
        : this(data, VlanRewrite.None, 0, OffloadInfo.None)
    {
    }

    /// <summary>The <see cref="Ports.Port.Id"/> of the port the frame was received on; 0 when unknown
    /// (frames not switched, tests).</summary>
    public int IngressPort { get; init; }

    /// <summary>The frame as it entered the switch.</summary>
    public ReadOnlySpan<byte> Data { get; }

    public VlanRewrite Rewrite { get; }

    /// <summary>The TCI to insert when <see cref="Rewrite"/> is Insert.</summary>
    public ushort TagControl { get; }

    /// <summary>Offloads, with offsets already adjusted for the tag rewrite.</summary>
    public OffloadInfo Offload { get; }

    /// <summary>Length of the frame as it leaves.</summary>
    public int Length => Rewrite switch
    {
        VlanRewrite.Strip => Data.Length - Ethernet.VlanTagLength,
        VlanRewrite.Insert => Data.Length + Ethernet.VlanTagLength,
        _ => Data.Length,
    };

    /// <summary>Copies bytes <paramref name="offset"/> .. offset + destination.Length of the outgoing frame
    /// (after the rewrite) into <paramref name="destination"/>: for scattering one frame over several guest
    /// buffers. The range must lie inside <see cref="Length"/>.</summary>
    public void CopySlice(int offset, Span<byte> destination)
    {
        const int macs = 2 * Ethernet.AddressLength;
        ReadOnlySpan<byte> data = Data;
        if (Rewrite == VlanRewrite.None)
        {
            data.Slice(offset, destination.Length).CopyTo(destination);
            return;
        }

        // Map the output range onto the three pieces of the output: MACs, tag (Insert) or nothing
        // (Strip), and the rest of the input.
        Span<byte> tag = stackalloc byte[Ethernet.VlanTagLength];
        BinaryPrimitives.WriteUInt16BigEndian(tag, Ethernet.EtherTypeVlan);
        BinaryPrimitives.WriteUInt16BigEndian(tag[2..], TagControl);
        int tagLength = Rewrite == VlanRewrite.Insert ? Ethernet.VlanTagLength : 0;
        int restStart = Rewrite == VlanRewrite.Strip ? macs + Ethernet.VlanTagLength : macs;
        int written = 0;
        while (written < destination.Length)
        {
            int at = offset + written;
            Span<byte> dst = destination[written..];
            ReadOnlySpan<byte> piece = at < macs
                ? data[at..macs]
                : at < macs + tagLength
                    ? tag[(at - macs)..]
                    : data[(restStart + (at - macs - tagLength))..];
            int n = Math.Min(piece.Length, dst.Length);
            piece[..n].CopyTo(dst);
            written += n;
        }
    }

    /// <summary>Copies the outgoing frame into <paramref name="destination"/>, which must hold
    /// <see cref="Length"/> bytes; returns the number of bytes written.</summary>
    public int CopyTo(Span<byte> destination)
    {
        const int macs = 2 * Ethernet.AddressLength;
        ReadOnlySpan<byte> data = Data;
        switch (Rewrite)
        {
            case VlanRewrite.Strip:
                data[..macs].CopyTo(destination);
                data[(macs + Ethernet.VlanTagLength)..].CopyTo(destination[macs..]);
                return data.Length - Ethernet.VlanTagLength;
            case VlanRewrite.Insert:
                data[..macs].CopyTo(destination);
                BinaryPrimitives.WriteUInt16BigEndian(destination[macs..], Ethernet.EtherTypeVlan);
                BinaryPrimitives.WriteUInt16BigEndian(destination[(macs + 2)..], TagControl);
                data[macs..].CopyTo(destination[(macs + Ethernet.VlanTagLength)..]);
                return data.Length + Ethernet.VlanTagLength;
            default:
                data.CopyTo(destination);
                return data.Length;
        }
    }
}
