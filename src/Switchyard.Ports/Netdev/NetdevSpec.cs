// Port specs: what a port connects to, written in QEMU's -netdev option syntax.
//
// Theory of operation: a spec says, from Switchyard's side, which socket a port opens and whether it
// listens or connects. The text form is QEMU's (`stream,addr.type=unix,addr.path=/run/g1.sock,server=on`)
// so a user can copy an option list from a QEMU command line and flip the roles. Each port kind has one
// home: its spec record, in the kind's folder next to its port (Stream/StreamSpec.cs, ...). The record
// owns everything particular to the kind, as the abstract members below: how its options are read (its
// NetdevSyntax, used by NetdevParser) and written (Write), how it describes itself, the mirror-image
// QEMU arguments that attach a guest to it, the host resources it claims (checked by the topology), and
// how it is opened on a loop (Open, reached through PortFactory). A kind that forgets one does not
// compile; a kind missing from NetdevParser's list fails NetdevKindTests. Every constructor checks the
// rules of its spec, so a NetdevSpec that exists is a valid one, and ToString() writes the canonical
// text, which parses back to an equal spec. Parse and TryParse report every problem in the text at once.
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using Switchyard.Core.Config;

namespace Switchyard.Ports;

/// <summary>What a port connects to: one record per port kind (<c>StreamSpec</c>, <c>DgramSpec</c>,
/// <c>VhostUserSpec</c>, <c>TapSpec</c>, <c>NetnsSpec</c>), each in its kind's folder.</summary>
public abstract record NetdevSpec
{
    private protected NetdevSpec()
    {
    }

    /// <summary>"stream", "dgram", "vhost-user", "tap" or "netns": the port type, and the first word of the canonical text.</summary>
    public abstract string Kind { get; }

    /// <summary>Whether the port is one port, a client that reconnects, or a listener with a port per connection.</summary>
    public abstract PortShape Shape { get; }

    /// <summary>The port in a few words for people ("stream listener on /run/g.sock", "tap tap0").</summary>
    public abstract string Describe();

    /// <summary>The QEMU arguments that attach a guest to this port: the mirror image of the spec (our
    /// listener is QEMU's client, our local address is QEMU's remote). Null when no QEMU guest can attach
    /// (a tap, a namespace). Called through QemuArgsBuilder, the one place that names ids and devices.</summary>
    public abstract QemuMirror? Qemu(QemuGuest guest);

    /// <summary>What the port takes on this host: sockets it binds, unix sockets it dials, interfaces it
    /// attaches to. The topology checks these for conflicts (TopologyConfig) and against the host
    /// (TopologyHostChecks) without opening anything.</summary>
    public abstract IReadOnlyList<HostClaim> HostClaims();

    /// <summary>Opens the port on <paramref name="context"/>'s loop (see <see cref="PortFactory"/>).</summary>
    internal abstract PortHandle Open(PortContext context);

    /// <summary>Parses a spec. Accepts <c>stream</c>, <c>dgram</c>, <c>vhost-user</c>, <c>tap</c>, <c>netns</c> and QEMU's legacy
    /// <c>socket</c> (which becomes a stream or dgram spec). Throws <see cref="ConfigException"/> listing
    /// every problem found.</summary>
    public static NetdevSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var errors = new List<string>();
        NetdevSpec? spec = NetdevParser.Parse(text, errors);
        return spec is not null && errors.Count == 0 ? spec : throw new ConfigException(errors);
    }

    /// <summary>Like <see cref="Parse"/>, but returns the problems instead of throwing.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out NetdevSpec? spec, out IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(text);
        var list = new List<string>();
        try
        {
            spec = NetdevParser.Parse(text, list);
        }
        catch (ConfigException ex)
        {
            // A constructor found a rule the parser did not check first: still a user error.
            list.AddRange(ex.Errors);
            spec = null;
        }

        if (list.Count > 0)
        {
            spec = null;
        }

        errors = list;
        return spec is not null;
    }

    /// <summary>The canonical spec text: type word, then options in a fixed order, commas in values
    /// doubled. <c>Parse(spec.ToString())</c> equals <c>spec</c>.</summary>
    public sealed override string ToString()
    {
        var writer = new SpecWriter(Kind);
        Write(writer);
        return writer.ToString();
    }

    /// <summary>Writes the options after the type word, in the kind's fixed order.</summary>
    private protected abstract void Write(SpecWriter writer);

    /// <summary>Builds canonical spec text.</summary>
    private protected sealed class SpecWriter(string kind)
    {
        private readonly StringBuilder text = new(kind);

        public void Add(string key, string value) =>
            text.Append(',').Append(key).Append('=').Append(value.Replace(",", ",,", StringComparison.Ordinal));

        public void Add(string key, bool value) => Add(key, ConfigText.FormatBool(value));

        public void Add(string key, long value) => Add(key, value.ToString(CultureInfo.InvariantCulture));

        public void Add(string prefix, NetdevAddress address)
        {
            Add(prefix + ".type", address.Type);
            switch (address)
            {
                case UnixSocketAddress unix:
                    Add(prefix + ".path", unix.Path);
                    if (unix.Abstract)
                    {
                        Add(prefix + ".abstract", true);
                    }

                    break;
                case InetSocketAddress inet:
                    Add(prefix + ".host", inet.Host);
                    Add(prefix + ".port", inet.Port);
                    break;
            }
        }

        public override string ToString() => text.ToString();
    }
}

/// <summary>What a configured port name stands for: one port, a client that reconnects, or a listener
/// that makes a port ("NAME.N") of every connection it accepts.</summary>
public enum PortShape
{
    /// <summary>One port for the life of the configuration (dgram, tap, netns).</summary>
    Single,

    /// <summary>One port that Switchyard connects, and connects again when the peer goes.</summary>
    Client,

    /// <summary>A listening socket; any number of peers connect, each its own port.</summary>
    Listener,
}
