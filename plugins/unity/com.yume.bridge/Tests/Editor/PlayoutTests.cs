// The playout delay of SPEC §6.3 (revision 1.1): a frame under repair is waited for, for about as long as repairs take.
using System;
using System.Collections.Generic;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    [TestFixture]
    public class PlayoutTests
    {
        const uint Session = 7;

        static List<byte[]> Fragments(uint frame, int size = 5000) =>
            TestFrames.Split(TestFrames.Payload(size, (int)frame), Session, frame, 1200);

        static FrameReassembler NewReassembler(double maxPlayoutDelaySeconds, double deadlineSeconds = 0.3) =>
            new FrameReassembler(Session, new ReassemblyOptions(
                maxIncompleteFrames: maxPlayoutDelaySeconds > 0 ? ReassemblyOptions.MaxFramesInRepair : 4,
                frameDeadlineSeconds: deadlineSeconds, maxPlayoutDelaySeconds: maxPlayoutDelaySeconds));

        /// <summary>The frames shown so far and not yet taken, oldest first (given back to the pool).</summary>
        static List<uint> Shown(FrameReassembler r)
        {
            var numbers = new List<uint>();
            CompleteFrame frame;
            while ((frame = r.TakeCompletedFrame()) != null)
            {
                numbers.Add(frame.Frame);
                frame.Release();
            }
            return numbers;
        }

        static List<uint> Push(FrameReassembler r, IEnumerable<byte[]> datagrams, double now)
        {
            var shown = new List<uint>();
            foreach (var d in datagrams)
            {
                r.Push(d, d.Length, now);
                shown.AddRange(Shown(r));
            }
            return shown;
        }

        static List<uint> Push(FrameReassembler r, byte[] datagram, double now) => Push(r, new[] { datagram }, now);

        static List<byte[]> AllButLast(List<byte[]> fragments) => fragments.GetRange(0, fragments.Count - 1);

        static byte[] Last(List<byte[]> fragments) => fragments[fragments.Count - 1];

        [Test]
        public void A_frame_completing_behind_one_under_repair_waits_and_both_are_shown_in_order()
        {
            var r = NewReassembler(0.25);
            var first = Fragments(1);
            Push(r, AllButLast(first), 0.0);
            var nacks = r.TakeNacks(0.006);
            CollectionAssert.AreEqual(new[] { first.Count - 1 }, nacks[0].Missing);
            CollectionAssert.IsEmpty(Push(r, Fragments(2), 0.010), "frame 2 is held, not shown over frame 1");
            Assert.AreEqual(1, r.HeldFrames);
            CollectionAssert.AreEqual(new uint[] { 1, 2 }, Push(r, TestFrames.AsRetransmission(Last(first)), 0.040));
            Assert.AreEqual(0, r.HeldFrames);
            Assert.AreEqual(1, r.Stats.FramesHeld, "frame 2 waited; frame 1 was shown as soon as it completed");
        }

        [Test]
        public void Frames_shown_after_a_wait_carry_the_bytes_that_were_sent()
        {
            var r = NewReassembler(0.25);
            var first = Fragments(1);
            Push(r, first.GetRange(1, first.Count - 1), 0.0);
            Push(r, Fragments(2), 0.0);
            r.Push(TestFrames.AsRetransmission(first[0]), first[0].Length, 0.02);
            var one = r.TakeCompletedFrame();
            var two = r.TakeCompletedFrame();
            CollectionAssert.AreEqual(TestFrames.Payload(5000, 1), one.Jpeg);
            CollectionAssert.AreEqual(TestFrames.Payload(5000, 2), two.Jpeg);
            Assert.IsTrue(one.RepairedByRetransmission);
            Assert.IsFalse(two.RepairedByRetransmission);
        }

        [Test]
        public void A_held_frame_is_shown_when_the_repair_takes_longer_than_the_delay_and_the_older_is_dropped()
        {
            var r = NewReassembler(0.25);
            var first = Fragments(1);
            Push(r, AllButLast(first), 0.0);
            r.TakeNacks(0.006);
            Push(r, Fragments(2), 0.010);
            Assert.AreEqual(0.010 + RepairClock.PlayoutInitialSeconds, r.NextReleaseTime().Value, 1e-9);
            r.Release(0.010 + RepairClock.PlayoutInitialSeconds / 2);
            CollectionAssert.IsEmpty(Shown(r));
            r.Release(0.010 + RepairClock.PlayoutInitialSeconds);
            CollectionAssert.AreEqual(new uint[] { 2 }, Shown(r));
            Assert.AreEqual(0, r.IncompleteFrames, "frame 1 is dropped");
            Assert.AreEqual(FragmentOutcome.Stale, r.Push(TestFrames.AsRetransmission(Last(first)), Last(first).Length, 0.2),
                            "too late: frame 2 was shown");
            CollectionAssert.IsEmpty(Shown(r));
        }

        [Test]
        public void Without_a_playout_delay_the_newest_complete_frame_is_shown_at_once()
        {
            var r = NewReassembler(0);
            Push(r, AllButLast(Fragments(1)), 0.0);
            CollectionAssert.AreEqual(new uint[] { 2 }, Push(r, Fragments(2), 0.010));
            Assert.AreEqual(0, r.IncompleteFrames, "the older incomplete frame is dropped");
        }

        [Test]
        public void A_frame_lost_whole_holds_nothing_back()
        {
            var r = NewReassembler(0.25);
            CollectionAssert.AreEqual(new uint[] { 2 }, Push(r, Fragments(2), 0.0), "frame 1 never arrived");
        }

        [Test]
        public void A_frame_no_longer_asked_for_holds_nothing_back()
        {
            var r = NewReassembler(0.25, deadlineSeconds: 0.05);
            Push(r, AllButLast(Fragments(1)), 0.0);
            CollectionAssert.AreEqual(new uint[] { 2 }, Push(r, Fragments(2), 0.1), "frame 1 is past its deadline");
        }

        [Test]
        public void A_fragment_of_a_held_frame_does_not_show_it_twice()
        {
            var r = NewReassembler(0.25);
            var first = Fragments(1);
            var second = Fragments(2);
            Push(r, AllButLast(first), 0.0);
            Push(r, second, 0.010);
            Assert.AreEqual(FragmentOutcome.Duplicate, r.Push(second[0], second[0].Length, 0.012));
            CollectionAssert.AreEqual(new uint[] { 1, 2 }, Push(r, Last(first), 0.020));
        }

        [Test]
        public void Held_frames_are_bounded_and_past_the_bound_the_frame_under_repair_is_given_up()
        {
            var r = NewReassembler(10.0);
            Push(r, AllButLast(Fragments(1)), 0.0);
            var shown = new List<uint>();
            for (uint n = 2; n < 2 + FrameReassembler.MaxHeldFrames; n++) shown.AddRange(Push(r, Fragments(n), 0.01));
            CollectionAssert.IsEmpty(shown);
            var released = Push(r, Fragments(2 + FrameReassembler.MaxHeldFrames), 0.01);
            var expected = new List<uint>();
            for (uint n = 2; n <= 2 + FrameReassembler.MaxHeldFrames; n++) expected.Add(n);
            CollectionAssert.AreEqual(expected, released, "frame 1 given up, the rest in order");
            Assert.AreEqual(0, r.IncompleteFrames);
        }

        [Test]
        public void The_playout_delay_follows_the_measured_repair_time_and_never_exceeds_the_limit()
        {
            var clock = new RepairClock();
            Assert.AreEqual(RepairClock.PlayoutInitialSeconds, clock.PlayoutDelay(0.25));
            for (int i = 0; i < 50; i++) clock.Sample(0.040);
            Assert.That(clock.PlayoutDelay(0.25), Is.GreaterThan(0.040).And.LessThan(0.050),
                        "the repair time, the quiet time and a little spread");
            for (int i = 0; i < 50; i++) clock.Sample(0.400);
            Assert.AreEqual(0.25, clock.PlayoutDelay(0.25));
        }

        [Test]
        public void The_first_repair_time_sets_the_smoothed_time_and_half_of_it_as_variation()
        {
            var clock = new RepairClock();
            clock.Sample(0.100);
            Assert.AreEqual(0.100, clock.SmoothedSeconds.Value, 1e-12);
            Assert.AreEqual(0.050, clock.VariationSeconds, 1e-12);
            clock.Sample(0.020);
            Assert.AreEqual(0.090, clock.SmoothedSeconds.Value, 1e-12, "R += (s − R) / 8");
            Assert.AreEqual(0.0575, clock.VariationSeconds, 1e-12, "V += (|R − s| − V) / 4");
        }

        [Test]
        public void A_repair_is_timed_from_the_first_request_and_slow_repairs_are_not_asked_for_again_early()
        {
            var r = NewReassembler(0.25, deadlineSeconds: 1.0);
            var first = Fragments(1);
            Push(r, AllButLast(first), 0.0);
            r.TakeNacks(0.006);
            CollectionAssert.IsNotEmpty(r.TakeNacks(0.030), "nothing measured yet: asked again after 20 ms");
            Push(r, TestFrames.AsRetransmission(Last(first)), 0.106);
            Assert.AreEqual(0.100, r.Repairs.SmoothedSeconds.Value, 1e-9);
            Push(r, AllButLast(Fragments(2)), 0.2);
            CollectionAssert.IsNotEmpty(r.TakeNacks(0.206));
            CollectionAssert.IsEmpty(r.TakeNacks(0.230), "repairs take 100 ms: asking again now would only spend resends");
            Assert.AreEqual(0.206 + r.Repairs.RetryInterval, r.NextNackTime().Value, 1e-9);
        }

        // ---- a lossy link ----------------------------------------------------------------------

        sealed class Arrival : IComparable<Arrival>
        {
            public double Time;
            public long Order;
            public byte[] Datagram;

            public int CompareTo(Arrival other) => Time != other.Time ? Time.CompareTo(other.Time) : Order.CompareTo(other.Order);
        }

        /// <summary>
        /// Share of frames shown whole through a link that loses <paramref name="loss"/> of its datagrams and whose repairs
        /// take <paramref name="repairSeconds"/>; the sender resends what each nack asks for, at most twice per fragment
        /// (SPEC §5.10). Seeded: the same every run.
        /// </summary>
        static double Simulate(double playoutSeconds, double loss, double repairSeconds, int frames = 300, double fps = 30)
        {
            var chance = new Random(11);
            var r = NewReassembler(playoutSeconds);
            var sent = new List<List<byte[]>>();
            var resends = new Dictionary<long, int>();
            var arrivals = new SortedSet<Arrival>();
            long order = 0;
            for (uint n = 0; n < frames; n++)
            {
                sent.Add(Fragments(n, 60000));
                foreach (var d in sent[(int)n])
                    if (chance.NextDouble() >= loss)
                    {
                        order++;
                        arrivals.Add(new Arrival { Time = n / fps + order * 1e-6, Order = order, Datagram = d });
                    }
            }
            int shown = 0;
            double now = 0;
            while (arrivals.Count > 0)
            {
                double wake = arrivals.Min.Time;
                foreach (var timer in new[] { r.NextNackTime(), r.NextReleaseTime() })
                    if (timer.HasValue) wake = Math.Min(wake, timer.Value);
                now = Math.Max(now + 1e-6, wake); // time moves on: a wake-up already due is served now
                while (arrivals.Count > 0 && arrivals.Min.Time <= now)
                {
                    var next = arrivals.Min;
                    arrivals.Remove(next);
                    shown += Push(r, next.Datagram, now).Count;
                }
                r.Release(now);
                shown += Shown(r).Count;
                foreach (var nack in r.TakeNacks(now))
                    foreach (int index in nack.Missing)
                    {
                        long key = (long)nack.Frame << 16 | (uint)index;
                        int count;
                        resends[key] = count = (resends.TryGetValue(key, out count) ? count : 0) + 1;
                        if (count > 2 || chance.NextDouble() < loss) continue;
                        order++;
                        var resent = TestFrames.AsRetransmission(sent[(int)nack.Frame][index]);
                        arrivals.Add(new Arrival { Time = now + repairSeconds, Order = order, Datagram = resent });
                    }
            }
            r.Release(now + 1.0);
            shown += Shown(r).Count;
            return shown / (double)frames;
        }

        [Test]
        public void When_repairs_take_three_frame_intervals_the_playout_delay_keeps_lossy_frames()
        {
            // What a loaded machine does to recovery: at 5% loss nearly every frame needs a repair.
            double without = Simulate(0, loss: 0.05, repairSeconds: 0.1);
            double withDelay = Simulate(0.25, loss: 0.05, repairSeconds: 0.1);
            Console.WriteLine($"5% loss, 100 ms repairs: {without:P1} of frames whole without a playout delay, {withDelay:P1} with");
            Assert.Less(without, 0.85, "a frame that needed no repair completes first and the older ones are dropped");
            Assert.GreaterOrEqual(withDelay, 0.95);
        }

        [Test]
        public void When_repairs_take_six_frame_intervals_most_frames_still_arrive_whole()
        {
            double without = Simulate(0, loss: 0.02, repairSeconds: 0.2);
            double withDelay = Simulate(0.25, loss: 0.02, repairSeconds: 0.2);
            Console.WriteLine($"2% loss, 200 ms repairs: {without:P1} of frames whole without a playout delay, {withDelay:P1} with");
            Assert.Less(without, 0.5);
            Assert.GreaterOrEqual(withDelay, 0.9);
        }

        [Test]
        public void On_a_fast_link_the_playout_delay_changes_nothing()
        {
            Assert.AreEqual(1.0, Simulate(0.25, loss: 0, repairSeconds: 0.005));
            Assert.AreEqual(1.0, Simulate(0, loss: 0, repairSeconds: 0.005));
        }

        // ---- through the session -----------------------------------------------------------------

        static ClientSession OpenSession(ClientOptions options)
        {
            var session = HandshakeTests.Open(new FakeDaemon(WireEncoding.MsgPack), options);
            HandshakeTests.Events(session);
            session.DatagramsToSend();
            return session;
        }

        static List<uint> FramesArrived(ClientSession session)
        {
            var numbers = new List<uint>();
            foreach (var e in HandshakeTests.Events(session))
                if (e is FrameArrived arrived) numbers.Add(arrived.Frame.Frame);
            return numbers;
        }

        static List<byte[]> SessionFragments(uint frame) =>
            TestFrames.Split(TestFrames.Payload(5000, (int)frame), FakeDaemon.SessionId, frame, 1200);

        [Test]
        public void A_session_holds_a_frame_behind_one_under_repair_and_its_timer_shows_it_when_the_wait_runs_out()
        {
            var session = OpenSession(new ClientOptions());
            var first = SessionFragments(1);
            foreach (var d in AllButLast(first)) session.ReceiveDatagram(d, 1.000);
            session.HandleTimer(1.006);
            CollectionAssert.IsNotEmpty(FakeDaemon.OfType<NackMessage>(session.DatagramsToSend()));
            foreach (var d in SessionFragments(2)) session.ReceiveDatagram(d, 1.010);
            CollectionAssert.IsEmpty(FramesArrived(session), "frame 2 waits for frame 1's repair");
            double release = 1.010 + RepairClock.PlayoutInitialSeconds;
            while (session.GetTimer().Value < release)
            {
                session.HandleTimer(session.GetTimer().Value);
                session.DatagramsToSend();
                CollectionAssert.IsEmpty(FramesArrived(session));
            }
            Assert.AreEqual(release, session.GetTimer().Value, 1e-9, "the session wakes up when the wait runs out");
            session.HandleTimer(release);
            CollectionAssert.AreEqual(new uint[] { 2 }, FramesArrived(session));
            Assert.AreEqual(1, session.FrameStats.FramesHeld);
        }

        [Test]
        public void A_session_without_a_playout_delay_shows_the_newer_frame_at_once()
        {
            var session = OpenSession(new ClientOptions(maxPlayoutDelaySeconds: 0));
            foreach (var d in AllButLast(SessionFragments(1))) session.ReceiveDatagram(d, 1.000);
            session.HandleTimer(1.006);
            foreach (var d in SessionFragments(2)) session.ReceiveDatagram(d, 1.010);
            CollectionAssert.AreEqual(new uint[] { 2 }, FramesArrived(session));
        }
    }
}
