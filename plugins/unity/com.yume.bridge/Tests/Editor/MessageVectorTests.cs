// Every vector of protocol/vectors/messages.json and invalid.json, in both encodings.
using System.Collections.Generic;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    [TestFixture]
    public class MessageVectorTests
    {
        public static IEnumerable<string> MessageNames => ProtocolVectors.NamesIn("messages.json", "messages");
        public static IEnumerable<string> InvalidNames => ProtocolVectors.NamesIn("invalid.json", "datagrams");

        static WireValue Vector(string name) => ProtocolVectors.Named("messages.json", "messages", name);

        static byte[] JsonBytes(WireValue vector) => System.Text.Encoding.UTF8.GetBytes(vector.Field("json").AsString);

        static ControlMessage DecodeOrFail(byte[] datagram, string what)
        {
            var result = ControlCodec.Decode(datagram, datagram.Length);
            Assert.AreEqual(DecodeOutcome.Decoded, result.Outcome, what + ": " + result);
            Assert.AreEqual(datagram.Length, result.BodyLength, what + ": the body is the whole datagram");
            return result.Message;
        }

        static void AssertSameValue(WireValue expected, ControlMessage actual, string what)
        {
            var value = actual.ToWireValue();
            Assert.IsTrue(WireValue.StructurallyEqual(expected, value), $"{what}\nexpected {expected}\nactual   {value}");
        }

        [TestCaseSource("MessageNames")]
        public void Json_form_decodes_to_the_vector_value(string name)
        {
            var vector = Vector(name);
            var message = DecodeOrFail(JsonBytes(vector), name + " json");
            Assert.AreEqual(vector.Field("type").AsString, message.Type);
            AssertSameValue(ProtocolVectors.Plain(vector.Field("value")), message, name + " json");
        }

        [TestCaseSource("MessageNames")]
        public void MsgPack_form_decodes_to_the_vector_value(string name)
        {
            var vector = Vector(name);
            var message = DecodeOrFail(ProtocolVectors.Hex(vector.Field("msgpack")), name + " msgpack");
            Assert.AreEqual(vector.Field("type").AsString, message.Type);
            AssertSameValue(ProtocolVectors.Plain(vector.Field("value")), message, name + " msgpack");
        }

        [TestCaseSource("MessageNames")]
        public void Json_reencoding_matches_the_vector_bytes_and_decodes_again(string name)
        {
            var vector = Vector(name);
            var message = DecodeOrFail(JsonBytes(vector), name);
            var encoded = ControlCodec.Encode(message, WireEncoding.Json);
            Assert.AreEqual(vector.Field("json").AsString, System.Text.Encoding.UTF8.GetString(encoded));
            AssertSameValue(ProtocolVectors.Plain(vector.Field("value")), DecodeOrFail(encoded, name + " re-encoded"), name);
        }

        [TestCaseSource("MessageNames")]
        public void MsgPack_reencoding_matches_the_vector_bytes_and_decodes_again(string name)
        {
            var vector = Vector(name);
            var message = DecodeOrFail(ProtocolVectors.Hex(vector.Field("msgpack")), name);
            var encoded = ControlCodec.Encode(message, WireEncoding.MsgPack);
            Assert.AreEqual(vector.Field("msgpack").AsString, ByteArrays.ToHex(encoded));
            AssertSameValue(ProtocolVectors.Plain(vector.Field("value")), DecodeOrFail(encoded, name + " re-encoded"), name);
        }

        [TestCaseSource("MessageNames")]
        public void A_message_followed_by_a_16_byte_tag_still_decodes(string name)
        {
            var vector = Vector(name);
            var body = ProtocolVectors.Hex(vector.Field("msgpack"));
            var datagram = ByteArrays.Concat(body, new byte[16]);
            var result = ControlCodec.Decode(datagram, datagram.Length);
            Assert.AreEqual(DecodeOutcome.Decoded, result.Outcome, result.ToString());
            Assert.AreEqual(body.Length, result.BodyLength);
            Assert.AreEqual(16, result.TagLength);
        }

        [TestCaseSource("InvalidNames")]
        public void Invalid_datagram_is_rejected_with_the_expected_code(string name)
        {
            var vector = ProtocolVectors.Named("invalid.json", "datagrams", name);
            var datagram = ProtocolVectors.Hex(vector.Field("hex"));
            string expected = vector.Field("expect").AsString;
            var result = ControlCodec.Decode(datagram, datagram.Length);
            if (expected == "drop")
            {
                if (ControlCodec.Classify(datagram, datagram.Length) == DatagramKind.Fragment)
                {
                    string reason;
                    Assert.IsNull(FragmentHeader.TryParse(datagram, datagram.Length, out reason), "the fragment must be dropped");
                }
                else Assert.AreEqual(DecodeOutcome.Dropped, result.Outcome, result.ToString());
            }
            else
            {
                Assert.AreEqual(DecodeOutcome.Invalid, result.Outcome, result.ToString());
                Assert.AreEqual(expected, result.ErrorCode, result.Detail);
            }
        }

        [Test]
        public void The_vector_files_hold_every_message_type_of_the_spec()
        {
            var types = new HashSet<string>();
            foreach (var item in ProtocolVectors.Load("messages.json").Field("messages").AsArray) types.Add(item.Field("type").AsString);
            CollectionAssert.IsSubsetOf(new[] { "hello", "retry", "welcome", "upload", "upload_ack", "start", "started", "input",
                                                "event", "event_ack", "config", "ping", "pong", "nack", "status", "bye", "error" },
                                        types);
        }
    }
}
