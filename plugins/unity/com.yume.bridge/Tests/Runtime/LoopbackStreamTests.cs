// The threaded client (network thread + decode thread) against a loopback daemon over real UDP: frames arrive
// decoded as RGBA32, and a handful of pooled buffers serve the whole stream. Engine-free: runs under NUnit here
// and in Unity's Test Runner.
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    public class LoopbackStreamTests
    {
        /// <summary>A 16×16 baseline 4:2:0 JPEG (a colour gradient, written by Pillow), small enough for one datagram.</summary>
        public static readonly byte[] Picture = ByteArrays.FromHex(
            "ffd8ffe000104a46494600010100000100010000ffdb0043000503040404030504040405050506070c08070707070f0b0b090c110f12" +
            "12110f111113161c1713141a1511111821181a1d1d1f1f1f13172224221e241c1e1f1effdb0043010505050706070e08080e1e141114" +
            "1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1effc00011" +
            "080010001003012200021101031101ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b51000" +
            "02010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a" +
            "161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a83848586" +
            "8788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5" +
            "e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffc4001f0100030101010101010101010000000000000102030405060708090a0bffc400b51100" +
            "020102040403040705040400010277000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a1624" +
            "34e125f11718191a262728292a35363738393a434445464748494a535455565758595a636465666768696a737475767778797a828384" +
            "85868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4" +
            "e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c03010002110311003f00f19d0bc29f77f77fa577ba17853eefeeff004aeef42f0a7ddf" +
            "ddfe95dee85e14fbbfbafd2b6cd389f7d45c0bc63f0fbc7fffd9");

        [Test]
        public void Frames_from_a_loopback_daemon_arrive_decoded_as_rgba_through_a_few_pooled_buffers()
        {
            using (var daemon = new LoopbackDaemon(Picture, 16, 16))
            using (var connection = new BridgeConnection("localhost", daemon.Port, new ClientOptions()))
            {
                connection.Start();
                using (var worker = new FrameDecodeWorker(connection))
                {
                    var pixels = new HashSet<byte[]>();
                    int shown = 0;
                    var clock = Stopwatch.StartNew();
                    DecodedFrame last = null;
                    while (shown < 40 && clock.Elapsed.TotalSeconds < 30)
                    {
                        ClientEvent e;
                        while (connection.TryDequeueEvent(out e))
                            Assert.IsFalse(e is SessionClosed, "the session closed: " + e);
                        var decoded = worker.TakeFrameToShow();
                        if (decoded == null)
                        {
                            Thread.Sleep(2);
                            continue;
                        }
                        Assert.IsNotNull(decoded.Image, decoded.FallbackReason);
                        Assert.AreEqual(PixelLayout.Rgba32, decoded.Image.Layout);
                        Assert.AreEqual(16, decoded.Image.Width);
                        pixels.Add(decoded.Image.Pixels);
                        if (last != null) Assert.Greater(decoded.Frame.Frame, last.Frame.Frame, "never an older frame after a newer one");
                        if (last != null) worker.Recycle(last);
                        last = decoded;
                        shown++;
                    }
                    Assert.AreEqual(40, shown, "40 frames within 30 s");
                    Assert.AreEqual(ClientSessionState.Open, connection.State);
                    Assert.LessOrEqual(connection.FrameBuffersCreated, FramePool.MaxSpare, "frames go back to the pool");
                    Assert.LessOrEqual(pixels.Count, FrameQueue.Capacity + 3, "decoded frames are reused (two held here, the rest in the worker)");
                }
            }
        }
    }
}
