// Seeded property tests: random descriptor tables, indirect tables and avail rings (thousands of seeds)
// must never make the device throw, hand out memory outside the guest, or loop.
using System.Buffers.Binary;
using Switchyard.Core.Frames;
using Switchyard.Virtio.Tests.Support;

namespace Switchyard.Virtio.Tests;

/// <summary>Seeded random hostile rings: the device never throws, never hands out a segment outside guest
/// memory, never breaks its own chain invariants, and always terminates.</summary>
public class PropertyTests
{
    private const ulong Base = 0x1_0000;
    private const int MemoryLength = 64 * 1024;

    private static ulong RandomAddress(Random random) => random.Next(6) switch
    {
        0 => (ulong)random.NextInt64(),
        1 => ulong.MaxValue - (ulong)random.Next(0x10000),
        2 => Base + MemoryLength - (ulong)random.Next(64),
        3 => (ulong)random.Next((int)Base),
        _ => Base + (ulong)random.Next(MemoryLength),
    };

    private static uint RandomLength(Random random) => random.Next(6) switch
    {
        0 => 0,
        1 => (uint)random.NextInt64(uint.MaxValue + 1L),
        2 => (uint)(16 * random.Next(1, 80)),
        3 => (uint)random.Next(8),
        _ => (uint)random.Next(1, 4096),
    };

    private static void FillDescriptors(Random random, Span<byte> table, int count, int size)
    {
        for (int i = 0; i < count; i++)
        {
            ushort flags = (ushort)(random.Next(10) == 0 ? random.Next(65536) : random.Next(8));
            ushort next = (ushort)(random.Next(10) == 0 ? random.Next(65536) : random.Next(size + 2));
            GuestDriver.WriteDescriptor(table, i, RandomAddress(random), RandomLength(random), flags, next);
        }
    }

    /// <summary>Builds a queue over memory full of random descriptors (in the table and everywhere else, so
    /// indirect pointers land on random "tables") and a random avail ring.</summary>
    private static (HeapGuestMemory Memory, GuestDriver Driver, SplitQueue Queue) RandomQueue(int seed)
    {
        var random = new Random(seed);
        var memory = new HeapGuestMemory(Base, MemoryLength);
        int size = 1 << random.Next(0, 7);
        var driver = new GuestDriver(memory, size, eventIdx: random.Next(2) == 0);
        random.NextBytes(memory.At(Base, MemoryLength));
        FillDescriptors(random, memory.At(driver.Layout.DescriptorTable, 16 * size), size, size);

        // Some "indirect tables" that are made of mostly sensible descriptors, so walks go deep.
        for (int t = 0; t < 4; t++)
        {
            ulong at = Base + 0x4000 + (ulong)(t * 0x800);
            FillDescriptors(random, memory.At(at, 0x800), 0x800 / 16, size);
        }

        ushort nextAvail = (ushort)random.Next(65536);
        ushort availIdx = random.Next(8) == 0 ? (ushort)random.Next(65536) : (ushort)(nextAvail + random.Next(size + 1));
        for (int i = 0; i < size; i++)
        {
            driver.SetRingEntry((ushort)i, (ushort)(random.Next(8) == 0 ? random.Next(65536) : random.Next(size)));
        }

        driver.SetAvailIdx(availIdx);
        NegotiatedFeatures features = driver.RingFeatures(indirect: random.Next(4) != 0);
        Assert.True(SplitQueue.TryCreate(memory, driver.Layout, features, nextAvail, (ushort)random.Next(65536), out SplitQueue? queue, out _));
        return (memory, driver, queue);
    }

    private static void AssertChainInvariants(HeapGuestMemory memory, SplitQueue queue, DescriptorChain chain)
    {
        Assert.InRange(chain.Count, 1, queue.Size);
        Assert.True(chain.HeadIndex < queue.Size);
        long readable = 0, writable = 0;
        bool sawWritable = false;
        for (int i = 0; i < chain.Count; i++)
        {
            ChainSegment segment = chain.Segments[i];
            Assert.True(segment.Length > 0);
            Assert.True(memory.Contains(segment.GuestAddress, segment.Length), $"segment 0x{segment.GuestAddress:x}+{segment.Length} outside memory");
            Assert.Equal(i >= chain.ReadableCount, segment.IsWritable);
            Assert.False(sawWritable && !segment.IsWritable);
            sawWritable |= segment.IsWritable;
            if (segment.IsWritable)
            {
                writable += segment.Length;
            }
            else
            {
                readable += segment.Length;
            }
        }

        Assert.Equal(readable, chain.ReadableBytes);
        Assert.Equal(writable, chain.WritableBytes);
        Assert.True(readable + writable <= 1L << 32);
    }

    [Fact]
    public void TryPop_RandomHostileRings_NeverThrowNeverEscapeMemoryAlwaysTerminate()
    {
        int ok = 0, rejected = 0, broken = 0;
        for (int seed = 0; seed < 3000; seed++)
        {
            var (memory, _, queue) = RandomQueue(seed);
            var chain = new DescriptorChain(queue.Size);

            // At most N chains can be outstanding; N + 2 pops must reach NoneAvailable or a broken queue.
            bool stopped = false;
            for (int pop = 0; pop < queue.Size + 2 && !stopped; pop++)
            {
                QueueError error = queue.TryPop(chain);
                switch (error.GetDisposition())
                {
                    case QueueErrorDisposition.None when error == QueueError.Ok:
                        ok++;
                        AssertChainInvariants(memory, queue, chain);
                        queue.PushUsed(chain.HeadIndex, (uint)Math.Min(chain.WritableBytes, 64));
                        break;
                    case QueueErrorDisposition.None:
                        stopped = true;
                        break;
                    case QueueErrorDisposition.ReturnEmpty:
                        rejected++;
                        Assert.True(chain.HeadIndex < queue.Size);
                        queue.PushUsed(chain.HeadIndex, 0);
                        break;
                    case QueueErrorDisposition.StopQueue:
                        broken++;
                        Assert.True(queue.IsBroken);
                        stopped = true;
                        break;
                }
            }

            Assert.True(stopped, $"seed {seed}: queue of {queue.Size} still popping after {queue.Size + 2} pops");
            queue.PublishUsed();
            queue.EnableNotifications();
        }

        // The generator must exercise all three outcomes, or it tests nothing.
        Assert.True(ok > 100 && rejected > 100 && broken > 100, $"ok {ok}, rejected {rejected}, broken {broken}");
    }

    [Fact]
    public void NetTxAndNetRx_RandomHostileRings_NeverThrow()
    {
        byte[] scratch = new byte[NetTx.ScratchLength];
        byte[] frame = new byte[1600];
        var delivered = 0;
        for (int seed = 0; seed < 1500; seed++)
        {
            var random = new Random(seed + 1_000_000);
            random.NextBytes(frame);
            var (memory, _, queue) = RandomQueue(seed);
            var chain = new DescriptorChain(queue.Size);
            NegotiatedFeatures features = (NegotiatedFeatures)(ulong)random.NextInt64() | NegotiatedFeatures.Version1;

            // TX: every popped chain goes through TryGetFrame.
            for (int pop = 0; pop < queue.Size + 2; pop++)
            {
                QueueError error = queue.TryPop(chain);
                if (error == QueueError.Ok)
                {
                    NetTxError tx = NetTx.TryGetFrame(memory, chain, features, scratch, out _, out ReadOnlySpan<byte> data, out _);
                    if (tx == NetTxError.None)
                    {
                        Assert.InRange(data.Length, Ethernet.HeaderLength, NetTx.MaxFrameLength);
                    }
                }

                if (error.GetDisposition() != QueueErrorDisposition.ReturnEmpty && error != QueueError.Ok)
                {
                    break;
                }
            }

            // RX: a fresh random queue takes frames until it refuses.
            (memory, _, queue) = RandomQueue(seed);
            var rx = new NetRx(queue, features);
            OffloadInfo offload = random.Next(4) == 0
                ? new OffloadInfo((byte)random.Next(4), (byte)random.Next(256), 54, (ushort)random.Next(2000), 34, 16)
                : OffloadInfo.None;
            for (int i = 0; i < queue.Size + 2; i++)
            {
                NetRxStatus status = rx.TryDeliver(new EgressFrame(frame.AsSpan(0, random.Next(14, frame.Length)), VlanRewrite.None, 0, offload));
                if (status == NetRxStatus.Delivered)
                {
                    delivered++;
                }
                else if (status is NetRxStatus.NoBuffers or NetRxStatus.QueueBroken or NetRxStatus.OffloadNotNegotiated or NetRxStatus.BufferTooSmall)
                {
                    break;
                }
            }

            queue.PublishUsed();
        }

        Assert.True(delivered > 0);
    }
}
