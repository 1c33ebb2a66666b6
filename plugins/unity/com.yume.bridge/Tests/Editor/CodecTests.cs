// The JSON and MessagePack codecs and the field rules of SPEC §2.1 beyond the vectors.
using System.Text;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    [TestFixture]
    public class CodecTests
    {
        static ControlDecodeResult DecodeJson(string json)
        {
            var bytes = Encoding.UTF8.GetBytes(json);
            return ControlCodec.Decode(bytes, bytes.Length);
        }

        static ControlDecodeResult DecodeHex(string hex)
        {
            var bytes = ByteArrays.FromHex(hex);
            return ControlCodec.Decode(bytes, bytes.Length);
        }

        static void AssertInvalid(ControlDecodeResult result, string code)
        {
            Assert.AreEqual(DecodeOutcome.Invalid, result.Outcome, result.ToString());
            Assert.AreEqual(code, result.ErrorCode, result.Detail);
        }

        [Test]
        public void Unknown_fields_are_ignored_in_both_encodings()
        {
            var json = DecodeJson("{\"type\":\"ping\",\"session\":7,\"seq\":1,\"time_us\":5,\"future\":{\"x\":[1,2.5,null]}}");
            Assert.AreEqual(DecodeOutcome.Decoded, json.Outcome, json.ToString());
            // {"type":"ping","session":7,"seq":1,"time_us":5,"ext":<fixext1>}
            var msgpack = DecodeHex("85a474797065a470696e67a773657373696f6e07a373657101a774696d655f757305a3657874d40501");
            Assert.AreEqual(DecodeOutcome.Decoded, msgpack.Outcome, msgpack.ToString());
            Assert.AreEqual(5, ((PingMessage)msgpack.Message).TimeUs);
        }

        [Test]
        public void Json_escapes_and_non_ascii_text_survive_a_round_trip()
        {
            string text = "quote \" backslash \\ tab \t newline \n bell \u0007 café 🐉 ↑→";
            var message = new EventMessage(7, 1, 3, text);
            var encoded = ControlCodec.Encode(message, WireEncoding.Json);
            StringAssert.Contains("\\u0007", Encoding.UTF8.GetString(encoded));
            var decoded = ControlCodec.Decode(encoded, encoded.Length);
            Assert.AreEqual(text, ((EventMessage)decoded.Message).Text);
        }

        [Test]
        public void Json_unicode_escapes_including_surrogate_pairs_decode()
        {
            var result = DecodeJson("{\"type\":\"event\",\"session\":7,\"seq\":1,\"id\":1,\"text\":\"\\u00e9\\ud83d\\udc09\\/\"}");
            Assert.AreEqual("é🐉/", ((EventMessage)result.Message).Text);
        }

        [Test]
        public void Json_lone_surrogates_raw_controls_and_invalid_utf8_are_bad_messages()
        {
            AssertInvalid(DecodeJson("{\"type\":\"bye\",\"session\":7,\"seq\":1,\"reason\":\"\\ud83d\"}"), ErrorCodes.BadMessage);
            AssertInvalid(DecodeJson("{\"type\":\"bye\",\"session\":7,\"seq\":1,\"reason\":\"a\u0001\"}"), ErrorCodes.BadMessage);
            var invalidUtf8 = Encoding.ASCII.GetBytes("{\"type\":\"bye\",\"session\":7,\"seq\":1,\"reason\":\"..\"}");
            invalidUtf8[invalidUtf8.Length - 3] = 0xC3;
            Assert.AreEqual(ErrorCodes.BadMessage, ControlCodec.Decode(invalidUtf8, invalidUtf8.Length).ErrorCode);
        }

        [Test]
        public void Json_rejects_duplicate_keys_leading_zeros_and_infinity_literals()
        {
            AssertInvalid(DecodeJson("{\"type\":\"ping\",\"session\":7,\"session\":8,\"seq\":1,\"time_us\":0}"), ErrorCodes.BadMessage);
            AssertInvalid(DecodeJson("{\"type\":\"ping\",\"session\":07,\"seq\":1,\"time_us\":0}"), ErrorCodes.BadMessage);
            AssertInvalid(DecodeJson("{\"type\":\"config\",\"session\":7,\"seq\":1,\"fps\":Infinity}"), ErrorCodes.BadMessage);
        }

        [Test]
        public void A_json_float_that_overflows_is_out_of_range()
        {
            AssertInvalid(DecodeJson("{\"type\":\"config\",\"session\":7,\"seq\":1,\"fps\":1e999}"), ErrorCodes.ValueOutOfRange);
        }

        [Test]
        public void Integers_beyond_u32_or_64_bits_are_out_of_range()
        {
            AssertInvalid(DecodeJson("{\"type\":\"ping\",\"session\":4294967296,\"seq\":1,\"time_us\":0}"), ErrorCodes.ValueOutOfRange);
            AssertInvalid(DecodeJson("{\"type\":\"ping\",\"session\":7,\"seq\":1,\"time_us\":99999999999999999999999}"), ErrorCodes.ValueOutOfRange);
        }

        [Test]
        public void A_float_field_accepts_an_integer_and_an_int_field_an_integral_float_but_not_a_fraction()
        {
            var config = DecodeJson("{\"type\":\"config\",\"session\":7,\"seq\":1,\"fps\":24}");
            Assert.AreEqual(24.0, ((ConfigMessage)config.Message).Fps);
            // v1.1: 70.0 is what some engines' JSON writers emit for an int; 70.5 is no integer.
            Assert.AreEqual(70, ((ConfigMessage)DecodeJson("{\"type\":\"config\",\"session\":7,\"seq\":1,\"quality\":70.0}").Message).Quality);
            AssertInvalid(DecodeJson("{\"type\":\"config\",\"session\":7,\"seq\":1,\"quality\":70.5}"), ErrorCodes.BadMessage);
        }

        [Test]
        public void Bytes_are_base64_in_json_and_bin_in_msgpack_and_nothing_else()
        {
            AssertInvalid(DecodeJson("{\"type\":\"retry\",\"nonce\":\"AAECAwQFBgcICQoLDA0ODw\",\"cookie\":\"AA==\",\"token_required\":false}"),
                          ErrorCodes.BadMessage); // unpadded
            AssertInvalid(DecodeJson("{\"type\":\"retry\",\"nonce\":\"AAECAwQFBgcICQoLDA0O Dw==\",\"cookie\":\"AA==\",\"token_required\":false}"),
                          ErrorCodes.BadMessage); // whitespace
            // msgpack retry whose nonce is a str instead of bin
            var strNonce = "84a474797065a57265747279a56e6f6e6365b0" + "30313233343536373839616263646566" +
                           "a6636f6f6b6965c40101ae746f6b656e5f7265717569726564c2";
            AssertInvalid(DecodeHex(strNonce), ErrorCodes.BadMessage);
        }

        [Test]
        public void Strict_base64_refuses_non_canonical_padding_bits()
        {
            byte[] bytes;
            Assert.IsTrue(StrictBase64.TryDecode("AA==", out bytes));
            Assert.IsFalse(StrictBase64.TryDecode("AB==", out bytes));
            Assert.IsFalse(StrictBase64.TryDecode("A===", out bytes));
            Assert.IsFalse(StrictBase64.TryDecode("AA-_", out bytes));
        }

        [Test]
        public void Bytes_after_the_body_must_number_zero_or_sixteen()
        {
            var body = ControlCodec.Encode(new PingMessage(7, 1, 5), WireEncoding.MsgPack);
            foreach (int extra in new[] { 1, 15, 17 })
            {
                var datagram = ByteArrays.Concat(body, new byte[extra]);
                AssertInvalid(ControlCodec.Decode(datagram, datagram.Length), ErrorCodes.BadMessage);
            }
        }

        [Test]
        public void MsgPack_reads_every_integer_width_and_float32()
        {
            // {"type":"pong","session":uint16 300,"seq":uint8 200,"time_us":int64 -5,"daemon_time_us":uint64 2^40}
            var hex = "85a474797065a4706f6e67a773657373696f6ecd012ca3736571ccc8a774696d655f7573d3fffffffffffffffb" +
                      "ae6461656d6f6e5f74696d655f7573cf0000010000000000";
            var pong = (PongMessage)DecodeHex(hex).Message;
            Assert.AreEqual(300u, pong.Session);
            Assert.AreEqual(200u, pong.Seq);
            Assert.AreEqual(-5, pong.TimeUs);
            Assert.AreEqual(1L << 40, pong.DaemonTimeUs);
            // {"type":"config","session":7,"seq":1,"fps":float32 24.0}
            var config = (ConfigMessage)DecodeHex("84a474797065a6636f6e666967a773657373696f6e07a373657101a3667073ca41c00000").Message;
            Assert.AreEqual(24.0, config.Fps);
        }

        [Test]
        public void MsgPack_writer_picks_the_smallest_form_and_reads_back_large_containers()
        {
            var missing = new System.Collections.Generic.List<int>();
            for (int i = 0; i < 100; i++) missing.Add(i * 300);
            var nack = new NackMessage(70000, 1, 4000000000, missing);
            var encoded = ControlCodec.Encode(nack, WireEncoding.MsgPack);
            StringAssert.Contains("dc0064", ByteArrays.ToHex(encoded), "array16 for 100 items");
            StringAssert.Contains("ce00011170", ByteArrays.ToHex(encoded), "uint32 for session 70000");
            var decoded = (NackMessage)ControlCodec.Decode(encoded, encoded.Length).Message;
            CollectionAssert.AreEqual(missing, decoded.Missing);
            Assert.AreEqual(4000000000u, decoded.Frame);
        }

        [Test]
        public void A_msgpack_length_that_runs_past_the_datagram_is_a_bad_message()
        {
            // map of 1: key str8 claiming 200 bytes
            AssertInvalid(DecodeHex("81d9c8747970"), ErrorCodes.BadMessage);
            // map16 claiming 65535 entries
            AssertInvalid(DecodeHex("deffff"), ErrorCodes.BadMessage);
        }

        [Test]
        public void Nesting_deeper_than_the_limit_is_a_bad_message()
        {
            var sb = new StringBuilder("{\"type\":\"ping\",\"session\":7,\"seq\":1,\"time_us\":0,\"x\":");
            for (int i = 0; i < 40; i++) sb.Append('[');
            for (int i = 0; i < 40; i++) sb.Append(']');
            sb.Append('}');
            AssertInvalid(DecodeJson(sb.ToString()), ErrorCodes.BadMessage);
        }

        [Test]
        public void Field_rules_of_the_spec_are_enforced()
        {
            AssertInvalid(DecodeJson("{\"type\":\"start\",\"session\":7,\"seq\":1,\"source\":\"text\"}"), ErrorCodes.BadMessage);
            AssertInvalid(DecodeJson("{\"type\":\"start\",\"session\":7,\"seq\":1,\"source\":\"dream\"}"), ErrorCodes.BadMessage);
            AssertInvalid(DecodeJson("{\"type\":\"config\",\"session\":7,\"seq\":1,\"quality\":101}"), ErrorCodes.ValueOutOfRange);
            AssertInvalid(DecodeJson("{\"type\":\"config\",\"session\":7,\"seq\":1,\"fps\":0.5}"), ErrorCodes.ValueOutOfRange);
            AssertInvalid(DecodeJson("{\"type\":\"input\",\"session\":7,\"seq\":1,\"move\":[0]}"), ErrorCodes.BadMessage);
            AssertInvalid(DecodeJson("{\"type\":\"upload\",\"session\":7,\"seq\":1,\"hash\":\"" + new string('A', 43) + "=\",\"size\":2,\"offset\":1,\"data\":\"AAA=\"}"),
                          ErrorCodes.BadMessage); // two bytes at offset 1 of a 2-byte file
        }

        [Test]
        public void Json_floats_are_written_like_the_daemon_writes_them()
        {
            Assert.AreEqual("16.0", JsonWriter.FormatFloat(16));
            Assert.AreEqual("0.0", JsonWriter.FormatFloat(0));
            Assert.AreEqual("-0.5", JsonWriter.FormatFloat(-0.5));
            Assert.AreEqual("80.25", JsonWriter.FormatFloat(80.25));
            Assert.AreEqual("0.1", JsonWriter.FormatFloat(0.1));
            Assert.AreEqual("1e-05", JsonWriter.FormatFloat(0.00001));
            Assert.AreEqual("0.30000000000000004", JsonWriter.FormatFloat(0.1 + 0.2));
            Assert.AreEqual("95.761567", JsonWriter.FormatFloat(95.761567));
            Assert.AreEqual("1000000000000000.5", JsonWriter.FormatFloat(1e15 + 0.5));
        }
    }
}
