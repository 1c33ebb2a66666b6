// Reassembles JPEG frames from fragments (SPEC §6.2) under the receiver policy of §6.3: newest complete
// frame wins, at most 4 incomplete frames and 4 MiB of partial data, NACKs for frames with holes.
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

    /// <summary>A whole JPEG and the header fields every fragment of it carried.</summary>
    public sealed class CompleteFrame
    {
        readonly byte[] jpeg;

        internal CompleteFrame(FragmentHeader header, byte[] jpeg, double firstFragmentAt, double completedAt, bool repaired)
        {
            Frame = header.Frame;
            Chunk = header.Chunk;
            FrameInChunk = header.FrameInChunk;
            InputSeq = header.InputSeq;
            DaemonTimeUs = header.TimeUs;
            Action = header.Action;
            IsLastInChunk = header.IsLastInChunk;
            this.jpeg = jpeg;
            FirstFragmentAt = firstFragmentAt;
            CompletedAt = completedAt;
            RepairedByRetransmission = repaired;
        }

        public uint Frame { get; }
        public uint Chunk { get; }
        public int FrameInChunk { get; }
        public uint InputSeq { get; }
        public ulong DaemonTimeUs { get; }
        public int Action { get; }
        public bool IsLastInChunk { get; }
        public double FirstFragmentAt { get; }
        public double CompletedAt { get; }
        public bool RepairedByRetransmission { get; }

        /// <summary>The JPEG bytes. Shared, not copied: treat as read-only.</summary>
        public byte[] Jpeg => jpeg;
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
    }

    public sealed class FrameReassembler
    {
        sealed class PartialFrame
        {
            public byte[] FirstHeader;
            public FragmentHeader Header;
            public byte[] Buffer;
            public bool[] Received;
            public int ReceivedCount;
            public double FirstArrival, LastArrival, LastNack = double.NegativeInfinity;
            public int NackCount;
            public bool NackNow, Repaired;
        }

        readonly uint session;
        readonly ReassemblyOptions options;
        readonly List<PartialFrame> incomplete = new List<PartialFrame>(); // oldest first
        long partialBytes;
        bool anyCompleted;
        uint newestCompleted;
        CompleteFrame pending;

        public FrameReassembler(uint session, ReassemblyOptions options)
        {
            this.session = session;
            this.options = options ?? new ReassemblyOptions();
        }

        public ReassemblyStats Stats { get; } = new ReassemblyStats();
        public int IncompleteFrames => incomplete.Count;
        public long PartialBytes => partialBytes;

        /// <summary>Wrap-safe "a is after b" for u32 frame numbers.</summary>
        public static bool IsNewer(uint a, uint b) => unchecked((int)(a - b)) > 0;

        public FragmentOutcome Push(byte[] datagram, int length, double now)
        {
            Stats.Fragments++;
            string reason;
            var header = FragmentHeader.TryParse(datagram, length, out reason);
            if (header == null) return Drop(FragmentOutcome.Malformed);
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
            Buffer.BlockCopy(datagram, FragmentHeader.Size, partial.Buffer, (int)header.PayloadOffset, header.PayloadLength);
            partial.Received[header.FragmentIndex] = true;
            partial.ReceivedCount++;
            partial.LastArrival = now;
            partial.Repaired |= header.IsRetransmission;
            if (partial.ReceivedCount < partial.Received.Length) return FragmentOutcome.Accepted;
            Complete(partial, now);
            return FragmentOutcome.Completed;
        }

        /// <summary>The newest complete frame not yet taken, or null. Older complete frames are never returned.</summary>
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
            foreach (var partial in incomplete)
            {
                if (!CanNack(partial, now)) continue;
                if (!partial.NackNow && now < QuietDue(partial)) continue;
                nacks.Add(new NackRequest(partial.Header.Frame, MissingOf(partial, options.MaxNackFragments)));
                partial.NackCount++;
                partial.LastNack = now;
                partial.NackNow = false;
                Stats.NacksSent++;
            }
            return nacks;
        }

        /// <summary>When <see cref="TakeNacks"/> next has something to do, or null.</summary>
        public double? NextTimer(double now)
        {
            double? earliest = null;
            foreach (var partial in incomplete)
            {
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
            foreach (var partial in incomplete) result[partial.Header.Frame] = MissingOf(partial, int.MaxValue).ToArray();
            return result;
        }

        bool CanNack(PartialFrame partial, double now) =>
            partial.NackCount < options.MaxNacksPerFrame && now <= Deadline(partial);

        double Deadline(PartialFrame partial) => partial.FirstArrival + options.FrameDeadlineSeconds;

        double QuietDue(PartialFrame partial) => Math.Max(partial.LastArrival, partial.LastNack) + options.NackQuietSeconds;

        static List<int> MissingOf(PartialFrame partial, int max)
        {
            var missing = new List<int>();
            for (int i = 0; i < partial.Received.Length && missing.Count < max; i++)
                if (!partial.Received[i]) missing.Add(i);
            return missing;
        }

        PartialFrame Find(uint frame)
        {
            foreach (var partial in incomplete)
                if (partial.Header.Frame == frame) return partial;
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
            foreach (var older in incomplete)
                if (IsNewer(header.Frame, older.Header.Frame) && older.NackCount == 0) older.NackNow = true;
            var partial = new PartialFrame
            {
                FirstHeader = ByteArrays.Slice(datagram, 0, FragmentHeader.Size),
                Header = header,
                Buffer = new byte[header.FrameLength],
                Received = new bool[header.FragmentCount],
                FirstArrival = now,
                LastArrival = now,
            };
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
            if (pending != null) Stats.FramesSuperseded++;
            pending = new CompleteFrame(partial.Header, partial.Buffer, partial.FirstArrival, now, partial.Repaired);
            anyCompleted = true;
            newestCompleted = partial.Header.Frame;
            // Incomplete frames older than the newest complete one can never be shown.
            for (int i = incomplete.Count - 1; i >= 0; i--)
                if (IsNewer(newestCompleted, incomplete[i].Header.Frame)) Abandon(i);
        }

        void Abandon(int index)
        {
            partialBytes -= incomplete[index].Header.FrameLength;
            incomplete.RemoveAt(index);
            Stats.FramesAbandoned++;
        }

        FragmentOutcome Drop(FragmentOutcome outcome)
        {
            Stats.Dropped++;
            return outcome;
        }
    }
}
