// A port as the switch sees it: the Port plus its VLAN membership compiled for the data path.
//
// Theory of operation: VlanMembership is the control-plane description; this class turns it, once
// when the port is added, into a 4096-bit member set and the untagged VID, so that classifying and
// flooding a frame is a bit test and a compare. It is owned by the switch's loop; Removed is set when
// the port leaves so a flood that is already walking an older snapshot of the port list skips it.
// LinkDown is the administrative link state (`port set --link down`): such a port neither sends into
// the switch nor receives from it. Reconfigure recompiles the member set when the VLANs change.
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;

namespace Switchyard.Switching;

internal sealed class SwitchPort
{
    private readonly ulong[] members = new ulong[(Ethernet.MaxVlanId + 64) / 64];

    public SwitchPort(Port port, VlanMembership membership)
    {
        Port = port;
        Membership = membership;
        Reconfigure(membership);
    }

    public Port Port { get; }

    public VlanMembership Membership { get; private set; }

    /// <summary>VLAN of untagged and priority-tagged ingress frames, and the one that leaves untagged;
    /// 0 on a trunk without a native VLAN.</summary>
    public ushort UntaggedVid { get; private set; }

    public bool Removed { get; set; }

    /// <summary>Forwarding-database entries that point at this port (ForwardingDatabase keeps it).</summary>
    public int MacCount { get; set; }

    /// <summary>Administratively down: frames from it are dropped, none are sent to it.</summary>
    public bool LinkDown { get; set; }

    /// <summary>Replaces the VLAN membership; on the loop, between frames.</summary>
    public void Reconfigure(VlanMembership membership)
    {
        Membership = membership;
        UntaggedVid = membership.UntaggedVid;
        Array.Clear(members);
        for (ushort vid = 1; vid <= Ethernet.MaxVlanId; vid++)
        {
            if (membership.IsMember(vid))
            {
                members[vid >> 6] |= 1UL << (vid & 63);
            }
        }
    }

    /// <summary>True when <paramref name="vid"/> (any value 0..4095) is one of the port's VLANs.</summary>
    public bool IsMember(ushort vid) => (members[(vid >> 6) & 63] & (1UL << (vid & 63))) != 0;
}
