// Every control message of protocol v1 (SPEC §5) as a struct, with its validation and its
// encoding to and from JSON and MessagePack, plus the datagram framing of SPEC §2 (body + tag).
//
// Fields are emitted in the order the daemon writes them, so a decoded vector re-encodes to the
// same bytes; optional fields without a value are left out.
#pragma once

#include "Common.hpp"
#include "Json.hpp"
#include "MsgPack.hpp"
#include "Value.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace yumebridge {

constexpr std::int64_t kProtocolVersion = 1;
constexpr std::int64_t kProtocolMinor = 1;  // revision 1.1: optional fields only; hello.protocol stays 1

// Revision 1.1: the smallest nack (tag included) that pays for resending k fragments of max_datagram bytes.
inline std::size_t nack_min_bytes(std::size_t fragments, std::int64_t max_datagram) {
    const std::size_t per_fragment = static_cast<std::size_t>(max_datagram > 0 ? max_datagram : 0);
    return (fragments * per_fragment + 9) / 10;
}
constexpr std::size_t kTagSize = 16;
constexpr std::size_t kNonceSize = 16;
constexpr std::size_t kHashSize = 32;
constexpr std::size_t kMaxCookieSize = 64;

enum class Encoding : std::uint8_t { Json, MsgPack };

enum class DatagramKind : std::uint8_t { Invalid, JsonControl, MsgPackControl, Fragment };

// SPEC §2: the first byte says what a datagram is.
inline DatagramKind classify_datagram(ByteView datagram) {
    if (datagram.empty()) {
        return DatagramKind::Invalid;
    }
    const std::uint8_t first = datagram[0];
    if (first == 0x7B) {
        return DatagramKind::JsonControl;
    }
    if ((first >= 0x80 && first <= 0x8F) || first == 0xDE || first == 0xDF) {
        return DatagramKind::MsgPackControl;
    }
    if (first == 0x59 && datagram.size >= 2 && datagram[1] == 0x46) {
        return DatagramKind::Fragment;
    }
    return DatagramKind::Invalid;
}

namespace msg {

struct Hello {
    static constexpr const char* kType = "hello";
    std::int64_t protocol = kProtocolVersion;
    Bytes nonce;
    std::string client;
    std::string client_version;
    std::string engine;
    std::int64_t width = 0;
    std::int64_t height = 0;
    double fps = 0.0;
    std::int64_t quality = 85;
    std::int64_t max_datagram = 1200;
    std::optional<Bytes> cookie;
    std::optional<Bytes> auth;
    std::optional<Bytes> pad;
    std::optional<std::int64_t> minor;                     // revision 1.1: 1
    std::optional<std::vector<std::string>> capabilities;  // revision 1.1: e.g. "path_response"
};

struct Retry {
    static constexpr const char* kType = "retry";
    Bytes nonce;
    Bytes cookie;
    bool token_required = false;
};

struct Vocabulary {
    std::string name;
    std::string version;
    std::vector<std::string> movement;
    std::vector<std::string> look;
};

// SPEC §9, as the welcome reports them.
struct Limits {
    std::int64_t max_control_bytes = 4096;
    std::int64_t max_prompt_chars = 1000;
    std::int64_t max_event_chars = 300;
    std::int64_t max_events = 4;
    std::int64_t max_upload_bytes = 8388608;
    std::int64_t max_image_pixels = 40000000;
    std::int64_t idle_timeout_ms = 10000;
    std::int64_t frame_deadline_ms = 300;
    std::int64_t max_nack_fragments = 128;
    std::int64_t max_keys = 16;
    std::int64_t max_sessions = 4;
};

struct Welcome {
    static constexpr const char* kType = "welcome";
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
    std::int64_t protocol = kProtocolVersion;
    Bytes nonce;
    std::string daemon_version;
    std::string backend;
    std::string model;
    std::string model_version;
    std::string state;
    std::int64_t width = 0;
    std::int64_t height = 0;
    double fps = 0.0;
    std::int64_t frames_per_chunk = 0;
    std::int64_t quality = 0;
    std::int64_t max_datagram = 0;
    bool authenticated = false;
    Vocabulary vocabulary;
    Limits limits;
    std::vector<std::string> capabilities;
    std::optional<std::int64_t> minor;  // revision 1.1

    bool has_capability(std::string_view name) const {
        for (const std::string& capability : capabilities) {
            if (capability == name) {
                return true;
            }
        }
        return false;
    }
};

struct Upload {
    static constexpr const char* kType = "upload";
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
    Bytes hash;
    std::int64_t size = 0;
    std::int64_t offset = 0;
    Bytes data;
};

struct UploadAck {
    static constexpr const char* kType = "upload_ack";
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
    Bytes hash;
    std::int64_t offset = 0;
    std::int64_t length = 0;
    std::int64_t received = 0;
    bool complete = false;
};

struct Start {
    static constexpr const char* kType = "start";
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
    std::string source;  // "image", "text" or "default"
    std::optional<Bytes> image;
    std::string prompt;
    std::optional<std::uint32_t> seed;
};

struct Started {
    static constexpr const char* kType = "started";
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
    std::int64_t world = 0;
    std::string source;
    std::uint32_t seed = 0;
    std::optional<std::uint32_t> ref;  // revision 1.1: seq of the start it answers
};

struct Input {
    static constexpr const char* kType = "input";
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
    std::int64_t time_us = 0;
    std::array<double, 2> move{{0.0, 0.0}};
    std::array<double, 2> look{{0.0, 0.0}};
    std::vector<std::string> keys;
};

struct Event {
    static constexpr const char* kType = "event";
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
    std::uint32_t id = 0;
    std::string text;
};

struct EventAck {
    static constexpr const char* kType = "event_ack";
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
    std::uint32_t id = 0;
    std::int64_t chunk = 0;
    std::vector<std::uint32_t> active;
};

struct Config {
    static constexpr const char* kType = "config";
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
    std::optional<std::int64_t> quality;
    std::optional<double> fps;
    std::optional<bool> paused;
};

struct Ping {
    static constexpr const char* kType = "ping";
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
    std::int64_t time_us = 0;
};

struct Pong {
    static constexpr const char* kType = "pong";
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
    std::int64_t time_us = 0;
    std::int64_t daemon_time_us = 0;
};

struct Nack {
    static constexpr const char* kType = "nack";
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
    std::uint32_t frame = 0;
    std::vector<std::int64_t> missing;
    std::optional<Bytes> pad;  // revision 1.1: pays for the resend (the daemon resends at most 10x the nack's size)
};

// Revision 1.1, token mode: the daemon saw this session's tagged datagram from a new address and
// asks the client to echo 8 bytes from there before it moves the stream (SPEC §3.5).
struct PathChallenge {
    static constexpr const char* kType = "path_challenge";
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
    Bytes data;
};

struct PathResponse {
    static constexpr const char* kType = "path_response";
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
    Bytes data;
};

struct Latency {
    double queue_ms = 0.0;
    double generate_ms = 0.0;
    double encode_ms = 0.0;
    double send_ms = 0.0;
};

struct Status {
    static constexpr const char* kType = "status";
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
    std::string state;
    double progress = 0.0;
    std::int64_t world = 0;
    std::int64_t chunk = -1;
    std::int64_t queue = 0;
    double fps = 0.0;
    std::int64_t frames_sent = 0;
    std::int64_t action = 0;
    std::uint32_t input_seq = 0;
    Latency latency;
    std::string message;
};

struct Bye {
    static constexpr const char* kType = "bye";
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
    std::string reason;
};

struct Error {
    static constexpr const char* kType = "error";
    std::string code;
    std::string message;
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
    std::uint32_t ref = 0;
    bool fatal = false;
};

}  // namespace msg

using Message = std::variant<msg::Hello, msg::Retry, msg::Welcome, msg::Upload, msg::UploadAck, msg::Start,
                             msg::Started, msg::Input, msg::Event, msg::EventAck, msg::Config, msg::Ping, msg::Pong,
                             msg::Nack, msg::Status, msg::Bye, msg::Error, msg::PathChallenge, msg::PathResponse>;

inline const char* message_type_name(const Message& message) {
    return std::visit([](const auto& m) { return std::decay_t<decltype(m)>::kType; }, message);
}

// Session and seq of a message that carries them (SPEC §3.3); an error carries them when session != 0.
struct SessionFields {
    std::uint32_t session = 0;
    std::uint32_t seq = 0;
};

inline std::optional<SessionFields> session_fields(const Message& message) {
    return std::visit(
        [](const auto& m) -> std::optional<SessionFields> {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, msg::Hello> || std::is_same_v<T, msg::Retry>) {
                return std::nullopt;
            } else if constexpr (std::is_same_v<T, msg::Error>) {
                if (m.session == 0) {
                    return std::nullopt;
                }
                return SessionFields{m.session, m.seq};
            } else {
                return SessionFields{m.session, m.seq};
            }
        },
        message);
}

// ---------------------------------------------------------------------------------------------
// Reading fields with the checks of SPEC §2.1: a missing required field or a wrong type is
// bad_message, a number outside its range (or not finite) is value_out_of_range.
// ---------------------------------------------------------------------------------------------
namespace detail {

constexpr std::size_t kNoLimit = (std::numeric_limits<std::size_t>::max)();

class FieldReader {
public:
    FieldReader(const Value& map, Encoding encoding) : map_(map), encoding_(encoding) {}

    bool ok() const { return failure_.code == ErrorCode::Ok; }
    const Failure& failure() const { return failure_; }

    void fail(ErrorCode code, std::string detail) {
        if (ok()) {
            failure_ = Failure{code, std::move(detail)};
        }
    }

    // The raw value of a field, or nullptr (after recording bad_message when it is required).
    const Value* field(const char* name, bool required) {
        if (!ok()) {
            return nullptr;
        }
        const Value* value = map_.find(name);
        if (value == nullptr && required) {
            fail(ErrorCode::BadMessage, std::string("missing field '") + name + "'");
        }
        return value;
    }

    bool read_integer(const Value& value, const char* name, std::int64_t& out, std::int64_t min, std::int64_t max) {
        // Revision 1.1: an integral float (7.0, 5e0) stands for the integer; a fraction does not.
        if (value.is(Value::Kind::Float)) {
            const double number = value.as_float();
            if (!std::isfinite(number) || std::floor(number) != number) {
                fail(ErrorCode::BadMessage, std::string("field '") + name + "' must be an integer");
                return false;
            }
            // Past 2^53 a double no longer names one integer: out of range, like any too-large number.
            if (std::fabs(number) > 9007199254740992.0 || number < static_cast<double>(min) ||
                number > static_cast<double>(max)) {
                fail(ErrorCode::ValueOutOfRange, std::string("field '") + name + "' is out of range");
                return false;
            }
            out = static_cast<std::int64_t>(number);
            return true;
        }
        if (!value.is(Value::Kind::Integer)) {
            fail(ErrorCode::BadMessage, std::string("field '") + name + "' must be an integer");
            return false;
        }
        if (value.int_oversized() || value.as_int() < min || value.as_int() > max) {
            fail(ErrorCode::ValueOutOfRange, std::string("field '") + name + "' is out of range");
            return false;
        }
        out = value.as_int();
        return true;
    }

    bool read_number(const Value& value, const char* name, double& out, double min, double max) {
        if (!value.is(Value::Kind::Integer) && !value.is(Value::Kind::Float)) {
            fail(ErrorCode::BadMessage, std::string("field '") + name + "' must be a number");
            return false;
        }
        const double number = value.as_number();
        if (value.int_oversized() || !std::isfinite(number) || number < min || number > max) {
            fail(ErrorCode::ValueOutOfRange, std::string("field '") + name + "' is out of range or not finite");
            return false;
        }
        out = number;
        return true;
    }

    bool read_text(const Value& value, const char* name, std::string& out, std::size_t max_code_points) {
        if (!value.is(Value::Kind::String)) {
            fail(ErrorCode::BadMessage, std::string("field '") + name + "' must be a string");
            return false;
        }
        if (max_code_points != kNoLimit) {
            const std::optional<std::size_t> length = utf8_code_points(value.as_string());
            if (!length || *length > max_code_points) {
                fail(ErrorCode::ValueOutOfRange, std::string("field '") + name + "' is too long");
                return false;
            }
        }
        out = value.as_string();
        return true;
    }

    bool read_bytes(const Value& value, const char* name, Bytes& out, std::size_t exact, std::size_t max) {
        if (encoding_ == Encoding::Json) {
            if (!value.is(Value::Kind::String)) {
                fail(ErrorCode::BadMessage, std::string("field '") + name + "' must be a base64 string");
                return false;
            }
            std::optional<Bytes> decoded = base64_decode(value.as_string());
            if (!decoded) {
                fail(ErrorCode::BadMessage, std::string("field '") + name + "' is not valid base64");
                return false;
            }
            out = std::move(*decoded);
        } else {
            if (!value.is(Value::Kind::Binary)) {
                fail(ErrorCode::BadMessage, std::string("field '") + name + "' must be bin");
                return false;
            }
            out = value.as_binary();
        }
        if (exact != 0 && out.size() != exact) {
            fail(ErrorCode::BadMessage,
                 std::string("field '") + name + "' must be " + std::to_string(exact) + " bytes");
            return false;
        }
        if (out.size() > max) {
            fail(ErrorCode::ValueOutOfRange, std::string("field '") + name + "' is too long");
            return false;
        }
        return true;
    }

    void integer(const char* name, std::int64_t& out, bool required = true,
                 std::int64_t min = (std::numeric_limits<std::int64_t>::min)(),
                 std::int64_t max = (std::numeric_limits<std::int64_t>::max)()) {
        if (const Value* value = field(name, required)) {
            read_integer(*value, name, out, min, max);
        }
    }

    void u32(const char* name, std::uint32_t& out, bool required = true) {
        std::int64_t wide = 0;
        if (const Value* value = field(name, required)) {
            if (read_integer(*value, name, wide, 0, 0xFFFFFFFFll)) {
                out = static_cast<std::uint32_t>(wide);
            }
        }
    }

    void number(const char* name, double& out, bool required = true,
                double min = -(std::numeric_limits<double>::max)(), double max = (std::numeric_limits<double>::max)()) {
        if (const Value* value = field(name, required)) {
            read_number(*value, name, out, min, max);
        }
    }

    void boolean(const char* name, bool& out, bool required = true) {
        if (const Value* value = field(name, required)) {
            if (!value->is(Value::Kind::Boolean)) {
                fail(ErrorCode::BadMessage, std::string("field '") + name + "' must be a boolean");
                return;
            }
            out = value->as_bool();
        }
    }

    void text(const char* name, std::string& out, bool required = true, std::size_t max_code_points = kNoLimit) {
        if (const Value* value = field(name, required)) {
            read_text(*value, name, out, max_code_points);
        }
    }

    void bytes(const char* name, Bytes& out, bool required = true, std::size_t exact = 0, std::size_t max = kNoLimit) {
        if (const Value* value = field(name, required)) {
            read_bytes(*value, name, out, exact, max);
        }
    }

    void optional_bytes(const char* name, std::optional<Bytes>& out, std::size_t exact = 0, std::size_t max = kNoLimit) {
        if (const Value* value = field(name, false)) {
            Bytes bytes_value;
            if (read_bytes(*value, name, bytes_value, exact, max)) {
                out = std::move(bytes_value);
            }
        }
    }

    const Value* list(const char* name, bool required) {
        const Value* value = field(name, required);
        if (value != nullptr && !value->is(Value::Kind::Array)) {
            fail(ErrorCode::BadMessage, std::string("field '") + name + "' must be a list");
            return nullptr;
        }
        return value;
    }

    void text_list(const char* name, std::vector<std::string>& out, bool required = true,
                   std::size_t max_items = kNoLimit) {
        const Value* value = list(name, required);
        if (value == nullptr) {
            return;
        }
        if (value->items().size() > max_items) {
            fail(ErrorCode::ValueOutOfRange, std::string("field '") + name + "' has too many items");
            return;
        }
        out.clear();
        for (const Value& item : value->items()) {
            std::string element;
            if (!read_text(item, name, element, kNoLimit)) {
                return;
            }
            out.push_back(std::move(element));
        }
    }

    void u32_list(const char* name, std::vector<std::uint32_t>& out, bool required = true) {
        const Value* value = list(name, required);
        if (value == nullptr) {
            return;
        }
        out.clear();
        for (const Value& item : value->items()) {
            std::int64_t element = 0;
            if (!read_integer(item, name, element, 0, 0xFFFFFFFFll)) {
                return;
            }
            out.push_back(static_cast<std::uint32_t>(element));
        }
    }

    void axis_pair(const char* name, std::array<double, 2>& out) {
        const Value* value = list(name, false);
        if (value == nullptr) {
            return;
        }
        if (value->items().size() != 2) {
            fail(ErrorCode::BadMessage, std::string("field '") + name + "' must hold 2 numbers");
            return;
        }
        for (std::size_t i = 0; i < 2; ++i) {
            if (!read_number(value->items()[i], name, out[i], -1.0, 1.0)) {
                return;
            }
        }
    }

    const Value* map_field(const char* name, bool required) {
        const Value* value = field(name, required);
        if (value != nullptr && !value->is(Value::Kind::Map)) {
            fail(ErrorCode::BadMessage, std::string("field '") + name + "' must be a map");
            return nullptr;
        }
        return value;
    }

    Encoding encoding() const { return encoding_; }

private:
    const Value& map_;
    Encoding encoding_;
    Failure failure_;
};

template <class T>
Result<Message> finish(FieldReader& fields, T&& message) {
    if (!fields.ok()) {
        return fields.failure();
    }
    return Message(std::forward<T>(message));
}

inline void read_session(FieldReader& fields, std::uint32_t& session, std::uint32_t& seq) {
    fields.u32("session", session);
    fields.u32("seq", seq);
}

inline void read_revision(FieldReader& f, std::optional<std::int64_t>& minor) {
    if (f.field("minor", false) != nullptr) {
        minor.emplace(0);
        f.integer("minor", *minor, false, 0, 255);
    }
}

inline void optional_u32(FieldReader& f, const char* name, std::optional<std::uint32_t>& out) {
    if (f.field(name, false) != nullptr) {
        out.emplace(0);
        f.u32(name, *out, false);
    }
}

inline void read_path_probe_data(FieldReader& f, std::uint32_t& session, std::uint32_t& seq, Bytes& data) {
    read_session(f, session, seq);
    f.bytes("data", data, true, 8);
}

inline Result<Message> read_path_challenge(FieldReader& f) {
    msg::PathChallenge m;
    read_path_probe_data(f, m.session, m.seq, m.data);
    return finish(f, std::move(m));
}

inline Result<Message> read_path_response(FieldReader& f) {
    msg::PathResponse m;
    read_path_probe_data(f, m.session, m.seq, m.data);
    return finish(f, std::move(m));
}

inline Result<Message> read_hello(FieldReader& f) {
    msg::Hello m;
    f.integer("protocol", m.protocol);
    f.bytes("nonce", m.nonce, true, kNonceSize);
    f.text("client", m.client, false, 64);
    f.text("client_version", m.client_version, false, 32);
    f.text("engine", m.engine, false, 64);
    f.integer("width", m.width, false, 0, 65535);
    f.integer("height", m.height, false, 0, 65535);
    f.number("fps", m.fps, false, 0.0, 240.0);
    if (f.ok() && m.fps != 0.0 && m.fps < 1.0) {
        f.fail(ErrorCode::ValueOutOfRange, "field 'fps' must be 0 or 1-240");
    }
    f.integer("quality", m.quality, false, 1, 100);
    f.integer("max_datagram", m.max_datagram, false, 576, 65000);
    f.optional_bytes("cookie", m.cookie, 0, kMaxCookieSize);
    f.optional_bytes("auth", m.auth, kTagSize);
    f.optional_bytes("pad", m.pad, 0, 2048);
    read_revision(f, m.minor);
    if (f.field("capabilities", false) != nullptr) {
        m.capabilities.emplace();
        f.text_list("capabilities", *m.capabilities, false, 16);
    }
    return finish(f, std::move(m));
}

inline Result<Message> read_retry(FieldReader& f) {
    msg::Retry m;
    f.bytes("nonce", m.nonce, true, kNonceSize);
    f.bytes("cookie", m.cookie, true, 0, kMaxCookieSize);
    f.boolean("token_required", m.token_required);
    return finish(f, std::move(m));
}

inline void read_limits(FieldReader& f, const Value& map, msg::Limits& limits) {
    FieldReader inner(map, f.encoding());
    const std::int64_t kMax = (std::numeric_limits<std::int64_t>::max)();
    inner.integer("max_control_bytes", limits.max_control_bytes, false, 0, kMax);
    inner.integer("max_prompt_chars", limits.max_prompt_chars, false, 0, kMax);
    inner.integer("max_event_chars", limits.max_event_chars, false, 0, kMax);
    inner.integer("max_events", limits.max_events, false, 0, kMax);
    inner.integer("max_upload_bytes", limits.max_upload_bytes, false, 0, kMax);
    inner.integer("max_image_pixels", limits.max_image_pixels, false, 0, kMax);
    inner.integer("idle_timeout_ms", limits.idle_timeout_ms, false, 0, kMax);
    inner.integer("frame_deadline_ms", limits.frame_deadline_ms, false, 0, kMax);
    inner.integer("max_nack_fragments", limits.max_nack_fragments, false, 0, kMax);
    inner.integer("max_keys", limits.max_keys, false, 0, kMax);
    inner.integer("max_sessions", limits.max_sessions, false, 0, kMax);
    if (!inner.ok()) {
        f.fail(inner.failure().code, "limits: " + inner.failure().detail);
    }
}

inline Result<Message> read_welcome(FieldReader& f) {
    msg::Welcome m;
    read_session(f, m.session, m.seq);
    f.integer("protocol", m.protocol);
    f.bytes("nonce", m.nonce, true, kNonceSize);
    f.text("daemon_version", m.daemon_version);
    f.text("backend", m.backend);
    f.text("model", m.model);
    f.text("model_version", m.model_version);
    f.text("state", m.state);
    f.integer("width", m.width, true, 1, 65535);
    f.integer("height", m.height, true, 1, 65535);
    f.number("fps", m.fps, true, 1e-3, 240.0);
    f.integer("frames_per_chunk", m.frames_per_chunk, true, 1, 65535);
    f.integer("quality", m.quality, true, 1, 100);
    f.integer("max_datagram", m.max_datagram, true, 576, 65000);
    f.boolean("authenticated", m.authenticated);
    if (const Value* vocabulary = f.map_field("vocabulary", true)) {
        FieldReader inner(*vocabulary, f.encoding());
        inner.text("name", m.vocabulary.name);
        inner.text("version", m.vocabulary.version);
        inner.text_list("movement", m.vocabulary.movement);
        inner.text_list("look", m.vocabulary.look);
        if (!inner.ok()) {
            f.fail(inner.failure().code, "vocabulary: " + inner.failure().detail);
        }
    }
    if (const Value* limits = f.map_field("limits", true)) {
        read_limits(f, *limits, m.limits);
    }
    f.text_list("capabilities", m.capabilities);
    read_revision(f, m.minor);
    return finish(f, std::move(m));
}

inline Result<Message> read_upload(FieldReader& f) {
    msg::Upload m;
    read_session(f, m.session, m.seq);
    f.bytes("hash", m.hash, true, kHashSize);
    f.integer("size", m.size, true, 1);
    f.integer("offset", m.offset, true, 0);
    f.bytes("data", m.data);
    if (f.ok() && m.data.empty()) {
        f.fail(ErrorCode::BadMessage, "field 'data' must hold at least 1 byte");
    }
    if (f.ok() && (m.offset > m.size || static_cast<std::int64_t>(m.data.size()) > m.size - m.offset)) {
        f.fail(ErrorCode::BadMessage, "upload piece lies outside 'size'");
    }
    return finish(f, std::move(m));
}

inline Result<Message> read_upload_ack(FieldReader& f) {
    msg::UploadAck m;
    read_session(f, m.session, m.seq);
    f.bytes("hash", m.hash, true, kHashSize);
    f.integer("offset", m.offset, true, 0);
    f.integer("length", m.length, true, 0);
    f.integer("received", m.received, true, 0);
    f.boolean("complete", m.complete);
    return finish(f, std::move(m));
}

inline Result<Message> read_start(FieldReader& f) {
    msg::Start m;
    read_session(f, m.session, m.seq);
    f.text("source", m.source);
    f.optional_bytes("image", m.image, kHashSize);
    f.text("prompt", m.prompt, false);
    if (f.field("seed", false) != nullptr) {
        std::uint32_t seed = 0;
        f.u32("seed", seed);
        m.seed = seed;
    }
    if (f.ok()) {
        if (m.source == "image") {
            if (!m.image) {
                f.fail(ErrorCode::BadMessage, "start from an image needs 'image'");
            }
        } else if (m.source == "text") {
            if (m.prompt.empty()) {
                f.fail(ErrorCode::BadMessage, "start from text needs a 'prompt'");
            }
        } else if (m.source != "default") {
            f.fail(ErrorCode::BadMessage, "field 'source' must be image, text or default");
        }
    }
    return finish(f, std::move(m));
}

inline Result<Message> read_started(FieldReader& f) {
    msg::Started m;
    read_session(f, m.session, m.seq);
    f.integer("world", m.world, true, 0);
    f.text("source", m.source);
    f.u32("seed", m.seed);
    optional_u32(f, "ref", m.ref);
    return finish(f, std::move(m));
}

inline Result<Message> read_input(FieldReader& f) {
    msg::Input m;
    read_session(f, m.session, m.seq);
    f.integer("time_us", m.time_us, false);
    f.axis_pair("move", m.move);
    f.axis_pair("look", m.look);
    f.text_list("keys", m.keys, false, 16);
    return finish(f, std::move(m));
}

inline Result<Message> read_event(FieldReader& f) {
    msg::Event m;
    read_session(f, m.session, m.seq);
    f.u32("id", m.id);
    f.text("text", m.text);
    return finish(f, std::move(m));
}

inline Result<Message> read_event_ack(FieldReader& f) {
    msg::EventAck m;
    read_session(f, m.session, m.seq);
    f.u32("id", m.id);
    f.integer("chunk", m.chunk);
    f.u32_list("active", m.active);
    return finish(f, std::move(m));
}

inline Result<Message> read_config(FieldReader& f) {
    msg::Config m;
    read_session(f, m.session, m.seq);
    if (f.field("quality", false) != nullptr) {
        std::int64_t quality = 0;
        f.integer("quality", quality, true, 1, 100);
        m.quality = quality;
    }
    if (f.field("fps", false) != nullptr) {
        double fps = 0.0;
        f.number("fps", fps, true, 1.0, 240.0);
        m.fps = fps;
    }
    if (f.field("paused", false) != nullptr) {
        bool paused = false;
        f.boolean("paused", paused);
        m.paused = paused;
    }
    return finish(f, std::move(m));
}

inline Result<Message> read_ping(FieldReader& f) {
    msg::Ping m;
    read_session(f, m.session, m.seq);
    f.integer("time_us", m.time_us);
    return finish(f, std::move(m));
}

inline Result<Message> read_pong(FieldReader& f) {
    msg::Pong m;
    read_session(f, m.session, m.seq);
    f.integer("time_us", m.time_us);
    f.integer("daemon_time_us", m.daemon_time_us);
    return finish(f, std::move(m));
}

inline Result<Message> read_nack(FieldReader& f) {
    msg::Nack m;
    read_session(f, m.session, m.seq);
    f.u32("frame", m.frame);
    if (const Value* missing = f.list("missing", true)) {
        if (missing->items().empty()) {
            f.fail(ErrorCode::BadMessage, "field 'missing' must not be empty");
        }
        for (const Value& item : missing->items()) {
            std::int64_t index = 0;
            if (!f.read_integer(item, "missing", index, 0, 65535)) {
                break;
            }
            m.missing.push_back(index);
        }
    }
    f.optional_bytes("pad", m.pad, 0, 4096);
    return finish(f, std::move(m));
}

inline Result<Message> read_status(FieldReader& f) {
    msg::Status m;
    read_session(f, m.session, m.seq);
    f.text("state", m.state);
    f.number("progress", m.progress);
    f.integer("world", m.world);
    f.integer("chunk", m.chunk);
    f.integer("queue", m.queue);
    f.number("fps", m.fps);
    f.integer("frames_sent", m.frames_sent);
    f.integer("action", m.action);
    f.u32("input_seq", m.input_seq);
    if (const Value* latency = f.map_field("latency", true)) {
        FieldReader inner(*latency, f.encoding());
        inner.number("queue_ms", m.latency.queue_ms);
        inner.number("generate_ms", m.latency.generate_ms);
        inner.number("encode_ms", m.latency.encode_ms);
        inner.number("send_ms", m.latency.send_ms);
        if (!inner.ok()) {
            f.fail(inner.failure().code, "latency: " + inner.failure().detail);
        }
    }
    f.text("message", m.message, false);
    return finish(f, std::move(m));
}

inline Result<Message> read_bye(FieldReader& f) {
    msg::Bye m;
    read_session(f, m.session, m.seq);
    f.text("reason", m.reason, false);
    return finish(f, std::move(m));
}

inline Result<Message> read_error(FieldReader& f) {
    msg::Error m;
    f.text("code", m.code);
    f.text("message", m.message);
    f.u32("session", m.session, false);
    f.u32("seq", m.seq, false);
    f.u32("ref", m.ref, false);
    f.boolean("fatal", m.fatal);
    return finish(f, std::move(m));
}

}  // namespace detail

// Turns a decoded map into a message, checking every field.
inline Result<Message> message_from_value(const Value& value, Encoding encoding) {
    if (!value.is(Value::Kind::Map)) {
        return Failure{ErrorCode::BadMessage, "a control message must be a map"};
    }
    detail::FieldReader fields(value, encoding);
    std::string type;
    fields.text("type", type);
    if (!fields.ok()) {
        return fields.failure();
    }
    using Reader = Result<Message> (*)(detail::FieldReader&);
    struct Entry {
        const char* type;
        Reader read;
    };
    static constexpr Entry kReaders[] = {
        {"hello", detail::read_hello},   {"retry", detail::read_retry},         {"welcome", detail::read_welcome},
        {"upload", detail::read_upload}, {"upload_ack", detail::read_upload_ack}, {"start", detail::read_start},
        {"started", detail::read_started}, {"input", detail::read_input},       {"event", detail::read_event},
        {"event_ack", detail::read_event_ack}, {"config", detail::read_config}, {"ping", detail::read_ping},
        {"pong", detail::read_pong},     {"nack", detail::read_nack},           {"status", detail::read_status},
        {"bye", detail::read_bye},       {"error", detail::read_error},
        {"path_challenge", detail::read_path_challenge}, {"path_response", detail::read_path_response},
    };
    for (const Entry& entry : kReaders) {
        if (type == entry.type) {
            return entry.read(fields);
        }
    }
    return Failure{ErrorCode::BadMessage, "unknown message type '" + type + "'"};
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------
namespace detail {

inline Value text_list_value(const std::vector<std::string>& texts) {
    std::vector<Value> items;
    items.reserve(texts.size());
    for (const std::string& text : texts) {
        items.push_back(Value::string(text));
    }
    return Value::array(std::move(items));
}

inline Value head(const char* type) { return std::move(Value::map().add("type", Value::string(type))); }

inline Value head(const char* type, std::uint32_t session, std::uint32_t seq) {
    Value m = head(type);
    m.add("session", Value::integer(session));
    m.add("seq", Value::integer(seq));
    return m;
}

inline Value to_value(const msg::Hello& m) {
    Value v = head(m.kType);
    v.add("protocol", Value::integer(m.protocol));
    v.add("nonce", Value::binary(m.nonce));
    v.add("client", Value::string(m.client));
    v.add("client_version", Value::string(m.client_version));
    v.add("engine", Value::string(m.engine));
    v.add("width", Value::integer(m.width));
    v.add("height", Value::integer(m.height));
    v.add("fps", Value::floating(m.fps));
    v.add("quality", Value::integer(m.quality));
    v.add("max_datagram", Value::integer(m.max_datagram));
    if (m.cookie) {
        v.add("cookie", Value::binary(*m.cookie));
    }
    if (m.auth) {
        v.add("auth", Value::binary(*m.auth));
    }
    if (m.pad) {
        v.add("pad", Value::binary(*m.pad));
    }
    if (m.minor) {
        v.add("minor", Value::integer(*m.minor));
    }
    if (m.capabilities) {
        v.add("capabilities", text_list_value(*m.capabilities));
    }
    return v;
}

// path_challenge and path_response have the same fields.
template <class PathProbe>
inline Value path_probe_value(const PathProbe& m) {
    Value v = head(m.kType, m.session, m.seq);
    v.add("data", Value::binary(m.data));
    return v;
}

inline Value to_value(const msg::PathChallenge& m) { return path_probe_value(m); }

inline Value to_value(const msg::PathResponse& m) { return path_probe_value(m); }

inline Value to_value(const msg::Retry& m) {
    Value v = head(m.kType);
    v.add("nonce", Value::binary(m.nonce));
    v.add("cookie", Value::binary(m.cookie));
    v.add("token_required", Value::boolean(m.token_required));
    return v;
}

inline Value to_value(const msg::Welcome& m) {
    Value v = head(m.kType, m.session, m.seq);
    v.add("protocol", Value::integer(m.protocol));
    v.add("nonce", Value::binary(m.nonce));
    v.add("daemon_version", Value::string(m.daemon_version));
    v.add("backend", Value::string(m.backend));
    v.add("model", Value::string(m.model));
    v.add("model_version", Value::string(m.model_version));
    v.add("state", Value::string(m.state));
    v.add("width", Value::integer(m.width));
    v.add("height", Value::integer(m.height));
    v.add("fps", Value::floating(m.fps));
    v.add("frames_per_chunk", Value::integer(m.frames_per_chunk));
    v.add("quality", Value::integer(m.quality));
    v.add("max_datagram", Value::integer(m.max_datagram));
    v.add("authenticated", Value::boolean(m.authenticated));
    Value vocabulary = Value::map();
    vocabulary.add("name", Value::string(m.vocabulary.name));
    vocabulary.add("version", Value::string(m.vocabulary.version));
    vocabulary.add("movement", text_list_value(m.vocabulary.movement));
    vocabulary.add("look", text_list_value(m.vocabulary.look));
    v.add("vocabulary", std::move(vocabulary));
    const msg::Limits& l = m.limits;
    Value limits = Value::map();
    limits.add("max_control_bytes", Value::integer(l.max_control_bytes));
    limits.add("max_prompt_chars", Value::integer(l.max_prompt_chars));
    limits.add("max_event_chars", Value::integer(l.max_event_chars));
    limits.add("max_events", Value::integer(l.max_events));
    limits.add("max_upload_bytes", Value::integer(l.max_upload_bytes));
    limits.add("max_image_pixels", Value::integer(l.max_image_pixels));
    limits.add("idle_timeout_ms", Value::integer(l.idle_timeout_ms));
    limits.add("frame_deadline_ms", Value::integer(l.frame_deadline_ms));
    limits.add("max_nack_fragments", Value::integer(l.max_nack_fragments));
    limits.add("max_keys", Value::integer(l.max_keys));
    limits.add("max_sessions", Value::integer(l.max_sessions));
    v.add("limits", std::move(limits));
    v.add("capabilities", text_list_value(m.capabilities));
    if (m.minor) {
        v.add("minor", Value::integer(*m.minor));
    }
    return v;
}

inline Value to_value(const msg::Upload& m) {
    Value v = head(m.kType, m.session, m.seq);
    v.add("hash", Value::binary(m.hash));
    v.add("size", Value::integer(m.size));
    v.add("offset", Value::integer(m.offset));
    v.add("data", Value::binary(m.data));
    return v;
}

inline Value to_value(const msg::UploadAck& m) {
    Value v = head(m.kType, m.session, m.seq);
    v.add("hash", Value::binary(m.hash));
    v.add("offset", Value::integer(m.offset));
    v.add("length", Value::integer(m.length));
    v.add("received", Value::integer(m.received));
    v.add("complete", Value::boolean(m.complete));
    return v;
}

inline Value to_value(const msg::Start& m) {
    Value v = head(m.kType, m.session, m.seq);
    v.add("source", Value::string(m.source));
    if (m.image) {
        v.add("image", Value::binary(*m.image));
    }
    v.add("prompt", Value::string(m.prompt));
    if (m.seed) {
        v.add("seed", Value::integer(*m.seed));
    }
    return v;
}

inline Value to_value(const msg::Started& m) {
    Value v = head(m.kType, m.session, m.seq);
    v.add("world", Value::integer(m.world));
    v.add("source", Value::string(m.source));
    v.add("seed", Value::integer(m.seed));
    if (m.ref) {
        v.add("ref", Value::integer(*m.ref));
    }
    return v;
}

inline Value to_value(const msg::Input& m) {
    Value v = head(m.kType, m.session, m.seq);
    v.add("time_us", Value::integer(m.time_us));
    v.add("move", Value::array({Value::floating(m.move[0]), Value::floating(m.move[1])}));
    v.add("look", Value::array({Value::floating(m.look[0]), Value::floating(m.look[1])}));
    v.add("keys", text_list_value(m.keys));
    return v;
}

inline Value to_value(const msg::Event& m) {
    Value v = head(m.kType, m.session, m.seq);
    v.add("id", Value::integer(m.id));
    v.add("text", Value::string(m.text));
    return v;
}

inline Value to_value(const msg::EventAck& m) {
    Value v = head(m.kType, m.session, m.seq);
    v.add("id", Value::integer(m.id));
    v.add("chunk", Value::integer(m.chunk));
    std::vector<Value> active;
    for (std::uint32_t id : m.active) {
        active.push_back(Value::integer(id));
    }
    v.add("active", Value::array(std::move(active)));
    return v;
}

inline Value to_value(const msg::Config& m) {
    Value v = head(m.kType, m.session, m.seq);
    if (m.quality) {
        v.add("quality", Value::integer(*m.quality));
    }
    if (m.fps) {
        v.add("fps", Value::floating(*m.fps));
    }
    if (m.paused) {
        v.add("paused", Value::boolean(*m.paused));
    }
    return v;
}

inline Value to_value(const msg::Ping& m) {
    Value v = head(m.kType, m.session, m.seq);
    v.add("time_us", Value::integer(m.time_us));
    return v;
}

inline Value to_value(const msg::Pong& m) {
    Value v = head(m.kType, m.session, m.seq);
    v.add("time_us", Value::integer(m.time_us));
    v.add("daemon_time_us", Value::integer(m.daemon_time_us));
    return v;
}

inline Value to_value(const msg::Nack& m) {
    Value v = head(m.kType, m.session, m.seq);
    v.add("frame", Value::integer(m.frame));
    std::vector<Value> missing;
    for (std::int64_t index : m.missing) {
        missing.push_back(Value::integer(index));
    }
    v.add("missing", Value::array(std::move(missing)));
    if (m.pad) {
        v.add("pad", Value::binary(*m.pad));
    }
    return v;
}

inline Value to_value(const msg::Status& m) {
    Value v = head(m.kType, m.session, m.seq);
    v.add("state", Value::string(m.state));
    v.add("progress", Value::floating(m.progress));
    v.add("world", Value::integer(m.world));
    v.add("chunk", Value::integer(m.chunk));
    v.add("queue", Value::integer(m.queue));
    v.add("fps", Value::floating(m.fps));
    v.add("frames_sent", Value::integer(m.frames_sent));
    v.add("action", Value::integer(m.action));
    v.add("input_seq", Value::integer(m.input_seq));
    Value latency = Value::map();
    latency.add("queue_ms", Value::floating(m.latency.queue_ms));
    latency.add("generate_ms", Value::floating(m.latency.generate_ms));
    latency.add("encode_ms", Value::floating(m.latency.encode_ms));
    latency.add("send_ms", Value::floating(m.latency.send_ms));
    v.add("latency", std::move(latency));
    v.add("message", Value::string(m.message));
    return v;
}

inline Value to_value(const msg::Bye& m) {
    Value v = head(m.kType, m.session, m.seq);
    v.add("reason", Value::string(m.reason));
    return v;
}

inline Value to_value(const msg::Error& m) {
    Value v = head(m.kType);
    v.add("code", Value::string(m.code));
    v.add("message", Value::string(m.message));
    v.add("session", Value::integer(m.session));
    v.add("seq", Value::integer(m.seq));
    v.add("ref", Value::integer(m.ref));
    v.add("fatal", Value::boolean(m.fatal));
    return v;
}

}  // namespace detail

inline Value message_to_value(const Message& message) {
    return std::visit([](const auto& m) { return detail::to_value(m); }, message);
}

// The encoded message alone (the datagram body of SPEC §2).
inline Bytes encode_body(const Message& message, Encoding encoding) {
    const Value value = message_to_value(message);
    Bytes out;
    if (encoding == Encoding::Json) {
        std::string text;
        json::write(value, text);
        out.assign(text.begin(), text.end());
    } else {
        msgpack::write(value, out);
    }
    return out;
}

struct DecodedControl {
    Message message;
    Encoding encoding = Encoding::MsgPack;
    std::size_t body_size = 0;
    std::optional<std::array<std::uint8_t, kTagSize>> tag;
};

// Decodes a control datagram: the body, then nothing or a 16-byte tag (SPEC §2). Fails with
// NotControl for datagrams that are not control messages, else bad_message / value_out_of_range.
inline Result<DecodedControl> decode_control(ByteView datagram) {
    const DatagramKind kind = classify_datagram(datagram);
    if (kind != DatagramKind::JsonControl && kind != DatagramKind::MsgPackControl) {
        return Failure{ErrorCode::NotControl, "not a control datagram"};
    }
    const Encoding encoding = kind == DatagramKind::JsonControl ? Encoding::Json : Encoding::MsgPack;
    Value value;
    std::size_t body_size = 0;
    if (encoding == Encoding::Json) {
        Result<json::Parsed> parsed = json::parse_object_prefix(datagram);
        if (!parsed) {
            return parsed.error();
        }
        value = std::move(parsed->value);
        body_size = parsed->end;
    } else {
        Result<msgpack::Parsed> parsed = msgpack::parse_prefix(datagram);
        if (!parsed) {
            return parsed.error();
        }
        value = std::move(parsed->value);
        body_size = parsed->end;
    }
    const std::size_t trailing = datagram.size - body_size;
    if (trailing != 0 && trailing != kTagSize) {
        return Failure{ErrorCode::BadMessage,
                       std::to_string(trailing) + " bytes after the message body; expected none or a 16-byte tag"};
    }
    Result<Message> message = message_from_value(value, encoding);
    if (!message) {
        return message.error();
    }
    DecodedControl decoded{std::move(message.value()), encoding, body_size, std::nullopt};
    if (trailing == kTagSize) {
        std::array<std::uint8_t, kTagSize> tag{};
        for (std::size_t i = 0; i < kTagSize; ++i) {
            tag[i] = datagram[body_size + i];
        }
        decoded.tag = tag;
    }
    return decoded;
}

}  // namespace yumebridge
