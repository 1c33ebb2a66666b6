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

    /// <summary>A frame ready for upload: RGB24 pixels, or only the JPEG when the managed decoder refused it.</summary>
    public sealed class DecodedFrame
    {
        public DecodedFrame(CompleteFrame frame, DecodedImage image, double decodeMs, string fallbackReason)
        {
            Frame = frame;
            Image = image;
            DecodeMs = decodeMs;
            FallbackReason = fallbackReason;
        }

        public CompleteFrame Frame { get; }

        /// <summary>Null when the engine must decode <see cref="CompleteFrame.Jpeg"/> itself.</summary>
        public DecodedImage Image { get; }

        public double DecodeMs { get; }
        public string FallbackReason { get; }
    }

    /// <summary>
    /// One background thread: wait for a frame, decode it (bottom-up RGB24 for Texture2D.LoadRawTextureData),
    /// publish it. Only the newest decoded frame is kept; pixel buffers are recycled (three at most).
    /// </summary>
    public sealed class FrameDecodeWorker : IDisposable
    {
        readonly IFrameSource source;
        readonly bool bottomUp;
        readonly BaselineJpegDecoder decoder = new BaselineJpegDecoder();
        readonly object sync = new object();
        readonly byte[][] spareBuffers = new byte[2][];
        readonly Thread thread;
        volatile bool stopping;
        DecodedFrame newest;
        long framesDecoded, framesSkipped, fallbacks;
        double decodeMsAverage;

        public FrameDecodeWorker(IFrameSource source, bool bottomUp = true)
        {
            this.source = source ?? throw new ArgumentNullException(nameof(source));
            this.bottomUp = bottomUp;
            thread = new Thread(Run) { IsBackground = true, Name = "yume-bridge jpeg decode" };
            thread.Start();
        }

        public long FramesDecoded => Interlocked.Read(ref framesDecoded);

        /// <summary>Decoded frames replaced by a newer one before they were taken.</summary>
        public long FramesSkipped => Interlocked.Read(ref framesSkipped);

        /// <summary>Frames the managed decoder refused (handed over as JPEG).</summary>
        public long Fallbacks => Interlocked.Read(ref fallbacks);

        /// <summary>Exponential average of decode time, milliseconds.</summary>
        public double DecodeMsAverage { get { lock (sync) return decodeMsAverage; } }

        /// <summary>The newest decoded frame not yet taken, or null. Give its pixels back with <see cref="Recycle"/>.</summary>
        public DecodedFrame TakeNewest()
        {
            lock (sync)
            {
                var frame = newest;
                newest = null;
                return frame;
            }
        }

        /// <summary>Returns a pixel buffer after upload so that the next decode does not allocate.</summary>
        public void Recycle(DecodedFrame frame)
        {
            if (frame?.Image == null) return;
            lock (sync) PutSpare(frame.Image.Rgb);
        }

        void PutSpare(byte[] buffer)
        {
            for (int i = 0; i < spareBuffers.Length; i++)
                if (spareBuffers[i] == null)
                {
                    spareBuffers[i] = buffer;
                    return;
                }
        }

        byte[] TakeSpare()
        {
            lock (sync)
                for (int i = 0; i < spareBuffers.Length; i++)
                    if (spareBuffers[i] != null)
                    {
                        var buffer = spareBuffers[i];
                        spareBuffers[i] = null;
                        return buffer;
                    }
            return null;
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
                DecodedFrame decoded;
                try
                {
                    var image = decoder.Decode(frame.Jpeg, bottomUp, TakeSpare());
                    decoded = new DecodedFrame(frame, image, clock.Elapsed.TotalMilliseconds, null);
                    Interlocked.Increment(ref framesDecoded);
                }
                catch (Exception e) when (e is NotSupportedException || e is FormatException || e is IndexOutOfRangeException)
                {
                    decoded = new DecodedFrame(frame, null, clock.Elapsed.TotalMilliseconds, e.Message);
                    Interlocked.Increment(ref fallbacks);
                }
                lock (sync)
                {
                    if (newest != null)
                    {
                        framesSkipped++;
                        if (newest.Image != null) PutSpare(newest.Image.Rgb);
                    }
                    newest = decoded;
                    decodeMsAverage = decodeMsAverage == 0 ? decoded.DecodeMs : decodeMsAverage * 0.9 + decoded.DecodeMs * 0.1;
                }
            }
        }

        public void Dispose()
        {
            stopping = true;
            if (thread != Thread.CurrentThread) thread.Join(500);
        }
    }
}
