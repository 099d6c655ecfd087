// What the two peers are plugged into. Each target starts fresh for every run (a new switch process in a
// new temporary directory), hands back two connected peer sockets, and tears everything down after.
//
//   Switchyard     `switchyard up --run-dir DIR`; A and B are two connections to DIR/stream.sock
//                  (QEMU's -netdev stream wire: 4-byte big-endian length + frame).
//   Vde            `vde_switch -s DIR/vde`; A and B attach as libvdeplug does (QEMU -netdev vde): a
//                  control connection to DIR/vde/ctl, then one SOCK_DGRAM datagram per frame.
//   Ceiling        A and B joined directly by a unix stream connection: no switch at all.
//   CeilingDgram   A and B joined directly by two connected unix datagram sockets.
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Switchyard.Bench;

/// <summary>How frames are carried on a peer socket.</summary>
internal enum Wire
{
    /// <summary>A byte stream of 4-byte big-endian length + frame (QEMU -netdev stream/socket).</summary>
    Stream,

    /// <summary>One frame per datagram (libvdeplug's data socket, QEMU -netdev dgram).</summary>
    Datagram,
}

/// <summary>The two synthetic peers' sockets, plus any sockets that must stay open while they run.</summary>
internal sealed class Peers(Socket a, Socket b, Wire wire, params Socket[] keepOpen) : IDisposable
{
    public Socket A { get; } = a;

    public Socket B { get; } = b;

    public Wire Wire { get; } = wire;

    public void Dispose()
    {
        A.Dispose();
        B.Dispose();
        foreach (Socket s in keepOpen)
        {
            s.Dispose();
        }
    }
}

internal abstract class Target(ChildProcesses children)
{
    private string? directory;

    public abstract Tool Tool { get; }

    /// <summary>The switch process's PID while it runs (for CPU accounting), null if there is none.</summary>
    public virtual int? SwitchPid => null;

    /// <summary>A human description of the layout, for the report.</summary>
    public abstract string Layout { get; }

    protected string Directory => directory ?? throw new InvalidOperationException("not started");

    /// <summary>Where switch processes are started (and stopped from, on an interrupt).</summary>
    protected ChildProcesses Children { get; } = children;

    public static Target Create(Tool tool, StreamOptions options, ChildProcesses children, string? switchyardBin) => tool switch
    {
        Tool.Switchyard => new SwitchyardTarget(switchyardBin ?? throw new BenchException("no switchyard binary"), options.SwitchCpu, children),
        Tool.Vde => new VdeTarget(options.VdeSwitch, options.SwitchCpu, children),
        Tool.Ceiling => new CeilingTarget(children),
        Tool.CeilingDgram => new CeilingDgramTarget(children),
        _ => throw new ArgumentOutOfRangeException(nameof(tool)),
    };

    /// <summary>Starts the switch (if any) in a fresh temporary directory and connects the peers.</summary>
    public Peers Start()
    {
        // Short and under /tmp: unix socket paths are limited to 107 bytes.
        directory = System.IO.Directory.CreateTempSubdirectory("sybench-").FullName;
        Children.TrackDirectory(directory);
        try
        {
            return StartIn(directory);
        }
        catch
        {
            Stop();
            throw;
        }
    }

    /// <summary>Counters the switch reports about the run (after the drain, before the stop), or null.</summary>
    public virtual string? Counters() => null;

    /// <summary>Stops the switch and removes the directory; idempotent.</summary>
    public void Stop()
    {
        StopSwitch();
        if (directory is not null)
        {
            try
            {
                System.IO.Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // A straggling socket file; /tmp is cleaned eventually and the name is unique.
            }

            Children.ForgetDirectory(directory);
            directory = null;
        }
    }

    protected abstract Peers StartIn(string dir);

    protected virtual void StopSwitch()
    {
    }

    protected static Socket ConnectStream(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            s.Connect(new UnixDomainSocketEndPoint(path));
            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }
}

internal sealed class SwitchyardTarget(string bin, int? cpu, ChildProcesses children) : Target(children)
{
    private ChildProcesses.Child? daemon;

    public override Tool Tool => Tool.Switchyard;

    public override int? SwitchPid => daemon?.Pid;

    public override string Layout =>
        $"`switchyard up --run-dir DIR` ({bin}); A and B are two connections to DIR/stream.sock, i.e. two ports " +
        "of the default network (4-byte big-endian length + frame on each).";

    public override string? Counters()
    {
        try
        {
            using Socket s = ConnectStream(Path.Combine(Directory, "control.sock"));
            s.ReceiveTimeout = 5000;
            s.Send("{\"command\":\"show\"}\n"u8);
            var answer = new MemoryStream();
            var buffer = new byte[65536];
            while (answer.Length == 0 || answer.GetBuffer()[(int)answer.Length - 1] != (byte)'\n')
            {
                int n = s.Receive(buffer);
                if (n == 0)
                {
                    break;
                }

                answer.Write(buffer, 0, n);
            }

            return Summarize(Encoding.UTF8.GetString(answer.GetBuffer(), 0, (int)answer.Length));
        }
        catch (Exception e) when (e is SocketException or IOException or JsonException or InvalidOperationException or KeyNotFoundException)
        {
            return $"(show failed: {e.Message})";
        }
    }

    protected override Peers StartIn(string dir)
    {
        daemon = Children.Start(bin, ["up", "--run-dir", dir], cpu, "switchyard: ready");
        if (!daemon.WaitReady(TimeSpan.FromSeconds(60)))
        {
            string tail = daemon.Tail;
            throw new BenchException($"switchyard did not print 'switchyard: ready' within 60 s; its output:\n{tail}");
        }

        string sock = Path.Combine(dir, "stream.sock");
        Socket a = ConnectStream(sock);
        Socket b;
        try
        {
            b = ConnectStream(sock);
        }
        catch
        {
            a.Dispose();
            throw;
        }

        return new Peers(a, b, Wire.Stream);
    }

    protected override void StopSwitch()
    {
        daemon?.Stop();
        daemon = null;
    }

    /// <summary>Asks a running daemon for `show` over its control socket and summarizes the answer.</summary>
    internal static string Show(string controlSocket)
    {
        try
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(controlSocket));
            s.ReceiveTimeout = 5000;
            s.Send("{\"command\":\"show\"}\n"u8);
            var answer = new MemoryStream();
            var buffer = new byte[65536];
            while (answer.Length == 0 || answer.GetBuffer()[(int)answer.Length - 1] != (byte)'\n')
            {
                int n = s.Receive(buffer);
                if (n == 0)
                {
                    break;
                }

                answer.Write(buffer, 0, n);
            }

            return Summarize(Encoding.UTF8.GetString(answer.GetBuffer(), 0, (int)answer.Length));
        }
        catch (Exception e) when (e is SocketException or IOException or JsonException or InvalidOperationException or KeyNotFoundException)
        {
            return $"(show failed: {e.Message})";
        }
    }

    /// <summary>Per-port frames and drops, the switch counters and the NAT gateway's drops and events
    /// that are not zero, on one line.</summary>
    internal static string Summarize(string json)
    {
        using var doc = JsonDocument.Parse(json);
        JsonElement root = doc.RootElement;
        if (!root.GetProperty("ok").GetBoolean())
        {
            return $"(show: {root.GetProperty("error").GetString()})";
        }

        var sb = new StringBuilder();
        foreach (JsonElement net in root.GetProperty("show").GetProperty("networks").EnumerateArray())
        {
            foreach (JsonElement port in net.GetProperty("ports").EnumerateArray())
            {
                sb.Append(port.GetProperty("name").GetString())
                  .Append(": rx ").Append(port.GetProperty("rxFrames").GetInt64())
                  .Append(", tx ").Append(port.GetProperty("txFrames").GetInt64());
                foreach (JsonProperty drop in port.GetProperty("drops").EnumerateObject())
                {
                    if (drop.Value.GetInt64() != 0)
                    {
                        sb.Append(", drop ").Append(drop.Name).Append(' ').Append(drop.Value.GetInt64());
                    }
                }

                sb.Append("; ");
            }

            sb.Append("switch:");
            foreach (JsonProperty c in net.GetProperty("counters").EnumerateObject())
            {
                if (c.Value.GetInt64() != 0)
                {
                    sb.Append(' ').Append(c.Name).Append('=').Append(c.Value.GetInt64());
                }
            }

            // A network with a NAT gateway carries its nonzero drops and events (daemons from before the
            // gateway have no such member, or null).
            if (net.TryGetProperty("gateway", out JsonElement gateway) && gateway.ValueKind == JsonValueKind.Object)
            {
                foreach (string group in new[] { "drops", "events" })
                {
                    if (gateway.TryGetProperty(group, out JsonElement counters) && counters.ValueKind == JsonValueKind.Object)
                    {
                        sb.Append("; gateway ").Append(group).Append(':');
                        foreach (JsonProperty c in counters.EnumerateObject())
                        {
                            sb.Append(' ').Append(c.Name).Append('=').Append(c.Value.GetInt64());
                        }
                    }
                }
            }
        }

        return sb.ToString();
    }
}

internal sealed class VdeTarget(string vdeSwitch, int? cpu, ChildProcesses children) : Target(children)
{
    private const uint SwitchMagic = 0xfeedface;
    private const int RequestVersion = 3;
    private const int ReqNewControl = 0;
    private const int SockaddrUnLength = 110; // sa_family_t + sun_path[108]
    private ChildProcesses.Child? sw;

    public override Tool Tool => Tool.Vde;

    public override int? SwitchPid => sw?.Pid;

    public override string Layout =>
        "`vde_switch -s DIR/vde` (Debian vde2, stdin kept open as its console); A and B attach the way " +
        "libvdeplug's vde:// module (and so QEMU -netdev vde) does: a SOCK_STREAM control connection to DIR/vde/ctl " +
        "carrying a v3 request (magic 0xfeedface, REQ_NEW_CONTROL, the peer's own bound SOCK_DGRAM address), " +
        "then one datagram per frame between that socket and the port's data socket the switch answers with.";

    protected override Peers StartIn(string dir)
    {
        string ctlDir = Path.Combine(dir, "vde");
        sw = Children.Start(vdeSwitch, ["-s", ctlDir], cpu, readyLine: null);
        string ctl = Path.Combine(ctlDir, "ctl");

        // vde_switch prints nothing when ready; wait until its control socket accepts a connection.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            if (File.Exists(ctl))
            {
                try
                {
                    ConnectStream(ctl).Dispose();
                    break;
                }
                catch (SocketException)
                {
                    // Not listening yet.
                }
            }

            if (sw.HasExited || waited.Elapsed > TimeSpan.FromSeconds(10))
            {
                throw new BenchException($"vde_switch did not open {ctl} within 10 s; its output:\n{sw.Tail}");
            }

            Thread.Sleep(20);
        }

        var opened = new List<Socket>();
        try
        {
            (Socket ctlA, Socket dataA) = Attach(ctlDir, Path.Combine(dir, "a.data"), "switchyard-bench A");
            opened.Add(ctlA);
            opened.Add(dataA);
            (Socket ctlB, Socket dataB) = Attach(ctlDir, Path.Combine(dir, "b.data"), "switchyard-bench B");
            opened.Add(ctlB);
            opened.Add(dataB);
            return new Peers(dataA, dataB, Wire.Datagram, ctlA, ctlB);
        }
        catch
        {
            foreach (Socket s in opened)
            {
                s.Dispose();
            }

            throw;
        }
    }

    protected override void StopSwitch()
    {
        sw?.Stop();
        sw = null;
    }

    /// <summary>libvdeplug's vde_vde_open: bind a datagram socket, send a v3 request naming it over the
    /// control socket, receive the switch's data socket address and connect to it. The control socket
    /// stays open for the life of the port (closing it unplugs the port).</summary>
    private static (Socket Ctl, Socket Data) Attach(string ctlDir, string dataPath, string description)
    {
        Socket ctl = ConnectStream(Path.Combine(ctlDir, "ctl"));
        var data = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            data.Bind(new UnixDomainSocketEndPoint(dataPath));

            // struct request_v3 { u32 magic; u32 version; enum request_type type; struct sockaddr_un sock;
            // char description[]; } __attribute__((packed)), host byte order; sent without the unused
            // tail of description (libvdeplug sends sizeof(req) - MAXDESCR + strlen(description)).
            byte[] desc = Encoding.ASCII.GetBytes(description);
            var request = new byte[12 + SockaddrUnLength + desc.Length];
            BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(0), SwitchMagic);
            BinaryPrimitives.WriteInt32LittleEndian(request.AsSpan(4), RequestVersion);
            BinaryPrimitives.WriteInt32LittleEndian(request.AsSpan(8), ReqNewControl);
            WriteSockaddrUn(request.AsSpan(12, SockaddrUnLength), dataPath);
            desc.CopyTo(request.AsSpan(12 + SockaddrUnLength));
            ctl.Send(request);

            var reply = new byte[SockaddrUnLength];
            ctl.ReceiveTimeout = 5000;
            int n = ctl.Receive(reply);
            if (n < 3 || BinaryPrimitives.ReadUInt16LittleEndian(reply) != (ushort)AddressFamily.Unix)
            {
                throw new BenchException($"vde_switch refused the port request ({n} bytes back)");
            }

            ReadOnlySpan<byte> path = reply.AsSpan(2, n - 2);
            int nul = path.IndexOf((byte)0);
            string switchData = Encoding.UTF8.GetString(nul >= 0 ? path[..nul] : path);
            data.Connect(new UnixDomainSocketEndPoint(switchData));
            return (ctl, data);
        }
        catch
        {
            ctl.Dispose();
            data.Dispose();
            throw;
        }
    }

    private static void WriteSockaddrUn(Span<byte> destination, string path)
    {
        destination.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(destination, (ushort)AddressFamily.Unix);
        byte[] bytes = Encoding.UTF8.GetBytes(path);
        if (bytes.Length >= destination.Length - 2)
        {
            throw new BenchException($"socket path too long for sockaddr_un: {path}");
        }

        bytes.CopyTo(destination[2..]);
    }
}

internal sealed class CeilingTarget(ChildProcesses children) : Target(children)
{
    public override Tool Tool => Tool.Ceiling;

    public override string Layout =>
        "no switch: A's stream socket is connected straight to B's (one unix stream connection), same framing " +
        "and the same peer code as the Switchyard runs; this is what the peers alone can move.";

    protected override Peers StartIn(string dir)
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(Path.Combine(dir, "ceiling.sock")));
        listener.Listen(1);
        Socket a = ConnectStream(Path.Combine(dir, "ceiling.sock"));
        return new Peers(a, listener.Accept(), Wire.Stream);
    }
}

internal sealed class CeilingDgramTarget(ChildProcesses children) : Target(children)
{
    public override Tool Tool => Tool.CeilingDgram;

    public override string Layout =>
        "no switch: A's datagram socket is connected straight to B's (two bound, mutually connected unix " +
        "datagram sockets), the same peer code as the vde_switch runs; this is what those peers alone can move.";

    protected override Peers StartIn(string dir)
    {
        var a = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        var b = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            var pathA = new UnixDomainSocketEndPoint(Path.Combine(dir, "a.data"));
            var pathB = new UnixDomainSocketEndPoint(Path.Combine(dir, "b.data"));
            a.Bind(pathA);
            b.Bind(pathB);
            a.Connect(pathB);
            b.Connect(pathA);
            return new Peers(a, b, Wire.Datagram);
        }
        catch
        {
            a.Dispose();
            b.Dispose();
            throw;
        }
    }
}
