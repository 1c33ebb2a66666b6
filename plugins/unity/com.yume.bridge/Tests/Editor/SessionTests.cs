// The open session with a fake clock: pings, silence, bye, replay, input, events, start, config, frames.
using System.Collections.Generic;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    [TestFixture]
    public class SessionTests
    {
        FakeDaemon daemon;
        ClientSession session;

        [SetUp]
        public void OpenSession()
        {
            daemon = new FakeDaemon(WireEncoding.MsgPack);
            session = HandshakeTests.Open(daemon, new ClientOptions());
            HandshakeTests.Events(session);
            session.DatagramsToSend();
        }

        List<ClientEvent> Events() => HandshakeTests.Events(session);

        /// <summary>Advances the fake clock to <paramref name="until"/>, firing every timer on the way; returns what was sent.</summary>
        List<byte[]> RunUntil(double until)
        {
            var sent = new List<byte[]>();
            while (session.GetTimer().HasValue && session.GetTimer().Value <= until)
            {
                session.HandleTimer(session.GetTimer().Value);
                sent.AddRange(session.DatagramsToSend());
                if (session.State != ClientSessionState.Open) break;
            }
            return sent;
        }

        [Test]
        public void A_pong_for_a_ping_measures_the_round_trip()
        {
            session.Ping(1.000);
            var ping = FakeDaemon.OfType<PingMessage>(session.DatagramsToSend())[0];
            session.ReceiveDatagram(daemon.Send((s, q) => new PongMessage(s, q, ping.TimeUs, 42)), 1.025);
            var rtt = HandshakeTests.Single<RttMeasured>(Events());
            Assert.AreEqual(25.0, rtt.RttMs, 1e-6);
            Assert.AreEqual(25.0, session.SmoothedRttMs.Value, 1e-6);
        }

        [Test]
        public void A_pong_for_no_ping_of_ours_is_ignored()
        {
            session.ReceiveDatagram(daemon.Send((s, q) => new PongMessage(s, q, 777, 42)), 1.0);
            CollectionAssert.IsEmpty(Events());
        }

        [Test]
        public void Pings_go_out_every_second_to_keep_the_session_alive()
        {
            var pings = FakeDaemon.OfType<PingMessage>(RunUntil(3.5));
            Assert.AreEqual(3, pings.Count, "at 1, 2 and 3 s (the first went out with the welcome)");
        }

        [Test]
        public void A_daemon_silent_for_the_idle_timeout_closes_the_session()
        {
            session.ReceiveDatagram(daemon.Status(), 5.0);
            RunUntil(14.9);
            Assert.AreEqual(ClientSessionState.Open, session.State);
            RunUntil(15.1);
            Assert.AreEqual(ClientSessionState.Closed, session.State);
            Assert.AreEqual(CloseReason.DaemonSilent, HandshakeTests.Single<SessionClosed>(Events()).Reason);
        }

        [Test]
        public void A_bye_from_the_daemon_closes_the_session_with_its_reason()
        {
            session.ReceiveDatagram(daemon.Send((s, q) => new ByeMessage(s, q, ByeReasons.Shutdown)), 1.0);
            var closed = HandshakeTests.Single<SessionClosed>(Events());
            Assert.AreEqual(CloseReason.DaemonBye, closed.Reason);
            Assert.AreEqual("shutdown", closed.Code);
            Assert.IsNull(session.GetTimer());
        }

        [Test]
        public void Closing_sends_a_bye_once()
        {
            session.Close(1.0);
            session.Close(1.1);
            var byes = FakeDaemon.OfType<ByeMessage>(session.DatagramsToSend());
            Assert.AreEqual(1, byes.Count);
            Assert.AreEqual("client", byes[0].Reason);
            Assert.AreEqual(CloseReason.ClientClosed, HandshakeTests.Single<SessionClosed>(Events()).Reason);
        }

        [Test]
        public void A_replayed_or_foreign_daemon_datagram_is_ignored()
        {
            var status = daemon.Status();
            session.ReceiveDatagram(status, 1.0);
            Assert.AreEqual(1, Events().Count);
            session.ReceiveDatagram(status, 1.1);
            CollectionAssert.IsEmpty(Events(), "same seq again");
            var foreign = ControlCodec.Encode(new StatusMessage(999, 50, "ready", 1, 0, -1, 0, 0, 0, 0, 0, new Latency(0, 0, 0, 0)),
                                              WireEncoding.MsgPack);
            session.ReceiveDatagram(foreign, 1.2);
            CollectionAssert.IsEmpty(Events(), "another session");
        }

        [Test]
        public void Unknown_session_from_a_restarted_daemon_closes_the_session()
        {
            session.ReceiveDatagram(daemon.Error(ErrorCodes.UnknownSession, "no such session"), 1.0);
            var closed = HandshakeTests.Single<SessionClosed>(Events());
            Assert.AreEqual(CloseReason.UnknownSession, closed.Reason);
            StringAssert.Contains("Connect again", closed.Message);
        }

        [Test]
        public void A_fatal_error_closes_the_session_and_is_reported()
        {
            session.ReceiveDatagram(daemon.Error(ErrorCodes.ShuttingDown, "stopping", fatal: true), 1.0);
            var events = Events();
            Assert.AreEqual(ErrorCodes.ShuttingDown, HandshakeTests.Single<DaemonErrorReceived>(events).Error.Code);
            Assert.AreEqual(CloseReason.FatalError, HandshakeTests.Single<SessionClosed>(events).Reason);
        }

        // ---- input -----------------------------------------------------------------------------

        [Test]
        public void Input_goes_out_on_change_and_is_repeated_every_half_second()
        {
            session.SetInput(new InputState(0, 1, 0, 0, new[] { KeyCodes.W }), 1.0);
            var first = FakeDaemon.OfType<InputMessage>(session.DatagramsToSend());
            Assert.AreEqual(1, first.Count);
            Assert.AreEqual(1.0, first[0].MoveY);
            CollectionAssert.AreEqual(new[] { "KeyW" }, first[0].Keys);
            Assert.AreEqual(1000000, first[0].TimeUs);
            var repeats = FakeDaemon.OfType<InputMessage>(RunUntil(2.05));
            Assert.AreEqual(2, repeats.Count, "heartbeats at 1.5 and 2.0 s");
            Assert.Greater(repeats[1].Seq, repeats[0].Seq, "every datagram gets a new seq");
        }

        [Test]
        public void Rapid_input_changes_are_coalesced_and_the_newest_wins()
        {
            session.SetInput(new InputState(0, 1, 0, 0), 1.000);
            session.SetInput(new InputState(0, 1, 0.5, 0), 1.005);
            session.SetInput(new InputState(0, 1, 1, 0), 1.010);
            var immediate = FakeDaemon.OfType<InputMessage>(session.DatagramsToSend());
            Assert.AreEqual(1, immediate.Count, "changes within 1/60 s wait");
            var next = FakeDaemon.OfType<InputMessage>(RunUntil(1.02));
            Assert.AreEqual(1, next.Count);
            Assert.AreEqual(1.0, next[0].LookX, "only the newest input is sent");
        }

        [Test]
        public void Input_axes_are_clamped_to_the_unit_range()
        {
            session.SetInput(new InputState(3, -2, double.NaN, 0.25), 1.0);
            var input = FakeDaemon.OfType<InputMessage>(session.DatagramsToSend())[0];
            Assert.AreEqual(1.0, input.MoveX);
            Assert.AreEqual(-1.0, input.MoveY);
            Assert.AreEqual(0.0, input.LookX);
            Assert.AreEqual(0.25, input.LookY);
        }

        // ---- events ----------------------------------------------------------------------------

        [Test]
        public void An_event_is_retransmitted_every_half_second_until_acknowledged()
        {
            uint id = session.SendEvent("a dragon circles the tower", 1.0);
            var sent = FakeDaemon.OfType<EventMessage>(session.DatagramsToSend());
            Assert.AreEqual(1, sent.Count);
            Assert.AreEqual(id, sent[0].Id);
            var again = FakeDaemon.OfType<EventMessage>(RunUntil(2.01));
            Assert.AreEqual(2, again.Count, "at 1.5 and 2.0 s");
            Assert.AreEqual(id, again[1].Id);
            session.ReceiveDatagram(daemon.Send((s, q) => new EventAckMessage(s, q, id, 5, new uint[] { id })), 2.1);
            var ack = HandshakeTests.Single<EventAcknowledged>(Events());
            Assert.AreEqual(id, ack.Id);
            Assert.AreEqual(5, ack.Ack.Chunk);
            Assert.AreEqual(1.1, ack.RoundTripSeconds, 1e-9);
            CollectionAssert.IsEmpty(FakeDaemon.OfType<EventMessage>(RunUntil(4.0)), "no retransmission after the ack");
            session.ReceiveDatagram(daemon.Send((s, q) => new EventAckMessage(s, q, id, 5, new uint[] { id })), 4.1);
            CollectionAssert.IsEmpty(Events(), "a duplicate ack is not reported twice");
        }

        [Test]
        public void An_error_that_refers_to_an_event_fails_that_event()
        {
            uint id = session.SendEvent("x", 1.0);
            var sent = FakeDaemon.OfType<EventMessage>(session.DatagramsToSend())[0];
            session.ReceiveDatagram(daemon.Error(ErrorCodes.TooManyEvents, "4 events are active", reference: sent.Seq), 1.1);
            var failed = HandshakeTests.Single<EventFailed>(Events());
            Assert.AreEqual(id, failed.Id);
            Assert.AreEqual(ErrorCodes.TooManyEvents, failed.Code);
            CollectionAssert.IsEmpty(FakeDaemon.OfType<EventMessage>(RunUntil(3.0)));
        }

        [Test]
        public void An_event_over_the_daemons_text_limit_fails_without_being_sent()
        {
            session.SendEvent(new string('x', 301), 1.0);
            CollectionAssert.IsEmpty(FakeDaemon.OfType<EventMessage>(session.DatagramsToSend()));
            Assert.AreEqual(ErrorCodes.TextTooLong, HandshakeTests.Single<EventFailed>(Events()).Code);
        }

        [Test]
        public void An_event_never_acknowledged_fails_after_its_attempts()
        {
            session.SendEvent("x", 1.0);
            var sent = new List<EventMessage>();
            for (int second = 1; second <= 12; second++)
            {
                session.ReceiveDatagram(daemon.Status(), second); // the daemon is alive, it just never acks
                sent.AddRange(FakeDaemon.OfType<EventMessage>(session.DatagramsToSend()));
                sent.AddRange(FakeDaemon.OfType<EventMessage>(RunUntil(second + 0.99)));
            }
            Assert.AreEqual(20, sent.Count, "20 attempts, 500 ms apart");
            Assert.AreEqual(ErrorCodes.NotAcknowledged, HandshakeTests.Single<EventFailed>(Events()).Code);
        }

        // ---- start -----------------------------------------------------------------------------

        [Test]
        public void A_start_is_resent_with_the_same_seed_until_started_arrives()
        {
            session.StartFromText("a lighthouse", 1.0);
            var first = FakeDaemon.OfType<StartMessage>(session.DatagramsToSend())[0];
            Assert.AreEqual("text", first.Source);
            Assert.IsTrue(first.Seed.HasValue, "the client picks the seed so that a resend asks for the same world");
            var resent = FakeDaemon.OfType<StartMessage>(RunUntil(2.0));
            Assert.AreEqual(1, resent.Count);
            Assert.AreEqual(first.Seed, resent[0].Seed);
            session.ReceiveDatagram(daemon.Send((s, q) => new StartedMessage(s, q, 1, "text", first.Seed.Value)), 2.1);
            Assert.AreEqual(1, HandshakeTests.Single<WorldStarted>(Events()).Started.World);
            CollectionAssert.IsEmpty(FakeDaemon.OfType<StartMessage>(RunUntil(6.0)));
        }

        [Test]
        public void An_error_that_refers_to_a_start_fails_it()
        {
            session.StartFromImageHash(new byte[32], 1.0);
            var start = FakeDaemon.OfType<StartMessage>(session.DatagramsToSend())[0];
            session.ReceiveDatagram(daemon.Error(ErrorCodes.UnknownImage, "no such image", reference: start.Seq), 1.1);
            Assert.AreEqual(ErrorCodes.UnknownImage, HandshakeTests.Single<StartFailed>(Events()).Code);
        }

        [Test]
        public void A_start_whose_datagram_would_exceed_max_control_bytes_fails_locally()
        {
            // 1000 code points are within max_prompt_chars, but at 4 UTF-8 bytes each the JSON start with an
            // image hash is over max_control_bytes (4096), which the daemon would drop silently.
            var json = HandshakeTests.Open(new FakeDaemon(WireEncoding.Json), new ClientOptions(encoding: WireEncoding.Json));
            HandshakeTests.Events(json);
            json.DatagramsToSend();
            var prompt = new System.Text.StringBuilder();
            for (int i = 0; i < 1000; i++) prompt.Append("🐉");
            json.StartFromImageHash(new byte[32], 1.0, prompt.ToString());
            CollectionAssert.IsEmpty(FakeDaemon.OfType<StartMessage>(json.DatagramsToSend()));
            Assert.AreEqual(ErrorCodes.TextTooLong, HandshakeTests.Single<StartFailed>(HandshakeTests.Events(json)).Code);
        }

        // ---- config ----------------------------------------------------------------------------

        [Test]
        public void A_lost_pause_is_sent_again_when_a_status_shows_the_world_still_running()
        {
            session.Configure(1.0, paused: true);
            Assert.AreEqual(true, FakeDaemon.OfType<ConfigMessage>(session.DatagramsToSend())[0].Paused);
            session.ReceiveDatagram(daemon.Status(ReadinessStates.Generating), 2.0);
            var again = FakeDaemon.OfType<ConfigMessage>(session.DatagramsToSend());
            Assert.AreEqual(1, again.Count);
            Assert.AreEqual(true, again[0].Paused);
            session.ReceiveDatagram(daemon.Status(ReadinessStates.Paused), 3.0);
            CollectionAssert.IsEmpty(FakeDaemon.OfType<ConfigMessage>(session.DatagramsToSend()));
        }

        // ---- frames ----------------------------------------------------------------------------

        [Test]
        public void Fragments_become_frame_events_and_a_hole_is_nacked()
        {
            var complete = TestFrames.Split(TestFrames.Payload(3000, 1), FakeDaemon.SessionId, 0, 1200);
            foreach (var d in complete) session.ReceiveDatagram(d, 1.0);
            var frame = HandshakeTests.Single<FrameArrived>(Events());
            Assert.AreEqual(0u, frame.Frame.Frame);
            CollectionAssert.AreEqual(TestFrames.Payload(3000, 1), frame.Frame.Jpeg);

            var holed = TestFrames.Split(TestFrames.Payload(3000, 2), FakeDaemon.SessionId, 1, 1200);
            session.ReceiveDatagram(holed[0], 1.1);
            session.ReceiveDatagram(holed[2], 1.1);
            var nacks = FakeDaemon.OfType<NackMessage>(RunUntil(1.12));
            Assert.AreEqual(1, nacks.Count);
            Assert.AreEqual(1u, nacks[0].Frame);
            CollectionAssert.AreEqual(new[] { 1 }, nacks[0].Missing);
            session.ReceiveDatagram(TestFrames.AsRetransmission(holed[1]), 1.15);
            Assert.IsTrue(HandshakeTests.Single<FrameArrived>(Events()).Frame.RepairedByRetransmission);
        }

        [Test]
        public void The_first_frame_that_consumed_an_input_measures_input_to_frame_latency()
        {
            session.SetInput(new InputState(0, 1, 0, 0), 1.0);
            var input = FakeDaemon.OfType<InputMessage>(session.DatagramsToSend())[0];
            foreach (var d in TestFrames.Split(TestFrames.Payload(900), FakeDaemon.SessionId, 0, 1200, inputSeq: 0))
                session.ReceiveDatagram(d, 1.2);
            Assert.IsNull(session.InputToFrameMs, "a frame that consumed no input measures nothing");
            foreach (var d in TestFrames.Split(TestFrames.Payload(900), FakeDaemon.SessionId, 1, 1200, inputSeq: input.Seq))
                session.ReceiveDatagram(d, 2.5);
            Assert.AreEqual(1500.0, session.InputToFrameMs.Value, 1e-6);
            foreach (var d in TestFrames.Split(TestFrames.Payload(900), FakeDaemon.SessionId, 2, 1200, inputSeq: input.Seq))
                session.ReceiveDatagram(d, 2.6);
            Assert.AreEqual(1500.0, session.InputToFrameMs.Value, 1e-6, "later frames of the same input do not count");
        }

        [Test]
        public void Undelivered_frames_wait_in_order_and_only_the_newest_few_are_kept()
        {
            for (uint f = 0; f < 6; f++)
                foreach (var d in TestFrames.Split(TestFrames.Payload(900, (int)f), FakeDaemon.SessionId, f, 1200))
                    session.ReceiveDatagram(d, 1.0 + f * 0.06);
            var frames = new List<uint>();
            foreach (var e in Events())
                if (e is FrameArrived arrived) frames.Add(arrived.Frame.Frame);
            CollectionAssert.AreEqual(new uint[] { 2, 3, 4, 5 }, frames, "the oldest two made room for newer ones");
            Assert.AreEqual(2, session.FramesDropped);
        }

        [Test]
        public void Requests_made_before_the_welcome_go_out_when_the_session_opens()
        {
            var fresh = new ClientSession(new ClientOptions(), new CountingRandom());
            fresh.Connect(0);
            var hello = (HelloMessage)FakeDaemon.Decode(fresh.DatagramsToSend()[0]);
            fresh.StartFromText("a meadow", 0.0005);
            fresh.SendEvent("rain begins", 0.0005);
            fresh.SetInput(new InputState(0, 1, 0, 0), 0.0005);
            CollectionAssert.IsEmpty(fresh.DatagramsToSend(), "nothing but hellos before the session exists");
            var d = new FakeDaemon(WireEncoding.MsgPack);
            fresh.ReceiveDatagram(d.Retry(hello.Nonce), 0.001);
            fresh.DatagramsToSend();
            fresh.ReceiveDatagram(d.Welcome(hello.Nonce), 0.002);
            var types = new List<string>();
            foreach (var m in FakeDaemon.DecodeAll(fresh.DatagramsToSend())) types.Add(m.Type);
            CollectionAssert.IsSubsetOf(new[] { "start", "event", "input", "ping" }, types);
        }
    }
}
