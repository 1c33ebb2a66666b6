// What a user reads when a connection cannot work: each refusal names its cause and the fix.
using System.Collections.Generic;
using System.Net;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    [TestFixture]
    public class ClearMessageTests
    {
        static SessionClosed RefusedWith(string code, string daemonMessage)
        {
            var daemon = new FakeDaemon(WireEncoding.MsgPack);
            var session = new ClientSession(new ClientOptions(), new CountingRandom());
            session.Connect(0);
            session.DatagramsToSend();
            session.ReceiveDatagram(daemon.Error(code, daemonMessage, session: 0), 0.01);
            return HandshakeTests.Single<SessionClosed>(HandshakeTests.Events(session));
        }

        [Test]
        public void A_full_daemon_says_the_session_limit_is_reached_and_how_to_raise_it()
        {
            var closed = RefusedWith(ErrorCodes.SessionLimit, "4 sessions");
            Assert.AreEqual(CloseReason.SessionLimit, closed.Reason);
            StringAssert.Contains("as many sessions as it allows", closed.Message);
            StringAssert.Contains("--max-sessions", closed.Message);
            StringAssert.Contains("4 sessions", closed.Message, "the daemon's own words are kept");
        }

        [TestCase(ErrorCodes.AuthFailed, CloseReason.AuthFailed, "wrong")]
        [TestCase(ErrorCodes.AuthRequired, CloseReason.AuthRequired, "Token field")]
        [TestCase(ErrorCodes.UnsupportedVersion, CloseReason.VersionMismatch, "Update the plugin or the daemon")]
        public void A_refused_hello_names_its_cause_and_the_fix(string code, CloseReason reason, string fix)
        {
            var closed = RefusedWith(code, "refused");
            Assert.AreEqual(reason, closed.Reason);
            StringAssert.Contains(fix, closed.Message);
        }

        [Test]
        public void A_refusal_the_plugin_cannot_fix_by_retrying_is_not_retried_but_a_full_daemon_is()
        {
            Assert.IsNull(new ReconnectPolicy().NextDelay(RefusedWith(ErrorCodes.AuthFailed, "x")));
            Assert.IsNotNull(new ReconnectPolicy().NextDelay(RefusedWith(ErrorCodes.SessionLimit, "x")));
        }

        static DiscoveredDaemon Found(string protocol, string token, bool withAddress = true) => new DiscoveredDaemon(
            "studio-47800._yume-bridge._udp.local.", "studio.local.", 47800,
            withAddress ? new List<IPAddress> { IPAddress.Parse("192.168.1.20") } : new List<IPAddress>(),
            new List<KeyValuePair<string, string>> { new KeyValuePair<string, string>("protocol", protocol), new KeyValuePair<string, string>("token", token) });

        [Test]
        public void A_found_daemon_of_another_protocol_version_is_flagged_before_connecting()
        {
            StringAssert.Contains("protocol 2", Found("2", "none").Obstacle(haveToken: true));
        }

        [Test]
        public void A_found_daemon_that_needs_a_token_is_flagged_only_when_none_is_set()
        {
            StringAssert.Contains("Token field", Found("1", "required").Obstacle(haveToken: false));
            Assert.IsNull(Found("1", "required").Obstacle(haveToken: true));
            Assert.IsNull(Found("1", "none").Obstacle(haveToken: false));
        }

        [Test]
        public void A_found_daemon_without_an_address_says_so()
        {
            StringAssert.Contains("without an address", Found("1", "none", withAddress: false).Obstacle(haveToken: false));
        }
    }
}
