// Protocol revision 1.1 vectors (protocol/vectors/revision_1_1.json): new messages byte-exact both ways, integral
// floats accepted, new invalid cases, the NACK budget. Ignored while that file is not in the checkout.
using System.Collections.Generic;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    [TestFixture]
    public class RevisionVectorTests
    {
        const string File = "revision_1_1.json";

        static WireValue Document => ProtocolVectors.LoadOptional(File);

        static ControlMessage Decoded(byte[] datagram, string what)
        {
            var result = ControlCodec.Decode(datagram, datagram.Length);
            Assert.AreEqual(DecodeOutcome.Decoded, result.Outcome, what + ": " + result);
            return result.Message;
        }

        static void AssertValue(WireValue expected, ControlMessage message, string what)
        {
            var actual = message.ToWireValue();
            Assert.IsTrue(WireValue.StructurallyEqual(ProtocolVectors.Plain(expected), actual), $"{what}\nexpected {expected}\nactual   {actual}");
        }

        [Test]
        public void Every_new_message_decodes_to_its_value_and_encodes_to_the_same_bytes_in_both_encodings()
        {
            foreach (var vector in Document.Field("messages").AsArray)
            {
                string name = vector.Field("name").AsString;
                var json = System.Text.Encoding.UTF8.GetBytes(vector.Field("json").AsString);
                var fromJson = Decoded(json, name + " json");
                AssertValue(vector.Field("value"), fromJson, name + " json");
                Assert.AreEqual(vector.Field("json").AsString, System.Text.Encoding.UTF8.GetString(ControlCodec.Encode(fromJson, WireEncoding.Json)), name);
                var msgpack = ProtocolVectors.Hex(vector.Field("msgpack"));
                var fromMsgPack = Decoded(msgpack, name + " msgpack");
                AssertValue(vector.Field("value"), fromMsgPack, name + " msgpack");
                Assert.AreEqual(vector.Field("msgpack").AsString, ByteArrays.ToHex(ControlCodec.Encode(fromMsgPack, WireEncoding.MsgPack)), name);
            }
        }

        [Test]
        public void Integral_floats_are_accepted_where_integers_are_expected()
        {
            foreach (var vector in Document.Field("accepted").AsArray)
                AssertValue(vector.Field("value"), Decoded(ProtocolVectors.Hex(vector.Field("hex")), vector.Field("name").AsString),
                            vector.Field("name").AsString);
        }

        [Test]
        public void The_new_invalid_datagrams_are_refused_with_the_expected_code()
        {
            foreach (var vector in Document.Field("invalid").AsArray)
            {
                var datagram = ProtocolVectors.Hex(vector.Field("hex"));
                var result = ControlCodec.Decode(datagram, datagram.Length);
                Assert.AreEqual(DecodeOutcome.Invalid, result.Outcome, vector.Field("name").AsString + ": " + result);
                Assert.AreEqual(vector.Field("expect").AsString, result.ErrorCode, vector.Field("name").AsString);
            }
        }

        [Test]
        public void The_nack_budget_matches_the_reference_rows()
        {
            foreach (var row in Document.Field("nack_budget").AsArray)
            {
                long k, maxDatagram, minBytes;
                row.Field("fragments").TryGetInt64(out k);
                row.Field("max_datagram").TryGetInt64(out maxDatagram);
                row.Field("min_nack_bytes").TryGetInt64(out minBytes);
                Assert.AreEqual(minBytes, NackPadding.RequiredBytes((int)k, (int)maxDatagram), $"{k} fragments of {maxDatagram}");
            }
        }
    }
}
