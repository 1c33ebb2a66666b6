// protocol/vectors/*.json read independently with nlohmann::json and checked against the core:
// every message in both encodings, every invalid datagram, the auth vectors and every frame scenario.
#include "YumeBridgeCore/YumeBridgeCore.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace yumebridge;
using Json = nlohmann::json;

namespace {

Json load(const char* name) {
    std::ifstream file(std::string(YUME_VECTOR_DIR) + "/" + name);
    REQUIRE_MESSAGE(file.good(), "cannot open protocol/vectors/" << name);
    return Json::parse(file);
}

Bytes hex(const Json& value) {
    const std::optional<Bytes> bytes = from_hex(value.get<std::string>());
    REQUIRE(bytes.has_value());
    return *bytes;
}

// The core's value tree as the vectors write it: binary as {"$bytes": hex}.
Json to_plain_json(const Value& value) {
    switch (value.kind()) {
        case Value::Kind::Nil: return nullptr;
        case Value::Kind::Boolean: return value.as_bool();
        case Value::Kind::Integer: return value.as_int();
        case Value::Kind::Float: return value.as_float();
        case Value::Kind::String: return value.as_string();
        case Value::Kind::Binary: return Json{{"$bytes", to_hex(value.as_binary())}};
        case Value::Kind::Extension: return nullptr;
        case Value::Kind::Array: {
            Json out = Json::array();
            for (const Value& item : value.items()) {
                out.push_back(to_plain_json(item));
            }
            return out;
        }
        case Value::Kind::Map: {
            Json out = Json::object();
            for (const Value::Member& member : value.members()) {
                out[member.key] = to_plain_json(member.value);
            }
            return out;
        }
    }
    return nullptr;
}

// Integers and floats must keep their kind (JSON "16.0" is a float, "16" an int).
bool same_kinds(const Json& a, const Json& b) {
    if (a.is_number_integer() || b.is_number_integer()) {
        return a.is_number_integer() && b.is_number_integer();  // signed and unsigned are both integers
    }
    if (a.type() != b.type()) {
        return false;
    }
    if (a.is_object()) {
        for (auto it = a.begin(); it != a.end(); ++it) {
            if (!b.contains(it.key()) || !same_kinds(it.value(), b.at(it.key()))) {
                return false;
            }
        }
    }
    if (a.is_array()) {
        for (std::size_t i = 0; i < a.size(); ++i) {
            if (!same_kinds(a[i], b[i])) {
                return false;
            }
        }
    }
    return true;
}

}  // namespace

// One messages.json-style vector: decodes from both encodings to its value and re-encodes byte for byte.
void check_message_vector(const Json& vector) {
    const std::string name = vector["name"];
    const std::string json_text = vector["json"];
    const Bytes json_bytes(json_text.begin(), json_text.end());
    const Bytes msgpack_bytes = hex(vector["msgpack"]);
    for (const auto& [encoding, bytes] :
         {std::pair<Encoding, const Bytes&>{Encoding::Json, json_bytes}, {Encoding::MsgPack, msgpack_bytes}}) {
        const std::string form = name + (encoding == Encoding::Json ? " (json)" : " (msgpack)");
        INFO(form);
        Result<DecodedControl> decoded = decode_control(bytes);
        REQUIRE_MESSAGE(decoded.ok(), decoded.error().detail);
        CHECK(decoded->encoding == encoding);
        CHECK(std::string(message_type_name(decoded->message)) == vector["type"].get<std::string>());
        const Json value = to_plain_json(message_to_value(decoded->message));
        CHECK(value == vector["value"]);
        CHECK(same_kinds(value, vector["value"]));
        const Bytes again = encode_body(decoded->message, encoding);
        CHECK(again == bytes);
        Result<DecodedControl> second = decode_control(again);
        REQUIRE(second.ok());
        CHECK(message_to_value(second->message) == message_to_value(decoded->message));
    }
}

TEST_CASE("vectors: every message decodes from JSON and MessagePack and re-encodes to the same bytes") {
    const Json file = load("messages.json");
    REQUIRE(file["messages"].size() >= 24);
    for (const Json& vector : file["messages"]) {
        const std::string name = vector["name"];
        SUBCASE(name.c_str()) {
            check_message_vector(vector);
        }
    }
}

TEST_CASE("vectors: decoded messages carry the expected typed fields") {
    const Json file = load("messages.json");
    std::map<std::string, Message> by_name;
    for (const Json& vector : file["messages"]) {
        Result<DecodedControl> decoded = decode_control(hex(vector["msgpack"]));
        REQUIRE(decoded.ok());
        by_name.emplace(vector["name"].get<std::string>(), decoded->message);
    }
    const auto& welcome = std::get<msg::Welcome>(by_name.at("welcome"));
    CHECK(welcome.session == 305419896u);
    CHECK(welcome.seq == 1u);
    CHECK(welcome.width == 960);
    CHECK(welcome.height == 544);
    CHECK(welcome.fps == 16.0);
    CHECK(welcome.frames_per_chunk == 29);
    CHECK(welcome.limits.max_upload_bytes == 8388608);
    CHECK(welcome.limits.frame_deadline_ms == 300);
    CHECK(welcome.vocabulary.look.size() == 9);
    CHECK(welcome.vocabulary.look[5] == "\xe2\x86\x91\xe2\x86\x92");  // ↑→
    CHECK(welcome.has_capability("pause"));
    const auto& hello = std::get<msg::Hello>(by_name.at("hello_full"));
    REQUIRE(hello.cookie.has_value());
    CHECK(hello.cookie->size() == 20);
    CHECK(hello.auth->size() == 16);
    CHECK_FALSE(std::get<msg::Hello>(by_name.at("hello_minimal")).cookie.has_value());
    const auto& input = std::get<msg::Input>(by_name.at("input_axes"));
    CHECK(input.look[0] == 0.75);
    CHECK(input.look[1] == -0.5);
    const auto& keys = std::get<msg::Input>(by_name.at("input_keys"));
    CHECK(keys.keys == std::vector<std::string>{"KeyW", "ArrowRight"});
    const auto& start = std::get<msg::Start>(by_name.at("start_image"));
    CHECK(start.seed == std::optional<std::uint32_t>(42));
    CHECK(start.image->size() == 32);
    CHECK_FALSE(std::get<msg::Start>(by_name.at("start_default")).seed.has_value());
    const auto& config = std::get<msg::Config>(by_name.at("config_pause"));
    CHECK_FALSE(config.quality.has_value());
    CHECK(config.paused == std::optional<bool>(true));
    const auto& status = std::get<msg::Status>(by_name.at("status"));
    CHECK(status.latency.generate_ms == 80.25);
    CHECK(status.input_seq == 42u);
    const auto& error = std::get<msg::Error>(by_name.at("error_session"));
    CHECK(error.ref == 8u);
    CHECK(protocol_error_code(error.code) == ErrorCode::TextTooLong);
    const auto& handshake_error = std::get<msg::Error>(by_name.at("error_handshake"));
    CHECK(handshake_error.session == 0u);
    CHECK_FALSE(session_fields(Message(handshake_error)).has_value());
    const auto& nack = std::get<msg::Nack>(by_name.at("nack"));
    CHECK(nack.missing == std::vector<std::int64_t>{3, 4, 60});
}

TEST_CASE("vectors: every invalid datagram is rejected with the expected code") {
    const Json file = load("invalid.json");
    REQUIRE(file["datagrams"].size() >= 20);
    for (const Json& vector : file["datagrams"]) {
        const std::string name = vector["name"];
        SUBCASE(name.c_str()) {
            Result<DecodedControl> decoded = decode_control(hex(vector["hex"]));
            REQUIRE_FALSE(decoded.ok());
            const std::string expect = vector["expect"];
            if (expect == "drop") {
                CHECK(decoded.code() == ErrorCode::NotControl);
            } else {
                CHECK(std::string(error_code_name(decoded.code())) == expect);
            }
        }
    }
}

TEST_CASE("vectors: invalid datagrams reaching a connected client change nothing") {
    const Json file = load("invalid.json");
    Connection client;
    REQUIRE(client.connect(0, Nonce{}).ok());
    client.datagrams_to_send();
    for (const Json& vector : file["datagrams"]) {
        client.receive_datagram(hex(vector["hex"]), 1);
    }
    CHECK(client.state() == ConnectionState::Handshaking);
    CHECK(client.stats().dropped_invalid == file["datagrams"].size());
    CHECK_FALSE(client.next_event().has_value());
}

TEST_CASE("vectors: HMAC-SHA256, hello.auth, session key and tags") {
    const Json file = load("auth.json");
    for (const Json& vector : file["hmac_sha256"]) {
        const Digest digest = hmac_sha256(hex(vector["key"]), hex(vector["message"]));
        CHECK(to_hex(ByteView(digest.data(), digest.size())) == vector["digest"].get<std::string>());
    }
    const std::string token = file["token"];
    const Bytes client_nonce = hex(file["client_nonce"]);
    const Bytes server_nonce = hex(file["server_nonce"]);
    const Tag auth = hello_auth(token, client_nonce, hex(file["cookie"]));
    CHECK(to_hex(ByteView(auth.data(), auth.size())) == file["hello_auth"].get<std::string>());
    const Digest key = session_key(token, client_nonce, server_nonce, file["session"].get<std::uint32_t>());
    CHECK(to_hex(ByteView(key.data(), key.size())) == file["session_key"].get<std::string>());
    REQUIRE(file["tagged"].size() == 2);
    for (const Json& vector : file["tagged"]) {
        const Bytes body = hex(vector["body"]);
        const Tag tag = datagram_tag(key, body);
        CHECK(to_hex(ByteView(tag.data(), tag.size())) == vector["tag"].get<std::string>());
        Bytes datagram = body;
        datagram.insert(datagram.end(), tag.begin(), tag.end());
        Result<DecodedControl> decoded = decode_control(datagram);
        REQUIRE(decoded.ok());
        REQUIRE(decoded->tag.has_value());
        CHECK(decoded->body_size == body.size());
        CHECK(std::equal(tag.begin(), tag.end(), decoded->tag->begin()));
    }
}

TEST_CASE("vectors: every frames.json scenario gives the expected complete and missing frames") {
    const Json file = load("frames.json");
    std::vector<Bytes> datagrams;
    for (const Json& d : file["datagrams"]) {
        datagrams.push_back(hex(d));
    }
    std::map<std::uint32_t, Bytes> payloads;
    for (const Json& frame : file["frames"]) {
        payloads[frame["frame"].get<std::uint32_t>()] = hex(frame["payload"]);
        const Json& header = frame["header"];
        const std::size_t count = frame["datagrams"].size();
        for (std::size_t i = 0; i < count; ++i) {
            const std::optional<FrameHeader> h = parse_fragment_header(datagrams[frame["datagrams"][i].get<std::size_t>()]);
            REQUIRE(h.has_value());
            CHECK(h->session == header["session"].get<std::uint32_t>());
            CHECK(h->frame == header["frame"].get<std::uint32_t>());
            CHECK(h->chunk == header["chunk"].get<std::uint32_t>());
            CHECK(h->frame_in_chunk == header["frame_in_chunk"].get<std::uint16_t>());
            CHECK(h->flags == header["flags"].get<std::uint8_t>());
            CHECK(h->input_seq == header["input_seq"].get<std::uint32_t>());
            CHECK(h->time_us == header["time_us"].get<std::uint64_t>());
            CHECK(h->action == header["action"].get<std::uint8_t>());
            CHECK(h->fragment_index == i);
            CHECK(h->fragment_count == count);
            CHECK(h->frame_length == payloads[h->frame].size());
        }
    }
    REQUIRE(file["scenarios"].size() >= 9);
    for (const Json& scenario : file["scenarios"]) {
        const std::string name = scenario["name"];
        SUBCASE(name.c_str()) {
            FrameReassembler reassembler(file["receiver_session"].get<std::uint32_t>());
            std::vector<std::uint32_t> complete;
            Time now = 0;
            for (const Json& index : scenario["deliver"]) {
                reassembler.receive(datagrams.at(index.get<std::size_t>()), now += kMillisecond);
                if (std::optional<CompleteFrame> frame = reassembler.take_frame()) {
                    complete.push_back(frame->header.frame);
                    CHECK(frame->jpeg == payloads[frame->header.frame]);
                }
            }
            CHECK(complete == scenario["complete"].get<std::vector<std::uint32_t>>());
            std::map<std::string, std::vector<std::int64_t>> missing;
            for (std::uint32_t frame : reassembler.incomplete_frame_numbers()) {
                missing[std::to_string(frame)] = *reassembler.missing(frame);
            }
            CHECK(missing == scenario["missing"].get<std::map<std::string, std::vector<std::int64_t>>>());
        }
    }
}

// ---- revision 1.1 (protocol/vectors/revision_1_1.json) ----

TEST_CASE("revision 1.1 vectors: hello with minor and capabilities, started.ref, path challenge and response, padded nack, rate_limited") {
    const Json file = load("revision_1_1.json");
    REQUIRE(file["messages"].size() >= 6);
    for (const Json& vector : file["messages"]) {
        const std::string name = vector["name"];
        SUBCASE(name.c_str()) {
            check_message_vector(vector);
        }
    }
}

TEST_CASE("revision 1.1 vectors: integral floats are read as the integers they stand for") {
    const Json file = load("revision_1_1.json");
    for (const Json& vector : file["accepted"]) {
        INFO(vector["name"].get<std::string>());
        Result<DecodedControl> decoded = decode_control(hex(vector["hex"]));
        REQUIRE_MESSAGE(decoded.ok(), decoded.error().detail);
        const Json value = to_plain_json(message_to_value(decoded->message));
        CHECK(value == vector["value"]);
        CHECK(same_kinds(value, vector["value"]));
    }
}

TEST_CASE("revision 1.1 vectors: a fraction for an integer and a trailing newline are still bad messages") {
    const Json file = load("revision_1_1.json");
    for (const Json& vector : file["invalid"]) {
        INFO(vector["name"].get<std::string>());
        Result<DecodedControl> decoded = decode_control(hex(vector["hex"]));
        REQUIRE_FALSE(decoded.ok());
        CHECK(std::string(error_code_name(decoded.code())) == vector["expect"].get<std::string>());
    }
}

TEST_CASE("revision 1.1 vectors: the smallest nack that pays for k fragments") {
    const Json file = load("revision_1_1.json");
    for (const Json& row : file["nack_budget"]) {
        CHECK(nack_min_bytes(row["fragments"].get<std::size_t>(), row["max_datagram"].get<std::int64_t>()) ==
              row["min_nack_bytes"].get<std::size_t>());
    }
}
