// Property test: random VLAN configurations, random (often malformed) frames, ports coming and going,
// time passing. The switch must never throw, never send a frame back to its ingress port, never send
// it outside its VLAN, and every copy it sends must carry exactly the bytes an independent reference
// model of 802.1Q classification and tagging (and of NEEDS_CSUM completion, for ports that cannot take
// a partial checksum) predicts. GSO requests on random bytes are almost always malformed: a port that
// cannot carry them gets whatever segments the switch could make, or nothing and a counted drop.
// Seeded, so a failure reproduces.
using System.Buffers.Binary;
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;
using Switchyard.Protocols.Tests;

namespace Switchyard.Switching.Tests;

public sealed class PropertyTests : SwitchTestBase
{
    private static readonly ulong[] SourceMacs =
    [
        0x02_00_00_00_00_01, 0x02_00_00_00_00_02, 0x02_00_00_00_00_03, 0x02_00_00_00_00_04,
        0x02_00_00_00_00_05, 0x02_00_00_00_00_06, 0x52_54_00_12_34_56, 0x52_54_00_12_34_57,
        0x01_00_5E_00_00_01, // group addresses: invalid as a source
    ];

    private static readonly ulong[] DestinationMacs = [.. SourceMacs, TestFrames.Broadcast, 0x33_33_00_00_00_01, 0x02_00_00_00_00_99];

    private static readonly ushort[] InterestingVids = [0, 1, 2, 3, 4, 5, 4094, 4095];

    private static readonly OffloadInfo[] Offloads =
    [
        OffloadInfo.None,
        new(OffloadInfo.FlagNeedsChecksum, OffloadInfo.GsoNone, 0, 0, 34, 16),
        new(OffloadInfo.FlagNeedsChecksum, OffloadInfo.GsoTcpV4, 54, 1448, 34, 16),
        new(OffloadInfo.FlagNeedsChecksum, OffloadInfo.GsoUdpL4, 42, 1400, 34, 6),
    ];

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(3, false)]
    [InlineData(42, false)]
    [InlineData(2026, false)]
    [InlineData(7, true)]
    [InlineData(8, true)]
    public void Switch_RandomTrafficAndConfigs_NeverThrowsNeverReflectsNeverLeaksAcrossVlans(int seed, bool hub)
    {
        var random = new Random(seed);
        LearningSwitch sw = NewSwitch(new SwitchOptions
        {
            Hub = hub,
            MacAgeing = TimeSpan.FromSeconds(random.Next(1, 120)),
            MaxMacs = random.Next(0, 12),
        });
        var all = new List<TestPort>();
        int nextPort = 0;
        for (int i = random.Next(2, 7); i > 0; i--)
        {
            all.Add(AddRandomPort(sw, random, ref nextPort));
        }

        for (int step = 0; step < 3000; step++)
        {
            int action = random.Next(100);
            if (action < 4)
            {
                Clock.Advance(TimeSpan.FromSeconds(random.Next(0, 60)));
                if (random.Next(2) == 0)
                {
                    sw.AgeOut();
                }

                continue;
            }

            if (action < 6 && sw.Ports.Count > 1)
            {
                sw.RemovePort(sw.Ports[random.Next(sw.Ports.Count)]);
                continue;
            }

            if (action < 8)
            {
                all.Add(AddRandomPort(sw, random, ref nextPort));
                continue;
            }

            TestPort ingress = all[random.Next(all.Count)];
            byte[] frame = RandomFrame(random);
            OffloadInfo offload = Offloads[random.Next(4) == 0 ? random.Next(Offloads.Length) : 0];
            InjectAndCheck(sw, all, ingress, frame, offload, hub, $"seed {seed} step {step}");
        }

        Assert.All(sw.SnapshotFdb(), e => Assert.NotNull(sw.FindPort(e.Port)));
    }

    private static void InjectAndCheck(LearningSwitch sw, List<TestPort> all, TestPort ingress, byte[] frame, OffloadInfo offload, bool hub, string where)
    {
        foreach (TestPort p in all)
        {
            p.Sent.Clear();
        }

        bool attached = sw.FindPort(ingress.Name) is not null;
        ushort? vid = !attached ? null : hub ? (ushort)0 : Classify(sw.MembershipOf(ingress), frame);

        var softwareDropsBefore = new Dictionary<TestPort, long>();
        foreach (TestPort p in all)
        {
            softwareDropsBefore[p] = p.Counters.Drops(DropReason.TxOffloadMalformed) + p.Counters.Drops(DropReason.TxOffloadUnsupported);
        }

        long floodedBefore = sw.Counters.Flooded;
        ingress.Inject(frame, offload);
        bool flooded = sw.Counters.Flooded > floodedBefore;

        Assert.True(ingress.Sent.Count == 0, $"{where}: frame reflected to its ingress port");

        // Members of the VLAN may receive the frame; of those, the ones that must (when it is flooded)
        // are the ones that can carry it, or need a checksum completion that is possible. Ports that
        // need segmentation of random bytes may get segments or a counted drop.
        byte[]? completed = ReferenceComplete(frame, offload);
        var eligible = new HashSet<TestPort>();
        var certain = new HashSet<TestPort>();
        foreach (Port port in sw.Ports)
        {
            var p = (TestPort)port;
            if (p != ingress && vid is { } v && (hub || sw.MembershipOf(p).IsMember(v)))
            {
                eligible.Add(p);
                if (CanCarry(p.Offloads, offload) || (!offload.IsGso && completed is not null))
                {
                    certain.Add(p);
                }
            }
        }

        var receivers = new HashSet<TestPort>();
        foreach (TestPort p in all)
        {
            bool carried = CanCarry(p.Offloads, offload);
            if (p.Sent.Count == 0)
            {
                if (flooded && eligible.Contains(p) && !certain.Contains(p))
                {
                    long drops = p.Counters.Drops(DropReason.TxOffloadMalformed) + p.Counters.Drops(DropReason.TxOffloadUnsupported);
                    Assert.True(drops == softwareDropsBefore[p] + 1, $"{where}: {p.Name} got nothing and no offload drop was counted");
                }

                continue;
            }

            Assert.True(eligible.Contains(p), $"{where}: {p.Name} is not a member of VLAN {vid}");
            receivers.Add(p);
            if (!carried && offload.IsGso)
            {
                // Segments of random bytes (checked by the Protocols property test): plain frames.
                Assert.True(p.Sent.TrueForAll(f => f.Offload == OffloadInfo.None), $"{where}: {p.Name} got a segment with offloads");
                continue;
            }

            Assert.True(p.Sent.Count == 1, $"{where}: {p.Name} got {p.Sent.Count} copies");
            byte[] source = carried ? frame : completed!;
            byte[] expected = hub ? source : ExpectedEgress(source, vid!.Value, sw.MembershipOf(p));
            Assert.True(expected.AsSpan().SequenceEqual(p.Last.Bytes), $"{where}: wrong bytes to {p.Name}");

            // A carried frame keeps its offloads, shifted by any tag inserted or removed; a completed one has none.
            OffloadInfo expectedOffload = carried ? offload.ShiftedBy(expected.Length - frame.Length) : OffloadInfo.None;
            Assert.True(p.Last.Offload == expectedOffload, $"{where}: {p.Name} got {p.Last.Offload}, expected {expectedOffload}");
        }

        bool mustFlood = hub || (vid is not null && Ethernet.IsGroup(Ethernet.Destination(frame)));
        Assert.True(!mustFlood || flooded || vid is null, $"{where}: a group destination was not flooded");
        if (flooded)
        {
            Assert.True(certain.IsSubsetOf(receivers) && receivers.IsSubsetOf(eligible), $"{where}: flood reached {receivers.Count} of {eligible.Count} members");
        }
    }

    /// <summary>Reference model of NEEDS_CSUM completion (virtio 1.2 §5.1.6.2.1) on the ingress bytes: null
    /// when the checksum field is out of the frame or its range starts inside the Ethernet header.</summary>
    private static byte[]? ReferenceComplete(byte[] frame, OffloadInfo offload)
    {
        if (!offload.NeedsChecksum)
        {
            return frame;
        }

        int l2 = frame.Length >= 18 && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) == Ethernet.EtherTypeVlan ? 18 : 14;
        int at = offload.ChecksumStart + offload.ChecksumOffset;
        if (at + 2 > frame.Length || offload.ChecksumStart < l2)
        {
            return null;
        }

        byte[] completed = (byte[])frame.Clone();
        ushort checksum = TestPackets.ReferenceChecksum(completed.AsSpan(offload.ChecksumStart));
        BinaryPrimitives.WriteUInt16BigEndian(completed.AsSpan(at), checksum == 0 ? (ushort)0xFFFF : checksum);
        return completed;
    }

    /// <summary>Reference model of ingress classification; null when the frame must be dropped.</summary>
    private static ushort? Classify(VlanMembership membership, byte[] frame)
    {
        if (Ethernet.IsGroup(Ethernet.Source(frame)))
        {
            return null;
        }

        ushort untagged = membership switch
        {
            AccessVlan a => a.Vid,
            TrunkVlans t => t.NativeVid ?? 0,
            _ => throw new InvalidOperationException(),
        };
        if (BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) != Ethernet.EtherTypeVlan)
        {
            return untagged == 0 ? null : untagged;
        }

        if (frame.Length < 18)
        {
            return null;
        }

        int vid = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(14)) & 0xFFF;
        if (vid == 0)
        {
            return untagged == 0 ? null : untagged;
        }

        bool member = membership switch
        {
            AccessVlan a => a.Vid == vid,
            TrunkVlans t => t.AllowedVids.Contains((ushort)vid) || t.NativeVid == vid,
            _ => false,
        };
        return member ? (ushort)vid : null;
    }

    /// <summary>Reference model of egress tagging.</summary>
    private static byte[] ExpectedEgress(byte[] frame, ushort vid, VlanMembership egress)
    {
        bool tagged = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) == Ethernet.EtherTypeVlan;
        ushort priority = tagged ? (ushort)(BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(14)) & 0xF000) : (ushort)0;
        byte[] core = tagged ? [.. frame[..12], .. frame[16..]] : frame;
        bool untaggedOut = egress switch
        {
            AccessVlan => true,
            TrunkVlans t => t.NativeVid == vid,
            _ => throw new InvalidOperationException(),
        };
        if (untaggedOut)
        {
            return core;
        }

        byte[] tag = new byte[4];
        BinaryPrimitives.WriteUInt16BigEndian(tag, Ethernet.EtherTypeVlan);
        BinaryPrimitives.WriteUInt16BigEndian(tag.AsSpan(2), (ushort)(priority | vid));
        return [.. core[..12], .. tag, .. core[12..]];
    }

    private static bool CanCarry(PortOffloads have, OffloadInfo offload)
    {
        if (offload.NeedsChecksum && !have.HasFlag(PortOffloads.PartialChecksum))
        {
            return false;
        }

        return !offload.IsGso
            || (offload.GsoType is OffloadInfo.GsoTcpV4 or OffloadInfo.GsoTcpV6 && have.HasFlag(PortOffloads.TcpSegmentation))
            || (offload.GsoType == OffloadInfo.GsoUdpL4 && have.HasFlag(PortOffloads.UdpSegmentation));
    }

    private static TestPort AddRandomPort(LearningSwitch sw, Random random, ref int next)
    {
        VlanMembership membership;
        if (random.Next(2) == 0)
        {
            membership = new AccessVlan((ushort)random.Next(1, 5));
        }
        else
        {
            var allowed = new List<ushort>();
            for (ushort vid = 1; vid <= 5; vid++)
            {
                if (random.Next(2) == 0)
                {
                    allowed.Add(vid);
                }
            }

            membership = new TrunkVlans(allowed, random.Next(3) == 0 ? null : (ushort)random.Next(1, 5));
        }

        var offloads = (PortOffloads)random.Next(8);
        return AddPort(sw, $"p{next++}", membership, offloads);
    }

    private static byte[] RandomFrame(Random random)
    {
        byte[] frame = new byte[random.Next(Ethernet.HeaderLength, 100)];
        random.NextBytes(frame);
        Ethernet.WriteMac(frame, DestinationMacs[random.Next(DestinationMacs.Length)]);
        Ethernet.WriteMac(frame.AsSpan(6), SourceMacs[random.Next(SourceMacs.Length)]);
        if (random.Next(2) == 0)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), Ethernet.EtherTypeVlan);
            if (frame.Length >= 16)
            {
                ushort vid = random.Next(4) == 0 ? (ushort)random.Next(4096) : InterestingVids[random.Next(InterestingVids.Length)];
                BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), (ushort)((random.Next(16) << 12) | vid));
            }
        }
        else if (BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) == Ethernet.EtherTypeVlan)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), Ethernet.EtherTypeIPv4);
        }

        return frame;
    }
}
