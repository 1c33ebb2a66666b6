// Frames reach the engine in order through BridgeConnection: frames a repair releases together are all delivered,
// a full queue drops its oldest frame, and an engine slower than the stream skips to the newest. Over real UDP on
// loopback, with the daemon's side scripted by the test.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    [TestFixture]
    public class FrameQueueTests
    {
        /// <summary>The daemon's side of one connection on 127.0.0.1: the handshake, then whatever datagrams the test sends.</summary>
        sealed class ScriptedDaemon : IDisposable
        {
            readonly UdpClient socket = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
            readonly FakeDaemon daemon = new FakeDaemon(WireEncoding.MsgPack);
            IPEndPoint client;

            public ScriptedDaemon()
            {
                socket.Client.ReceiveTimeout = 5000;
            }

            public int Port => ((IPEndPoint)socket.Client.LocalEndPoint).Port;

            /// <summary>A connection to this daemon, started, its hellos answered (retry, then welcome), open.</summary>
            public BridgeConnection Accept()
            {
                var connection = new BridgeConnection("127.0.0.1", Port, new ClientOptions());
                connection.Start();
                Send(daemon.Retry(ReceiveHello().Nonce));
                Send(daemon.Welcome(ReceiveHello().Nonce));
                var clock = Stopwatch.StartNew();
                while (connection.State != ClientSessionState.Open && clock.Elapsed.TotalSeconds < 5) Thread.Sleep(2);
                Assert.AreEqual(ClientSessionState.Open, connection.State);
                return connection;
            }

            HelloMessage ReceiveHello()
            {
                var from = new IPEndPoint(IPAddress.Any, 0);
                var hello = FakeDaemon.Decode(socket.Receive(ref from)) as HelloMessage;
                Assert.IsNotNull(hello, "the client starts with a hello");
                client = from;
                return hello;
            }

            public void Send(byte[] datagram) => socket.Send(datagram, datagram.Length, client);

            public void Send(IEnumerable<byte[]> datagrams)
            {
                foreach (var d in datagrams) Send(d);
            }

            /// <summary>Sends frames 1 … <paramref name="count"/> whole and waits until the connection holds them.</summary>
            public void SendFrames(BridgeConnection connection, int count)
            {
                for (uint n = 1; n <= count; n++) Send(Fragments(n));
                WaitForFrames(connection, count);
            }

            public void Dispose() => socket.Close();
        }

        static List<byte[]> Fragments(uint frame) =>
            TestFrames.Split(TestFrames.Payload(5000, (int)frame), FakeDaemon.SessionId, frame, 1200);

        static void WaitForFrames(BridgeConnection connection, long count)
        {
            var clock = Stopwatch.StartNew();
            while (connection.FramesReceived < count && clock.Elapsed.TotalSeconds < 5) Thread.Sleep(2);
            Assert.AreEqual(count, connection.FramesReceived, "complete frames within 5 s");
        }

        static uint? Shown(CompleteFrame frame)
        {
            if (frame == null) return null;
            uint number = frame.Frame;
            frame.Release();
            return number;
        }

        [Test]
        public void Two_frames_a_repair_releases_together_are_both_shown_in_order_one_per_engine_frame()
        {
            using (var daemon = new ScriptedDaemon())
            using (var connection = daemon.Accept())
            {
                var first = Fragments(1);
                daemon.Send(first.GetRange(0, first.Count - 1)); // frame 1 loses its last fragment...
                daemon.Send(Fragments(2));                       // ...so frame 2 waits behind it (the playout delay)
                daemon.Send(first[first.Count - 1]);             // the repair completes frame 1, releasing both
                WaitForFrames(connection, 2);
                Assert.AreEqual(1u, Shown(connection.TakeFrameToShow()), "the repaired frame first");
                Assert.AreEqual(2u, Shown(connection.TakeFrameToShow()), "then the frame held behind it, not instead of it");
                Assert.IsNull(Shown(connection.TakeFrameToShow()));
                Assert.AreEqual(0, connection.FramesDropped);
            }
        }

        [Test]
        public void A_full_queue_drops_the_oldest_frames_and_keeps_the_newest()
        {
            using (var daemon = new ScriptedDaemon())
            using (var connection = daemon.Accept())
            {
                daemon.SendFrames(connection, FrameQueue.Capacity + 2);
                var taken = new List<uint?>();
                CompleteFrame frame;
                while ((frame = connection.TakeNextFrame()) != null) taken.Add(Shown(frame));
                CollectionAssert.AreEqual(new uint?[] { 3, 4, 5, 6 }, taken, "frames 1 and 2 made room; the newest is never lost");
                Assert.AreEqual(2, connection.FramesDropped);
            }
        }

        [Test]
        public void An_engine_that_falls_behind_the_stream_skips_to_the_newest_frame()
        {
            using (var daemon = new ScriptedDaemon())
            using (var connection = daemon.Accept())
            {
                daemon.SendFrames(connection, FrameQueue.MaxBacklog + 1);
                Assert.AreEqual(3u, Shown(connection.TakeFrameToShow()), "three frames waiting: the newest is shown");
                Assert.IsNull(Shown(connection.TakeFrameToShow()), "the skipped frames do not come later");
                Assert.AreEqual(2, connection.FramesDropped);
            }
        }
    }
}
