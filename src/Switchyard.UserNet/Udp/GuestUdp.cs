// Sending a UDP datagram to a guest: the one place that enforces the guest MTU for UDP replies.
//
// Theory of operation: UDP services receive a host datagram straight into the context's TxBuffer at
// PacketWriter.UdpPayloadOffset (no copy), then call Send, which writes the UDP/IP/Ethernet headers in
// front of it and hands the frame to the link. The gateway never fragments (NatGateway drops guest
// fragments too), so a datagram that would not fit the guest's MTU is dropped and counted.
using Switchyard.Core.Frames;
using Switchyard.Protocols;

namespace Switchyard.UserNet.Udp;

internal static class GuestUdp
{
    /// <summary>Largest UDP payload a guest of the given family takes in one unfragmented packet.</summary>
    public static int MaxPayload(GatewayOptions options, bool v6) =>
        options.Mtu - PacketWriter.IpHeaderLength(v6) - UdpHeader.Length;

    /// <summary>Sends the payload already at UdpPayloadOffset in TxBuffer. False (and counted) when it exceeds the MTU.</summary>
    public static bool Send(GatewayContext context, ulong guestMac, IpAddr source, ushort sourcePort, IpAddr guest, ushort guestPort, int payloadLength)
    {
        if (payloadLength > MaxPayload(context.Options, !guest.IsV4))
        {
            context.Counters.Drop(GatewayDrop.UdpReplyTooBig);
            return false;
        }

        int length = PacketWriter.WriteUdpFrame(context.TxBuffer, guestMac, context.Options.Mac, source, sourcePort, guest, guestPort, payloadLength);
        context.Link.Send(context.TxBuffer.AsSpan(0, length), OffloadInfo.None);
        return true;
    }

    /// <summary>"10.0.2.15:5353" or "[fd00::15]:5353", for flow tables shown to users.</summary>
    public static string Format(IpAddr address, ushort port) => address.IsV4 ? $"{address}:{port}" : $"[{address}]:{port}";
}
