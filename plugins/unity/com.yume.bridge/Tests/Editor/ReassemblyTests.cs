// The receiver policy of SPEC §6.2–6.3 beyond the vectors: loss, reordering, duplicates, caps and NACKs.
using System.Collections.Generic;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    [TestFixture]
    public class ReassemblyTests
    {
        const uint Session = 7;

        static FrameReassembler NewReassembler(ReassemblyOptions options = null) =>
            new FrameReassembler(Session, options ?? new ReassemblyOptions());

        static FragmentOutcome Push(FrameReassembler r, byte[] datagram, double now) => r.Push(datagram, datagram.Length, now);

        static void PushAll(FrameReassembler r, IEnumerable<byte[]> datagrams, double now)
        {
            foreach (var d in datagrams) Push(r, d, now);
        }

        [Test]
        public void Fragments_in_shuffled_order_rebuild_the_exact_jpeg()
        {
            var jpeg = TestFrames.Payload(10000);
            var parts = TestFrames.Split(jpeg, Session, 1, 1200);
            var order = new[] { 3, 0, 8, 1, 7, 2, 6, 4, 5 };
            Assert.AreEqual(9, parts.Count);
            var r = NewReassembler();
            foreach (var i in order) Push(r, parts[i], 0);
            var frame = r.TakeCompletedFrame();
            Assert.IsNotNull(frame);
            CollectionAssert.AreEqual(jpeg, frame.Jpeg);
            Assert.IsNull(r.TakeCompletedFrame(), "a frame is handed out once");
        }

        [Test]
        public void A_frame_with_a_lost_fragment_never_completes_and_reports_the_hole()
        {
            var parts = TestFrames.Split(TestFrames.Payload(3000), Session, 4);
            var r = NewReassembler();
            for (int i = 0; i < parts.Count; i++)
                if (i != 2) Push(r, parts[i], 0);
            Assert.IsNull(r.TakeCompletedFrame());
            CollectionAssert.AreEqual(new[] { 2 }, r.MissingByFrame()[4]);
        }

        [Test]
        public void A_duplicate_fragment_is_ignored()
        {
            var parts = TestFrames.Split(TestFrames.Payload(2000), Session, 1);
            var r = NewReassembler();
            Assert.AreEqual(FragmentOutcome.Accepted, Push(r, parts[0], 0));
            Assert.AreEqual(FragmentOutcome.Duplicate, Push(r, parts[0], 0));
            Assert.AreEqual(FragmentOutcome.Duplicate, Push(r, TestFrames.AsRetransmission(parts[0]), 0));
        }

        [Test]
        public void A_retransmitted_fragment_completes_the_frame_and_marks_it_repaired()
        {
            var parts = TestFrames.Split(TestFrames.Payload(2000), Session, 1);
            var r = NewReassembler();
            for (int i = 1; i < parts.Count; i++) Push(r, parts[i], 0);
            Assert.AreEqual(FragmentOutcome.Completed, Push(r, TestFrames.AsRetransmission(parts[0]), 0.05));
            Assert.IsTrue(r.TakeCompletedFrame().RepairedByRetransmission);
        }

        [Test]
        public void A_frame_older_than_the_newest_shown_is_never_delivered()
        {
            var older = TestFrames.Split(TestFrames.Payload(1000, 1), Session, 10);
            var newer = TestFrames.Split(TestFrames.Payload(1000, 2), Session, 11);
            var r = NewReassembler();
            PushAll(r, newer, 0);
            Assert.AreEqual(11u, r.TakeCompletedFrame().Frame);
            foreach (var d in older) Assert.AreEqual(FragmentOutcome.Stale, Push(r, d, 0));
            Assert.IsNull(r.TakeCompletedFrame());
            Assert.AreEqual(0, r.IncompleteFrames);
        }

        [Test]
        public void Only_the_newest_of_several_completed_frames_is_handed_out()
        {
            var r = NewReassembler();
            PushAll(r, TestFrames.Split(TestFrames.Payload(800, 1), Session, 1), 0);
            PushAll(r, TestFrames.Split(TestFrames.Payload(800, 2), Session, 2), 0);
            PushAll(r, TestFrames.Split(TestFrames.Payload(800, 3), Session, 3), 0);
            Assert.AreEqual(3u, r.TakeCompletedFrame().Frame);
            Assert.IsNull(r.TakeCompletedFrame());
            Assert.AreEqual(2, r.Stats.FramesSuperseded);
        }

        [Test]
        public void Frame_numbers_compare_across_the_u32_wrap()
        {
            var r = NewReassembler();
            PushAll(r, TestFrames.Split(TestFrames.Payload(500), Session, uint.MaxValue), 0);
            Assert.AreEqual(uint.MaxValue, r.TakeCompletedFrame().Frame);
            PushAll(r, TestFrames.Split(TestFrames.Payload(500), Session, 0), 0);
            Assert.AreEqual(0u, r.TakeCompletedFrame().Frame, "frame 0 after 2^32 − 1 is newer");
        }

        [Test]
        public void A_fragment_more_than_4096_frames_ahead_of_the_newest_shown_is_dropped()
        {
            var r = NewReassembler();
            Assert.AreEqual(FragmentOutcome.Accepted, Push(r, TestFrames.Split(TestFrames.Payload(2000), Session, 90000)[0], 0),
                            "before the first frame shown any number is accepted");
            PushAll(r, TestFrames.Split(TestFrames.Payload(500), Session, 10), 0);
            Assert.AreEqual(10u, r.TakeCompletedFrame().Frame);
            Assert.AreEqual(FragmentOutcome.TooFarAhead, Push(r, TestFrames.Split(TestFrames.Payload(2000), Session, 10 + 4097)[0], 0));
            Assert.AreEqual(FragmentOutcome.Accepted, Push(r, TestFrames.Split(TestFrames.Payload(2000), Session, 10 + 4096)[0], 0));
        }

        [Test]
        public void At_most_four_incomplete_frames_are_kept_and_the_oldest_is_evicted()
        {
            var r = NewReassembler();
            for (uint frame = 1; frame <= 5; frame++)
                Push(r, TestFrames.Split(TestFrames.Payload(2000), Session, frame)[0], 0);
            Assert.AreEqual(4, r.IncompleteFrames);
            CollectionAssert.AreEqual(new uint[] { 2, 3, 4, 5 }, r.MissingByFrame().Keys);
            Assert.AreEqual(FragmentOutcome.Evicted, Push(r, TestFrames.Split(TestFrames.Payload(2000), Session, 1)[1], 0),
                            "a frame older than every kept one is not let back in");
        }

        [Test]
        public void Partial_data_stays_within_four_mebibytes()
        {
            var r = NewReassembler();
            const int big = 1500 * 1000;
            for (uint frame = 1; frame <= 3; frame++)
            {
                var first = TestFrames.Split(TestFrames.Payload(big), Session, frame, 65000)[0];
                Push(r, first, 0);
            }
            Assert.AreEqual(2, r.IncompleteFrames, "a third 1.5 MB frame evicts the oldest to stay under 4 MiB");
            Assert.LessOrEqual(r.PartialBytes, 4 * 1024 * 1024);
        }

        [Test]
        public void A_frame_longer_than_four_mebibytes_is_dropped()
        {
            var first = TestFrames.Split(TestFrames.Payload(4 * 1024 * 1024 + 1), Session, 1, 65000)[0];
            var r = NewReassembler();
            Assert.AreEqual(FragmentOutcome.TooLarge, Push(r, first, 0));
            Assert.AreEqual(0, r.IncompleteFrames);
        }

        [Test]
        public void Fragments_of_another_session_or_malformed_ones_are_dropped()
        {
            var r = NewReassembler();
            var foreign = TestFrames.Split(TestFrames.Payload(500), Session + 1, 1)[0];
            Assert.AreEqual(FragmentOutcome.WrongSession, Push(r, foreign, 0));
            var truncated = ByteArrays.Slice(TestFrames.Split(TestFrames.Payload(500), Session, 1)[0], 0, 100);
            Assert.AreEqual(FragmentOutcome.Malformed, Push(r, truncated, 0));
            var badVersion = TestFrames.Split(TestFrames.Payload(500), Session, 1)[0];
            badVersion[2] = 2;
            Assert.AreEqual(FragmentOutcome.Malformed, Push(r, badVersion, 0));
        }

        [Test]
        public void A_fragment_whose_header_disagrees_with_the_first_one_is_dropped()
        {
            var r = NewReassembler();
            var parts = TestFrames.Split(TestFrames.Payload(2000), Session, 1, 576, chunk: 3);
            Push(r, parts[0], 0);
            var otherChunk = TestFrames.Split(TestFrames.Payload(2000), Session, 1, 576, chunk: 4);
            Assert.AreEqual(FragmentOutcome.Inconsistent, Push(r, otherChunk[1], 0));
        }

        [Test]
        public void A_fragment_count_too_large_for_the_frame_length_is_dropped()
        {
            // L = 10, n = 4: stride 3, (n − 1)·stride = 9 < 10 is fine; n = 6: stride 2, 10 ≥ 10 is not.
            var header = new FragmentHeader(FragmentFlags.None, Session, 1, 0, 0, 0, 6, 2, 10, 0, 0, 0);
            string reason;
            Assert.IsNull(FragmentHeader.TryParse(header.Pack(new byte[2]), FragmentHeader.Size + 2, out reason));
            StringAssert.Contains("too many fragments", reason);
        }

        // ---- NACKs -----------------------------------------------------------------------------

        [Test]
        public void No_nack_is_due_while_a_frame_is_still_arriving()
        {
            var r = NewReassembler();
            Push(r, TestFrames.Split(TestFrames.Payload(3000), Session, 1)[0], 1.000);
            CollectionAssert.IsEmpty(r.TakeNacks(1.004));
            Assert.AreEqual(1.005, r.NextNackTime().Value, 1e-9, "the burst is over after 5 ms of quiet");
        }

        [Test]
        public void A_frame_quiet_for_5_ms_is_nacked_with_its_missing_indices()
        {
            var parts = TestFrames.Split(TestFrames.Payload(3000), Session, 9);
            var r = NewReassembler();
            Push(r, parts[0], 1.000);
            Push(r, parts[3], 1.001);
            var nacks = r.TakeNacks(1.006);
            Assert.AreEqual(1, nacks.Count);
            Assert.AreEqual(9u, nacks[0].Frame);
            CollectionAssert.AreEqual(new[] { 1, 2, 4, 5 }, nacks[0].Missing);
        }

        [Test]
        public void A_gap_eight_below_the_highest_index_received_is_nacked_while_the_burst_still_arrives()
        {
            var parts = TestFrames.Split(TestFrames.Payload(8000), Session, 1);
            var r = NewReassembler();
            for (int i = 0; i <= 10; i++)
                if (i != 1) Push(r, parts[i], 1.000);
            CollectionAssert.AreEqual(new[] { 1 }, r.TakeNacks(1.000)[0].Missing, "index 1 is 9 below index 10: lost, not reordered");
            CollectionAssert.IsEmpty(r.TakeNacks(1.001), "the rest of the burst is still on its way");
        }

        [Test]
        public void A_fragment_of_a_newer_frame_triggers_a_nack_at_once()
        {
            var r = NewReassembler();
            var first = TestFrames.Split(TestFrames.Payload(3000), Session, 1);
            Push(r, first[0], 1.000);
            Push(r, TestFrames.Split(TestFrames.Payload(3000), Session, 2)[0], 1.002);
            var nacks = r.TakeNacks(1.002);
            Assert.AreEqual(1, nacks.Count);
            Assert.AreEqual(1u, nacks[0].Frame);
        }

        [Test]
        public void A_frame_is_nacked_at_most_eight_times_and_never_more_often_than_every_20_ms()
        {
            var r = NewReassembler();
            Push(r, TestFrames.Split(TestFrames.Payload(3000), Session, 1)[0], 1.000);
            var sentAt = new List<double>();
            for (int ms = 0; ms < 290; ms++)
                if (r.TakeNacks(1.0 + ms / 1000.0).Count > 0) sentAt.Add(ms);
            CollectionAssert.AreEqual(new double[] { 5, 25, 45, 65, 85, 105, 125, 145 }, sentAt);
            Assert.IsNull(r.NextNackTime());
        }

        [Test]
        public void No_nack_is_sent_once_no_fragment_arrived_for_the_deadline()
        {
            var r = NewReassembler(new ReassemblyOptions(frameDeadlineSeconds: 0.300));
            var parts = TestFrames.Split(TestFrames.Payload(3000), Session, 1);
            Push(r, parts[0], 1.000);
            CollectionAssert.IsEmpty(r.TakeNacks(1.301));
            Push(r, parts[1], 1.302);
            Assert.AreEqual(1, r.TakeNacks(1.500).Count, "the deadline counts from the last fragment");
        }

        [Test]
        public void The_next_nack_time_is_never_a_time_at_which_nothing_is_sent()
        {
            var parts = TestFrames.Split(TestFrames.Payload(8000), Session, 1);
            var r = NewReassembler();
            foreach (int i in new[] { 0, 2, 5, 11 }) Push(r, parts[i], 1.000);
            Push(r, TestFrames.AsRetransmission(parts[1]), 1.012);
            for (int round = 0; round < 20; round++)
            {
                var due = r.NextNackTime();
                if (due == null) break;
                Assert.AreNotEqual(0, r.TakeNacks(due.Value).Count, $"a nack is sent at the time announced ({due.Value:0.000} s)");
            }
            Assert.IsNull(r.NextNackTime(), "eight nacks at most");
        }

        [Test]
        public void A_nack_lists_at_most_max_nack_fragments_indices()
        {
            var r = NewReassembler(new ReassemblyOptions(maxNackFragments: 3));
            Push(r, TestFrames.Split(TestFrames.Payload(5000), Session, 1)[0], 1.000);
            var nacks = r.TakeNacks(1.05);
            CollectionAssert.AreEqual(new[] { 1, 2, 3 }, nacks[0].Missing);
        }

        [Test]
        public void A_completed_frame_is_never_nacked()
        {
            var r = NewReassembler();
            PushAll(r, TestFrames.Split(TestFrames.Payload(3000), Session, 1), 1.0);
            CollectionAssert.IsEmpty(r.TakeNacks(2.0));
            Assert.IsNull(r.NextNackTime());
        }
    }
}
