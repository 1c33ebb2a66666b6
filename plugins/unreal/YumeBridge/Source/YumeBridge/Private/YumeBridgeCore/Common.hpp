// Shared vocabulary of the yume_bridge protocol core: bytes, time, error codes, results and byte helpers.
//
// The core is header-only C++17, standard library only, and builds without exceptions or RTTI so
// that the same files compile inside an Unreal module and in the host tests. Nothing here does I/O
// or reads a clock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace yumebridge {

using Bytes = std::vector<std::uint8_t>;

// Microseconds on a monotonic clock chosen by the caller. The core never reads a clock itself.
using Time = std::int64_t;

constexpr Time kMillisecond = 1000;
constexpr Time kSecond = 1000 * kMillisecond;

// A borrowed, read-only run of bytes.
struct ByteView {
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;

    ByteView() = default;
    ByteView(const std::uint8_t* bytes, std::size_t count) : data(bytes), size(count) {}
    ByteView(const Bytes& bytes) : data(bytes.data()), size(bytes.size()) {}  // NOLINT: implicit on purpose

    bool empty() const { return size == 0; }
    const std::uint8_t& operator[](std::size_t index) const { return data[index]; }
    const std::uint8_t* begin() const { return data; }
    const std::uint8_t* end() const { return data + size; }
    Bytes to_bytes() const { return Bytes(data, data + size); }
    // The bytes [offset, offset + count), clamped to this view.
    ByteView sub(std::size_t offset, std::size_t count) const {
        if (offset > size) {
            offset = size;
        }
        if (count > size - offset) {
            count = size - offset;
        }
        return ByteView(data + offset, count);
    }
};

inline ByteView as_bytes(std::string_view text) {
    return ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

inline bool bytes_equal(ByteView a, ByteView b) {
    if (a.size != b.size) {
        return false;
    }
    for (std::size_t i = 0; i < a.size; ++i) {
        if (a[i] != b[i]) {
            return false;
        }
    }
    return true;
}

// Error codes: the protocol's own (SPEC §8) followed by the ones this client reports locally.
enum class ErrorCode : std::uint8_t {
    Ok = 0,
    BadMessage,
    ValueOutOfRange,
    UnsupportedVersion,
    AuthRequired,
    AuthFailed,
    SessionLimit,
    UnknownSession,
    TextTooLong,
    TooManyEvents,
    UploadTooLarge,
    UploadMismatch,
    BadImage,
    UnknownImage,
    GeneratorFailed,
    ShuttingDown,
    RateLimited,        // revision 1.1: the request was dropped by a budget; resend it later (not fatal)
    UnknownCode,        // an error code string this client does not know
    NotControl,         // the datagram is not a control message (empty, unknown first byte, a fragment)
    DaemonUnreachable,  // no answer to hello within the handshake time
    DaemonSilent,       // the session's daemon stopped sending
    NotConnected,       // a call that needs a session was made without one
    InvalidArgument,    // the application passed something the protocol cannot carry
    UploadFailed,       // an upload made no progress in time
    StartFailed,        // a start was not confirmed in time
    ProtocolViolation,  // the daemon sent something the protocol forbids
    DatagramTooLarge,   // an encoded message would exceed max_control_bytes
};

inline const char* error_code_name(ErrorCode code) {
    switch (code) {
        case ErrorCode::Ok: return "ok";
        case ErrorCode::BadMessage: return "bad_message";
        case ErrorCode::ValueOutOfRange: return "value_out_of_range";
        case ErrorCode::UnsupportedVersion: return "unsupported_version";
        case ErrorCode::AuthRequired: return "auth_required";
        case ErrorCode::AuthFailed: return "auth_failed";
        case ErrorCode::SessionLimit: return "session_limit";
        case ErrorCode::UnknownSession: return "unknown_session";
        case ErrorCode::TextTooLong: return "text_too_long";
        case ErrorCode::TooManyEvents: return "too_many_events";
        case ErrorCode::UploadTooLarge: return "upload_too_large";
        case ErrorCode::UploadMismatch: return "upload_mismatch";
        case ErrorCode::BadImage: return "bad_image";
        case ErrorCode::UnknownImage: return "unknown_image";
        case ErrorCode::GeneratorFailed: return "generator_failed";
        case ErrorCode::ShuttingDown: return "shutting_down";
        case ErrorCode::RateLimited: return "rate_limited";
        case ErrorCode::UnknownCode: return "unknown_code";
        case ErrorCode::NotControl: return "not_control";
        case ErrorCode::DaemonUnreachable: return "daemon_unreachable";
        case ErrorCode::DaemonSilent: return "daemon_silent";
        case ErrorCode::NotConnected: return "not_connected";
        case ErrorCode::InvalidArgument: return "invalid_argument";
        case ErrorCode::UploadFailed: return "upload_failed";
        case ErrorCode::StartFailed: return "start_failed";
        case ErrorCode::ProtocolViolation: return "protocol_violation";
        case ErrorCode::DatagramTooLarge: return "datagram_too_large";
    }
    return "unknown_code";
}

// Maps a protocol error code string (SPEC §8) to its enum; anything else is UnknownCode.
inline ErrorCode protocol_error_code(std::string_view name) {
    static constexpr ErrorCode kProtocolCodes[] = {
        ErrorCode::BadMessage,    ErrorCode::ValueOutOfRange, ErrorCode::UnsupportedVersion, ErrorCode::AuthRequired,
        ErrorCode::AuthFailed,    ErrorCode::SessionLimit,    ErrorCode::UnknownSession,     ErrorCode::TextTooLong,
        ErrorCode::TooManyEvents, ErrorCode::UploadTooLarge,  ErrorCode::UploadMismatch,     ErrorCode::BadImage,
        ErrorCode::UnknownImage,  ErrorCode::GeneratorFailed, ErrorCode::ShuttingDown,
        ErrorCode::RateLimited,
    };
    for (ErrorCode code : kProtocolCodes) {
        if (name == error_code_name(code)) {
            return code;
        }
    }
    return ErrorCode::UnknownCode;
}

struct Failure {
    ErrorCode code = ErrorCode::Ok;
    std::string detail;
};

// A value or the reason there is none. The core reports every failure this way; it never throws.
template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : value_(std::move(value)) {}            // NOLINT: implicit on purpose
    Result(Failure failure) : failure_(std::move(failure)) {}  // NOLINT: implicit on purpose
    Result(ErrorCode code, std::string detail) : failure_{code, std::move(detail)} {}

    bool ok() const { return value_.has_value(); }
    explicit operator bool() const { return ok(); }
    T& value() { return *value_; }
    const T& value() const { return *value_; }
    T* operator->() { return &*value_; }
    const T* operator->() const { return &*value_; }
    const Failure& error() const { return failure_; }
    ErrorCode code() const { return ok() ? ErrorCode::Ok : failure_.code; }

private:
    std::optional<T> value_;
    Failure failure_;
};

struct Unit {};
using VoidResult = Result<Unit>;

inline VoidResult ok_result() { return VoidResult(Unit{}); }

// ---- little-endian helpers ----

inline void put_u8(Bytes& out, std::uint8_t value) { out.push_back(value); }

inline void put_u16le(Bytes& out, std::uint16_t value) {
    out.push_back(static_cast<std::uint8_t>(value & 0xFFu));
    out.push_back(static_cast<std::uint8_t>((value >> 8) & 0xFFu));
}

inline void put_u32le(Bytes& out, std::uint32_t value) {
    for (int shift = 0; shift < 32; shift += 8) {
        out.push_back(static_cast<std::uint8_t>((value >> shift) & 0xFFu));
    }
}

inline void put_u64le(Bytes& out, std::uint64_t value) {
    for (int shift = 0; shift < 64; shift += 8) {
        out.push_back(static_cast<std::uint8_t>((value >> shift) & 0xFFu));
    }
}

inline std::uint16_t get_u16le(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

inline std::uint32_t get_u32le(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
           (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

inline std::uint64_t get_u64le(const std::uint8_t* p) {
    return static_cast<std::uint64_t>(get_u32le(p)) | (static_cast<std::uint64_t>(get_u32le(p + 4)) << 32);
}

// ---- hex ----

inline std::string to_hex(ByteView bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size * 2);
    for (std::uint8_t b : bytes) {
        out.push_back(kDigits[b >> 4]);
        out.push_back(kDigits[b & 0x0F]);
    }
    return out;
}

inline int hex_digit_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

inline std::optional<Bytes> from_hex(std::string_view text) {
    if (text.size() % 2 != 0) {
        return std::nullopt;
    }
    Bytes out;
    out.reserve(text.size() / 2);
    for (std::size_t i = 0; i < text.size(); i += 2) {
        const int high = hex_digit_value(text[i]);
        const int low = hex_digit_value(text[i + 1]);
        if (high < 0 || low < 0) {
            return std::nullopt;
        }
        out.push_back(static_cast<std::uint8_t>((high << 4) | low));
    }
    return out;
}

// ---- base64 (RFC 4648 §4, standard alphabet, with padding) ----

inline std::string base64_encode(ByteView bytes) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve(((bytes.size + 2) / 3) * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size; i += 3) {
        const std::uint32_t group = (static_cast<std::uint32_t>(bytes[i]) << 16) |
                                    (static_cast<std::uint32_t>(bytes[i + 1]) << 8) | bytes[i + 2];
        out.push_back(kAlphabet[(group >> 18) & 0x3F]);
        out.push_back(kAlphabet[(group >> 12) & 0x3F]);
        out.push_back(kAlphabet[(group >> 6) & 0x3F]);
        out.push_back(kAlphabet[group & 0x3F]);
    }
    const std::size_t rest = bytes.size - i;
    if (rest == 1) {
        const std::uint32_t group = static_cast<std::uint32_t>(bytes[i]) << 16;
        out.push_back(kAlphabet[(group >> 18) & 0x3F]);
        out.push_back(kAlphabet[(group >> 12) & 0x3F]);
        out.append("==");
    } else if (rest == 2) {
        const std::uint32_t group = (static_cast<std::uint32_t>(bytes[i]) << 16) |
                                    (static_cast<std::uint32_t>(bytes[i + 1]) << 8);
        out.push_back(kAlphabet[(group >> 18) & 0x3F]);
        out.push_back(kAlphabet[(group >> 12) & 0x3F]);
        out.push_back(kAlphabet[(group >> 6) & 0x3F]);
        out.push_back('=');
    }
    return out;
}

inline int base64_digit_value(char c) {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

// Strict: the length is a multiple of 4, padding only at the end, no whitespace.
inline std::optional<Bytes> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) {
        return std::nullopt;
    }
    Bytes out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last_group = i + 4 == text.size();
        int values[4] = {0, 0, 0, 0};
        int padding = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            const char c = text[i + j];
            if (c == '=') {
                // '=' may only appear as the last one or two characters of the last group.
                if (!last_group || j < 2) {
                    return std::nullopt;
                }
                ++padding;
                continue;
            }
            if (padding > 0) {
                return std::nullopt;  // a digit after padding
            }
            values[j] = base64_digit_value(c);
            if (values[j] < 0) {
                return std::nullopt;
            }
        }
        const std::uint32_t group = (static_cast<std::uint32_t>(values[0]) << 18) |
                                    (static_cast<std::uint32_t>(values[1]) << 12) |
                                    (static_cast<std::uint32_t>(values[2]) << 6) | static_cast<std::uint32_t>(values[3]);
        out.push_back(static_cast<std::uint8_t>((group >> 16) & 0xFFu));
        if (padding < 2) {
            out.push_back(static_cast<std::uint8_t>((group >> 8) & 0xFFu));
        }
        if (padding < 1) {
            out.push_back(static_cast<std::uint8_t>(group & 0xFFu));
        }
    }
    return out;
}

// ---- UTF-8 ----

// Validates UTF-8 (no overlongs, no surrogates, at most U+10FFFF) and counts code points.
inline std::optional<std::size_t> utf8_code_points(std::string_view text) {
    std::size_t count = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        const auto lead = static_cast<std::uint8_t>(text[i]);
        std::size_t length = 0;
        std::uint32_t code_point = 0;
        if (lead < 0x80) {
            length = 1;
            code_point = lead;
        } else if ((lead & 0xE0) == 0xC0) {
            length = 2;
            code_point = lead & 0x1Fu;
        } else if ((lead & 0xF0) == 0xE0) {
            length = 3;
            code_point = lead & 0x0Fu;
        } else if ((lead & 0xF8) == 0xF0) {
            length = 4;
            code_point = lead & 0x07u;
        } else {
            return std::nullopt;
        }
        if (i + length > text.size()) {
            return std::nullopt;
        }
        for (std::size_t j = 1; j < length; ++j) {
            const auto next = static_cast<std::uint8_t>(text[i + j]);
            if ((next & 0xC0) != 0x80) {
                return std::nullopt;
            }
            code_point = (code_point << 6) | (next & 0x3Fu);
        }
        static constexpr std::uint32_t kMinimum[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (code_point < kMinimum[length] || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
            return std::nullopt;
        }
        i += length;
        ++count;
    }
    return count;
}

inline void append_utf8(std::string& out, std::uint32_t code_point) {
    if (code_point < 0x80) {
        out.push_back(static_cast<char>(code_point));
    } else if (code_point < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
        out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    } else if (code_point < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
        out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
        out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    }
}

}  // namespace yumebridge
