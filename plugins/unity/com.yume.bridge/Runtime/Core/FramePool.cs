// Complete frames and the pool their buffers come from, so that receiving, reassembling and handing over
// frames allocates nothing once the pool has warmed up (a GC pause stops the engine's main thread).
using System;
using System.Collections.Generic;
using System.Threading;

namespace Yume.Bridge.Core
{
    /// <summary>
    /// A whole JPEG and the header fields every fragment of it carried. Pooled: whoever takes one from the
    /// reassembler, the session or the connection owns it and calls <see cref="Release"/> when done; its bytes
    /// then serve a later frame. A frame never released is simply collected (no leak, only the lost reuse).
    /// </summary>
    public sealed class CompleteFrame
    {
        readonly FramePool owner;
        byte[] buffer;
        byte[] exactCopy;
        int released;

        internal CompleteFrame(FramePool owner, int capacity)
        {
            this.owner = owner;
            buffer = new byte[capacity];
            Arrival = new FrameArrived(this);
        }

        public uint Frame { get; private set; }
        public uint Chunk { get; private set; }
        public int FrameInChunk { get; private set; }
        public uint InputSeq { get; private set; }
        public ulong DaemonTimeUs { get; private set; }
        public int Action { get; private set; }
        public bool IsLastInChunk { get; private set; }

        /// <summary>SPEC §6.5: the first frame of a chunk that replaced one cut short (pre-emption). Not a loss.</summary>
        public bool IsAfterCut { get; private set; }

        /// <summary>The latent this frame was decoded from, within its chunk (0 from an older daemon).</summary>
        public int Latent { get; private set; }

        /// <summary>On an after-cut frame: how many latents of the cut chunk were shown; else 0.</summary>
        public int CutLatents { get; private set; }
        public double FirstFragmentAt { get; private set; }
        public double CompletedAt { get; private set; }
        public bool RepairedByRetransmission { get; private set; }

        /// <summary>The JPEG is <c>Buffer[0 .. Length)</c>; the buffer may be longer. Read-only, and only until <see cref="Release"/>.</summary>
        public byte[] Buffer => buffer;

        /// <summary>JPEG size in bytes.</summary>
        public int Length { get; private set; }

        /// <summary>An exact-length copy of the JPEG (allocates once per frame; the hot path uses <see cref="Buffer"/>).</summary>
        public byte[] Jpeg
        {
            get
            {
                if (exactCopy == null)
                {
                    exactCopy = new byte[Length];
                    System.Buffer.BlockCopy(buffer, 0, exactCopy, 0, Length);
                }
                return exactCopy;
            }
        }

        /// <summary>The session event for this frame; reused with the frame, so no event is allocated per frame.</summary>
        internal FrameArrived Arrival { get; }

        /// <summary>Gives the buffer back to the pool. Idempotent; the frame must not be read afterwards.</summary>
        public void Release()
        {
            if (owner == null) return;
            owner.Return(this);
        }

        internal int Capacity => buffer.Length;

        internal bool TryMarkReleased() => Interlocked.Exchange(ref released, 1) == 0;

        internal void Prepare(int length)
        {
            Volatile.Write(ref released, 0);
            exactCopy = null;
            Length = length;
        }

        internal void Fill(FragmentHeader header, double firstFragmentAt, double completedAt, bool repaired)
        {
            Frame = header.Frame;
            Chunk = header.Chunk;
            FrameInChunk = header.FrameInChunk;
            InputSeq = header.InputSeq;
            DaemonTimeUs = header.TimeUs;
            Action = header.Action;
            IsLastInChunk = header.IsLastInChunk;
            IsAfterCut = header.IsAfterCut;
            Latent = header.Latent;
            CutLatents = header.CutLatents;
            FirstFragmentAt = firstFragmentAt;
            CompletedAt = completedAt;
            RepairedByRetransmission = repaired;
        }

        /// <summary>A frame outside any pool (tests and tools): holds <paramref name="jpeg"/> as it is.</summary>
        public static CompleteFrame Standalone(byte[] jpeg, uint frame = 0, uint inputSeq = 0)
        {
            var complete = new CompleteFrame(null, 0) { buffer = jpeg, Length = jpeg.Length, exactCopy = jpeg };
            complete.Frame = frame;
            complete.InputSeq = inputSeq;
            return complete;
        }
    }

    /// <summary>
    /// Thread-safe pool of <see cref="CompleteFrame"/>s. Bounded: at most <see cref="MaxSpare"/> frames wait for reuse;
    /// overflow policy: a frame released beyond that is left to the garbage collector. Buffers grow in 64 KiB steps
    /// so that frames of varying size reuse them.
    /// </summary>
    public sealed class FramePool
    {
        /// <summary>
        /// Room for every frame a stream under heavy loss holds at once, so that they all come back for reuse: frames
        /// under repair, complete frames held behind them (SPEC §6.3), frames waiting at the connection and at the
        /// decode worker (<see cref="FrameQueue.Capacity"/> each), one being decoded and one being shown.
        /// </summary>
        public const int MaxSpare = ReassemblyOptions.MaxFramesInRepair + FrameReassembler.MaxHeldFrames + 2 * FrameQueue.Capacity + 2;
        const int Granule = 64 * 1024;
        readonly object sync = new object();
        readonly List<CompleteFrame> spare = new List<CompleteFrame>(MaxSpare);

        /// <summary>Frames created because no spare one fitted (diagnostics: constant once warmed up).</summary>
        public long Created { get; private set; }

        public int SpareCount { get { lock (sync) return spare.Count; } }

        internal CompleteFrame Rent(int length)
        {
            CompleteFrame frame = null;
            lock (sync)
            {
                int best = -1;
                for (int i = 0; i < spare.Count; i++)
                    if (spare[i].Capacity >= length && (best < 0 || spare[i].Capacity < spare[best].Capacity)) best = i;
                if (best >= 0)
                {
                    frame = spare[best];
                    spare.RemoveAt(best);
                }
                else if (spare.Count == MaxSpare)
                    spare.RemoveAt(0); // all too small: let the smallest-first one go and grow a new one
            }
            if (frame == null)
            {
                frame = new CompleteFrame(this, (length + Granule - 1) / Granule * Granule);
                lock (sync) Created++;
            }
            frame.Prepare(length);
            return frame;
        }

        internal void Return(CompleteFrame frame)
        {
            if (!frame.TryMarkReleased()) return;
            lock (sync)
                if (spare.Count < MaxSpare) spare.Add(frame);
        }
    }
}
