// Fuzz target: the packet readers of Switchyard.Protocols, through one entry that dispatches on the
// first input byte (modulo 7):
//   0 a whole Ethernet frame, parsed as the gateway does: Ethernet (and one VLAN tag), then ARP, IPv4 or
//     IPv6, then ICMP/ICMPv6 (NDP), UDP (DHCP on 67/68, DHCPv6 on 546/547, DNS on 53) and TCP (options)
//   1 a DNS message   2 a DHCP message   3 a DHCPv6 message   4 an NDP message (ICMPv6 body)
//   5 a TCP segment with options   6 an offload request (12 bytes of OffloadInfo) and the frame it applies to
// Every reader is a ref struct whose TryParse validates once (STYLE.md habit 6); after a true TryParse,
// every property and enumerator must read within the span. Rule checked: no reader throws, for any bytes.
using System.Buffers.Binary;
using Switchyard.Core.Frames;
using Switchyard.Protocols;

namespace Switchyard.Fuzz.Targets;

public sealed class FramesTarget : IFuzzTarget
{
    private readonly byte[] scratch = new byte[70_000];
    private long sink;

    public string Name => "frames";

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        ReadOnlySpan<byte> rest = input[1..];
        switch (input[0] % 7)
        {
            case 0:
                Frame(rest);
                break;
            case 1:
                Dns(rest);
                break;
            case 2:
                Dhcp(rest);
                break;
            case 3:
                Dhcpv6(rest);
                break;
            case 4:
                Ndp(rest);
                break;
            case 5:
                Tcp(rest);
                break;
            default:
                Offload(rest);
                break;
        }
    }

    private void Frame(ReadOnlySpan<byte> frame)
    {
        if (!EthernetHeader.TryParse(frame, out EthernetHeader eth))
        {
            return;
        }

        sink += eth.Length + (eth.IsTagged ? 1 : 0);
        switch (eth.EtherType)
        {
            case Ethernet.EtherTypeArp:
                if (ArpPacket.TryParse(eth.Payload, out ArpPacket arp))
                {
                    sink += arp.Operation + (long)arp.SenderMac + arp.SenderIp + (long)arp.TargetMac + arp.TargetIp + (arp.IsRequest ? 1 : 0);
                }

                break;
            case Ethernet.EtherTypeIPv4:
                if (IPv4Header.TryParse(eth.Payload, out IPv4Header v4))
                {
                    sink += v4.HeaderLength + v4.TotalLength + v4.Identification + v4.HeaderChecksum + v4.TimeToLive + (v4.IsFragment ? 1 : 0);
                    sink += v4.Source[0] + v4.Destination[3] + v4.Header.Length + InternetChecksum.Compute(v4.Header);
                    Transport(v4.Protocol, v4.Payload, IpAddr.Read(v4.Source), IpAddr.Read(v4.Destination));
                }

                break;
            case Ethernet.EtherTypeIPv6:
                if (IPv6Header.TryParse(eth.Payload, out IPv6Header v6))
                {
                    sink += v6.PayloadLength + v6.Source[15] + v6.Destination[0];
                    Transport(v6.NextHeader, v6.Payload, IpAddr.Read(v6.Source), IpAddr.Read(v6.Destination));
                }

                break;
        }
    }

    private void Transport(byte protocol, ReadOnlySpan<byte> payload, IpAddr source, IpAddr destination)
    {
        sink += PacketWriter.PseudoHeaderSum(source, destination, protocol, payload.Length);
        switch (protocol)
        {
            case PacketWriter.ProtocolIcmp:
                Icmp(payload);
                break;
            case PacketWriter.ProtocolIcmpV6:
                Icmp(payload);
                Ndp(payload);
                break;
            case InternetChecksum.ProtocolTcp:
                Tcp(payload);
                break;
            case InternetChecksum.ProtocolUdp:
                if (UdpHeader.TryParse(payload, out UdpHeader udp))
                {
                    sink += udp.SourcePort + udp.LengthField + udp.Checksum;
                    switch (udp.DestinationPort)
                    {
                        case 67 or 68:
                            Dhcp(udp.Payload);
                            break;
                        case 546 or 547:
                            Dhcpv6(udp.Payload);
                            break;
                        case 53:
                            Dns(udp.Payload);
                            break;
                    }
                }

                break;
        }
    }

    private void Icmp(ReadOnlySpan<byte> data)
    {
        if (IcmpMessage.TryParse(data, out IcmpMessage icmp))
        {
            sink += icmp.Type + icmp.Code + icmp.Checksum + icmp.Identifier + icmp.Sequence + icmp.Data.Length + icmp.Message.Length;
        }
    }

    private void Tcp(ReadOnlySpan<byte> segment)
    {
        if (!TcpHeader.TryParse(segment, out TcpHeader tcp))
        {
            return;
        }

        sink += tcp.SourcePort + tcp.DestinationPort + tcp.SequenceNumber + tcp.AcknowledgmentNumber + tcp.HeaderLength + tcp.Flags + tcp.Window + tcp.Checksum;
        sink += tcp.Options.Length + tcp.Payload.Length;
        if (TcpOptions.TryParse(tcp, out TcpOptions options))
        {
            sink += options.Mss + options.WindowScale + options.TimestampValue + options.TimestampEcho + (options.SackPermitted ? 1 : 0) + (options.HasTimestamps ? 1 : 0);
        }
    }

    private void Dns(ReadOnlySpan<byte> message)
    {
        if (!DnsMessage.TryParse(message, out DnsMessage dns))
        {
            return;
        }

        sink += dns.Id + dns.Flags + dns.Opcode + dns.Rcode + dns.QuestionCount + dns.AnswerCount + dns.AuthorityCount + dns.AdditionalCount;
        sink += (dns.IsResponse ? 1 : 0) + (dns.IsTruncated ? 1 : 0);
        if (dns.TryGetFirstQuestion(out ReadOnlySpan<byte> question, out ushort qtype, out ushort qclass))
        {
            sink += question.Length + qtype + qclass;
            sink += DnsMessage.QuestionsMatch(question, question) ? 1 : 0;
        }

        for (int start = 0; start < Math.Min(message.Length, 64); start++)
        {
            if (DnsMessage.TryWalkName(message, start, out int end))
            {
                sink += end;
                if (end <= start || end > message.Length)
                {
                    throw new FuzzFindingException($"TryWalkName from {start} ended at {end} in a {message.Length}-byte message");
                }
            }
        }

        int written = DnsMessage.WriteHeaderOnlyAnswer(message, scratch, rcode: 2, truncated: message.Length > 512);
        if (written < 0 || written > scratch.Length)
        {
            throw new FuzzFindingException($"WriteHeaderOnlyAnswer wrote {written} bytes");
        }
    }

    private void Dhcp(ReadOnlySpan<byte> data)
    {
        if (!DhcpMessage.TryParse(data, out DhcpMessage dhcp))
        {
            return;
        }

        sink += dhcp.Op + dhcp.HardwareType + dhcp.HardwareLength + dhcp.Hops + dhcp.TransactionId + dhcp.Seconds + dhcp.Flags;
        sink += dhcp.ClientAddress + dhcp.YourAddress + dhcp.ServerAddress + dhcp.RelayAddress + (long)dhcp.ClientMac;
        sink += dhcp.ClientHardwareAddress.Length + dhcp.OptionBytes.Length + dhcp.MessageType + (dhcp.Broadcast ? 1 : 0);
        foreach (DhcpOption option in dhcp.Options)
        {
            sink += option.Code + option.Value.Length;
            if (dhcp.TryGetAddressOption(option.Code, out uint address))
            {
                sink += address;
            }
        }
    }

    private void Dhcpv6(ReadOnlySpan<byte> data)
    {
        if (!Dhcpv6Message.TryParse(data, out Dhcpv6Message dhcp))
        {
            return;
        }

        sink += dhcp.MessageType + dhcp.TransactionId;
        foreach (Dhcpv6Option option in dhcp.Options)
        {
            sink += option.Code + option.Value.Length;
            if (dhcp.TryGetOption(option.Code, out ReadOnlySpan<byte> value))
            {
                sink += value.Length;
            }
        }
    }

    private void Ndp(ReadOnlySpan<byte> icmp)
    {
        if (!NdpMessage.TryParse(icmp, out NdpMessage ndp))
        {
            return;
        }

        sink += ndp.Type + ndp.CurHopLimit + ndp.Flags + ndp.RouterLifetime + ndp.ReachableTime + ndp.RetransTimer + ndp.Target.Length;
        if (ndp.TryGetLinkLayerAddress(1, out ulong mac) || ndp.TryGetLinkLayerAddress(2, out mac))
        {
            sink += (long)mac;
        }

        sink += ndp.HasOption(5) ? 1 : 0;
        foreach (NdpOption option in ndp.Options)
        {
            sink += option.Type + option.Data.Length;
            if (NdpPrefixInformation.TryParse(option, out NdpPrefixInformation prefix))
            {
                sink += prefix.PrefixLength + prefix.Flags + prefix.ValidLifetime + prefix.PreferredLifetime + prefix.Prefix.GetHashCode();
            }

            if (NdpOptions.TryReadMtu(option, out uint mtu))
            {
                sink += mtu;
            }

            if (NdpOptions.TryReadRdnss(option, out uint lifetime, out ReadOnlySpan<byte> addresses))
            {
                sink += lifetime + addresses.Length;
            }

            if (NdpOptions.TryReadDnssl(option, out lifetime, out ReadOnlySpan<byte> names))
            {
                sink += lifetime + names.Length;
            }
        }
    }

    private void Offload(ReadOnlySpan<byte> data)
    {
        if (data.Length < 10)
        {
            return;
        }

        var offload = new OffloadInfo(
            data[0], data[1], BinaryPrimitives.ReadUInt16LittleEndian(data[2..]), BinaryPrimitives.ReadUInt16LittleEndian(data[4..]),
            BinaryPrimitives.ReadUInt16LittleEndian(data[6..]), BinaryPrimitives.ReadUInt16LittleEndian(data[8..]));
        ReadOnlySpan<byte> frame = data[10..];
        if (offload.IsGso)
        {
            if (GsoSegmenter.TryCreate(frame, offload, out GsoSegmenter segmenter, out _))
            {
                int produced = 0;
                int max = segmenter.MaxSegmentLength;
                if (max > scratch.Length)
                {
                    throw new FuzzFindingException($"segments of {max} bytes from a {frame.Length}-byte frame");
                }

                while (segmenter.TryNext(scratch.AsSpan(0, max), out int length))
                {
                    if (++produced > segmenter.SegmentCount || length > max)
                    {
                        throw new FuzzFindingException("the segmenter produced more or longer segments than it announced");
                    }
                }
            }
        }
        else
        {
            byte[] copy = frame.ToArray();
            OffloadCompletion.TryCompleteChecksum(copy, offload, out _);
        }
    }

    public override string ToString() => $"{Name} ({sink})";
}
