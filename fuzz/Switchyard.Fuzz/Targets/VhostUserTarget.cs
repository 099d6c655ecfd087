// Fuzz target: the vhost-user back-end state machine (VhostUserBackend.Handle) fed a stream of messages.
//
// Input: a sequence of messages, each
//   [fd spec] [12-byte header: request, flags, size (little-endian)] [size payload bytes]
// fd spec: bits 0-1 how many descriptors come with the message (0..3); bit 2: they are memfds of
// MemFdSize bytes (memory regions, log areas) instead of eventfds (kick, call, err). The connection
// layer (VhostUserPort) closes a connection whose header claims more than MessageRules.MaxPayload, and
// hands over exactly `size` payload bytes, so the target stops at either. A Close disposition ends the
// stream too, as the connection would.
// Rules checked: Handle answers with a HandleResult and never throws; a reply fits the buffer and has a
// well-formed header; every descriptor handed over is adopted or closed (all are closed once the back-end
// is disposed).
using Switchyard.Native;
using Switchyard.VhostUser;
using Switchyard.Virtio;

namespace Switchyard.Fuzz.Targets;

public sealed class VhostUserTarget : IFuzzTarget
{
    /// <summary>Size of each memfd handed over: the seeds' memory regions fit in it.</summary>
    public const ulong MemFdSize = 1 << 16;

    private const int MaxMessages = 64;
    private readonly byte[] reply = new byte[VhostUserHeader.Length + MessageRules.MaxPayload];
    private readonly List<int> handedOver = [];

    public string Name => "vhost-user";

    public void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzReader(input);
        var device = new PollingDevice();
        handedOver.Clear();
        using (var backend = new VhostUserBackend(new VhostUserBackendOptions(MaxQueuePairs: 2), device))
        {
            Span<int> fds = stackalloc int[3];
            for (int m = 0; m < MaxMessages && reader.Remaining >= 1 + VhostUserHeader.Length; m++)
            {
                byte fdSpec = reader.ReadByte();
                var header = VhostUserHeader.Read(reader.ReadBytes(VhostUserHeader.Length));
                if (header.Size > MessageRules.MaxPayload || header.Size > reader.Remaining)
                {
                    break;
                }

                ReadOnlySpan<byte> payload = reader.ReadBytes((int)header.Size);
                int count = fdSpec & 3;
                for (int i = 0; i < count; i++)
                {
                    fds[i] = (fdSpec & 4) != 0 ? FileDescriptors.CreateMemFd("fuzz", MemFdSize) : NewEventFd();
                    handedOver.Add(fds[i]);
                }

                HandleResult result = backend.Handle(header, payload, fds[..count], reply);
                CheckReply(header, result);
                device.Service();
                if (result.Close)
                {
                    break;
                }
            }
        }

        foreach (int fd in handedOver)
        {
            if (FileDescriptors.IsOpen(fd) && StillOurs(fd) is { } what)
            {
                FileDescriptors.Close(fd);
                throw new FuzzFindingException($"descriptor {fd} ({what}) handed to the back-end is still open after Dispose");
            }
        }
    }

    /// <summary>What descriptor <paramref name="fd"/> is, when it is still one of the kinds this target hands
    /// over; null when the number now belongs to something else (the runtime reuses freed numbers, e.g. for
    /// an assembly it loads).</summary>
    private static string? StillOurs(int fd)
    {
        string? target = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        return target is not null && (target.Contains("eventfd", StringComparison.Ordinal) || target.Contains("memfd:fuzz", StringComparison.Ordinal))
            ? target
            : null;
    }

    private static int NewEventFd()
    {
        using var eventFd = new EventFd();
        return FileDescriptors.Duplicate(eventFd.Fd);
    }

    private void CheckReply(in VhostUserHeader request, HandleResult result)
    {
        if (result.Close)
        {
            if (result.ReplyLength != 0 || string.IsNullOrEmpty(result.Reason))
            {
                throw new FuzzFindingException($"a close disposition with reply length {result.ReplyLength} and reason '{result.Reason}'");
            }

            return;
        }

        if (result.ReplyLength == 0)
        {
            return;
        }

        if (result.ReplyLength < VhostUserHeader.Length || result.ReplyLength > reply.Length)
        {
            throw new FuzzFindingException($"{request.Request}: reply of {result.ReplyLength} bytes");
        }

        var header = VhostUserHeader.Read(reply);
        if (header.Request != request.Request || (header.Flags & VhostUserHeader.ReplyFlag) == 0
            || header.Size != result.ReplyLength - VhostUserHeader.Length)
        {
            throw new FuzzFindingException($"{request.Request}: malformed reply header {header} for {result.ReplyLength} bytes");
        }
    }

    /// <summary>A data plane that pops whatever the started rings offer (the memfds are zero-filled unless a
    /// message made the back-end write them), as the vhost-user port would on a kick.</summary>
    private sealed class PollingDevice : IVhostUserDevice
    {
        private readonly SplitQueue?[] queues = new SplitQueue?[8];

        public void RingStarted(int index, SplitQueue queue, EventFd kick, EventFd? call)
        {
            if ((uint)index >= (uint)queues.Length)
            {
                throw new FuzzFindingException($"ring {index} started, more than the back-end offers");
            }

            queues[index] = queue;
        }

        public void RingStopped(int index)
        {
            if ((uint)index < (uint)queues.Length)
            {
                queues[index] = null;
            }
        }

        public void CallChanged(int index, EventFd? call)
        {
        }

        public void RingEnabled(int index, bool enabled)
        {
        }

        public void FeaturesNegotiated(NegotiatedFeatures features)
        {
        }

        public void AnnounceMac(ulong mac)
        {
        }

        public void Service()
        {
            foreach (SplitQueue? queue in queues)
            {
                if (queue is null)
                {
                    continue;
                }

                var chain = new DescriptorChain(queue.Size);
                for (int i = 0; i < 4 && queue.TryPop(chain) is QueueError error && error != QueueError.NoneAvailable; i++)
                {
                    if (error.GetDisposition() == QueueErrorDisposition.StopQueue)
                    {
                        break;
                    }

                    queue.PushUsed(chain.HeadIndex, 0);
                }

                queue.PublishUsed();
            }
        }
    }
}
