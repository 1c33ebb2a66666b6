// Reassembles JPEG frames from fragments (SPEC §6.2) under the receiver policy of §6.3: newest complete
// frame wins, at most 4 incomplete frames and 4 MiB of partial data, NACKs for frames with holes.
// Steady state allocates nothing: partial frames, their buffers and the complete frames are pooled.
using System;
using System.Collections.Generic;

namespace Yume.Bridge.Core
{
    /// <summary>Receiver limits and NACK timing; the defaults are SPEC §6.3's.</summary>
    public sealed class ReassemblyOptions
    {
        public ReassemblyOptions(int maxIncompleteFrames = 4, long maxPartialBytes = 4 * 1024 * 1024,
                                 long maxFrameLength = 4 * 1024 * 1024, double nackQuietSeconds = 0.030,
                                 int maxNacksPerFrame = 3, double frameDeadlineSeconds = 0.300, int maxNackFragments = 128)
        {
            if (maxIncompleteFrames < 1 || maxPartialBytes < 1 || maxFrameLength < 1 || maxNackFragments < 1)
                throw new ArgumentException("reassembly limits must be positive");
            MaxIncompleteFrames = maxIncompleteFrames;
            MaxPartialBytes = maxPartialBytes;
            MaxFrameLength = maxFrameLength;
            NackQuietSeconds = nackQuietSeconds;
            MaxNacksPerFrame = maxNacksPerFrame;
            FrameDeadlineSeconds = frameDeadlineSeconds;
            MaxNackFragments = maxNackFragments;
        }

        public int MaxIncompleteFrames { get; }
        public long MaxPartialBytes { get; }
        public long MaxFrameLength { get; }
        public double NackQuietSeconds { get; }
        public int MaxNacksPerFrame { get; }
        public double FrameDeadlineSeconds { get; }
        public int MaxNackFragments { get; }

        /// <summary>The SPEC defaults with the welcome's <c>frame_deadline_ms</c> and <c>max_nack_fragments</c>.</summary>
        public static ReassemblyOptions FromLimits(WireLimits limits) =>
            new ReassemblyOptions(frameDeadlineSeconds: limits.FrameDeadlineMs / 1000.0, maxNackFragments: limits.MaxNackFragments);
    }

    /// <summary>Missing fragment indices of one frame, to be sent as a <c>nack</c>.</summary>
    public sealed class NackRequest
    {
        public NackRequest(uint frame, IList<int> missing)
        {
            Frame = frame;
            Missing = new List<int>(missing).AsReadOnly();
        }

        public uint Frame { get; }
        public IReadOnlyList<int> Missing { get; }
    }

    public enum FragmentOutcome { Accepted, Completed, Duplicate, Stale, WrongSession, Malformed, Inconsistent, TooLarge, Evicted }

    /// <summary>Counters for diagnostics and the status HUD.</summary>
    public sealed class ReassemblyStats
    {
        public long Fragments, FramesCompleted, FramesSuperseded, FramesAbandoned, Duplicates, Stale, Dropped, NacksSent;

        /// <summary>Completed frames that began a chunk after a cut (pre-emption): chunks the daemon cut short.</summary>
        public long Cuts;
    }

    public sealed class FrameReassembler
    {
        sealed class PartialFrame
        {
            public readonly byte[] FirstHeader = new byte[FragmentHeader.Size];
            public FragmentHeader Header;
            public CompleteFrame Frame;   // from the pool; its buffer receives the payloads
            public bool[] Received = new bool[0];
            public int ReceivedCount;
            public double FirstArrival, LastArrival, LastNack = double.NegativeInfinity;
            public int NackCount;
            public bool NackNow, Repaired;
        }

        readonly uint session;
        readonly ReassemblyOptions options;
        readonly List<PartialFrame> incomplete = new List<PartialFrame>(); // oldest first
        readonly Stack<PartialFrame> sparePartials = new Stack<PartialFrame>();
        readonly List<int> missingScratch = new List<int>();
        readonly FramePool pool;
        long partialBytes;
        bool anyCompleted;
        uint newestCompleted;
        CompleteFrame pending;

        /// <param name="pool">Where complete frames come from and go back to (<see cref="CompleteFrame.Release"/>); a new one when null.</param>
        public FrameReassembler(uint session, ReassemblyOptions options, FramePool pool = null)
        {
            this.session = session;
            this.options = options ?? new ReassemblyOptions();
            this.pool = pool ?? new FramePool();
        }

        public FramePool Pool => pool;

        public ReassemblyStats Stats { get; } = new ReassemblyStats();
        public int IncompleteFrames => incomplete.Count;
        public long PartialBytes => partialBytes;

        /// <summary>Wrap-safe "a is after b" for u32 frame numbers.</summary>
        public static bool IsNewer(uint a, uint b) => unchecked((int)(a - b)) > 0;

        public FragmentOutcome Push(byte[] datagram, int length, double now)
        {
            Stats.Fragments++;
            string reason;
            var parsed = FragmentHeader.TryParse(datagram, length, out reason);
            if (parsed == null) return Drop(FragmentOutcome.Malformed);
            var header = parsed.Value;
            if (header.Session != session) return Drop(FragmentOutcome.WrongSession);
            if (header.FrameLength > options.MaxFrameLength) return Drop(FragmentOutcome.TooLarge);
            if (anyCompleted && !IsNewer(header.Frame, newestCompleted))
            {
                Stats.Stale++;
                return FragmentOutcome.Stale;
            }
            var partial = Find(header.Frame);
            if (partial == null)
            {
                partial = Begin(header, datagram, now);
                if (partial == null) return Drop(FragmentOutcome.Evicted);
            }
            else if (!FragmentHeader.SameFrameFields(partial.FirstHeader, datagram)) return Drop(FragmentOutcome.Inconsistent);

            if (partial.Received[header.FragmentIndex])
            {
                Stats.Duplicates++;
                return FragmentOutcome.Duplicate;
            }
            Buffer.BlockCopy(datagram, FragmentHeader.Size, partial.Frame.Buffer, (int)header.PayloadOffset, header.PayloadLength);
            partial.Received[header.FragmentIndex] = true;
            partial.ReceivedCount++;
            partial.LastArrival = now;
            partial.Repaired |= header.IsRetransmission;
            if (partial.ReceivedCount < partial.Header.FragmentCount) return FragmentOutcome.Accepted;
            Complete(partial, now);
            return FragmentOutcome.Completed;
        }

        /// <summary>
        /// The newest complete frame not yet taken, or null. Older complete frames are never returned. The taker
        /// owns it: <see cref="CompleteFrame.Release"/> it when done so that its buffer serves a later frame.
        /// </summary>
        public CompleteFrame TakeCompletedFrame()
        {
            var frame = pending;
            pending = null;
            return frame;
        }

        /// <summary>NACKs due now: on a newer frame's arrival, or after a quiet gap; at most 3 per frame, within the deadline.</summary>
        public List<NackRequest> TakeNacks(double now)
        {
            var nacks = new List<NackRequest>();
            TakeNacks(now, nacks);
            return nacks;
        }

        /// <summary>Adds the NACKs due now to <paramref name="into"/>; allocates nothing when none is due. Returns how many.</summary>
        public int TakeNacks(double now, List<NackRequest> into)
        {
            int added = 0;
            for (int i = 0; i < incomplete.Count; i++)
            {
                var partial = incomplete[i];
                if (!CanNack(partial, now)) continue;
                if (!partial.NackNow && now < QuietDue(partial)) continue;
                MissingOf(partial, options.MaxNackFragments, missingScratch);
                into.Add(new NackRequest(partial.Header.Frame, missingScratch));
                added++;
                partial.NackCount++;
                partial.LastNack = now;
                partial.NackNow = false;
                Stats.NacksSent++;
            }
            return added;
        }

        /// <summary>When <see cref="TakeNacks"/> next has something to do, or null.</summary>
        public double? NextTimer(double now)
        {
            double? earliest = null;
            for (int i = 0; i < incomplete.Count; i++)
            {
                var partial = incomplete[i];
                if (partial.NackCount >= options.MaxNacksPerFrame) continue;
                double due = partial.NackNow ? now : QuietDue(partial);
                if (due > Deadline(partial)) continue;
                if (earliest == null || due < earliest) earliest = due;
            }
            return earliest;
        }

        /// <summary>Missing fragment indices of every incomplete frame (diagnostics and tests).</summary>
        public IDictionary<uint, int[]> MissingByFrame()
        {
            var result = new SortedDictionary<uint, int[]>();
            var missing = new List<int>();
            foreach (var partial in incomplete)
            {
                MissingOf(partial, int.MaxValue, missing);
                result[partial.Header.Frame] = missing.ToArray();
            }
            return result;
        }

        bool CanNack(PartialFrame partial, double now) =>
            partial.NackCount < options.MaxNacksPerFrame && now <= Deadline(partial);

        double Deadline(PartialFrame partial) => partial.FirstArrival + options.FrameDeadlineSeconds;

        double QuietDue(PartialFrame partial) => Math.Max(partial.LastArrival, partial.LastNack) + options.NackQuietSeconds;

        static void MissingOf(PartialFrame partial, int max, List<int> missing)
        {
            missing.Clear();
            for (int i = 0; i < partial.Header.FragmentCount && missing.Count < max; i++)
                if (!partial.Received[i]) missing.Add(i);
        }

        PartialFrame Find(uint frame)
        {
            for (int i = 0; i < incomplete.Count; i++)
                if (incomplete[i].Header.Frame == frame) return incomplete[i];
            return null;
        }

        PartialFrame Begin(FragmentHeader header, byte[] datagram, double now)
        {
            // Make room, oldest first; a frame older than everything kept is itself the one to drop.
            while (incomplete.Count > 0 &&
                   (incomplete.Count >= options.MaxIncompleteFrames || partialBytes + header.FrameLength > options.MaxPartialBytes))
            {
                if (IsNewer(incomplete[0].Header.Frame, header.Frame)) return null;
                Abandon(0);
            }
            for (int i = 0; i < incomplete.Count; i++)
                if (IsNewer(header.Frame, incomplete[i].Header.Frame) && incomplete[i].NackCount == 0) incomplete[i].NackNow = true;
            var partial = sparePartials.Count > 0 ? sparePartials.Pop() : new PartialFrame();
            Buffer.BlockCopy(datagram, 0, partial.FirstHeader, 0, FragmentHeader.Size);
            partial.Header = header;
            partial.Frame = pool.Rent((int)header.FrameLength);
            if (partial.Received.Length < header.FragmentCount) partial.Received = new bool[Math.Max(header.FragmentCount, 2 * partial.Received.Length)];
            Array.Clear(partial.Received, 0, header.FragmentCount);
            partial.ReceivedCount = 0;
            partial.FirstArrival = partial.LastArrival = now;
            partial.LastNack = double.NegativeInfinity;
            partial.NackCount = 0;
            partial.NackNow = partial.Repaired = false;
            int position = incomplete.Count;
            while (position > 0 && IsNewer(incomplete[position - 1].Header.Frame, header.Frame)) position--;
            incomplete.Insert(position, partial);
            partialBytes += header.FrameLength;
            return partial;
        }

        void Complete(PartialFrame partial, double now)
        {
            incomplete.Remove(partial);
            partialBytes -= partial.Header.FrameLength;
            Stats.FramesCompleted++;
            if (pending != null)
            {
                Stats.FramesSuperseded++;
                pending.Release();
            }
            pending = partial.Frame;
            pending.Fill(partial.Header, partial.FirstArrival, now, partial.Repaired);
            if (partial.Header.IsAfterCut) Stats.Cuts++;
            Recycle(partial);
            anyCompleted = true;
            newestCompleted = partial.Header.Frame;
            // Incomplete frames older than the newest complete one can never be shown.
            for (int i = incomplete.Count - 1; i >= 0; i--)
                if (IsNewer(newestCompleted, incomplete[i].Header.Frame)) Abandon(i);
        }

        void Abandon(int index)
        {
            var partial = incomplete[index];
            partialBytes -= partial.Header.FrameLength;
            incomplete.RemoveAt(index);
            partial.Frame.Release();
            Recycle(partial);
            Stats.FramesAbandoned++;
        }

        void Recycle(PartialFrame partial)
        {
            partial.Frame = null;
            if (sparePartials.Count < options.MaxIncompleteFrames) sparePartials.Push(partial);
        }

        FragmentOutcome Drop(FragmentOutcome outcome)
        {
            Stats.Dropped++;
            return outcome;
        }
    }
}
