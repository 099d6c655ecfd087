// Packet capture at the switch's port boundaries (STYLE.md habit 12).
//
// Theory of operation. A capture (Switchyard.Core.Capture.PacketCapture) is attached as a tap on one
// port or on the whole network:
//   - a port tap sees the port's ingress (every frame the port delivers into the switch, before the
//     switch classifies, learns or drops it) and its egress (every frame the switch hands the port,
//     after the VLAN tag rewrite and after software offload completion: a GSO super frame the port
//     takes whole is one record, one the switch segments for the port is its segments);
//   - a network tap sees the ingress of every port, so each frame that enters the switch is seen once
//     however many ports it then goes to.
// The taps live in a copy-on-write array that is null when no capture runs, so the data path pays one
// null check per frame and per egress port when capture is off: no allocation, no virtual call, no
// lock. When on, each tap copies the frame into its capture's bounded queue; a full queue drops the
// frame for that capture and counts it (capture_dropped here, and Dropped on the capture), and the
// loop goes on. A tap whose capture has ended stays until its owner removes it and costs a flag read.
// When a port leaves the switch its taps' captures end, so their writers finish and hang up.
// Everything here runs on the switch's loop.
using Switchyard.Core.Capture;
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;

namespace Switchyard.Switching;

public sealed partial class LearningSwitch
{
    /// <summary>The taps; null when no capture runs (the data path's one check).</summary>
    private CaptureTap[]? captureTaps;

    /// <summary>Captures attached now (ended ones included until they are removed). On the loop.</summary>
    public int CaptureCount => captureTaps?.Length ?? 0;

    /// <summary>Starts feeding <paramref name="capture"/>: the ingress and egress of <paramref name="port"/>, or with
    /// no port every frame any port delivers into the switch. On the loop.</summary>
    /// <exception cref="ArgumentException">The port is not on this switch, or the capture is attached already.</exception>
    public void AddCapture(PacketCapture capture, Port? port)
    {
        ArgumentNullException.ThrowIfNull(capture);
        SwitchPort? member = null;
        if (port is not null && !byPort.TryGetValue(port, out member))
        {
            throw new ArgumentException($"port {port.Name} is not on network {Name}", nameof(port));
        }

        CaptureTap[] current = captureTaps ?? [];
        foreach (CaptureTap tap in current)
        {
            if (ReferenceEquals(tap.Capture, capture))
            {
                throw new ArgumentException("the capture is attached already", nameof(capture));
            }
        }

        var updated = new CaptureTap[current.Length + 1];
        current.CopyTo(updated, 0);
        updated[^1] = new CaptureTap(capture, member);
        captureTaps = updated;
    }

    /// <summary>Stops feeding <paramref name="capture"/>; false when it was not attached. Does not end it. On the loop.</summary>
    public bool RemoveCapture(PacketCapture capture)
    {
        ArgumentNullException.ThrowIfNull(capture);
        CaptureTap[]? current = captureTaps;
        if (current is null)
        {
            return false;
        }

        int index = Array.FindIndex(current, t => ReferenceEquals(t.Capture, capture));
        if (index < 0)
        {
            return false;
        }

        if (current.Length == 1)
        {
            captureTaps = null; // back to the one null check
            return true;
        }

        var updated = new CaptureTap[current.Length - 1];
        Array.Copy(current, 0, updated, 0, index);
        Array.Copy(current, index + 1, updated, index, current.Length - index - 1);
        captureTaps = updated;
        return true;
    }

    /// <summary>Ends and removes the captures of a port that is leaving the switch.</summary>
    private void EndCapturesOf(SwitchPort member)
    {
        CaptureTap[]? current = captureTaps;
        if (current is null)
        {
            return;
        }

        foreach (CaptureTap tap in current)
        {
            if (ReferenceEquals(tap.Port, member))
            {
                tap.Capture.End($"port {member.Port.Name} left network {Name}");
                RemoveCapture(tap.Capture);
            }
        }
    }

    /// <summary>A frame <paramref name="source"/> delivered: to its port taps and every network tap.</summary>
    private void CaptureIngress(CaptureTap[] taps, SwitchPort source, ReadOnlySpan<byte> frame)
    {
        for (int i = 0; i < taps.Length; i++)
        {
            CaptureTap tap = taps[i];
            if ((tap.Port is null || ReferenceEquals(tap.Port, source)) && !tap.Capture.Add(frame))
            {
                Counters.Increment(SwitchCounter.CaptureDropped);
            }
        }
    }

    /// <summary>Hands <paramref name="frame"/> to <paramref name="egress"/>, first to the taps on that port.</summary>
    private void Transmit(SwitchPort egress, in EgressFrame frame)
    {
        if (captureTaps is { } taps)
        {
            CaptureEgress(taps, egress, in frame);
        }

        egress.Port.Transmit(in frame);
    }

    private void CaptureEgress(CaptureTap[] taps, SwitchPort egress, in EgressFrame frame)
    {
        for (int i = 0; i < taps.Length; i++)
        {
            CaptureTap tap = taps[i];
            if (ReferenceEquals(tap.Port, egress) && !tap.Capture.Add(in frame))
            {
                Counters.Increment(SwitchCounter.CaptureDropped);
            }
        }
    }

    /// <summary>One capture and what it watches: a port (ingress and egress), or null for every ingress.</summary>
    private sealed record CaptureTap(PacketCapture Capture, SwitchPort? Port);
}
