// The client state machine through the handshake (SPEC §3.1, §4): retry, cookie, auth, tags, failures.
using System.Collections.Generic;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    [TestFixture]
    public class HandshakeTests
    {
        internal static List<ClientEvent> Events(ClientSession session)
        {
            var events = new List<ClientEvent>();
            ClientEvent e;
            while ((e = session.NextEvent()) != null) events.Add(e);
            return events;
        }

        internal static T Single<T>(IEnumerable<ClientEvent> events) where T : ClientEvent
        {
            T found = null;
            foreach (var e in events)
                if (e is T typed)
                {
                    Assert.IsNull(found, "more than one " + typeof(T).Name);
                    found = typed;
                }
            Assert.IsNotNull(found, "no " + typeof(T).Name + " among: " + string.Join(", ", events));
            return found;
        }

        /// <summary>Runs hello → retry → hello(cookie) → welcome at t = 0 … 0.002 and returns the open session.</summary>
        internal static ClientSession Open(FakeDaemon daemon, ClientOptions options)
        {
            var session = new ClientSession(options, new CountingRandom());
            session.Connect(0);
            var hello = (HelloMessage)FakeDaemon.Decode(session.DatagramsToSend()[0]);
            session.ReceiveDatagram(daemon.Retry(hello.Nonce), 0.001);
            session.DatagramsToSend();
            session.ReceiveDatagram(daemon.Welcome(hello.Nonce), 0.002);
            if (session.State != ClientSessionState.Open) Assert.Fail("the handshake failed: " + string.Join(", ", Events(session)));
            return session;
        }

        [TestCase(WireEncoding.Json)]
        [TestCase(WireEncoding.MsgPack)]
        public void Connect_sends_a_padded_hello_with_a_fresh_nonce_and_no_cookie(WireEncoding encoding)
        {
            var session = new ClientSession(new ClientOptions(encoding: encoding, width: 960, height: 544), new CountingRandom());
            session.Connect(0);
            var sent = session.DatagramsToSend();
            Assert.AreEqual(1, sent.Count);
            Assert.GreaterOrEqual(sent[0].Length, 256, "hellos are padded so the daemon's 3× answer limit leaves room");
            var hello = (HelloMessage)FakeDaemon.Decode(sent[0]);
            Assert.AreEqual(1, hello.Protocol);
            CollectionAssert.AreEqual(ByteArrays.FromHex("000102030405060708090a0b0c0d0e0f"), hello.Nonce);
            Assert.AreEqual("yume-bridge-unity", hello.Client);
            Assert.AreEqual(960, hello.Width);
            Assert.IsNull(hello.Cookie);
            Assert.IsNull(hello.Auth);
            Assert.AreEqual(ClientSessionState.Handshaking, session.State);
        }

        [Test]
        public void Hello_is_retransmitted_with_doubling_backoff_and_gives_up_after_ten_seconds()
        {
            var session = new ClientSession(new ClientOptions(), new CountingRandom());
            session.Connect(0);
            var sendTimes = new List<double> { 0 };
            session.DatagramsToSend();
            double now = 0;
            while (session.State == ClientSessionState.Handshaking)
            {
                now = session.GetTimer().Value;
                session.HandleTimer(now);
                if (session.DatagramsToSend().Count > 0) sendTimes.Add(now);
            }
            CollectionAssert.AreEqual(new[] { 0, 0.25, 0.75, 1.75, 3.75, 5.75, 7.75, 9.75 }, sendTimes);
            Assert.AreEqual(10.0, now, 1e-9);
            var closed = Single<SessionClosed>(Events(session));
            Assert.AreEqual(CloseReason.Unreachable, closed.Reason);
            StringAssert.Contains("yume-bridge serve", closed.Message);
            Assert.IsNull(session.GetTimer());
        }

        [Test]
        public void A_retry_is_answered_at_once_by_the_same_hello_carrying_the_cookie()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack);
            var session = new ClientSession(new ClientOptions(), new CountingRandom());
            session.Connect(0);
            var first = (HelloMessage)FakeDaemon.Decode(session.DatagramsToSend()[0]);
            session.ReceiveDatagram(daemon.Retry(first.Nonce), 0.1);
            var second = (HelloMessage)FakeDaemon.Decode(session.DatagramsToSend()[0]);
            CollectionAssert.AreEqual(first.Nonce, second.Nonce);
            CollectionAssert.AreEqual(FakeDaemon.Cookie, second.Cookie);
            Assert.IsNull(second.Auth, "no auth when the daemon needs no token");
            Assert.AreEqual(0.35, session.GetTimer().Value, 1e-9, "the backoff restarts after a retry");
        }

        [Test]
        public void A_retry_for_another_nonce_is_ignored()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack);
            var session = new ClientSession(new ClientOptions(), new CountingRandom());
            session.Connect(0);
            session.DatagramsToSend();
            session.ReceiveDatagram(daemon.Retry(new byte[16]), 0.1);
            CollectionAssert.IsEmpty(session.DatagramsToSend());
            Assert.AreEqual(1, session.DatagramsDropped);
        }

        [TestCase(WireEncoding.Json)]
        [TestCase(WireEncoding.MsgPack)]
        public void A_welcome_opens_the_session_and_reports_what_the_daemon_chose(WireEncoding encoding)
        {
            var session = Open(new FakeDaemon(encoding), new ClientOptions(encoding: encoding));
            var connected = Single<SessionConnected>(Events(session));
            Assert.AreEqual(FakeDaemon.SessionId, connected.Welcome.Session);
            Assert.AreEqual(960, connected.Welcome.Width);
            Assert.AreEqual(544, connected.Welcome.Height);
            Assert.IsFalse(session.Authenticated);
            var ping = FakeDaemon.OfType<PingMessage>(session.DatagramsToSend());
            Assert.AreEqual(1, ping.Count, "the first ping goes out with the welcome");
            Assert.AreEqual(1u, ping[0].Seq, "the client's seq starts at 1");
        }

        [Test]
        public void A_daemon_that_requires_a_token_closes_a_client_without_one_at_once()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack, token: "secret");
            var session = new ClientSession(new ClientOptions(), new CountingRandom());
            session.Connect(0);
            var hello = (HelloMessage)FakeDaemon.Decode(session.DatagramsToSend()[0]);
            session.ReceiveDatagram(daemon.Retry(hello.Nonce), 0.1);
            CollectionAssert.IsEmpty(session.DatagramsToSend());
            var closed = Single<SessionClosed>(Events(session));
            Assert.AreEqual(CloseReason.AuthRequired, closed.Reason);
            StringAssert.Contains("Token", closed.Message);
        }

        [Test]
        public void With_a_token_hello_auth_matches_the_auth_vector_and_every_datagram_is_tagged_both_ways()
        {
            var vectors = ProtocolVectors.Load("auth.json");
            string token = vectors.Field("token").AsString;
            var daemon = new FakeDaemon(WireEncoding.Json, token);
            var session = new ClientSession(new ClientOptions(token: token, encoding: WireEncoding.Json), new CountingRandom());
            session.Connect(0);
            var hello = (HelloMessage)FakeDaemon.Decode(session.DatagramsToSend()[0]);
            session.ReceiveDatagram(daemon.Retry(hello.Nonce), 0.001);
            var helloWithCookie = (HelloMessage)FakeDaemon.Decode(session.DatagramsToSend()[0]);
            Assert.AreEqual(vectors.Field("hello_auth").AsString, ByteArrays.ToHex(helloWithCookie.Auth));

            session.ReceiveDatagram(daemon.Welcome(hello.Nonce), 0.002);
            Assert.AreEqual(ClientSessionState.Open, session.State);
            Assert.IsTrue(session.Authenticated);
            Assert.AreEqual(vectors.Field("session_key").AsString, ByteArrays.ToHex(daemon.Key));
            session.SetInput(new InputState(0, 1, 0, 0), 0.003);
            session.SendEvent("a dragon circles the tower", 0.003);
            var sent = session.DatagramsToSend();
            Assert.GreaterOrEqual(sent.Count, 3);
            foreach (var datagram in sent) daemon.AssertTagged(datagram);

            session.ReceiveDatagram(daemon.Status(), 0.01);
            Assert.IsNotNull(session.LastStatus, "a tagged status is accepted");
        }

        [Test]
        public void An_authenticated_welcome_with_a_wrong_tag_is_dropped_silently()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack, token: "the daemon's token");
            var session = new ClientSession(new ClientOptions(token: "another token"), new CountingRandom());
            session.Connect(0);
            var hello = (HelloMessage)FakeDaemon.Decode(session.DatagramsToSend()[0]);
            session.ReceiveDatagram(daemon.Retry(hello.Nonce), 0.001);
            session.ReceiveDatagram(daemon.Welcome(hello.Nonce), 0.002);
            Assert.AreEqual(ClientSessionState.Handshaking, session.State);
            CollectionAssert.IsEmpty(Events(session));
        }

        [Test]
        public void Untagged_or_wrongly_tagged_datagrams_of_an_authenticated_session_are_dropped()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack, token: "secret");
            var session = Open(daemon, new ClientOptions(token: "secret"));
            Events(session);
            var tagged = daemon.Status();
            var untagged = ByteArrays.Slice(tagged, 0, tagged.Length - 16);
            var forged = (byte[])tagged.Clone();
            forged[forged.Length - 1] ^= 0x80;
            session.ReceiveDatagram(untagged, 0.01);
            session.ReceiveDatagram(forged, 0.01);
            Assert.IsNull(session.LastStatus);
            Assert.AreEqual(2, session.DatagramsDropped);
            session.ReceiveDatagram(tagged, 0.01);
            Assert.IsNotNull(session.LastStatus);
        }

        [Test]
        public void An_untagged_unknown_session_is_believed_only_once_tagged_traffic_has_stopped()
        {
            // The daemon has no key for a session it does not know, so unknown_session comes untagged (seq 0).
            var daemon = new FakeDaemon(WireEncoding.MsgPack, token: "secret");
            var session = Open(daemon, new ClientOptions(token: "secret"));
            Events(session);
            var unknown = ControlCodec.Encode(new ErrorMessage(ErrorCodes.UnknownSession, "no such session; connect again",
                                                               FakeDaemon.SessionId), WireEncoding.MsgPack);
            session.ReceiveDatagram(daemon.Status(), 1.0);
            session.ReceiveDatagram(unknown, 2.0);
            Assert.AreEqual(ClientSessionState.Open, session.State, "tagged status 1 s ago: the session is alive, this is forged");
            session.ReceiveDatagram(unknown, 4.0);
            Assert.AreEqual(ClientSessionState.Closed, session.State);
            Assert.AreEqual(CloseReason.UnknownSession, Single<SessionClosed>(Events(session)).Reason);
        }

        [Test]
        public void A_wrong_token_closes_with_a_message_about_the_token()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack, token: "secret");
            var session = new ClientSession(new ClientOptions(token: "wrong"), new CountingRandom());
            session.Connect(0);
            var hello = (HelloMessage)FakeDaemon.Decode(session.DatagramsToSend()[0]);
            session.ReceiveDatagram(daemon.Retry(hello.Nonce), 0.001);
            session.ReceiveDatagram(daemon.Error(ErrorCodes.AuthFailed, "wrong token", session: 0), 0.002);
            var closed = Single<SessionClosed>(Events(session));
            Assert.AreEqual(CloseReason.AuthFailed, closed.Reason);
            StringAssert.Contains("token", closed.Message);
            Assert.AreEqual(ClientSessionState.Closed, session.State);
        }

        [Test]
        public void A_version_mismatch_closes_with_a_message_about_versions()
        {
            var daemon = new FakeDaemon(WireEncoding.Json);
            var session = new ClientSession(new ClientOptions(encoding: WireEncoding.Json), new CountingRandom());
            session.Connect(0);
            session.ReceiveDatagram(daemon.Error(ErrorCodes.UnsupportedVersion, "this daemon speaks protocol 2", session: 0), 0.01);
            var closed = Single<SessionClosed>(Events(session));
            Assert.AreEqual(CloseReason.VersionMismatch, closed.Reason);
            StringAssert.Contains("protocol 2", closed.Message);
        }

        [Test]
        public void A_welcome_for_another_protocol_version_closes_with_a_version_message()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack);
            var session = new ClientSession(new ClientOptions(), new CountingRandom());
            session.Connect(0);
            var hello = (HelloMessage)FakeDaemon.Decode(session.DatagramsToSend()[0]);
            session.ReceiveDatagram(daemon.Retry(hello.Nonce), 0.001);
            session.ReceiveDatagram(daemon.Welcome(hello.Nonce, protocol: 2), 0.002);
            Assert.AreEqual(CloseReason.VersionMismatch, Single<SessionClosed>(Events(session)).Reason);
        }

        [Test]
        public void A_welcome_before_any_retry_is_ignored()
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack);
            var session = new ClientSession(new ClientOptions(), new CountingRandom());
            session.Connect(0);
            var hello = (HelloMessage)FakeDaemon.Decode(session.DatagramsToSend()[0]);
            session.ReceiveDatagram(daemon.Welcome(hello.Nonce), 0.001);
            Assert.AreEqual(ClientSessionState.Handshaking, session.State);
        }

        [Test]
        public void A_token_the_daemon_does_not_use_gives_a_warning_not_a_failure()
        {
            var session = Open(new FakeDaemon(WireEncoding.MsgPack), new ClientOptions(token: "unused"));
            var events = Events(session);
            Single<SessionConnected>(events);
            StringAssert.Contains("not authenticated", Single<SessionWarning>(events).Message);
        }
    }
}
