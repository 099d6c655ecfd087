using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Switchyard.Core.Frames;
using Switchyard.Core.Ports;
using Switchyard.Engine.Loop;

namespace Switchyard.Ports.Tests;

/// <summary>A running event loop plus helpers to make connected unix socket pairs.</summary>
public sealed class LoopFixture : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("sy-ports-").FullName;
    private int next;

    public LoopFixture()
    {
        Loop = new EpollLoop("test-loop", TimeProvider.System, NullLogger.Instance);
        Loop.Start();
    }

    public EpollLoop Loop { get; }

    public string NewPath() => Path.Combine(dir, $"s{Interlocked.Increment(ref next)}.sock");

    /// <summary>A connected pair of unix stream sockets: (ours, the test's peer).</summary>
    public (Socket Ours, Socket Peer) StreamPair()
    {
        string path = NewPath();
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var peer = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        peer.Connect(new UnixDomainSocketEndPoint(path));
        Socket ours = listener.Accept();
        File.Delete(path);
        return (ours, peer);
    }

    public void Dispose()
    {
        Loop.Dispose();
        Directory.Delete(dir, recursive: true);
    }
}

/// <summary>A sink that records what ports deliver and why they closed.</summary>
public sealed class RecordingSink : IFrameSink
{
    private readonly List<byte[]> frames = [];
    private readonly List<string> closed = [];

    public IReadOnlyList<byte[]> Frames
    {
        get
        {
            lock (frames)
            {
                return frames.ToList();
            }
        }
    }

    public IReadOnlyList<string> Closed
    {
        get
        {
            lock (closed)
            {
                return closed.ToList();
            }
        }
    }

    public void Receive(Port ingress, ReadOnlySpan<byte> frame, in OffloadInfo offload)
    {
        lock (frames)
        {
            frames.Add(frame.ToArray());
        }
    }

    public void PortClosed(Port port, string reason)
    {
        lock (closed)
        {
            closed.Add(reason);
        }
    }

    public static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }

            await Task.Delay(10);
        }
    }
}
