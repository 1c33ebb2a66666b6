// Reassembles JPEG frames from fragments (SPEC §6.2) under the receiver policy of §6.3, revision 1.1: frames are
// shown in order and never older than one shown, a few incomplete frames and 4 MiB of partial data at most, NACKs
// for what is missing, and a playout delay: a frame that completes while an older one is being repaired waits for
// the repair, about as long as repairs take. Steady state allocates nothing: partial frames, their buffers and the
// complete frames (held ones included) are pooled.
using System;
using System.Collections.Generic;

namespace Yume.Bridge.Core
{
    /// <summary>Receiver limits, NACK timing and playout delay; the defaults are SPEC §6.3's without a playout delay (1.0).</summary>
    public sealed class ReassemblyOptions
    {
        /// <summary>Incomplete frames a receiver with a playout delay keeps: a quarter-second of repairs at 30 fps.</summary>
        public const int MaxFramesInRepair = 8;

        public ReassemblyOptions(int maxIncompleteFrames = 4, long maxPartialBytes = 4 * 1024 * 1024,
                                 long maxFrameLength = 4 * 1024 * 1024, double nackQuietSeconds = RepairClock.BurstQuietSeconds,
                                 int maxNacksPerFrame = 8, double frameDeadlineSeconds = 0.300, int maxNackFragments = 128,
                                 double maxPlayoutDelaySeconds = 0)
        {
            if (maxIncompleteFrames < 1 || maxPartialBytes < 1 || maxFrameLength < 1 || maxNackFragments < 1)
                throw new ArgumentException("reassembly limits must be positive");
            if (!(maxPlayoutDelaySeconds >= 0)) throw new ArgumentException("the playout delay is 0 (none) or positive");
            MaxIncompleteFrames = maxIncompleteFrames;
            MaxPartialBytes = maxPartialBytes;
            MaxFrameLength = maxFrameLength;
            NackQuietSeconds = nackQuietSeconds;
            MaxNacksPerFrame = maxNacksPerFrame;
            FrameDeadlineSeconds = frameDeadlineSeconds;
            MaxNackFragments = maxNackFragments;
            MaxPlayoutDelaySeconds = maxPlayoutDelaySeconds;
        }

        public int MaxIncompleteFrames { get; }
        public long MaxPartialBytes { get; }
        public long MaxFrameLength { get; }

        /// <summary>Silence after which a frame's burst is over: what is missing then was lost.</summary>
        public double NackQuietSeconds { get; }
        public int MaxNacksPerFrame { get; }

        /// <summary>No NACK for a frame once no fragment of it arrived for this long.</summary>
        public double FrameDeadlineSeconds { get; }
        public int MaxNackFragments { get; }

        /// <summary>The longest a complete frame waits for an older one under repair; 0: shown at once (the 1.0 policy).</summary>
        public double MaxPlayoutDelaySeconds { get; }

        /// <summary>
        /// The SPEC defaults with the welcome's <c>frame_deadline_ms</c> and <c>max_nack_fragments</c>, and a playout delay
        /// of at most <paramref name="maxPlayoutDelaySeconds"/> (with one, <see cref="MaxFramesInRepair"/> incomplete frames).
        /// </summary>
        public static ReassemblyOptions FromLimits(WireLimits limits, double maxPlayoutDelaySeconds = 0) =>
            new ReassemblyOptions(maxIncompleteFrames: maxPlayoutDelaySeconds > 0 ? MaxFramesInRepair : 4,
                                  frameDeadlineSeconds: limits.FrameDeadlineMs / 1000.0, maxNackFragments: limits.MaxNackFragments,
                                  maxPlayoutDelaySeconds: maxPlayoutDelaySeconds);
    }

    /// <summary>
    /// How long a repair takes, from the first NACK that asked for an index to that index's retransmission, smoothed
    /// as TCP smooths its round-trip time (RFC 6298). A sample whose request or answer was lost is too long by a retry,
    /// which errs on the side of waiting longer, never of giving a repair up too early.
    /// </summary>
    public sealed class RepairClock
    {
        /// <summary>An index asked for is asked for again only after this long, or the measured repair time if longer.</summary>
        public const double NackRetrySeconds = 0.020;

        /// <summary>The playout delay before the first repair has been timed.</summary>
        public const double PlayoutInitialSeconds = 0.100;
        public const double PlayoutMinSeconds = 0.010;

        /// <summary>The end of a frame's burst: no fragment of it for this long (also the playout delay's margin).</summary>
        public const double BurstQuietSeconds = 0.005;

        /// <summary>R: the smoothed repair time; null before the first sample.</summary>
        public double? SmoothedSeconds { get; private set; }

        /// <summary>V: the variation of the repair time.</summary>
        public double VariationSeconds { get; private set; }

        public void Sample(double seconds)
        {
            if (!SmoothedSeconds.HasValue)
            {
                SmoothedSeconds = seconds;
                VariationSeconds = seconds / 2;
                return;
            }
            double smoothed = SmoothedSeconds.Value;
            VariationSeconds += (Math.Abs(smoothed - seconds) - VariationSeconds) / 4;
            SmoothedSeconds = smoothed + (seconds - smoothed) / 8;
        }

        /// <summary>How long to wait for a repair before asking again: asking sooner only spends the daemon's resends.</summary>
        public double RetryInterval => SmoothedSeconds.HasValue ? Math.Max(NackRetrySeconds, Expected) : NackRetrySeconds;

        /// <summary>How long a complete frame waits for an older one under repair: a repair's time and its spread, within the limit.</summary>
        public double PlayoutDelay(double limitSeconds) =>
            SmoothedSeconds.HasValue ? Math.Min(Math.Max(Expected + BurstQuietSeconds, PlayoutMinSeconds), limitSeconds)
                                     : Math.Min(PlayoutInitialSeconds, limitSeconds);

        double Expected => SmoothedSeconds.Value + 4 * VariationSeconds;
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

    public enum FragmentOutcome { Accepted, Completed, Duplicate, Stale, WrongSession, Malformed, Inconsistent, TooLarge, Evicted, TooFarAhead }

    /// <summary>Counters for diagnostics and the status HUD.</summary>
    public sealed class ReassemblyStats
    {
        public long Fragments, FramesCompleted, FramesSuperseded, FramesAbandoned, Duplicates, Stale, Dropped, NacksSent;

        /// <summary>Completed frames that began a chunk after a cut (pre-emption): chunks the daemon cut short.</summary>
        public long Cuts;

        /// <summary>Complete frames that had to wait for an older frame under repair (playout delay), each counted once.</summary>
        public long FramesHeld;
    }

    public sealed class FrameReassembler
    {
        /// <summary>A gap this far below the highest index received is a loss, not reordering: NACK it at once.</summary>
        public const int ReorderSlack = 8;

        /// <summary>Fragments this far beyond the newest frame shown are forgeries or garbage.</summary>
        public const uint MaxFrameJump = 4096;

        /// <summary>Complete frames held back behind a frame under repair; past this (or 4 MiB) the oldest is shown.</summary>
        public const int MaxHeldFrames = 8;

        sealed class PartialFrame
        {
            public readonly byte[] FirstHeader = new byte[FragmentHeader.Size];
            public FragmentHeader Header;
            public CompleteFrame Frame;   // from the pool; its buffer receives the payloads
            public bool[] Received = new bool[0];
            public double[] Requested = new double[0], FirstAsked = new double[0]; // per index; −∞: never asked
            public int ReceivedCount, HighestIndex;
            public double FirstArrival, LastArrival;
            public int NackCount;
            public bool Repaired;
        }

        struct HeldFrame
        {
            public CompleteFrame Frame;
            public double Until;
        }

        readonly uint session;
        readonly ReassemblyOptions options;
        readonly List<PartialFrame> incomplete = new List<PartialFrame>(); // oldest first
        readonly Stack<PartialFrame> sparePartials = new Stack<PartialFrame>();
        readonly List<HeldFrame> held = new List<HeldFrame>(MaxHeldFrames + 1); // oldest first
        readonly List<CompleteFrame> shown;   // shown, not yet taken; oldest first
        readonly int maxShownUntaken;
        readonly List<int> missingScratch = new List<int>();
        readonly FramePool pool;
        long partialBytes, heldBytes;
        bool anyShown, anySeen;
        uint newestShown, newestSeen;

        /// <param name="pool">Where complete frames come from and go back to (<see cref="CompleteFrame.Release"/>); a new one when null.</param>
        public FrameReassembler(uint session, ReassemblyOptions options, FramePool pool = null)
        {
            this.session = session;
            this.options = options ?? new ReassemblyOptions();
            this.pool = pool ?? new FramePool();
            // As many as one push can show: without a playout delay that is one, so an untaken frame is superseded.
            maxShownUntaken = this.options.MaxPlayoutDelaySeconds > 0 ? MaxHeldFrames + 1 : 1;
            shown = new List<CompleteFrame>(maxShownUntaken);
        }

        public FramePool Pool => pool;

        public ReassemblyStats Stats { get; } = new ReassemblyStats();
        public RepairClock Repairs { get; } = new RepairClock();
        public int IncompleteFrames => incomplete.Count;
        public int HeldFrames => held.Count;
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
            if (anyShown && !IsNewer(header.Frame, newestShown))
            {
                Stats.Stale++;
                return FragmentOutcome.Stale;
            }
            if (anyShown && IsNewer(header.Frame, unchecked(newestShown + MaxFrameJump))) return Drop(FragmentOutcome.TooFarAhead);
            if (IsHeld(header.Frame))
            {
                Stats.Duplicates++; // the frame is complete and waits to be shown
                return FragmentOutcome.Duplicate;
            }
            var partial = Find(header.Frame);
            if (partial == null)
            {
                partial = Begin(header, datagram, now);
                if (partial == null) return Drop(FragmentOutcome.Evicted);
            }
            else if (!FragmentHeader.SameFrameFields(partial.FirstHeader, datagram)) return Drop(FragmentOutcome.Inconsistent);

            int index = header.FragmentIndex;
            if (!anySeen || IsNewer(header.Frame, newestSeen)) newestSeen = header.Frame;
            anySeen = true;
            partial.LastArrival = now;
            partial.HighestIndex = Math.Max(partial.HighestIndex, index);
            if (partial.Received[index])
            {
                Stats.Duplicates++;
                return FragmentOutcome.Duplicate;
            }
            if (header.IsRetransmission && partial.FirstAsked[index] > double.NegativeInfinity)
                Repairs.Sample(now - partial.FirstAsked[index]);
            Buffer.BlockCopy(datagram, FragmentHeader.Size, partial.Frame.Buffer, (int)header.PayloadOffset, header.PayloadLength);
            partial.Received[index] = true;
            partial.ReceivedCount++;
            partial.Repaired |= header.IsRetransmission;
            if (partial.ReceivedCount < partial.Header.FragmentCount) return FragmentOutcome.Accepted;
            var frame = Complete(partial, now);
            if (options.MaxPlayoutDelaySeconds > 0 && (held.Count > 0 || RepairingBefore(frame.Frame, now)))
            {
                Hold(frame, now + Repairs.PlayoutDelay(options.MaxPlayoutDelaySeconds));
                Release(now);
                if (IsHeld(frame.Frame)) Stats.FramesHeld++;
            }
            else Show(frame);
            return FragmentOutcome.Completed;
        }

        /// <summary>
        /// The oldest frame shown and not yet taken, or null; each is newer than every frame taken before. Take them after
        /// every <see cref="Push"/> and <see cref="Release"/>: beyond what one call can show, an untaken frame is superseded
        /// (without a playout delay: by the next one). The taker owns the frame: <see cref="CompleteFrame.Release"/> it
        /// when done so that its buffer serves a later frame.
        /// </summary>
        public CompleteFrame TakeCompletedFrame()
        {
            if (shown.Count == 0) return null;
            var frame = shown[0];
            shown.RemoveAt(0);
            return frame;
        }

        /// <summary>
        /// Shows the held frames whose wait is over, oldest first: the older frame was repaired, is no longer asked for,
        /// or took longer than the playout delay (it is dropped then). Once any held frame's wait runs out, every older
        /// held frame is shown before it. Returns how many were shown.
        /// </summary>
        public int Release(double now)
        {
            int count = 0;
            while (held.Count > 0)
            {
                var oldest = held[0];
                bool withinBounds = held.Count <= MaxHeldFrames && heldBytes <= options.MaxPartialBytes;
                if (withinBounds && now < NextReleaseTime().Value && RepairingBefore(oldest.Frame.Frame, now)) break;
                held.RemoveAt(0);
                heldBytes -= oldest.Frame.Length;
                Show(oldest.Frame);
                count++;
            }
            return count;
        }

        /// <summary>When a held frame's wait runs out (<see cref="Release"/> shows it then), or null.</summary>
        public double? NextReleaseTime()
        {
            double? earliest = null;
            for (int i = 0; i < held.Count; i++)
                if (earliest == null || held[i].Until < earliest) earliest = held[i].Until;
            return earliest;
        }

        /// <summary>NACKs due now (SPEC §6.3); marks their indices as asked for.</summary>
        public List<NackRequest> TakeNacks(double now)
        {
            var nacks = new List<NackRequest>();
            TakeNacks(now, nacks);
            return nacks;
        }

        /// <summary>
        /// Adds the NACKs due now to <paramref name="into"/>; allocates nothing when none is due. Returns how many. A gap
        /// well below the highest index received is asked for at once, while the burst is still arriving, so that the
        /// retransmission beats the next frame; the rest once the burst has gone quiet or a newer frame has begun.
        /// </summary>
        public int TakeNacks(double now, List<NackRequest> into)
        {
            int added = 0;
            double retry = Repairs.RetryInterval;
            for (int i = 0; i < incomplete.Count; i++)
            {
                var partial = incomplete[i];
                if (partial.NackCount >= options.MaxNacksPerFrame || now > Deadline(partial)) continue;
                missingScratch.Clear();
                for (int index = 0; index < partial.Header.FragmentCount && missingScratch.Count < options.MaxNackFragments; index++)
                    if (!partial.Received[index] && Due(partial, index, retry) <= now) missingScratch.Add(index);
                if (missingScratch.Count == 0) continue;
                into.Add(new NackRequest(partial.Header.Frame, missingScratch));
                added++;
                partial.NackCount++;
                Stats.NacksSent++;
                foreach (int index in missingScratch)
                {
                    if (partial.FirstAsked[index] == double.NegativeInfinity) partial.FirstAsked[index] = now;
                    partial.Requested[index] = now;
                }
            }
            return added;
        }

        /// <summary>
        /// When <see cref="TakeNacks"/> next has something to send, or null. Exact, so that a receiver waiting on it never
        /// spins: the earliest time a missing index is due (see <see cref="Due"/>) within its frame's deadline.
        /// </summary>
        public double? NextNackTime()
        {
            double? earliest = null;
            double retry = Repairs.RetryInterval;
            for (int i = 0; i < incomplete.Count; i++)
            {
                var partial = incomplete[i];
                if (partial.NackCount >= options.MaxNacksPerFrame) continue;
                double deadline = Deadline(partial);
                for (int index = 0; index < partial.Header.FragmentCount; index++)
                {
                    if (partial.Received[index]) continue;
                    double due = Due(partial, index, retry);
                    if (due <= deadline && (earliest == null || due < earliest)) earliest = due;
                }
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
                missing.Clear();
                for (int i = 0; i < partial.Header.FragmentCount; i++)
                    if (!partial.Received[i]) missing.Add(i);
                result[partial.Header.Frame] = missing.ToArray();
            }
            return result;
        }

        double Deadline(PartialFrame partial) => partial.LastArrival + options.FrameDeadlineSeconds;

        /// <summary>
        /// When a missing index may be asked for: at its frame's last arrival when it lies <see cref="ReorderSlack"/> or
        /// more below the highest index received, else once the burst is over (quiet, or a newer frame seen); and not
        /// before the retry interval has passed since it was last asked for.
        /// </summary>
        double Due(PartialFrame partial, int index, double retry)
        {
            bool newerSeen = IsNewer(newestSeen, partial.Header.Frame);
            double available = index < partial.HighestIndex - ReorderSlack || newerSeen
                ? partial.LastArrival
                : partial.LastArrival + options.NackQuietSeconds;
            return Math.Max(available, partial.Requested[index] + retry);
        }

        /// <summary>Is a frame older than <paramref name="frame"/> (so newer than any shown) incomplete and still asked for?</summary>
        bool RepairingBefore(uint frame, double now)
        {
            for (int i = 0; i < incomplete.Count; i++)
            {
                var partial = incomplete[i];
                if (IsNewer(frame, partial.Header.Frame) && partial.NackCount < options.MaxNacksPerFrame && now <= Deadline(partial))
                    return true;
            }
            return false;
        }

        bool IsHeld(uint frame)
        {
            for (int i = 0; i < held.Count; i++)
                if (held[i].Frame.Frame == frame) return true;
            return false;
        }

        void Hold(CompleteFrame frame, double until)
        {
            int position = held.Count;
            while (position > 0 && IsNewer(held[position - 1].Frame.Frame, frame.Frame)) position--;
            held.Insert(position, new HeldFrame { Frame = frame, Until = until });
            heldBytes += frame.Length;
        }

        void Show(CompleteFrame frame)
        {
            anyShown = true;
            newestShown = frame.Frame;
            if (shown.Count == maxShownUntaken)
            {
                Stats.FramesSuperseded++;
                shown[0].Release();
                shown.RemoveAt(0);
            }
            shown.Add(frame);
            // Incomplete frames older than the newest shown can never be shown.
            for (int i = incomplete.Count - 1; i >= 0; i--)
                if (IsNewer(newestShown, incomplete[i].Header.Frame)) Abandon(i);
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
            var partial = sparePartials.Count > 0 ? sparePartials.Pop() : new PartialFrame();
            Buffer.BlockCopy(datagram, 0, partial.FirstHeader, 0, FragmentHeader.Size);
            partial.Header = header;
            partial.Frame = pool.Rent((int)header.FrameLength);
            int count = header.FragmentCount;
            if (partial.Received.Length < count)
            {
                int capacity = Math.Max(count, 2 * partial.Received.Length);
                partial.Received = new bool[capacity];
                partial.Requested = new double[capacity];
                partial.FirstAsked = new double[capacity];
            }
            Array.Clear(partial.Received, 0, count);
            for (int i = 0; i < count; i++) partial.Requested[i] = partial.FirstAsked[i] = double.NegativeInfinity;
            partial.ReceivedCount = 0;
            partial.HighestIndex = -1;
            partial.FirstArrival = partial.LastArrival = now;
            partial.NackCount = 0;
            partial.Repaired = false;
            int position = incomplete.Count;
            while (position > 0 && IsNewer(incomplete[position - 1].Header.Frame, header.Frame)) position--;
            incomplete.Insert(position, partial);
            partialBytes += header.FrameLength;
            return partial;
        }

        CompleteFrame Complete(PartialFrame partial, double now)
        {
            incomplete.Remove(partial);
            partialBytes -= partial.Header.FrameLength;
            Stats.FramesCompleted++;
            var frame = partial.Frame;
            frame.Fill(partial.Header, partial.FirstArrival, now, partial.Repaired);
            if (partial.Header.IsAfterCut) Stats.Cuts++;
            Recycle(partial);
            return frame;
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
