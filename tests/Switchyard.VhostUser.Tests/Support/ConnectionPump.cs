// A minimal vhost-user connection for tests: socket in, VhostUserBackend.Handle, reply out.
//
// Theory of operation: it stands in for the connection layer the vhost-user port will have. It reads
// one message at a time from the back-end's end of the socket, non-blocking: the 12-byte header with
// recvmsg (SCM_RIGHTS descriptors ride on a message's first byte, so they arrive with the header),
// then exactly `size` payload bytes. A claimed size above MessageRules.MaxPayload ends the connection
// before any payload is read or allocated (STYLE.md habit 5: cap every peer-supplied length), and so
// does a message carrying more descriptors than MessageRules.MaxFds (the kernel truncates the rest).
// A complete message goes to Handle; its reply, if any, is written back; a Close disposition, or EOF
// from the front-end, stops every ring and closes the socket, recording why.
//
// RunUntilIdle handles every complete message available and returns when the socket would block, so
// the front-end can run it as its Service callback (one thread, deterministic); Run loops on it for
// a back-end on its own thread. What it owns: the socket (or the object that owns it). Every
// descriptor received goes to Handle, which adopts or closes it, or is closed here.
using Switchyard.Core.Loop;
using Switchyard.Native;

namespace Switchyard.VhostUser.Tests.Support;

internal sealed class ConnectionPump : IDisposable
{
    private readonly VhostUserBackend backend;
    private readonly IDisposable? socketOwner;
    private readonly byte[] message = new byte[VhostUserHeader.Length + MessageRules.MaxPayload];
    private readonly byte[] reply = new byte[VhostUserHeader.Length + MessageRules.MaxPayload];
    private readonly List<int> pendingFds = [];
    private readonly List<VhostUserRequest> handled = [];
    private int fd;
    private int have;
    private VhostUserHeader header;

    public ConnectionPump(VhostUserBackend backend, int socketFd, IDisposable? socketOwner = null)
    {
        this.backend = backend;
        fd = socketFd;
        this.socketOwner = socketOwner;
    }

    public bool IsClosed => fd < 0;

    /// <summary>Why the connection ended: the back-end's reason, a pump rule, or "front-end closed".</summary>
    public string? CloseReason { get; private set; }

    /// <summary>Requests handed to the back-end, in order.</summary>
    public IReadOnlyList<VhostUserRequest> Handled => handled;

    /// <summary>The descriptor numbers that arrived with the last message handed to the back-end (now adopted or closed).</summary>
    public IReadOnlyList<int> LastMessageFds { get; private set; } = [];

    /// <summary>The counter the back-end named when it closed the connection, if any.</summary>
    public Core.Ports.DropReason? CloseDrop { get; private set; }

    /// <summary>The rule the back-end closed the connection for (None while it is open).</summary>
    public VhostUserRejection CloseRejection { get; private set; }

    /// <summary>The guest-memory rule, when the back-end refused a memory description.</summary>
    public Native.GuestMemoryRule? CloseMemoryRule { get; private set; }

    /// <summary>Handles every complete message available; returns when the socket would block or is closed.</summary>
    public void RunUntilIdle()
    {
        while (!IsClosed && Step())
        {
        }
    }

    /// <summary>Runs until the connection closes or <paramref name="stop"/> is cancelled (a back-end on its own thread),
    /// calling <paramref name="afterEach"/> (a data plane) after each batch of messages and every 20 ms.</summary>
    public void Run(CancellationToken stop, Action? afterEach = null)
    {
        while (!IsClosed && !stop.IsCancellationRequested)
        {
            RunUntilIdle();
            afterEach?.Invoke();
            if (!IsClosed)
            {
                WaitReadable(fd, 20);
            }
        }
    }

    public void Dispose() => Close("disposed");

    private static void WaitReadable(int socket, int milliseconds)
    {
        using var epoll = new Epoll();
        epoll.Add(socket, (uint)IoEvents.Readable, 0);
        Span<epoll_event> ready = stackalloc epoll_event[1];
        _ = epoll.Wait(ready, milliseconds);
    }

    /// <summary>Reads what is available of the current message; handles it once complete. False when nothing more can
    /// be done now.</summary>
    private bool Step()
    {
        int wanted = have < VhostUserHeader.Length ? VhostUserHeader.Length : VhostUserHeader.Length + (int)header.Size;
        if (have < wanted)
        {
            Span<int> fds = stackalloc int[FdPassing.MaxFds];
            IoResult r = FdPassing.ReceiveWithFds(fd, message.AsSpan(have, wanted - have), fds, out int fdCount, out bool truncated);
            foreach (int received in fds[..fdCount])
            {
                pendingFds.Add(received);
            }

            if (truncated || pendingFds.Count > MessageRules.MaxFds)
            {
                Close($"a message carried more than {MessageRules.MaxFds} descriptors");
                return false;
            }

            if (r.WouldBlock)
            {
                return false;
            }

            if (!r.Ok || r.Bytes == 0)
            {
                Close(r.Ok ? "front-end closed" : $"recvmsg: {r.ErrorMessage}");
                return false;
            }

            have += r.Bytes;
            if (have == VhostUserHeader.Length)
            {
                header = VhostUserHeader.Read(message);
                if (header.Size > MessageRules.MaxPayload)
                {
                    Close($"{header.Request}: payload of {header.Size} bytes claimed, more than {MessageRules.MaxPayload} (MaxPayload)");
                    return false;
                }
            }

            if (have < VhostUserHeader.Length + (int)header.Size)
            {
                return true;
            }
        }

        int[] fdsOfMessage = [.. pendingFds];
        pendingFds.Clear();
        LastMessageFds = fdsOfMessage;
        handled.Add(header.Request);
        HandleResult result = backend.Handle(header, message.AsSpan(VhostUserHeader.Length, (int)header.Size), fdsOfMessage, reply);
        have = 0;
        if (result.ReplyLength > 0 && !SendAll(reply.AsSpan(0, result.ReplyLength)))
        {
            return false;
        }

        if (result.Close)
        {
            CloseDrop = result.Drop;
            CloseRejection = result.Rejection;
            CloseMemoryRule = result.MemoryRule;
            Close(result.Reason ?? "the back-end closed the connection without a reason");
            return false;
        }

        return true;
    }

    private bool SendAll(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            IoResult r = SocketIo.Send(fd, bytes);
            if (r.Ok)
            {
                bytes = bytes[r.Bytes..];
            }
            else if (!r.WouldBlock)
            {
                Close($"send: {r.ErrorMessage}");
                return false;
            }
        }

        return true;
    }

    private void Close(string reason)
    {
        if (fd < 0)
        {
            return;
        }

        CloseReason ??= reason;
        FileDescriptors.CloseAll(pendingFds.ToArray());
        pendingFds.Clear();
        backend.StopAll();
        int old = fd;
        fd = -1;
        if (socketOwner is not null)
        {
            socketOwner.Dispose();
        }
        else
        {
            FileDescriptors.Close(old);
        }
    }
}
