// Decodes the newest complete frame on a background thread so that the engine's main thread only uploads
// pixels (peers.md §2.12: JPEG decode on the main thread costs tens of milliseconds per frame).
using System;
using System.Diagnostics;
using System.Threading;

namespace Yume.Bridge.Core
{
    /// <summary>Where complete frames come from (a <see cref="BridgeConnection"/>).</summary>
    public interface IFrameSource
    {
        WaitHandle FrameSignal { get; }
        CompleteFrame TakeNewestFrame();
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
    /// One background thread: wait for a frame, decode it (bottom-up for Texture2D.GetRawTextureData, RGBA32 by
    /// default), publish it. Only the newest decoded frame is kept. Steady state allocates nothing: decoded frames
    /// and their pixel buffers are pooled (three at most: decoding, waiting, being uploaded; overflow policy:
    /// a superseded frame goes straight back to the pool).
    /// </summary>
    public sealed class FrameDecodeWorker : IDisposable
    {
        const int PoolSize = 3;
        readonly IFrameSource source;
        readonly bool bottomUp;
        readonly PixelLayout layout;
        readonly BaselineJpegDecoder decoder = new BaselineJpegDecoder();
        readonly object sync = new object();
        readonly DecodedFrame[] spare = new DecodedFrame[PoolSize];
        readonly Thread thread;
        volatile bool stopping;
        DecodedFrame newest;
        long framesDecoded, framesSkipped, fallbacks;
        double decodeMsAverage;
        string lastFallbackReason;

        public FrameDecodeWorker(IFrameSource source, bool bottomUp = true, PixelLayout layout = PixelLayout.Rgba32)
        {
            this.source = source ?? throw new ArgumentNullException(nameof(source));
            this.bottomUp = bottomUp;
            this.layout = layout;
            for (int i = 0; i < PoolSize; i++) spare[i] = new DecodedFrame();
            thread = new Thread(Run) { IsBackground = true, Name = "yume-bridge jpeg decode" };
            thread.Start();
        }

        public PixelLayout Layout => layout;

        public long FramesDecoded => Interlocked.Read(ref framesDecoded);

        /// <summary>Decoded frames replaced by a newer one before they were taken.</summary>
        public long FramesSkipped => Interlocked.Read(ref framesSkipped);

        /// <summary>Frames the managed decoder refused (handed over as JPEG).</summary>
        public long Fallbacks => Interlocked.Read(ref fallbacks);

        /// <summary>Why the last refused frame was refused (e.g. a progressive JPEG), or null.</summary>
        public string LastFallbackReason { get { lock (sync) return lastFallbackReason; } }

        /// <summary>Exponential average of decode time, milliseconds.</summary>
        public double DecodeMsAverage { get { lock (sync) return decodeMsAverage; } }

        /// <summary>The newest decoded frame not yet taken, or null. Give it back with <see cref="Recycle"/>.</summary>
        public DecodedFrame TakeNewest()
        {
            lock (sync)
            {
                var frame = newest;
                newest = null;
                return frame;
            }
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
            return new DecodedFrame(); // every pooled one is held by the engine: grow (the pool keeps three)
        }

        void Run()
        {
            var clock = new Stopwatch();
            while (!stopping)
            {
                CompleteFrame frame;
                try
                {
                    source.FrameSignal.WaitOne(50);
                    frame = source.TakeNewestFrame();
                }
                catch (ObjectDisposedException)
                {
                    return; // the connection went away
                }
                if (frame == null) continue;
                clock.Restart();
                var decoded = TakeSpare();
                try
                {
                    decoder.DecodeInto(frame.Buffer, frame.Length, bottomUp, layout, decoded.Target);
                    decoded.Set(frame, true, clock.Elapsed.TotalMilliseconds, null);
                    Interlocked.Increment(ref framesDecoded);
                }
                catch (Exception e) when (e is NotSupportedException || e is FormatException || e is IndexOutOfRangeException)
                {
                    decoded.Set(frame, false, clock.Elapsed.TotalMilliseconds, e.Message);
                    Interlocked.Increment(ref fallbacks);
                    lock (sync) lastFallbackReason = e.Message;
                }
                DecodedFrame superseded;
                lock (sync)
                {
                    superseded = newest;
                    if (superseded != null) framesSkipped++;
                    newest = decoded;
                    decodeMsAverage = decodeMsAverage == 0 ? decoded.DecodeMs : decodeMsAverage * 0.9 + decoded.DecodeMs * 0.1;
                }
                if (superseded != null) Recycle(superseded);
            }
        }

        public void Dispose()
        {
            stopping = true;
            if (thread != Thread.CurrentThread) thread.Join(500);
            var left = TakeNewest();
            if (left != null) Recycle(left);
        }
    }
}
