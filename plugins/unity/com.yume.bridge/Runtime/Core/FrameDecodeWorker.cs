// Decodes complete frames, in order, on a background thread so that the engine's main thread only uploads
// pixels (peers.md §2.12: JPEG decode on the main thread costs tens of milliseconds per frame).
using System;
using System.Diagnostics;
using System.Threading;

namespace Yume.Bridge.Core
{
    /// <summary>Where complete frames come from (a <see cref="BridgeConnection"/>).</summary>
    public interface IFrameSource
    {
        /// <summary>Set when a frame is added to the waiting ones.</summary>
        WaitHandle FrameSignal { get; }

        /// <summary>The oldest waiting frame, or null (<see cref="BridgeConnection.TakeNextFrame"/>).</summary>
        CompleteFrame TakeNextFrame();
    }

    /// <summary>
    /// A frame ready for upload: pixels, or only the JPEG when the managed decoder refused it. Pooled by the
    /// worker: give it back with <see cref="FrameDecodeWorker.Recycle"/> after the upload.
    /// </summary>
    public sealed class DecodedFrame
    {
        readonly DecodedImage image = new DecodedImage();
        bool hasPixels;

        public DecodedFrame(CompleteFrame frame, DecodedImage image, double decodeMs, string fallbackReason)
        {
            Frame = frame;
            if (image != null) this.image = image;
            hasPixels = image != null;
            DecodeMs = decodeMs;
            FallbackReason = fallbackReason;
        }

        internal DecodedFrame() { }

        public CompleteFrame Frame { get; private set; }

        /// <summary>Null when the engine must decode <see cref="CompleteFrame.Buffer"/> itself (see <see cref="FallbackReason"/>).</summary>
        public DecodedImage Image => hasPixels ? image : null;

        public double DecodeMs { get; private set; }
        public string FallbackReason { get; private set; }

        internal DecodedImage Target => image;

        internal void Set(CompleteFrame frame, bool decoded, double decodeMs, string fallbackReason)
        {
            Frame = frame;
            hasPixels = decoded;
            DecodeMs = decodeMs;
            FallbackReason = fallbackReason;
        }
    }

    /// <summary>
    /// One background thread: take the oldest waiting frame, decode it (bottom-up for Texture2D.GetRawTextureData,
    /// RGBA32 by default), queue it. Decoded frames wait in order, at most <see cref="FrameQueue.Capacity"/>; when
    /// full, the oldest goes back to the pool (counted in <see cref="FramesDropped"/>). Steady state allocates nothing:
    /// decoded frames and their pixel buffers are pooled (those waiting, one being decoded, one being uploaded).
    /// </summary>
    public sealed class FrameDecodeWorker : IDisposable
    {
        const int PoolSize = FrameQueue.Capacity + 2;
        readonly IFrameSource source;
        readonly bool bottomUp;
        readonly PixelLayout layout;
        readonly BaselineJpegDecoder decoder = new BaselineJpegDecoder();
        readonly object sync = new object();
        readonly DecodedFrame[] spare = new DecodedFrame[PoolSize];
        readonly FrameQueue<DecodedFrame> decoded; // guarded by sync
        readonly Thread thread;
        volatile bool stopping;
        long framesDecoded, fallbacks;
        double decodeMsAverage;
        string lastFallbackReason;

        public FrameDecodeWorker(IFrameSource source, bool bottomUp = true, PixelLayout layout = PixelLayout.Rgba32)
        {
            this.source = source ?? throw new ArgumentNullException(nameof(source));
            this.bottomUp = bottomUp;
            this.layout = layout;
            for (int i = 0; i < PoolSize; i++) spare[i] = new DecodedFrame();
            decoded = new FrameQueue<DecodedFrame>(Recycle);
            thread = new Thread(Run) { IsBackground = true, Name = "yume-bridge jpeg decode" };
            thread.Start();
        }

        public PixelLayout Layout => layout;

        public long FramesDecoded => Interlocked.Read(ref framesDecoded);

        /// <summary>Decoded frames released without being taken: more than <see cref="FrameQueue.Capacity"/> waited, or <see cref="TakeFrameToShow"/> skipped them.</summary>
        public long FramesDropped { get { lock (sync) return decoded.Dropped; } }

        /// <summary>Frames the managed decoder refused (handed over as JPEG).</summary>
        public long Fallbacks => Interlocked.Read(ref fallbacks);

        /// <summary>Why the last refused frame was refused (e.g. a progressive JPEG), or null.</summary>
        public string LastFallbackReason { get { lock (sync) return lastFallbackReason; } }

        /// <summary>Exponential average of decode time, milliseconds.</summary>
        public double DecodeMsAverage { get { lock (sync) return decodeMsAverage; } }

        /// <summary>
        /// The decoded frame to show on this engine frame, or null; call it once per engine frame. Paced as
        /// <see cref="FrameQueue{T}.TakeToShow"/>: the oldest, so frames decoded together are shown on consecutive engine
        /// frames, or the newest when the engine fell behind the stream. Give it back with <see cref="Recycle"/>.
        /// </summary>
        public DecodedFrame TakeFrameToShow()
        {
            lock (sync) return decoded.TakeToShow();
        }

        /// <summary>Returns a decoded frame after upload (and its JPEG to the frame pool) so that the next decode does not allocate.</summary>
        public void Recycle(DecodedFrame frame)
        {
            if (frame == null) return;
            frame.Frame?.Release();
            lock (sync) PutSpare(frame);
        }

        void PutSpare(DecodedFrame frame)
        {
            frame.Set(null, false, 0, null);
            for (int i = 0; i < spare.Length; i++)
                if (spare[i] == null)
                {
                    spare[i] = frame;
                    return;
                }
        }

        DecodedFrame TakeSpare()
        {
            lock (sync)
                for (int i = 0; i < spare.Length; i++)
                    if (spare[i] != null)
                    {
                        var frame = spare[i];
                        spare[i] = null;
                        return frame;
                    }
            return new DecodedFrame(); // every pooled one is held by the engine: grow (the pool keeps PoolSize)
        }

        void Run()
        {
            var clock = new Stopwatch();
            while (!stopping)
            {
                CompleteFrame frame;
                try
                {
                    frame = source.TakeNextFrame();
                    if (frame == null)
                    {
                        source.FrameSignal.WaitOne(50);
                        continue; // frames released together are all taken before the next wait
                    }
                }
                catch (ObjectDisposedException)
                {
                    return; // the connection went away
                }
                clock.Restart();
                var next = TakeSpare();
                try
                {
                    decoder.DecodeInto(frame.Buffer, frame.Length, bottomUp, layout, next.Target);
                    next.Set(frame, true, clock.Elapsed.TotalMilliseconds, null);
                    Interlocked.Increment(ref framesDecoded);
                }
                catch (Exception e) when (e is NotSupportedException || e is FormatException || e is IndexOutOfRangeException)
                {
                    next.Set(frame, false, clock.Elapsed.TotalMilliseconds, e.Message);
                    Interlocked.Increment(ref fallbacks);
                    lock (sync) lastFallbackReason = e.Message;
                }
                lock (sync)
                {
                    decoded.Add(next); // when full, the oldest is recycled
                    decodeMsAverage = decodeMsAverage == 0 ? next.DecodeMs : decodeMsAverage * 0.9 + next.DecodeMs * 0.1;
                }
            }
        }

        public void Dispose()
        {
            stopping = true;
            if (thread != Thread.CurrentThread) thread.Join(500);
            lock (sync) decoded.Clear();
        }
    }
}
