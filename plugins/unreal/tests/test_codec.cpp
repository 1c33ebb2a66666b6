// JSON, MessagePack, base64, UTF-8 and message validation beyond the canonical vectors.
#include "YumeBridgeCore/YumeBridgeCore.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

using namespace yumebridge;

namespace {

Result<DecodedControl> decode_text(const std::string& text) { return decode_control(as_bytes(text)); }

ErrorCode code_of(const std::string& text) { return decode_text(text).code(); }

Bytes unhex(const char* text) { return *from_hex(text); }

msg::Welcome sample_welcome() {
    msg::Welcome w;
    w.session = 77;
    w.seq = 1;
    w.nonce = Bytes(16, 9);
    w.daemon_version = "0.1.0";
    w.backend = "yume";
    w.model = "Yume-5B-720P";
    w.model_version = "1.5";
    w.state = "loading";
    w.width = 1280;
    w.height = 704;
    w.fps = 16.0;
    w.frames_per_chunk = 29;
    w.quality = 90;
    w.max_datagram = 1400;
    w.authenticated = true;
    w.vocabulary.name = "person";
    w.vocabulary.version = "yume1.5-person-1";
    w.vocabulary.movement = {"None", "W"};
    w.vocabulary.look = {"\xc2\xb7"};
    w.limits.max_events = 8;
    w.capabilities = {"json", "msgpack"};
    return w;
}

}  // namespace

TEST_CASE("every message type survives an encode/decode round trip in both encodings") {
    std::vector<Message> messages;
    msg::Hello hello;
    hello.nonce = Bytes(16, 1);
    hello.client = "yume-bridge-unreal \xe2\x9c\x93";
    hello.fps = 24.5;
    hello.cookie = Bytes(64, 3);
    hello.auth = Bytes(16, 4);
    hello.pad = Bytes(100, 0);
    messages.emplace_back(hello);
    messages.emplace_back(msg::Retry{Bytes(16, 1), Bytes(10, 2), false});
    messages.emplace_back(sample_welcome());
    messages.emplace_back(msg::Upload{7, 2, Bytes(32, 5), 1000, 990, Bytes(10, 6)});
    messages.emplace_back(msg::UploadAck{7, 3, Bytes(32, 5), 0, 0, 1000, true});
    msg::Start start;
    start.session = 7;
    start.seq = 9;
    start.source = "text";
    start.prompt = "a \"quoted\" prompt\nwith a newline \xf0\x9f\x90\x89";
    start.seed = 4294967295u;
    messages.emplace_back(start);
    messages.emplace_back(msg::Started{7, 4, 3, "default", 0, std::nullopt});
    msg::Input input;
    input.session = 4294967295u;
    input.seq = 4294967295u;
    input.time_us = -5;
    input.move = {-1.0, 0.1};
    input.look = {1e-7, -0.3333333333333333};
    input.keys = {"KeyW", "ArrowLeft"};
    messages.emplace_back(input);
    messages.emplace_back(msg::Event{7, 5, 12, "fog"});
    messages.emplace_back(msg::EventAck{7, 6, 12, 40, {3, 12}});
    msg::Config config;
    config.session = 7;
    config.fps = 239.9;
    messages.emplace_back(config);
    messages.emplace_back(msg::Ping{7, 8, 1234567890123});
    messages.emplace_back(msg::Pong{7, 9, 1, -2});
    messages.emplace_back(msg::Nack{7, 10, 99, {0, 1, 65535}, std::nullopt});
    msg::Status status;
    status.session = 7;
    status.state = "warming";
    status.progress = 0.125;
    status.chunk = -1;
    status.message = "compiling";
    messages.emplace_back(status);
    messages.emplace_back(msg::Bye{7, 11, "idle_timeout"});
    messages.emplace_back(msg::Error{"unknown_session", "no such session", 0, 0, 0, false});
    for (const Message& message : messages) {
        for (Encoding encoding : {Encoding::Json, Encoding::MsgPack}) {
            INFO(message_type_name(message) << (encoding == Encoding::Json ? " json" : " msgpack"));
            const Bytes body = encode_body(message, encoding);
            Result<DecodedControl> decoded = decode_control(body);
            REQUIRE_MESSAGE(decoded.ok(), decoded.error().detail);
            CHECK(decoded->message.index() == message.index());
            CHECK(message_to_value(decoded->message) == message_to_value(message));
            CHECK(encode_body(decoded->message, encoding) == body);
        }
    }
}

TEST_CASE("a datagram is a body followed by nothing or a 16-byte tag") {
    const std::string body = "{\"type\":\"ping\",\"session\":7,\"seq\":1,\"time_us\":5}";
    CHECK(decode_text(body).ok());
    CHECK(decode_text(body + std::string(16, 'x')).ok());
    CHECK(decode_text(body + std::string(16, 'x'))->tag.has_value());
    CHECK(code_of(body + std::string(15, 'x')) == ErrorCode::BadMessage);
    CHECK(code_of(body + std::string(17, 'x')) == ErrorCode::BadMessage);
    // Whitespace after the closing brace is not part of the body.
    CHECK(code_of(body + " ") == ErrorCode::BadMessage);
    // A tag whose bytes look like JSON is still a tag.
    CHECK(decode_text(body + "}}}}}}}}}}}}}}}}").ok());
}

TEST_CASE("JSON reading is strict") {
    // Whitespace inside the object, escapes and surrogate pairs are fine.
    Result<DecodedControl> spaced = decode_text("{ \"type\" : \"bye\" ,\n\t\"session\":1,\"seq\":2,\"reason\":\"\\u00e9\\ud83d\\udc09\\/\"}");
    REQUIRE(spaced.ok());
    CHECK(std::get<msg::Bye>(spaced->message).reason == "\xc3\xa9\xf0\x9f\x90\x89/");
    CHECK(code_of("{\"type\":\"bye\",\"session\":1,\"seq\":2,\"reason\":\"\\ud83d\"}") == ErrorCode::BadMessage);
    CHECK(code_of("{\"type\":\"bye\",\"session\":1,\"seq\":2,\"reason\":\"\\udc09\"}") == ErrorCode::BadMessage);
    CHECK(code_of("{\"type\":\"bye\",\"session\":1,\"seq\":2,\"reason\":\"\xff\"}") == ErrorCode::BadMessage);
    CHECK(code_of("{\"type\":\"bye\",\"session\":1,\"seq\":2,\"reason\":\"a\nb\"}") == ErrorCode::BadMessage);
    CHECK(code_of("{\"type\":\"bye\",\"session\":1,\"seq\":2,\"reason\":\"\\x\"}") == ErrorCode::BadMessage);
    CHECK(code_of("{\"type\":\"ping\",\"session\":1,\"seq\":2,\"time_us\":Infinity}") == ErrorCode::BadMessage);
    CHECK(code_of("{\"type\":\"ping\",\"session\":1,\"seq\":2,\"time_us\":01}") == ErrorCode::BadMessage);
    CHECK(code_of("{\"type\":\"ping\",\"session\":1,\"seq\":2,\"time_us\":1.}") == ErrorCode::BadMessage);
    // Revision 1.1: an integral float stands for its integer; a fraction does not.
    CHECK(code_of("{\"type\":\"ping\",\"session\":1,\"seq\":2,\"time_us\":1e5}") == ErrorCode::Ok);
    CHECK(code_of("{\"type\":\"ping\",\"session\":1,\"seq\":2,\"time_us\":1.5}") == ErrorCode::BadMessage);
    CHECK(code_of("{\"type\":\"ping\",\"session\":1,\"seq\":2,\"time_us\":1e300}") == ErrorCode::ValueOutOfRange);
    CHECK(code_of("{\"type\":\"ping\",\"session\":1,\"seq\":2,\"time_us\":-0}") == ErrorCode::Ok);
    CHECK(code_of("{\"type\":\"ping\",\"session\":1,\"seq\":2,\"time_us\":99999999999999999999}") ==
          ErrorCode::ValueOutOfRange);
    CHECK(code_of("{\"type\":\"ping\",\"session\":4294967296,\"seq\":2,\"time_us\":1}") == ErrorCode::ValueOutOfRange);
    CHECK(code_of("{\"type\":\"ping\",\"session\":1,\"seq\":2,\"time_us\":1,}") == ErrorCode::BadMessage);
    CHECK(code_of("{\"type\":\"ping\" \"session\":1}") == ErrorCode::BadMessage);
    std::string deep = "{\"type\":\"bye\",\"session\":1,\"seq\":2,\"x\":";
    for (int i = 0; i < 40; ++i) {
        deep += "[";
    }
    for (int i = 0; i < 40; ++i) {
        deep += "]";
    }
    CHECK(code_of(deep + "}") == ErrorCode::BadMessage);
}

TEST_CASE("unknown fields are ignored, optional fields default, a repeated key takes the last value") {
    Result<DecodedControl> decoded =
        decode_text("{\"type\":\"status\",\"session\":1,\"seq\":2,\"state\":\"ready\",\"progress\":1,\"world\":0,"
                    "\"chunk\":-1,\"queue\":0,\"fps\":0,\"frames_sent\":0,\"action\":0,\"input_seq\":0,"
                    "\"latency\":{\"queue_ms\":0,\"generate_ms\":0,\"encode_ms\":0,\"send_ms\":0,\"vae_ms\":3},"
                    "\"future\":{\"nested\":[1,2,{\"x\":null}]},\"state\":\"paused\"}");
    REQUIRE_MESSAGE(decoded.ok(), decoded.error().detail);
    const auto& status = std::get<msg::Status>(decoded->message);
    CHECK(status.message.empty());
    CHECK(status.state == "paused");
    CHECK(status.chunk == -1);
    CHECK(status.progress == 1.0);  // an int is a valid float
    Result<DecodedControl> bye = decode_text("{\"type\":\"bye\",\"session\":1,\"seq\":2}");
    REQUIRE(bye.ok());
    CHECK(std::get<msg::Bye>(bye->message).reason.empty());
    Result<DecodedControl> error = decode_text("{\"type\":\"error\",\"code\":\"brand_new\",\"message\":\"m\",\"fatal\":false}");
    REQUIRE(error.ok());
    CHECK(protocol_error_code(std::get<msg::Error>(error->message).code) == ErrorCode::UnknownCode);
}

TEST_CASE("message validation follows the types and ranges of the spec") {
    const std::string nonce = "\"AAECAwQFBgcICQoLDA0ODw==\"";
    CHECK(code_of("{\"type\":\"hello\",\"protocol\":1,\"nonce\":" + nonce + "}") == ErrorCode::Ok);
    CHECK(code_of("{\"type\":\"hello\",\"protocol\":1,\"nonce\":" + nonce + ",\"fps\":0.5}") == ErrorCode::ValueOutOfRange);
    CHECK(code_of("{\"type\":\"hello\",\"protocol\":1,\"nonce\":" + nonce + ",\"quality\":0}") == ErrorCode::ValueOutOfRange);
    CHECK(code_of("{\"type\":\"hello\",\"protocol\":1,\"nonce\":" + nonce + ",\"max_datagram\":575}") ==
          ErrorCode::ValueOutOfRange);
    CHECK(code_of("{\"type\":\"hello\",\"protocol\":1,\"nonce\":" + nonce + ",\"auth\":\"AAAA\"}") == ErrorCode::BadMessage);
    CHECK(code_of("{\"type\":\"hello\",\"protocol\":1,\"nonce\":" + nonce + ",\"nonce\":\"AA==\"}") == ErrorCode::BadMessage);
    CHECK(code_of("{\"type\":\"hello\",\"protocol\":1,\"nonce\":" + nonce + ",\"client\":\"" + std::string(65, 'c') + "\"}") ==
          ErrorCode::ValueOutOfRange);
    CHECK(code_of("{\"type\":\"start\",\"session\":1,\"seq\":1,\"source\":\"text\"}") == ErrorCode::BadMessage);
    CHECK(code_of("{\"type\":\"start\",\"session\":1,\"seq\":1,\"source\":\"image\"}") == ErrorCode::BadMessage);
    CHECK(code_of("{\"type\":\"start\",\"session\":1,\"seq\":1,\"source\":\"video\"}") == ErrorCode::BadMessage);
    CHECK(code_of("{\"type\":\"start\",\"session\":1,\"seq\":1,\"source\":\"default\",\"seed\":-1}") ==
          ErrorCode::ValueOutOfRange);
    CHECK(code_of("{\"type\":\"upload\",\"session\":1,\"seq\":1,\"hash\":\"" + base64_encode(Bytes(32, 1)) +
                  "\",\"size\":4,\"offset\":2,\"data\":\"AAAA\"}") == ErrorCode::BadMessage);  // 3 bytes at 2 of 4
    CHECK(code_of("{\"type\":\"upload\",\"session\":1,\"seq\":1,\"hash\":\"" + base64_encode(Bytes(32, 1)) +
                  "\",\"size\":4,\"offset\":1,\"data\":\"AAAA\"}") == ErrorCode::Ok);
    CHECK(code_of("{\"type\":\"input\",\"session\":1,\"seq\":1,\"move\":[0]}") == ErrorCode::BadMessage);
    CHECK(code_of("{\"type\":\"input\",\"session\":1,\"seq\":1,\"look\":[0,-1.01]}") == ErrorCode::ValueOutOfRange);
    CHECK(code_of("{\"type\":\"input\",\"session\":1,\"seq\":1,\"keys\":[1]}") == ErrorCode::BadMessage);
    std::string keys = "[";
    for (int i = 0; i < 17; ++i) {
        keys += std::string(i ? "," : "") + "\"KeyW\"";
    }
    CHECK(code_of("{\"type\":\"input\",\"session\":1,\"seq\":1,\"keys\":" + keys + "]}") == ErrorCode::ValueOutOfRange);
    CHECK(code_of("{\"type\":\"nack\",\"session\":1,\"seq\":1,\"frame\":3,\"missing\":[]}") == ErrorCode::BadMessage);
    CHECK(code_of("{\"type\":\"nack\",\"session\":1,\"seq\":1,\"frame\":3,\"missing\":[65536]}") == ErrorCode::ValueOutOfRange);
    CHECK(code_of("{\"type\":\"config\",\"session\":1,\"seq\":1,\"fps\":241}") == ErrorCode::ValueOutOfRange);
    CHECK(code_of("{\"type\":\"config\",\"session\":1,\"seq\":1,\"paused\":1}") == ErrorCode::BadMessage);
    CHECK(code_of("{\"type\":\"ping\",\"session\":1}") == ErrorCode::BadMessage);  // seq missing
    CHECK(code_of("{\"session\":1,\"seq\":1}") == ErrorCode::BadMessage);          // type missing
    CHECK(code_of("{\"type\":7}") == ErrorCode::BadMessage);
}

TEST_CASE("a welcome must be complete") {
    msg::Welcome welcome = sample_welcome();
    Value value = message_to_value(Message(welcome));
    CHECK(message_from_value(value, Encoding::MsgPack).ok());
    for (const char* field : {"nonce", "width", "limits", "vocabulary", "capabilities", "authenticated"}) {
        Value without = Value::map();
        for (const Value::Member& member : value.members()) {
            if (member.key != field) {
                without.add(member.key, member.value);
            }
        }
        CHECK_MESSAGE(message_from_value(without, Encoding::MsgPack).code() == ErrorCode::BadMessage, field);
    }
    welcome.max_datagram = 100;
    CHECK(message_from_value(message_to_value(Message(welcome)), Encoding::MsgPack).code() == ErrorCode::ValueOutOfRange);
    // Limits the daemon leaves out take their defaults.
    Value partial = message_to_value(Message(sample_welcome()));
    for (Value::Member& member : partial.members()) {
        if (member.key == "limits") {
            member.value = Value::map().add("max_events", Value::integer(2));
        }
    }
    Result<Message> decoded = message_from_value(partial, Encoding::MsgPack);
    REQUIRE(decoded.ok());
    CHECK(std::get<msg::Welcome>(decoded.value()).limits.max_events == 2);
    CHECK(std::get<msg::Welcome>(decoded.value()).limits.max_upload_bytes == 8388608);
}

TEST_CASE("MessagePack integers use the smallest encoding, as Python's msgpack writes them") {
    Value map = Value::map();
    map.add("type", Value::string("status"));
    std::vector<Value> numbers;
    for (std::int64_t n : {std::int64_t{0}, std::int64_t{127}, std::int64_t{128}, std::int64_t{255}, std::int64_t{256},
                           std::int64_t{65535}, std::int64_t{65536}, std::int64_t{4294967295}, std::int64_t{4294967296},
                           std::int64_t{-1}, std::int64_t{-32}, std::int64_t{-33}, std::int64_t{-128}, std::int64_t{-129},
                           std::int64_t{-32768}, std::int64_t{-32769}, std::int64_t{-2147483648}, std::int64_t{-2147483649},
                           (std::numeric_limits<std::int64_t>::max)(), (std::numeric_limits<std::int64_t>::min)()}) {
        numbers.push_back(Value::integer(n));
    }
    map.add("n", Value::array(std::move(numbers)));
    Bytes out;
    msgpack::write(map, out);
    // python3 -c "import msgpack; print(msgpack.packb({'type':'status','n':[...]}).hex())"
    CHECK(to_hex(out) ==
          "82a474797065a6737461747573a16edc0014007fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000ffe0d0dfd080"
          "d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffffcf7fffffffffffffffd38000000000000000");
    Result<msgpack::Parsed> parsed = msgpack::parse_prefix(out);
    REQUIRE(parsed.ok());
    CHECK(parsed->value == map);
    CHECK(parsed->end == out.size());
}

TEST_CASE("MessagePack strings, bins, arrays and maps switch to wider headers at the right sizes") {
    auto header = [](const Value& value, std::size_t bytes) {
        Bytes out;
        msgpack::write(value, out);
        return to_hex(ByteView(out).sub(0, bytes));
    };
    CHECK(header(Value::string(std::string(31, 'a')), 2) == "bf61");
    CHECK(header(Value::string(std::string(32, 'a')), 3) == "d92061");
    CHECK(header(Value::string(std::string(256, 'a')), 4) == "da010061");
    CHECK(header(Value::binary(Bytes(300, 'x')), 4) == "c5012c78");
    std::vector<Value> sixteen(16, Value::integer(0));
    CHECK(header(Value::array(sixteen), 3) == "dc0010");
    Value map = Value::map();
    for (int i = 0; i < 16; ++i) {
        map.add(std::to_string(i), Value::integer(i));
    }
    CHECK(header(map, 3) == "de0010");
}

TEST_CASE("MessagePack reading accepts every form and rejects malformed input") {
    // float32, uint64, int8, str16, bin8, array16, map32 and an ext value in an unknown field.
    const Bytes datagram = unhex(
        "87a474797065a4706f6e67a773657373696f6ecf0000000000000007a3736571d001"
        "a774696d655f7573ca3f800000ae6461656d6f6e5f74696d655f7573cd0100a3657874d70100000000000000ff"
        "a56f74686572dc0001c40101");
    Result<DecodedControl> decoded = decode_control(datagram);
    // time_us is the float32 1.0 here: revision 1.1 reads an integral float as its integer.
    REQUIRE(decoded.ok());
    CHECK(std::get<msg::Pong>(decoded->message).time_us == 1);
    const Bytes fixed = unhex(
        "88a474797065a4706f6e67a773657373696f6ecf0000000000000007a3736571d001a774696d655f7573d0fb"
        "ae6461656d6f6e5f74696d655f7573cd0100a7666c6f61743332ca3f800000a3657874d70100000000000000ff"
        "a56f74686572dc0001c40101");
    Result<DecodedControl> ok = decode_control(fixed);
    REQUIRE_MESSAGE(ok.ok(), ok.error().detail);
    const auto& pong = std::get<msg::Pong>(ok->message);
    CHECK(pong.session == 7u);
    CHECK(pong.seq == 1u);
    CHECK(pong.time_us == -5);
    CHECK(pong.daemon_time_us == 256);
    CHECK(code_of(std::string("\x81\xa4type\xc1", 7)) == ErrorCode::BadMessage);             // 0xc1 is never used
    CHECK(decode_control(unhex("8101a474797065")).code() == ErrorCode::BadMessage);              // integer key
    CHECK(decode_control(unhex("81a474797065a2ff")).code() == ErrorCode::BadMessage);            // bad UTF-8
    CHECK(decode_control(unhex("81a474797065dbffffffff")).code() == ErrorCode::BadMessage);      // huge length
    CHECK(decode_control(unhex("81a474797065ddffffffff")).code() == ErrorCode::BadMessage);      // huge array
    CHECK(decode_control(unhex("df7fffffff")).code() == ErrorCode::BadMessage);                   // huge map
    CHECK(decode_control(unhex("84a474797065a470696e67a773657373696f6e07a373657101a774696d655f7573cfffffffffffffffff"))
              .code() == ErrorCode::ValueOutOfRange);  // uint64 above int64
    Bytes deep = unhex("81a474797065");
    for (int i = 0; i < 40; ++i) {
        deep.push_back(0x91);
    }
    deep.push_back(0x00);
    CHECK(decode_control(deep).code() == ErrorCode::BadMessage);
}

TEST_CASE("floats are written as Python writes them") {
    CHECK(json::format_float(0.0) == "0.0");
    CHECK(json::format_float(-0.0) == "-0.0");
    CHECK(json::format_float(16.0) == "16.0");
    CHECK(json::format_float(0.1) == "0.1");
    CHECK(json::format_float(80.25) == "80.25");
    CHECK(json::format_float(1e-5) == "1e-05");
    CHECK(json::format_float(0.0001) == "0.0001");
    CHECK(json::format_float(1e15) == "1000000000000000.0");
    CHECK(json::format_float(1e16) == "1e+16");
    CHECK(json::format_float(1.5e300) == "1.5e+300");
    CHECK(json::format_float(5e-324) == "5e-324");
    CHECK(json::format_float(0.30000000000000004) == "0.30000000000000004");
    CHECK(json::format_float(-2.5) == "-2.5");
    CHECK(json::format_float(123456.789) == "123456.789");
    // and read back exactly
    for (double value : {0.1, 1.0 / 3.0, 2.0 / 3.0, 1e-7, 123456.789, 6.02214076e23, 5e-324, 1.7976931348623157e308}) {
        CHECK(json::parse_decimal(json::format_float(value)) == value);
    }
    CHECK(json::parse_decimal("0.30000000000000004") == 0.30000000000000004);
    CHECK(json::parse_decimal("12345678901234567890123") == 1.2345678901234568e22);
    CHECK(std::isinf(json::parse_decimal("1e400")));
    CHECK(json::parse_decimal("1e-400") == 0.0);
}

TEST_CASE("a float field that overflows to infinity is out of range") {
    CHECK(code_of("{\"type\":\"config\",\"session\":1,\"seq\":1,\"fps\":1e400}") == ErrorCode::ValueOutOfRange);
}

TEST_CASE("JSON strings are escaped as Python writes them, non-ASCII kept") {
    Value v = Value::map().add("s", Value::string(std::string("a\"b\\c\n\t\x01\x7f\xc3\xa9\xf0\x9f\x90\x89")));
    CHECK(json::to_string(v) == std::string("{\"s\":\"a\\\"b\\\\c\\n\\t\\u0001\x7f\xc3\xa9\xf0\x9f\x90\x89\"}"));
}

TEST_CASE("base64 is strict standard base64 with padding") {
    CHECK(base64_encode(as_bytes("")) == "");
    CHECK(base64_encode(as_bytes("f")) == "Zg==");
    CHECK(base64_encode(as_bytes("fo")) == "Zm8=");
    CHECK(base64_encode(as_bytes("foo")) == "Zm9v");
    CHECK(base64_encode(as_bytes("foobar")) == "Zm9vYmFy");
    CHECK(base64_encode(Bytes{0xfb, 0xff}) == "+/8=");
    CHECK(*base64_decode("Zm9vYmE=") == Bytes{'f', 'o', 'o', 'b', 'a'});
    CHECK(*base64_decode("") == Bytes{});
    CHECK_FALSE(base64_decode("Zm9").has_value());
    CHECK_FALSE(base64_decode("Zm9v YmFy").has_value());
    CHECK_FALSE(base64_decode("Zg=a").has_value());
    CHECK_FALSE(base64_decode("Zg==Zm9v").has_value());
    CHECK_FALSE(base64_decode("Z===").has_value());
    CHECK_FALSE(base64_decode("Zm9-").has_value());  // URL-safe alphabet is not standard
}

TEST_CASE("UTF-8 validation counts code points and rejects malformed sequences") {
    CHECK(utf8_code_points("abc") == std::optional<std::size_t>(3));
    CHECK(utf8_code_points("\xc2\xb7\xe2\x86\x92\xf0\x9f\x90\x89") == std::optional<std::size_t>(3));
    CHECK_FALSE(utf8_code_points("\xc0\xaf").has_value());          // overlong
    CHECK_FALSE(utf8_code_points("\xed\xa0\x80").has_value());      // surrogate
    CHECK_FALSE(utf8_code_points("\xf4\x90\x80\x80").has_value());  // above U+10FFFF
    CHECK_FALSE(utf8_code_points("\xe2\x86").has_value());          // truncated
    CHECK_FALSE(utf8_code_points("\x80").has_value());
}

TEST_CASE("datagram kinds are told apart by the first byte") {
    CHECK(classify_datagram(Bytes{}) == DatagramKind::Invalid);
    CHECK(classify_datagram(Bytes{'{'}) == DatagramKind::JsonControl);
    CHECK(classify_datagram(Bytes{0x80}) == DatagramKind::MsgPackControl);
    CHECK(classify_datagram(Bytes{0x8F}) == DatagramKind::MsgPackControl);
    CHECK(classify_datagram(Bytes{0xDE}) == DatagramKind::MsgPackControl);
    CHECK(classify_datagram(Bytes{0xDF}) == DatagramKind::MsgPackControl);
    CHECK(classify_datagram(Bytes{0x90}) == DatagramKind::Invalid);
    CHECK(classify_datagram(Bytes{'Y', 'F'}) == DatagramKind::Fragment);
    CHECK(classify_datagram(Bytes{'Y'}) == DatagramKind::Invalid);
    CHECK(classify_datagram(Bytes{' ', '{'}) == DatagramKind::Invalid);
}
