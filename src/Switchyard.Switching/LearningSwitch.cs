// The learning L2 switch: one per network.
//
// Theory of operation. A port hands each received frame to Receive on the loop thread that owns
// the switch and all its ports. The switch
//   1. classifies the frame into a VLAN (802.1Q §6.9): an untagged or priority-tagged (VID 0) frame
//      belongs to the port's untagged VLAN (the access VLAN, or a trunk's native VLAN); a tagged frame
//      to its VID, if the port is a member of it;
//   2. learns (VLAN, source MAC) -> ingress port in the forwarding database;
//   3. forwards: a group destination or an unknown (or expired) unicast destination is flooded to
//      every other member of the VLAN; a known one goes to its one port, or nowhere if that is the
//      ingress port (no reflection);
//   4. hands each egress port an EgressFrame: the ingress bytes plus a tag rewrite (strip, insert or
//      none) that the port applies while it copies the frame into its medium, and the ingress port's
//      Id (an int the switch gave it in AddPort, never reused), so the NAT gateway can budget per port. The switch itself
//      copies a frame only to re-tag a priority-tagged frame for a trunk (rare; one copy per frame);
//   5. completes offloads the egress port cannot carry (DESIGN.md, "The data path"). A frame from a
//      virtio-net guest may carry a partial checksum (NEEDS_CSUM) or be a GSO super frame. A port whose
//      Offloads say it can take that gets the frame and its OffloadInfo untouched. For any other port
//      the switch does the work in software, on its own offload scratch buffer and in the frame's
//      ingress layout (the L4 checksum and the IP headers do not cover the Ethernet header, so the
//      egress port still applies the tag rewrite while it copies, as for any frame):
//        - NEEDS_CSUM: the frame is copied once into the scratch and its checksum completed there
//          (Switchyard.Protocols.OffloadCompletion); every port of a flood that needs it gets that
//          same completed copy, so the work is done once per frame, not once per port;
//        - GSO: segments are produced one at a time into the scratch (GsoSegmenter) and each is
//          transmitted as a plain frame before the next is written. A flood segments again for each
//          port that needs it. Trade-off: segmenting once for all such ports would need either room
//          for every segment at once (up to ~64 KiB of payload plus a copy of the headers per
//          segment) or a list of pending ports per frame; floods of TCP super frames to several
//          non-offload ports are rare (TCP is unicast once the FDB has learned), so we pay the CPU
//          instead of the memory and the bookkeeping.
//      A request that cannot be completed (malformed metadata or headers, or a kind not implemented,
//      such as legacy UFO) is dropped on that egress port and counted as tx_offload_malformed or
//      tx_offload_unsupported; the frame still goes to every port that can carry it.
// In hub mode steps 1-3 are skipped: every frame goes to every other port unchanged (step 5 applies).
// Capture taps (LearningSwitch.Capture.cs) copy frames at the port boundary: as a port delivers them,
// before step 1, and as the switch hands them to a port, after step 5. With no capture running that
// is one null check per frame and per egress port.
//
// What it trusts: its ports (our code) to call it on the loop thread and to copy frames before
// Transmit returns. What it does not trust: frame contents. Every byte that comes from a guest is
// checked before it is used, and a bad frame is dropped and counted on its ingress port.
//
// What it owns: the port list (copy-on-write arrays, so a flood that is walking the list is not
// disturbed when a port closes from inside its own Transmit), the forwarding database, a scratch
// buffer for re-tagging, one for software offloads (64 KiB, allocated the first time a frame needs
// it), and its counters. Each scratch buffer belongs to one frame at a time: if a port re-enters
// Receive from inside Transmit while the outer frame still uses one, the inner frame gets a
// temporary array instead. It does not own the ports' lifetimes: it attaches them, but starting and
// stopping them is the caller's job. Nothing on the Receive path allocates in steady state.
using System.Buffers.Binary;
using System.Collections.ObjectModel;
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;
using Switchyard.Protocols;

namespace Switchyard.Switching;

/// <summary>A learning Ethernet switch with 802.1Q access and trunk ports (or a hub).
/// Every member runs on the event loop that owns the switch and its ports, except reading
/// <see cref="Counters"/>.</summary>
public sealed partial class LearningSwitch : IFrameSink
{
    private const ushort VidMask = 0x0FFF;

    /// <summary>Size of the software-offload scratch buffer: the largest frame a virtio-net header can
    /// describe (hdr_len, gso_size and the IP lengths are 16-bit), so it never grows in practice.</summary>
    private const int OffloadScratchLength = 64 * 1024;

    private readonly TimeProvider clock;
    private readonly Action<Port, string>? onPortClosed;
    private readonly ForwardingDatabase fdb;
    private readonly Dictionary<Port, SwitchPort> byPort = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, SwitchPort> byName = new(StringComparer.Ordinal);
    private SwitchPort[] ports = [];
    private ReadOnlyCollection<Port> portList = ReadOnlyCollection<Port>.Empty;
    private byte[] retagScratch = [];
    private bool retagScratchBusy;
    private byte[] offloadScratch = [];
    private bool offloadScratchBusy;
    private int lastPortId;

    /// <param name="name">The network's name, for messages.</param>
    /// <param name="clock">Source of FDB timestamps (a manual clock in tests).</param>
    /// <param name="options">Mode, MAC ageing and FDB size.</param>
    /// <param name="onPortClosed">Called after a port that closed itself has been removed.</param>
    public LearningSwitch(string name, TimeProvider clock, SwitchOptions options, Action<Port, string>? onPortClosed = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(options);
        if (options.MacAgeing <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(
                nameof(options), options.MacAgeing, $"switch {name}: MAC ageing must be a positive time span");
        }

        if (options.MaxMacs < 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(options), options.MaxMacs, $"switch {name}: MaxMacs must be zero (no learning) or more");
        }

        if (options.MaxMacsPerPort < 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(options), options.MaxMacsPerPort, $"switch {name}: MaxMacsPerPort must be zero (no learning) or more");
        }

        Name = name;
        Options = options;
        this.clock = clock;
        this.onPortClosed = onPortClosed;
        fdb = new ForwardingDatabase(ToTimestampUnits(options.MacAgeing, clock.TimestampFrequency), options.MaxMacs, options.MaxMacsPerPort, Counters);
    }

    public string Name { get; }

    public SwitchOptions Options { get; }

    public SwitchCounters Counters { get; } = new();

    /// <summary>The ports, in the order they were added. The list is a snapshot: adding or removing a
    /// port replaces it, so it may be enumerated while ports come and go.</summary>
    public IReadOnlyList<Port> Ports => portList;

    /// <summary>Attaches <paramref name="port"/> to this switch as a member of <paramref name="vlan"/>
    /// (ignored in hub mode). Does not start the port.</summary>
    /// <exception cref="InvalidOperationException">The name is taken, or the port is already attached.</exception>
    public void AddPort(Port port, VlanMembership vlan)
    {
        ArgumentNullException.ThrowIfNull(port);
        ArgumentNullException.ThrowIfNull(vlan);
        if (byName.TryGetValue(port.Name, out SwitchPort? existing))
        {
            throw new InvalidOperationException(
                $"network {Name} already has a port named '{port.Name}' ({existing.Port.Kind}); give each port a unique name");
        }

        port.Attach(this, ++lastPortId);
        var member = new SwitchPort(port, vlan);
        byPort.Add(port, member);
        byName.Add(port.Name, member);

        SwitchPort[] updated = new SwitchPort[ports.Length + 1];
        ports.CopyTo(updated, 0);
        updated[^1] = member;
        Publish(updated);
    }

    /// <summary>Detaches <paramref name="port"/> from forwarding and forgets every address learned on it.
    /// Does not stop the port. Returns false when it is not a port of this switch.</summary>
    public bool RemovePort(Port port)
    {
        ArgumentNullException.ThrowIfNull(port);
        if (!byPort.Remove(port, out SwitchPort? member))
        {
            return false;
        }

        byName.Remove(port.Name);
        member.Removed = true;
        EndCapturesOf(member);

        SwitchPort[] updated = new SwitchPort[ports.Length - 1];
        int n = 0;
        foreach (SwitchPort p in ports)
        {
            if (!ReferenceEquals(p, member))
            {
                updated[n++] = p;
            }
        }

        Publish(updated);
        fdb.RemovePort(member);
        foreach (SwitchPort p in updated)
        {
            p.Port.OnPeerPortRemoved(port.Id);
        }

        return true;
    }

    public Port? FindPort(string name) => byName.TryGetValue(name, out SwitchPort? member) ? member.Port : null;

    /// <exception cref="ArgumentException">The port is not on this switch.</exception>
    public VlanMembership MembershipOf(Port port)
    {
        ArgumentNullException.ThrowIfNull(port);
        return byPort.TryGetValue(port, out SwitchPort? member)
            ? member.Membership
            : throw new ArgumentException($"port {port.Name} is not on network {Name}", nameof(port));
    }

    /// <summary>True unless the port's link was set down with <see cref="SetLinkUp"/>.</summary>
    /// <exception cref="ArgumentException">The port is not on this switch.</exception>
    public bool IsLinkUp(Port port) => !Member(port).LinkDown;

    /// <summary>
    /// Sets a port's administrative link state, as `ip link set dev X down` does for a bridge port. A down
    /// port's frames are dropped (rx_admin_down) and nothing is sent to it; the addresses learned on it
    /// are forgotten, so traffic for them floods until they are learned again elsewhere. Returns false
    /// when the state was already that. On the loop.
    /// </summary>
    /// <exception cref="ArgumentException">The port is not on this switch.</exception>
    public bool SetLinkUp(Port port, bool up)
    {
        SwitchPort member = Member(port);
        if (member.LinkDown != up)
        {
            return false;
        }

        member.LinkDown = !up;
        if (!up)
        {
            fdb.RemovePort(member);
        }

        return true;
    }

    /// <summary>Moves a port to other VLANs at run time; its learned addresses are forgotten (they were
    /// learned in the old VLANs). Ignored for forwarding in hub mode, like the membership given to AddPort. On the loop.</summary>
    /// <exception cref="ArgumentException">The port is not on this switch.</exception>
    public void SetMembership(Port port, VlanMembership vlan)
    {
        ArgumentNullException.ThrowIfNull(vlan);
        SwitchPort member = Member(port);
        member.Reconfigure(vlan);
        fdb.RemovePort(member);
    }

    private SwitchPort Member(Port port)
    {
        ArgumentNullException.ThrowIfNull(port);
        return byPort.TryGetValue(port, out SwitchPort? member)
            ? member
            : throw new ArgumentException($"port {port.Name} is not on network {Name}", nameof(port));
    }

    /// <summary>Removes the port, then tells the owner (onPortClosed) so it can release it. The owner is
    /// told even when the port had already been removed, since only the port knows it closed.</summary>
    public void PortClosed(Port port, string reason)
    {
        ArgumentNullException.ThrowIfNull(port);
        RemovePort(port);
        onPortClosed?.Invoke(port, reason);
    }

    /// <summary>Removes every FDB entry not refreshed for MacAgeing; returns how many. Call from a loop timer.</summary>
    public int AgeOut() => fdb.AgeOut(clock.GetTimestamp());

    /// <summary>The live FDB entries, sorted by VLAN then MAC. Control plane: allocates.</summary>
    public FdbEntry[] SnapshotFdb() => fdb.Snapshot(clock, clock.GetTimestamp());

    /// <summary>Switches one frame received by <paramref name="ingress"/>. See the theory of operation.</summary>
    public void Receive(Port ingress, ReadOnlySpan<byte> frame, in OffloadInfo offload)
    {
        if (!byPort.TryGetValue(ingress, out SwitchPort? source))
        {
            // A port we removed that still delivers (its owner has not stopped it yet).
            ingress.Counters.Drop(DropReason.RxNoSwitch);
            return;
        }

        if (captureTaps is { } taps)
        {
            // The port boundary, before any decision: what the port delivered (LearningSwitch.Capture.cs).
            CaptureIngress(taps, source, frame);
        }

        if (source.LinkDown)
        {
            ingress.Counters.Drop(DropReason.RxAdminDown);
            return;
        }

        if (frame.Length < Ethernet.HeaderLength)
        {
            ingress.Counters.Drop(DropReason.RxRunt);
            return;
        }

        if (Options.Hub)
        {
            Counters.Increment(SwitchCounter.Flooded);
            var everywhere = new Outgoing(frame, 0, false, 0, offload, ingress.Id);
            try
            {
                SwitchPort[] all = ports;
                for (int i = 0; i < all.Length; i++)
                {
                    SwitchPort egress = all[i];
                    if (!ReferenceEquals(egress, source) && !egress.Removed && !egress.LinkDown)
                    {
                        Emit(egress, frame, VlanRewrite.None, 0, ref everywhere);
                    }
                }
            }
            finally
            {
                Release(ref everywhere);
            }

            return;
        }

        ulong sourceMac = Ethernet.Source(frame);
        if (Ethernet.IsGroup(sourceMac))
        {
            ingress.Counters.Drop(DropReason.RxSourceMulticast);
            return;
        }

        // 1. Classify (802.1Q §6.9: untagged and priority-tagged frames take the port's PVID).
        bool tagged = BinaryPrimitives.ReadUInt16BigEndian(frame[Ethernet.EtherTypeOffset..]) == Ethernet.EtherTypeVlan;
        ushort tci = 0;
        ushort vid = source.UntaggedVid;
        if (tagged)
        {
            if (frame.Length < Ethernet.HeaderLength + Ethernet.VlanTagLength)
            {
                ingress.Counters.Drop(DropReason.RxRunt);
                return;
            }

            tci = Ethernet.TagControl(frame);
            if ((tci & VidMask) != 0)
            {
                vid = (ushort)(tci & VidMask);
            }
        }

        if (vid == 0)
        {
            // Untagged or priority-tagged on a trunk without a native VLAN.
            ingress.Counters.Drop(DropReason.RxUntaggedOnTrunk);
            return;
        }

        if (!source.IsMember(vid))
        {
            ingress.Counters.Drop(DropReason.RxVlanNotAllowed);
            return;
        }

        // 2. Learn.
        long now = clock.GetTimestamp();
        fdb.Learn(vid, sourceMac, source, now);

        // 3. Forward.
        var outgoing = new Outgoing(frame, vid, tagged, tci, offload, ingress.Id);
        try
        {
            ulong destination = Ethernet.Destination(frame);
            if (!Ethernet.IsGroup(destination)
                && fdb.Lookup(vid, destination, now) is { } target
                && !target.Removed
                && !target.LinkDown
                && target.IsMember(vid))
            {
                if (ReferenceEquals(target, source))
                {
                    Counters.Increment(SwitchCounter.FilteredLocal);
                    return;
                }

                Counters.Increment(SwitchCounter.UnicastForwarded);
                Send(target, ref outgoing);
                return;
            }

            Counters.Increment(SwitchCounter.Flooded);
            SwitchPort[] all = ports;
            for (int i = 0; i < all.Length; i++)
            {
                SwitchPort egress = all[i];
                if (!ReferenceEquals(egress, source) && !egress.Removed && !egress.LinkDown && egress.IsMember(vid))
                {
                    Send(egress, ref outgoing);
                }
            }
        }
        finally
        {
            Release(ref outgoing);
        }
    }

    /// <summary>True when a port with <paramref name="have"/> can take <paramref name="offload"/> on its wire
    /// as it is. No port advertises UDP segmentation, so USO frames are always segmented in software.</summary>
    private static bool CanCarry(PortOffloads have, in OffloadInfo offload)
    {
        if (offload.IsPlain)
        {
            return true;
        }

        bool checksumOk = !offload.NeedsChecksum || (have & PortOffloads.PartialChecksum) != 0;
        int gso = offload.GsoType & ~OffloadInfo.GsoEcn;
        bool gsoOk = !offload.IsGso
            || ((gso is OffloadInfo.GsoTcpV4 or OffloadInfo.GsoTcpV6) && (have & PortOffloads.TcpSegmentation) != 0)
            || (gso == OffloadInfo.GsoUdpL4 && (have & PortOffloads.UdpSegmentation) != 0);
        return checksumOk && gsoOk;
    }

    private static DropReason DropReasonFor(OffloadError error) =>
        OffloadErrors.IsUnsupported(error) ? DropReason.TxOffloadUnsupported : DropReason.TxOffloadMalformed;

    /// <summary>Lifetime in TimeProvider timestamp units, rounded up so an entry lives at least that long.</summary>
    private static long ToTimestampUnits(TimeSpan span, long frequency)
    {
        Int128 scaled = (Int128)span.Ticks * frequency;
        Int128 units = scaled / TimeSpan.TicksPerSecond;
        if (scaled % TimeSpan.TicksPerSecond != 0)
        {
            units++;
        }

        return units > long.MaxValue ? long.MaxValue : (long)units;
    }

    private void Publish(SwitchPort[] updated)
    {
        ports = updated;
        var list = new Port[updated.Length];
        for (int i = 0; i < updated.Length; i++)
        {
            list[i] = updated[i].Port;
        }

        portList = new ReadOnlyCollection<Port>(list);
    }

    /// <summary>Gives one frame to one egress port with the tag rewrite its VLAN membership needs.</summary>
    private void Send(SwitchPort egress, ref Outgoing frame)
    {
        ReadOnlySpan<byte> data = frame.Data;
        VlanRewrite rewrite;
        ushort tagControl = 0;
        if (frame.Vid == egress.UntaggedVid)
        {
            // Access port, or a trunk's native VLAN: leaves untagged.
            rewrite = frame.Tagged ? VlanRewrite.Strip : VlanRewrite.None;
        }
        else if (!frame.Tagged)
        {
            rewrite = VlanRewrite.Insert;
            tagControl = frame.Vid;
        }
        else if ((frame.TagControl & VidMask) == frame.Vid)
        {
            rewrite = VlanRewrite.None;
        }
        else
        {
            // Priority-tagged (VID 0) on ingress, tagged on egress: the tag stays, with the VLAN's VID
            // and the sender's priority bits. EgressFrame cannot rewrite a tag in place, so copy once.
            Retag(ref frame);
            data = frame.RetaggedData;
            rewrite = VlanRewrite.None;
        }

        Emit(egress, data, rewrite, tagControl, ref frame);
    }

    /// <summary>Transmits <paramref name="data"/> (the frame in its ingress layout, possibly re-tagged) to
    /// one port: as it is when the port can carry the frame's offloads, otherwise completed in software
    /// (step 5 of the theory of operation).</summary>
    private void Emit(SwitchPort egress, ReadOnlySpan<byte> data, VlanRewrite rewrite, ushort tagControl, ref Outgoing frame)
    {
        Port port = egress.Port;
        if (CanCarry(port.Offloads, frame.Offload))
        {
            if (frame.Offload.IsGso)
            {
                Counters.Increment(SwitchCounter.GsoFramesPassed);
            }

            var egressFrame = new EgressFrame(data, rewrite, tagControl, frame.Offload) { IngressPort = frame.IngressPort };
            Transmit(egress, in egressFrame);
        }
        else if (frame.Offload.IsGso)
        {
            EmitSegmented(egress, data, rewrite, tagControl, ref frame);
        }
        else
        {
            EmitChecksummed(egress, data, rewrite, tagControl, ref frame);
        }
    }

    /// <summary>Sends the frame with its partial checksum completed, completing it once per frame (per
    /// source bytes: a re-tagged copy is a second source) and reusing the result for every later port.</summary>
    private void EmitChecksummed(SwitchPort egress, ReadOnlySpan<byte> data, VlanRewrite rewrite, ushort tagControl, ref Outgoing frame)
    {
        Port port = egress.Port;
        if (frame.ChecksumSource != data)
        {
            Span<byte> copy = RentOffloadScratch(ref frame, data.Length);
            data.CopyTo(copy);
            frame.ChecksumSource = data;
            if (OffloadCompletion.TryCompleteChecksum(copy, frame.Offload, out OffloadError error))
            {
                Counters.Increment(SwitchCounter.SoftwareChecksums);
                frame.Checksummed = copy;
            }
            else
            {
                frame.Checksummed = default;
                frame.ChecksumError = error;
            }
        }

        if (frame.Checksummed.IsEmpty)
        {
            port.Counters.Drop(DropReasonFor(frame.ChecksumError));
            return;
        }

        var completed = new EgressFrame(frame.Checksummed, rewrite, tagControl, OffloadInfo.None) { IngressPort = frame.IngressPort };
        Transmit(egress, in completed);
    }

    /// <summary>Segments the GSO super frame for one port, transmitting each segment from the scratch
    /// buffer before writing the next.</summary>
    private void EmitSegmented(SwitchPort egress, ReadOnlySpan<byte> data, VlanRewrite rewrite, ushort tagControl, ref Outgoing frame)
    {
        Port port = egress.Port;
        if (!GsoSegmenter.TryCreate(data, frame.Offload, out GsoSegmenter segmenter, out OffloadError error))
        {
            port.Counters.Drop(DropReasonFor(error));
            return;
        }

        Span<byte> scratch = RentOffloadScratch(ref frame, segmenter.MaxSegmentLength);
        Counters.Increment(SwitchCounter.SoftwareSegmentedFrames);

        // Stop if the port closes itself from inside Transmit: the rest would only be counted as drops.
        while (!egress.Removed && segmenter.TryNext(scratch, out int length))
        {
            Counters.Increment(SwitchCounter.SoftwareSegments);
            var segment = new EgressFrame(scratch[..length], rewrite, tagControl, OffloadInfo.None) { IngressPort = frame.IngressPort };
            Transmit(egress, in segment);
        }
    }

    /// <summary>The first <paramref name="length"/> bytes of the offload scratch buffer for this frame. The
    /// contents are the caller's to overwrite (a frame's earlier use of it has been transmitted already).</summary>
    private Span<byte> RentOffloadScratch(scoped ref Outgoing frame, int length)
    {
        if (!frame.OwnsOffloadScratch)
        {
            if (offloadScratchBusy)
            {
                // A port answered synchronously from inside Transmit and we are re-entered while the outer
                // frame still uses the scratch buffer: rare enough to allocate.
                return new byte[length];
            }

            offloadScratchBusy = true;
            frame.OwnsOffloadScratch = true;
        }

        if (offloadScratch.Length < length)
        {
            // Once, for the first offloaded frame (frames are at most 64 KiB); never per frame after that.
            offloadScratch = new byte[Math.Max(length, OffloadScratchLength)];
        }

        return offloadScratch.AsSpan(0, length);
    }

    /// <summary>Gives back the scratch buffers <paramref name="frame"/> used.</summary>
    private void Release(ref Outgoing frame)
    {
        if (frame.OwnsScratch)
        {
            retagScratchBusy = false;
        }

        if (frame.OwnsOffloadScratch)
        {
            offloadScratchBusy = false;
        }
    }

    /// <summary>Sets RetaggedData: the frame with its tag's VID set to the frame's VLAN (PCP and DEI kept),
    /// built once per frame.</summary>
    private void Retag(ref Outgoing frame)
    {
        if (frame.RetaggedData.IsEmpty)
        {
            Span<byte> copy;
            if (retagScratchBusy)
            {
                // A port answered synchronously from inside Transmit and we are re-entered while the outer
                // frame still uses the scratch buffer: rare enough to allocate.
                copy = new byte[frame.Data.Length];
            }
            else
            {
                if (retagScratch.Length < frame.Data.Length)
                {
                    // Grows a few times at most (frames are at most 64 KiB); never per frame in steady state.
                    retagScratch = new byte[Math.Max(frame.Data.Length, 2048)];
                }

                retagScratchBusy = true;
                frame.OwnsScratch = true;
                copy = retagScratch.AsSpan(0, frame.Data.Length);
            }

            frame.Data.CopyTo(copy);
            ushort tci = (ushort)((frame.TagControl & ~VidMask) | frame.Vid);
            BinaryPrimitives.WriteUInt16BigEndian(copy[(Ethernet.EtherTypeOffset + 2)..], tci);
            frame.RetaggedData = copy;
        }
    }

    /// <summary>One classified frame on its way out, shared by every egress port it goes to.</summary>
    private ref struct Outgoing(ReadOnlySpan<byte> data, ushort vid, bool tagged, ushort tagControl, OffloadInfo offload, int ingressPort)
    {
        /// <summary>Port.Id of the ingress port, handed to every egress port.</summary>
        public readonly int IngressPort = ingressPort;
        public readonly ReadOnlySpan<byte> Data = data;
        public readonly ushort Vid = vid;
        public readonly bool Tagged = tagged;

        /// <summary>The ingress TCI when Tagged.</summary>
        public readonly ushort TagControl = tagControl;
        public readonly OffloadInfo Offload = offload;

        /// <summary>The re-tagged copy, once made.</summary>
        public ReadOnlySpan<byte> RetaggedData;
        public bool OwnsScratch;

        /// <summary>The bytes the checksum was last completed from (Data or RetaggedData), once tried.</summary>
        public ReadOnlySpan<byte> ChecksumSource;

        /// <summary>That frame with its checksum completed; empty when completion failed with ChecksumError.</summary>
        public ReadOnlySpan<byte> Checksummed;
        public OffloadError ChecksumError;
        public bool OwnsOffloadScratch;
    }
}
