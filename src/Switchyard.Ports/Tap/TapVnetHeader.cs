// The virtio-net header a vnet_hdr tap puts before every frame, to and from Core's OffloadInfo.
//
// Theory of operation: with IFF_VNET_HDR and TUNSETVNETHDRSZ 12 the kernel reads and writes struct
// virtio_net_hdr_v1 (little-endian on every host Switchyard runs on; num_buffers is 0 and ignored).
// What the kernel sends us is bounded by what TUNSETOFFLOAD accepted, which maps onto the virtio
// features a device would have negotiated: TUN_F_CSUM is CSUM, TUN_F_TSO4/6/ECN are HOST_TSO4/6/ECN,
// TUN_F_USO4/6 is HOST_USO. So a header read from the tap is validated by the same rules as a guest's
// TX header (VirtioNetHeader.TryParseTx): we trust the kernel, but a frame that breaks them would be
// segmented or checksummed wrongly downstream, so it is dropped and counted, never passed on.
// Writing goes the other way: the egress frame's OffloadInfo (already shifted for any VLAN rewrite)
// becomes the header unchanged; a plain frame gets an all-zero header (the kernel checks it itself).
using Switchyard.Core.Frames;
using Switchyard.Native;
using Switchyard.Virtio;

namespace Switchyard.Ports.Tap;

/// <summary>Conversions between a tap's 12-byte virtio_net_hdr and <see cref="OffloadInfo"/>.</summary>
public static class TapVnetHeader
{
    /// <summary>Bytes before every frame on a vnet_hdr tap.</summary>
    public const int Size = TapDevice.VnetHeaderSize;

    /// <summary>The virtio features equivalent to what TUNSETOFFLOAD accepted.</summary>
    public static NegotiatedFeatures FeaturesFor(TapOffloads offloads)
    {
        NegotiatedFeatures features = NegotiatedFeatures.None;
        if ((offloads & TapOffloads.Checksum) != 0)
        {
            features |= NegotiatedFeatures.Csum;
        }

        if ((offloads & TapOffloads.Tcp) != 0)
        {
            features |= NegotiatedFeatures.HostTso4 | NegotiatedFeatures.HostTso6 | NegotiatedFeatures.HostEcn;
        }

        if ((offloads & TapOffloads.Udp) != 0)
        {
            features |= NegotiatedFeatures.HostUso;
        }

        return features;
    }

    /// <summary>Reads the header before a frame of <paramref name="frameLength"/> bytes that the kernel sent
    /// out of the tap; <see cref="NetTxError.None"/> and the frame's offloads, or the virtio rule it broke.</summary>
    public static NetTxError TryRead(ReadOnlySpan<byte> header, int frameLength, TapOffloads offered, out OffloadInfo offload)
    {
        NetTxError error = VirtioNetHeader.TryParseTx(header, frameLength, FeaturesFor(offered), out VirtioNetHeader parsed);
        offload = error == NetTxError.None ? parsed.ToOffloadInfo() : OffloadInfo.None;
        return error;
    }

    /// <summary>Writes the header for a frame carrying <paramref name="offload"/> into the first <see cref="Size"/>
    /// bytes of <paramref name="destination"/>.</summary>
    public static void Write(in OffloadInfo offload, Span<byte> destination)
    {
        if (offload.IsPlain)
        {
            destination[..Size].Clear();
            return;
        }

        VirtioNetHeader.FromOffloadInfo(offload).Write(destination);
    }
}
