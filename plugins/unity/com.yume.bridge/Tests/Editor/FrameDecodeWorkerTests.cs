// The background decoder: frames in order, paced for the engine, RGBA32/RGB24 bottom-up pixels, recycled buffers,
// JPEG fallback.
using System;
using System.Diagnostics;
using System.Threading;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    [TestFixture]
    public class FrameDecodeWorkerTests
    {
        sealed class QueueSource : IFrameSource
        {
            readonly AutoResetEvent signal = new AutoResetEvent(false);
            readonly FrameQueue<CompleteFrame> frames = new FrameQueue<CompleteFrame>(f => f.Release()); // as BridgeConnection's

            public WaitHandle FrameSignal => signal;

            public CompleteFrame TakeNextFrame()
            {
                lock (frames) return frames.TakeOldest();
            }

            public void Offer(CompleteFrame frame)
            {
                lock (frames) frames.Add(frame);
                signal.Set();
            }
        }

        static CompleteFrame FrameOf(byte[] jpeg, uint number)
        {
            var reassembler = new FrameReassembler(1, new ReassemblyOptions());
            foreach (var d in TestFrames.Split(jpeg, 1, number, 1200)) reassembler.Push(d, d.Length, 0);
            return reassembler.TakeCompletedFrame();
        }

        static DecodedFrame WaitForDecoded(FrameDecodeWorker worker)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed.TotalSeconds < 5)
            {
                var decoded = worker.TakeFrameToShow();
                if (decoded != null) return decoded;
                Thread.Sleep(2);
            }
            Assert.Fail("the worker decoded nothing within 5 s");
            return null;
        }

        [Test]
        public void A_frame_is_decoded_off_the_calling_thread_into_bottom_up_rgb()
        {
            var fixture = Array.Find(JpegTests.Fixtures, f => f.Name == "color420");
            var source = new QueueSource();
            using (var worker = new FrameDecodeWorker(source, bottomUp: true, layout: PixelLayout.Rgb24))
            {
                source.Offer(FrameOf(fixture.Jpeg, 3));
                var decoded = WaitForDecoded(worker);
                Assert.AreEqual(3u, decoded.Frame.Frame);
                Assert.IsNotNull(decoded.Image, decoded.FallbackReason);
                Assert.IsTrue(decoded.Image.BottomUp);
                Assert.AreEqual(fixture.Width, decoded.Image.Width);
                var expected = new BaselineJpegDecoder().Decode(fixture.Jpeg, true);
                CollectionAssert.AreEqual(expected.Pixels, decoded.Image.Pixels);
                Assert.GreaterOrEqual(decoded.DecodeMs, 0);
            }
        }

        [Test]
        public void A_recycled_buffer_is_reused_for_the_next_frame()
        {
            var fixture = Array.Find(JpegTests.Fixtures, f => f.Name == "color420");
            var source = new QueueSource();
            using (var worker = new FrameDecodeWorker(source))
            {
                source.Offer(FrameOf(fixture.Jpeg, 1));
                var first = WaitForDecoded(worker);
                var pixels = first.Image.Pixels;
                worker.Recycle(first);
                source.Offer(FrameOf(fixture.Jpeg, 2));
                var second = WaitForDecoded(worker);
                Assert.AreSame(pixels, second.Image.Pixels);
            }
        }

        [Test]
        public void By_default_frames_arrive_as_rgba32_the_layout_gpus_take_without_conversion()
        {
            var fixture = Array.Find(JpegTests.Fixtures, f => f.Name == "color420");
            var source = new QueueSource();
            using (var worker = new FrameDecodeWorker(source))
            {
                source.Offer(FrameOf(fixture.Jpeg, 1));
                var decoded = WaitForDecoded(worker);
                Assert.AreEqual(PixelLayout.Rgba32, decoded.Image.Layout);
                var rgb = new BaselineJpegDecoder().Decode(fixture.Jpeg, true).Pixels;
                var rgba = decoded.Image.Pixels;
                for (int p = 0; p < fixture.Width * fixture.Height; p++)
                {
                    Assert.AreEqual(rgb[3 * p], rgba[4 * p]);
                    Assert.AreEqual(rgb[3 * p + 1], rgba[4 * p + 1]);
                    Assert.AreEqual(rgb[3 * p + 2], rgba[4 * p + 2]);
                    Assert.AreEqual(255, rgba[4 * p + 3]);
                }
            }
        }

        [Test]
        public void A_long_stream_through_the_worker_reuses_a_handful_of_frame_and_pixel_buffers()
        {
            var fixture = Array.Find(JpegTests.Fixtures, f => f.Name == "color420");
            var pool = new FramePool();
            var reassembler = new FrameReassembler(1, new ReassemblyOptions(), pool);
            var source = new QueueSource();
            var pixelBuffers = new System.Collections.Generic.HashSet<byte[]>();
            int shown = 0;
            using (var worker = new FrameDecodeWorker(source))
            {
                for (uint n = 1; n <= 300 || shown == 0; n++)
                {
                    foreach (var d in TestFrames.Split(fixture.Jpeg, 1, n, 300)) reassembler.Push(d, d.Length, 0);
                    source.Offer(reassembler.TakeCompletedFrame());
                    var decoded = worker.TakeFrameToShow();
                    if (decoded == null) continue;
                    pixelBuffers.Add(decoded.Image.Pixels);
                    worker.Recycle(decoded); // as the client does after its upload
                    shown++;
                    if (n % 16 == 0) Thread.Sleep(1);
                }
            }
            Assert.Greater(shown, 0);
            Assert.LessOrEqual(pool.Created, FramePool.MaxSpare, "frames go back to the pool from every stage");
            Assert.LessOrEqual(pixelBuffers.Count, FrameQueue.Capacity + 2, "decoded frames and their pixels are reused");
        }

        static void WaitForDecodes(FrameDecodeWorker worker, int count)
        {
            var clock = Stopwatch.StartNew();
            while (worker.FramesDecoded < count && clock.Elapsed.TotalSeconds < 5) Thread.Sleep(2);
            Assert.AreEqual(count, worker.FramesDecoded, "decoded within 5 s");
        }

        [Test]
        public void Two_frames_that_arrive_together_are_shown_in_order_on_consecutive_engine_frames()
        {
            var fixture = Array.Find(JpegTests.Fixtures, f => f.Name == "color420");
            var source = new QueueSource();
            using (var worker = new FrameDecodeWorker(source))
            {
                source.Offer(FrameOf(fixture.Jpeg, 1)); // a repaired frame and the one held behind it, released at once
                source.Offer(FrameOf(fixture.Jpeg, 2));
                WaitForDecodes(worker, 2);
                var first = worker.TakeFrameToShow();
                Assert.AreEqual(1u, first.Frame.Frame, "the older frame first");
                worker.Recycle(first);
                var second = worker.TakeFrameToShow();
                Assert.AreEqual(2u, second.Frame.Frame, "then the newer one, on the next engine frame");
                worker.Recycle(second);
                Assert.IsNull(worker.TakeFrameToShow());
                Assert.AreEqual(0, worker.FramesDropped);
            }
        }

        [Test]
        public void An_engine_that_falls_behind_the_decoder_skips_to_the_newest_frame()
        {
            var fixture = Array.Find(JpegTests.Fixtures, f => f.Name == "color420");
            var source = new QueueSource();
            using (var worker = new FrameDecodeWorker(source))
            {
                for (uint n = 1; n <= 3; n++) source.Offer(FrameOf(fixture.Jpeg, n));
                WaitForDecodes(worker, 3);
                var shown = worker.TakeFrameToShow();
                Assert.AreEqual(3u, shown.Frame.Frame, "three waiting: the engine is behind, so it shows the newest");
                worker.Recycle(shown);
                Assert.IsNull(worker.TakeFrameToShow(), "the older two are not shown later");
                Assert.AreEqual(2, worker.FramesDropped);
            }
        }

        [Test]
        public void A_jpeg_the_managed_decoder_refuses_is_handed_over_for_engine_decoding()
        {
            var source = new QueueSource();
            var notJpeg = TestFrames.Payload(500);
            using (var worker = new FrameDecodeWorker(source))
            {
                source.Offer(FrameOf(notJpeg, 1));
                var decoded = WaitForDecoded(worker);
                Assert.IsNull(decoded.Image);
                Assert.IsNotNull(decoded.FallbackReason);
                CollectionAssert.AreEqual(notJpeg, decoded.Frame.Jpeg);
                Assert.AreEqual(1, worker.Fallbacks);
            }
        }
    }
}
