// protocol/vectors/auth.json: HMAC-SHA256, hello.auth, the session key and datagram tags; and the replay window.
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    [TestFixture]
    public class AuthVectorTests
    {
        static WireValue Vectors => ProtocolVectors.Load("auth.json");

        [Test]
        public void Hmac_sha256_matches_every_reference_digest()
        {
            int checkedDigests = 0;
            foreach (var item in Vectors.Field("hmac_sha256").AsArray)
            {
                var digest = SessionAuth.Hmac(ProtocolVectors.Hex(item.Field("key")), ProtocolVectors.Hex(item.Field("message")));
                Assert.AreEqual(item.Field("digest").AsString, ByteArrays.ToHex(digest));
                checkedDigests++;
            }
            Assert.AreEqual(3, checkedDigests);
        }

        [Test]
        public void Hello_auth_is_the_truncated_hmac_of_label_nonce_and_cookie()
        {
            var v = Vectors;
            var auth = SessionAuth.HelloAuth(v.Field("token").AsString, ProtocolVectors.Hex(v.Field("client_nonce")),
                                             ProtocolVectors.Hex(v.Field("cookie")));
            Assert.AreEqual(v.Field("hello_auth").AsString, ByteArrays.ToHex(auth));
        }

        [Test]
        public void Session_key_derives_from_both_nonces_and_the_session()
        {
            var v = Vectors;
            ulong session;
            v.Field("session").TryGetUInt64(out session);
            var key = SessionAuth.SessionKey(v.Field("token").AsString, ProtocolVectors.Hex(v.Field("client_nonce")),
                                             ProtocolVectors.Hex(v.Field("server_nonce")), (uint)session);
            Assert.AreEqual(v.Field("session_key").AsString, ByteArrays.ToHex(key));
        }

        [Test]
        public void Tags_of_json_and_msgpack_bodies_match_the_vectors()
        {
            var key = ProtocolVectors.Hex(Vectors.Field("session_key"));
            int tagged = 0;
            foreach (var item in Vectors.Field("tagged").AsArray)
            {
                var body = ProtocolVectors.Hex(item.Field("body"));
                Assert.AreEqual(item.Field("tag").AsString, ByteArrays.ToHex(SessionAuth.Tag(key, body)));
                tagged++;
            }
            Assert.AreEqual(2, tagged);
        }

        [Test]
        public void A_tagged_datagram_verifies_and_decodes_to_its_body()
        {
            var key = ProtocolVectors.Hex(Vectors.Field("session_key"));
            foreach (var item in Vectors.Field("tagged").AsArray)
            {
                var datagram = ByteArrays.Concat(ProtocolVectors.Hex(item.Field("body")), ProtocolVectors.Hex(item.Field("tag")));
                var decoded = ControlCodec.Decode(datagram, datagram.Length);
                Assert.AreEqual(DecodeOutcome.Decoded, decoded.Outcome);
                Assert.AreEqual("ping", decoded.Message.Type);
                Assert.AreEqual(305419896u, decoded.Message.Session);
                Assert.IsTrue(SessionAuth.Verify(key, datagram, decoded.BodyLength, datagram.Length));
            }
        }

        [Test]
        public void A_datagram_with_one_flipped_bit_or_no_tag_does_not_verify()
        {
            var key = ProtocolVectors.Hex(Vectors.Field("session_key"));
            var item = Vectors.Field("tagged").AsArray[0];
            var body = ProtocolVectors.Hex(item.Field("body"));
            var datagram = ByteArrays.Concat(body, ProtocolVectors.Hex(item.Field("tag")));
            var flippedTag = (byte[])datagram.Clone();
            flippedTag[flippedTag.Length - 1] ^= 1;
            var flippedBody = (byte[])datagram.Clone();
            flippedBody[body.Length - 2] ^= 1;
            Assert.IsFalse(SessionAuth.Verify(key, flippedTag, body.Length, flippedTag.Length));
            Assert.IsFalse(SessionAuth.Verify(key, flippedBody, body.Length, flippedBody.Length));
            Assert.IsFalse(SessionAuth.Verify(key, body, body.Length, body.Length));
        }

        [Test]
        public void Replay_window_accepts_each_seq_once_in_any_order()
        {
            var window = new ReplayWindow();
            Assert.IsTrue(window.Accept(5));
            Assert.IsTrue(window.Accept(3));
            Assert.IsTrue(window.Accept(7));
            Assert.IsTrue(window.Accept(6));
            Assert.IsFalse(window.Accept(5));
            Assert.IsFalse(window.Accept(3));
            Assert.IsFalse(window.Accept(7));
            Assert.AreEqual(7u, window.Highest);
        }

        [Test]
        public void Replay_window_rejects_a_seq_64_or_more_below_the_highest()
        {
            var window = new ReplayWindow();
            Assert.IsTrue(window.Accept(100));
            Assert.IsTrue(window.Accept(37), "63 below the highest is still inside the window");
            Assert.IsFalse(window.Accept(36), "64 below the highest is outside the window");
            Assert.IsTrue(window.Accept(1000));
            Assert.IsFalse(window.Accept(100), "a jump forward slides the window past old seqs");
        }
    }
}
