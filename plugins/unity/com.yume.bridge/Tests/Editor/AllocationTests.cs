// The receive path (datagram → session → reassembly → frame event → JPEG decode) allocates nothing once warm:
// in Unity a garbage collection stops the main thread, so a stream must not produce garbage.
using System;
using System.Collections.Generic;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    [TestFixture]
    public class AllocationTests
    {
        const int WarmUpFrames = 100;
        const int MeasuredFrames = 1000;

        static readonly string[] Pictures = { "color420", "color420_restart", "color444", "gray_odd" };

        /// <summary>Fragment datagrams of frames 1…n, built before any measurement; several pictures of different sizes.</summary>
        static List<List<byte[]>> Stream(int frames)
        {
            var stream = new List<List<byte[]>>(frames);
            for (int i = 0; i < frames; i++)
            {
                var picture = Array.Find(JpegTests.Fixtures, f => f.Name == Pictures[i % Pictures.Length]);
                stream.Add(TestFrames.Split(picture.Jpeg, FakeDaemon.SessionId, (uint)(i + 1), 300));
            }
            return stream;
        }

        /// <summary>Feeds frames [from, to) through the session and decodes each; returns how many decoded.</summary>
        static int Play(ClientSession session, List<List<byte[]>> stream, int from, int to, BaselineJpegDecoder decoder, DecodedImage image)
        {
            int decoded = 0;
            for (int i = from; i < to; i++)
            {
                double now = 10.0 + i / 16.0;
                var fragments = stream[i];
                for (int f = 0; f < fragments.Count; f++) session.ReceiveDatagram(fragments[f], fragments[f].Length, now);
                ClientEvent e;
                while ((e = session.NextEvent()) != null)
                {
                    var arrived = e as FrameArrived;
                    if (arrived == null) continue;
                    decoder.DecodeInto(arrived.Frame.Buffer, arrived.Frame.Length, true, PixelLayout.Rgba32, image);
                    arrived.Frame.Release();
                    decoded++;
                }
            }
            return decoded;
        }

        [Test]
        public void A_thousand_frames_of_reassembly_and_decoding_allocate_nothing_after_warm_up()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack);
            var session = HandshakeTests.Open(daemon, new ClientOptions());
            HandshakeTests.Events(session);
            session.DatagramsToSend();
            var stream = Stream(WarmUpFrames + MeasuredFrames);
            var decoder = new BaselineJpegDecoder();
            var image = new DecodedImage();

            Assert.AreEqual(WarmUpFrames, Play(session, stream, 0, WarmUpFrames, decoder, image));
            long before = GC.GetAllocatedBytesForCurrentThread();
            int decoded = Play(session, stream, WarmUpFrames, WarmUpFrames + MeasuredFrames, decoder, image);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

            Console.WriteLine($"receive + reassemble + decode: {allocated} bytes allocated over {MeasuredFrames} frames after warm-up");
            Assert.AreEqual(MeasuredFrames, decoded, "every frame arrives and decodes");
            Assert.AreEqual(ClientSessionState.Open, session.State);
            // One object per frame would be ≥ 24 000 bytes; allow a few hundred bytes of runtime noise.
            Assert.Less(allocated, 512, $"{allocated} bytes allocated over {MeasuredFrames} frames");
        }

        [Test]
        public void The_network_loops_idle_ticks_between_pings_allocate_nothing()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack);
            var session = HandshakeTests.Open(daemon, new ClientOptions());
            HandshakeTests.Events(session);
            session.HandleTimer(0.01); // the first ping goes out with the welcome's tick
            session.DatagramsToSend();
            // What BridgeConnection's loop does every few milliseconds while nothing arrives: timer, tick, flush, drain.
            for (int warm = 0; warm < 10; warm++) Tick(session, 0.02 + warm * 0.001);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 150; i++) Tick(session, 0.05 + i * 0.005); // 0.05 … 0.80 s: before the next ping at 1 s
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Console.WriteLine($"idle network loop: {allocated} bytes over 150 ticks");
            Assert.AreEqual(ClientSessionState.Open, session.State);
            Assert.Less(allocated, 256, $"{allocated} bytes over 150 idle ticks");
        }

        static void Tick(ClientSession session, double now)
        {
            session.GetTimer();
            session.HandleTimer(now);
            if (session.PendingDatagramCount > 0) session.DatagramsToSend();
            while (session.NextEvent() != null) { }
        }

        [Test]
        public void Frames_held_behind_an_older_one_and_queued_for_the_engine_allocate_nothing_after_warm_up()
        {
            var reassembler = new FrameReassembler(7, new ReassemblyOptions(maxIncompleteFrames: ReassemblyOptions.MaxFramesInRepair,
                                                                            maxPlayoutDelaySeconds: 0.25));
            var waiting = new FrameQueue<CompleteFrame>(f => f.Release()); // what BridgeConnection keeps for the engine
            var stream = new List<List<byte[]>>();
            for (uint frame = 1; frame <= 2 * (WarmUpFrames + MeasuredFrames); frame++)
                stream.Add(TestFrames.Split(TestFrames.Payload(3000), 7, frame, 1200));
            // Each odd frame's last fragment comes after the whole next frame, which waits for it; then both are shown,
            // in order, on two consecutive engine frames.
            Func<int, int, int> play = (from, to) =>
            {
                int shown = 0;
                for (int pair = from; pair < to; pair++)
                {
                    var older = stream[2 * pair];
                    var newer = stream[2 * pair + 1];
                    double now = pair / 15.0;
                    for (int i = 0; i < older.Count - 1; i++) reassembler.Push(older[i], older[i].Length, now);
                    for (int i = 0; i < newer.Count; i++) reassembler.Push(newer[i], newer[i].Length, now + 0.001);
                    if (reassembler.TakeCompletedFrame() != null) return -1; // the newer frame must wait
                    reassembler.Push(older[older.Count - 1], older[older.Count - 1].Length, now + 0.002);
                    CompleteFrame frame;
                    while ((frame = reassembler.TakeCompletedFrame()) != null) waiting.Add(frame);
                    for (int engineFrame = 0; engineFrame < 2; engineFrame++)
                    {
                        frame = waiting.TakeToShow();
                        if (frame == null || frame.Frame != 2 * pair + 1 + engineFrame) return -1; // frames 2·pair + 1, then + 2
                        frame.Release();
                        shown++;
                    }
                }
                return shown;
            };
            Assert.AreEqual(2 * WarmUpFrames, play(0, WarmUpFrames));
            long before = GC.GetAllocatedBytesForCurrentThread();
            int shownMeasured = play(WarmUpFrames, WarmUpFrames + MeasuredFrames);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Console.WriteLine($"held frames: {allocated} bytes allocated over {2 * MeasuredFrames} frames after warm-up");
            Assert.AreEqual(2 * MeasuredFrames, shownMeasured, "every frame is shown, in order, one per engine frame");
            Assert.AreEqual(0, waiting.Dropped);
            Assert.AreEqual(MeasuredFrames, reassembler.Stats.FramesHeld - WarmUpFrames);
            Assert.Less(allocated, 512, $"{allocated} bytes allocated over {2 * MeasuredFrames} frames");
        }

        [Test]
        public void A_released_frame_buffer_serves_the_next_frame()
        {
            var pool = new FramePool();
            var reassembler = new FrameReassembler(7, new ReassemblyOptions(), pool);
            var jpeg = TestFrames.Payload(5000);
            foreach (var d in TestFrames.Split(jpeg, 7, 1)) reassembler.Push(d, d.Length, 0);
            var first = reassembler.TakeCompletedFrame();
            var buffer = first.Buffer;
            first.Release();
            first.Release(); // idempotent
            foreach (var d in TestFrames.Split(TestFrames.Payload(4000, 2), 7, 2)) reassembler.Push(d, d.Length, 0);
            var second = reassembler.TakeCompletedFrame();
            Assert.AreSame(buffer, second.Buffer);
            Assert.AreEqual(4000, second.Length);
            CollectionAssert.AreEqual(TestFrames.Payload(4000, 2), second.Jpeg);
            Assert.AreEqual(1, pool.Created);
        }

        [Test]
        public void A_frame_nobody_releases_is_not_reused_while_it_is_held()
        {
            var reassembler = new FrameReassembler(7, new ReassemblyOptions());
            foreach (var d in TestFrames.Split(TestFrames.Payload(3000), 7, 1)) reassembler.Push(d, d.Length, 0);
            var held = reassembler.TakeCompletedFrame();
            foreach (var d in TestFrames.Split(TestFrames.Payload(3000, 2), 7, 2)) reassembler.Push(d, d.Length, 0);
            var next = reassembler.TakeCompletedFrame();
            Assert.AreNotSame(held.Buffer, next.Buffer);
            CollectionAssert.AreEqual(TestFrames.Payload(3000), held.Jpeg);
        }
    }
}
