// Protocol v1.1 (hardening) and cut chunks (pre-emption, SPEC §6.5) as the client core handles them.
using System.Collections.Generic;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    [TestFixture]
    public class ProtocolV11Tests
    {
        static List<byte[]> Sent(ClientSession session) => session.DatagramsToSend();

        [Test]
        public void The_hello_announces_minor_version_1_and_the_path_response_capability()
        {
            var session = new ClientSession(new ClientOptions(), new CountingRandom());
            session.Connect(0);
            var hello = (HelloMessage)FakeDaemon.Decode(Sent(session)[0]);
            Assert.AreEqual(1, hello.Minor);
            CollectionAssert.AreEqual(new[] { "path_response" }, hello.Capabilities);
        }

        [Test]
        public void A_path_challenge_is_answered_at_once_with_the_same_data_tagged()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack, token: "secret");
            var session = HandshakeTests.Open(daemon, new ClientOptions(token: "secret"));
            HandshakeTests.Events(session);
            Sent(session);
            var data = new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 };
            session.ReceiveDatagram(daemon.Send((s, q) => new PathChallengeMessage(s, q, data)), 1.0);
            var sent = Sent(session);
            var responses = FakeDaemon.OfType<PathResponseMessage>(sent);
            Assert.AreEqual(1, responses.Count);
            CollectionAssert.AreEqual(data, responses[0].Data);
            foreach (var d in sent) daemon.AssertTagged(d);
        }

        [Test]
        public void A_nack_asks_for_at_most_what_its_budget_allows_and_is_padded_to_earn_the_resend()
        {
            var daemon = new FakeDaemon(WireEncoding.Json);
            var session = HandshakeTests.Open(daemon, new ClientOptions(encoding: WireEncoding.Json));
            HandshakeTests.Events(session);
            Sent(session);
            // 120 fragments of 532 bytes; the last 60 lost, so that they are asked for together once the burst is over.
            var fragments = TestFrames.Split(TestFrames.Payload(120 * 532), FakeDaemon.SessionId, 1, 576);
            for (int i = 0; i < 60; i++) session.ReceiveDatagram(fragments[i], 1.0);
            session.HandleTimer(1.05);
            var sent = Sent(session);
            var nacks = FakeDaemon.OfType<NackMessage>(sent);
            Assert.AreEqual(1, nacks.Count);
            int k = nacks[0].Missing.Count;
            Assert.AreEqual(NackPadding.MaxIndices(1200), k, "floor(39000 / 1200) = 32 indices");
            Assert.AreEqual(32, k);
            foreach (var d in sent)
                if (FakeDaemon.Decode(d) is NackMessage)
                    Assert.GreaterOrEqual(d.Length, (k * 1200 + 9) / 10, "the daemon resends at most 10× the nack's size");
        }

        [Test]
        public void A_one_fragment_nack_is_padded_to_a_tenth_of_a_datagram_and_no_further([Values] WireEncoding encoding)
        {
            var padded = NackPadding.Padded(new NackMessage(7, 3, 1, new[] { 4 }), 1200, encoding, tagged: true);
            int size = ControlCodec.Encode(padded, encoding).Length + SessionAuth.TagLength;
            Assert.GreaterOrEqual(size, 120);
            Assert.LessOrEqual(size, 124, "the pad is not wasteful");
            CollectionAssert.AreEqual(new[] { 4 }, padded.Missing);
        }

        [Test]
        public void A_rate_limited_start_is_kept_and_sent_again_after_a_second_not_failed()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack);
            var session = HandshakeTests.Open(daemon, new ClientOptions());
            HandshakeTests.Events(session);
            Sent(session);
            session.StartDefault(1.0);
            var start = FakeDaemon.OfType<StartMessage>(Sent(session))[0];
            session.ReceiveDatagram(daemon.Error(ErrorCodes.RateLimited, "start budget", reference: start.Seq), 1.01);
            var events = HandshakeTests.Events(session);
            Assert.IsFalse(events.Exists(e => e is StartFailed), "rate_limited is not a failure");
            Assert.IsTrue(events.Exists(e => e is SessionWarning));
            session.HandleTimer(1.5);
            CollectionAssert.IsEmpty(FakeDaemon.OfType<StartMessage>(Sent(session)), "not before a second has passed");
            session.HandleTimer(2.02);
            var again = FakeDaemon.OfType<StartMessage>(Sent(session));
            Assert.AreEqual(1, again.Count);
            // Refused again and again: the wait grows (2, 4, 8, 8 … s), and refusals never use up the start's attempts.
            for (int refusal = 0; refusal < 6; refusal++)
            {
                double at = 2.03 + refusal * 10;
                session.ReceiveDatagram(daemon.Error(ErrorCodes.RateLimited, "start budget", reference: again[0].Seq), at);
                session.HandleTimer(at + 1.5);
                CollectionAssert.IsEmpty(FakeDaemon.OfType<StartMessage>(Sent(session)), "not within 1.5 s of a repeated refusal");
                session.HandleTimer(at + 8.5);
                again = FakeDaemon.OfType<StartMessage>(Sent(session));
                Assert.AreEqual(1, again.Count, "sent again within 8 s");
                session.ReceiveDatagram(daemon.Status(), at + 8.6); // keeps the session alive
            }
            Assert.IsFalse(HandshakeTests.Events(session).Exists(e => e is StartFailed), "six refusals, still no failure");
        }

        [Test]
        public void The_welcome_minor_version_and_the_started_ref_are_read_when_present()
        {
            var started = (StartedMessage)ControlCodec.FromWireValue(JsonReader.ParseDocument(
                "{\"type\":\"started\",\"session\":7,\"seq\":4,\"world\":2,\"source\":\"default\",\"seed\":9,\"ref\":3}"), WireEncoding.Json);
            Assert.AreEqual(3u, started.Ref);
            var daemon = new FakeDaemon(WireEncoding.MsgPack);
            Assert.AreEqual(0, HandshakeTests.Open(daemon, new ClientOptions()).Welcome.Minor, "a v1.0 welcome has no minor");
        }

        // ---- cut chunks (SPEC §6.5) --------------------------------------------------------------

        [Test]
        public void A_chunk_cut_short_is_no_loss_the_next_chunk_is_shown_and_counted_as_a_cut()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack);
            var session = HandshakeTests.Open(daemon, new ClientOptions());
            HandshakeTests.Events(session);
            Sent(session);
            // Frame 63: chunk 2, latent 2, no last-in-chunk flag (its chunk was cut). Frame 64: chunk 3 after the cut.
            foreach (var d in TestFrames.Split(TestFrames.Payload(900, 1), FakeDaemon.SessionId, 63, 576, chunk: 2, frameInChunk: 8, latent: 2))
                session.ReceiveDatagram(d, 1.0);
            foreach (var d in TestFrames.Split(TestFrames.Payload(700, 2), FakeDaemon.SessionId, 64, 576, chunk: 3,
                                               flags: FragmentFlags.AfterCut, cutLatents: 3))
                session.ReceiveDatagram(d, 1.01);
            session.HandleTimer(1.5);
            CollectionAssert.IsEmpty(FakeDaemon.OfType<NackMessage>(Sent(session)), "nothing is missing");
            var frames = new List<CompleteFrame>();
            foreach (var e in HandshakeTests.Events(session))
                if (e is FrameArrived arrived) frames.Add(arrived.Frame);
            Assert.AreEqual(2, frames.Count, "both frames are shown, in order");
            Assert.IsFalse(frames[0].IsAfterCut);
            var frame = frames[1];
            Assert.AreEqual(64u, frame.Frame);
            Assert.IsTrue(frame.IsAfterCut);
            Assert.AreEqual(3, frame.CutLatents);
            Assert.AreEqual(1, session.FrameStats.Cuts);
        }

        [Test]
        public void The_preemption_vectors_reassemble_complete_with_their_new_header_fields()
        {
            var document = ProtocolVectors.LoadOptional("preemption.json");
            long receiver;
            Assert.IsTrue(document.Field("receiver_session").TryGetInt64(out receiver));
            var reassembler = new FrameReassembler((uint)receiver, new ReassemblyOptions());
            foreach (var vector in document.Field("frames").AsArray)
            {
                foreach (var hex in vector.Field("datagrams").AsArray)
                {
                    var datagram = ProtocolVectors.Hex(hex);
                    reassembler.Push(datagram, datagram.Length, 0);
                }
                var frame = reassembler.TakeCompletedFrame();
                Assert.IsNotNull(frame, "frame complete");
                var header = vector.Field("header");
                long expected;
                header.Field("frame").TryGetInt64(out expected);
                Assert.AreEqual(expected, frame.Frame);
                header.Field("latent").TryGetInt64(out expected);
                Assert.AreEqual(expected, frame.Latent);
                header.Field("cut_latents").TryGetInt64(out expected);
                Assert.AreEqual(expected, frame.CutLatents);
                header.Field("flags").TryGetInt64(out expected);
                Assert.AreEqual((expected & 4) != 0, frame.IsAfterCut);
                Assert.IsFalse(frame.IsLastInChunk, "neither frame closes its chunk");
                CollectionAssert.AreEqual(ProtocolVectors.Hex(vector.Field("payload")), frame.Jpeg);
            }
            CollectionAssert.IsEmpty(reassembler.MissingByFrame());
        }

        [Test]
        public void The_preemption_messages_decode_with_their_new_fields()
        {
            var document = ProtocolVectors.LoadOptional("preemption.json");
            foreach (var vector in document.Field("messages").AsArray)
            {
                var json = System.Text.Encoding.UTF8.GetBytes(vector.Field("json").AsString);
                var result = ControlCodec.Decode(json, json.Length);
                Assert.AreEqual(DecodeOutcome.Decoded, result.Outcome, vector.Field("name").AsString + ": " + result);
                var hello = result.Message as HelloMessage;
                if (hello != null) Assert.AreEqual("latent", hello.Preempt);
                var config = result.Message as ConfigMessage;
                if (config != null) Assert.AreEqual("off", config.Preempt);
                var status = result.Message as StatusMessage;
                if (status == null) continue;
                Assert.AreEqual("latent", status.Preempt);
                Assert.AreEqual(2, status.Cuts);
                Assert.IsTrue(status.Latency.TotalMs.HasValue);
            }
        }
    }
}
