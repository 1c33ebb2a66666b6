// Start-image upload (SPEC §5.4): pieces within max_datagram, ≤ 32 in flight, resend after 500 ms, then start.
using System.Collections.Generic;
using System.Security.Cryptography;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    [TestFixture]
    public class UploadTests
    {
        static byte[] Image(int size)
        {
            var file = TestFrames.Payload(size, 9);
            file[0] = 0xFF;
            file[1] = 0xD8;
            return file;
        }

        static byte[] Sha256(byte[] data)
        {
            using (var sha = SHA256.Create()) return sha.ComputeHash(data);
        }

        static ClientSession Open(FakeDaemon daemon, WireEncoding encoding = WireEncoding.MsgPack, string token = null)
        {
            var session = HandshakeTests.Open(daemon, new ClientOptions(encoding: encoding, token: token));
            HandshakeTests.Events(session);
            session.DatagramsToSend();
            return session;
        }

        static byte[] Ack(FakeDaemon daemon, UploadMessage piece, long received, bool complete) =>
            daemon.Send((s, q) => new UploadAckMessage(s, q, piece.Hash, piece.Offset, piece.DataLength, received, complete));

        [TestCase(WireEncoding.Json, null)]
        [TestCase(WireEncoding.MsgPack, null)]
        [TestCase(WireEncoding.Json, "secret")]
        public void Every_upload_datagram_fits_max_datagram_and_at_most_32_pieces_are_in_flight(WireEncoding encoding, string token)
        {
            var daemon = new FakeDaemon(encoding, token);
            var session = Open(daemon, encoding, token);
            var file = Image(100000);
            var hash = session.UploadImage(file, 1.0);
            CollectionAssert.AreEqual(Sha256(file), hash);
            var sent = session.DatagramsToSend();
            var pieces = FakeDaemon.OfType<UploadMessage>(sent);
            Assert.AreEqual(32, pieces.Count);
            foreach (var datagram in sent) Assert.LessOrEqual(datagram.Length, 1200);
            Assert.Greater(pieces[0].DataLength, encoding == WireEncoding.Json ? 700 : 1000, "pieces are not needlessly small");
            foreach (var piece in pieces)
            {
                CollectionAssert.AreEqual(hash, piece.Hash);
                Assert.AreEqual(file.Length, piece.Size);
            }
        }

        [Test]
        public void Acked_pieces_make_room_and_the_whole_file_arrives_in_order()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack);
            var session = Open(daemon);
            var file = Image(150000);
            session.UploadImage(file, 1.0);
            var received = new byte[file.Length];
            long total = 0;
            var inFlight = new Queue<UploadMessage>(FakeDaemon.OfType<UploadMessage>(session.DatagramsToSend()));
            double now = 1.0;
            while (inFlight.Count > 0)
            {
                var piece = inFlight.Dequeue();
                System.Buffer.BlockCopy(piece.Data, 0, received, (int)piece.Offset, piece.DataLength);
                total += piece.DataLength;
                now += 0.001;
                session.ReceiveDatagram(Ack(daemon, piece, total, total == file.Length), now);
                foreach (var next in FakeDaemon.OfType<UploadMessage>(session.DatagramsToSend()))
                {
                    inFlight.Enqueue(next);
                    Assert.LessOrEqual(inFlight.Count, 32);
                }
            }
            CollectionAssert.AreEqual(file, received);
            var progress = new List<UploadProgress>();
            foreach (var e in HandshakeTests.Events(session))
                if (e is UploadProgress p) progress.Add(p);
            Assert.IsTrue(progress[progress.Count - 1].Complete);
            Assert.LessOrEqual(progress.Count, 21, "progress is reported in steps, not per piece");
        }

        [Test]
        public void Unacknowledged_pieces_are_resent_after_500_ms()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack);
            var session = Open(daemon);
            session.UploadImage(Image(3000), 1.0);
            var first = FakeDaemon.OfType<UploadMessage>(session.DatagramsToSend());
            Assert.AreEqual(3, first.Count);
            session.ReceiveDatagram(Ack(daemon, first[1], first[1].DataLength, false), 1.1);
            session.HandleTimer(1.49);
            CollectionAssert.IsEmpty(FakeDaemon.OfType<UploadMessage>(session.DatagramsToSend()));
            session.HandleTimer(1.5);
            var resent = FakeDaemon.OfType<UploadMessage>(session.DatagramsToSend());
            CollectionAssert.AreEqual(new[] { first[0].Offset, first[2].Offset }, new[] { resent[0].Offset, resent[1].Offset });
            Assert.AreEqual(2, resent.Count, "the acknowledged piece is not resent");
        }

        [Test]
        public void When_every_piece_is_acknowledged_but_not_complete_the_daemon_is_polled_every_500_ms()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack);
            var session = Open(daemon);
            var file = Image(500);
            session.UploadImage(file, 1.0);
            var piece = FakeDaemon.OfType<UploadMessage>(session.DatagramsToSend())[0];
            session.ReceiveDatagram(Ack(daemon, piece, file.Length, false), 1.01);
            session.HandleTimer(1.4);
            CollectionAssert.IsEmpty(FakeDaemon.OfType<UploadMessage>(session.DatagramsToSend()));
            session.HandleTimer(1.52);
            var poll = FakeDaemon.OfType<UploadMessage>(session.DatagramsToSend());
            Assert.AreEqual(1, poll.Count, "the first piece again, so that the daemon answers with its state");
            Assert.AreEqual(0, poll[0].Offset);
            session.ReceiveDatagram(Ack(daemon, poll[0], file.Length, true), 1.53);
            session.HandleTimer(3.0);
            CollectionAssert.IsEmpty(FakeDaemon.OfType<UploadMessage>(session.DatagramsToSend()));
        }

        [Test]
        public void Starting_from_an_image_file_uploads_it_then_starts_with_its_hash()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack);
            var session = Open(daemon);
            var file = Image(2000);
            var hash = session.StartFromImageFile(file, 1.0, "a castle", 42);
            var sent = FakeDaemon.DecodeAll(session.DatagramsToSend());
            foreach (var m in sent) Assert.AreNotEqual("start", m.Type, "no start before the daemon has the image");
            var last = (UploadMessage)sent[sent.Count - 1];
            session.ReceiveDatagram(Ack(daemon, last, file.Length, true), 1.05);
            var start = FakeDaemon.OfType<StartMessage>(session.DatagramsToSend());
            Assert.AreEqual(1, start.Count);
            Assert.AreEqual("image", start[0].Source);
            CollectionAssert.AreEqual(hash, start[0].Image);
            Assert.AreEqual("a castle", start[0].Prompt);
            Assert.AreEqual(42u, start[0].Seed);
        }

        [Test]
        public void A_mismatch_fails_the_upload_and_the_start_that_waited_for_it()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack);
            var session = Open(daemon);
            session.StartFromImageFile(Image(2000), 1.0);
            var piece = FakeDaemon.OfType<UploadMessage>(session.DatagramsToSend())[0];
            session.ReceiveDatagram(daemon.Error(ErrorCodes.UploadMismatch, "bytes do not hash to hash", reference: piece.Seq), 1.1);
            var events = HandshakeTests.Events(session);
            Assert.AreEqual(ErrorCodes.UploadMismatch, HandshakeTests.Single<UploadFailed>(events).Code);
            Assert.AreEqual(ErrorCodes.UploadMismatch, HandshakeTests.Single<StartFailed>(events).Code);
            session.HandleTimer(3.0);
            CollectionAssert.IsEmpty(FakeDaemon.OfType<UploadMessage>(session.DatagramsToSend()), "no resends after a failure");
        }

        [Test]
        public void A_file_over_the_daemons_upload_limit_fails_without_being_sent()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack) { Limits = new WireLimits(maxUploadBytes: 1000) };
            var session = Open(daemon);
            session.UploadImage(Image(1001), 1.0);
            CollectionAssert.IsEmpty(FakeDaemon.OfType<UploadMessage>(session.DatagramsToSend()));
            Assert.AreEqual(ErrorCodes.UploadTooLarge, HandshakeTests.Single<UploadFailed>(HandshakeTests.Events(session)).Code);
        }

        [Test]
        public void An_image_the_daemon_already_holds_completes_on_the_first_ack()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack);
            var session = Open(daemon);
            var file = Image(100000);
            var hash = session.StartFromImageFile(file, 1.0);
            session.DatagramsToSend();
            session.ReceiveDatagram(daemon.Send((s, q) => new UploadAckMessage(s, q, hash, 0, 0, file.Length, true)), 1.01);
            var sent = session.DatagramsToSend();
            Assert.AreEqual(1, FakeDaemon.OfType<StartMessage>(sent).Count);
            CollectionAssert.IsEmpty(FakeDaemon.OfType<UploadMessage>(sent));
            session.HandleTimer(2.0);
            CollectionAssert.IsEmpty(FakeDaemon.OfType<UploadMessage>(session.DatagramsToSend()), "the rest is not sent");
        }
    }
}
