// Complete frames wait for the engine in order, in small bounded queues (the session's events, the connection,
// the decode worker), so that frames the reassembler shows together (a repaired frame and the one held behind it,
// SPEC §6.3) all reach the screen, one per engine frame, while an engine slower than the stream skips to the newest.
using System;

namespace Yume.Bridge.Core
{
    /// <summary>The bounds every frame queue shares.</summary>
    public static class FrameQueue
    {
        /// <summary>Frames one queue keeps; when another arrives, the oldest is released and counted as dropped (never the newest).</summary>
        public const int Capacity = 4;

        /// <summary>
        /// Pacing of <see cref="FrameQueue{T}.TakeToShow"/>: with at most this many frames waiting the engine shows the
        /// oldest, so frames released together appear on consecutive engine frames; with more, the engine runs slower
        /// than the stream, so it shows the newest and the older ones are released, which keeps the latency bounded.
        /// </summary>
        public const int MaxBacklog = 2;
    }

    /// <summary>
    /// A bounded FIFO of frames, oldest first (<see cref="FrameQueue.Capacity"/>). Not thread-safe: its owner locks.
    /// Allocates nothing after construction.
    /// </summary>
    public sealed class FrameQueue<T> where T : class
    {
        readonly T[] items = new T[FrameQueue.Capacity];
        readonly Action<T> release;
        int head, count;

        /// <param name="release">Gives back a frame the queue drops (to its pool).</param>
        public FrameQueue(Action<T> release)
        {
            this.release = release ?? throw new ArgumentNullException(nameof(release));
        }

        public int Count => count;

        /// <summary>Frames released without being taken: the queue was full, or <see cref="TakeToShow"/> skipped them.</summary>
        public long Dropped { get; private set; }

        /// <summary>Appends a frame; when the queue is full, the oldest waiting one is dropped first.</summary>
        public void Add(T frame)
        {
            if (count == items.Length) Drop(TakeOldest());
            items[(head + count) % items.Length] = frame;
            count++;
        }

        /// <summary>The oldest waiting frame, or null.</summary>
        public T TakeOldest()
        {
            if (count == 0) return null;
            var frame = items[head];
            items[head] = null;
            head = (head + 1) % items.Length;
            count--;
            return frame;
        }

        /// <summary>
        /// The frame to show on this engine frame, or null; call it at most once per engine frame. The oldest waiting
        /// frame, unless more than <see cref="FrameQueue.MaxBacklog"/> wait: then the newest, and the older ones are dropped.
        /// </summary>
        public T TakeToShow()
        {
            if (count > FrameQueue.MaxBacklog)
                while (count > 1) Drop(TakeOldest());
            return TakeOldest();
        }

        /// <summary>Releases every waiting frame (when the queue's owner shuts down; not counted as dropped).</summary>
        public void Clear()
        {
            while (count > 0) release(TakeOldest());
        }

        void Drop(T frame)
        {
            Dropped++;
            release(frame);
        }
    }
}
