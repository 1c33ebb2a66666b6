// Strict JSON (RFC 8259) reader and a compact writer whose output matches Python's
// json.dumps(separators=(",", ":"), ensure_ascii=False) with float repr, as the daemon writes.
//
// Reading: no NaN/Infinity literals, integers are numbers without fraction or exponent, strings must
// be valid UTF-8 without lone surrogates. Reading a control message stops right after the closing
// brace of the top-level object, so that what follows can be checked as a tag (SPEC §2).
#pragma once

#include "Common.hpp"
#include "Value.hpp"

#include <clocale>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

namespace yumebridge {
namespace json {

// Converts a decimal number in JSON syntax (checked by the caller) to the nearest double.
// Exact by Clinger's fast path for up to 19 significant digits and |exponent| <= 22, which covers
// every number this protocol carries; otherwise strtod, with the locale's decimal point put in.
inline double parse_decimal(std::string_view text) {
    static constexpr double kPow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                          1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    std::size_t i = 0;
    bool negative = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
        negative = text[i] == '-';
        ++i;
    }
    std::uint64_t mantissa = 0;
    int digits = 0;
    long exponent = 0;
    bool truncated = false;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        const int d = text[i] - '0';
        if (mantissa == 0 && d == 0) {
            continue;
        }
        if (digits < 19) {
            mantissa = mantissa * 10u + static_cast<std::uint64_t>(d);
            ++digits;
        } else {
            ++exponent;
            truncated = truncated || d != 0;
        }
    }
    if (i < text.size() && text[i] == '.') {
        ++i;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
            const int d = text[i] - '0';
            if (mantissa == 0 && d == 0) {
                --exponent;
                continue;
            }
            if (digits < 19) {
                mantissa = mantissa * 10u + static_cast<std::uint64_t>(d);
                ++digits;
                --exponent;
            } else {
                truncated = truncated || d != 0;
            }
        }
    }
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        bool exponent_negative = false;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
            exponent_negative = text[i] == '-';
            ++i;
        }
        long written = 0;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
            if (written < 100000) {
                written = written * 10 + (text[i] - '0');
            }
        }
        exponent += exponent_negative ? -written : written;
    }
    if (mantissa == 0) {
        return negative ? -0.0 : 0.0;
    }
    if (!truncated && mantissa <= (std::uint64_t{1} << 53) && exponent >= -22 && exponent <= 22) {
        double value = static_cast<double>(mantissa);
        value = exponent < 0 ? value / kPow10[static_cast<std::size_t>(-exponent)]
                             : value * kPow10[static_cast<std::size_t>(exponent)];
        return negative ? -value : value;
    }
    std::string buffer(text);
    const char* point = std::localeconv()->decimal_point;
    if (point != nullptr && point[0] != '\0' && !(point[0] == '.' && point[1] == '\0')) {
        const std::size_t dot = buffer.find('.');
        if (dot != std::string::npos) {
            buffer.replace(dot, 1, point);
        }
    }
    return std::strtod(buffer.c_str(), nullptr);
}

// Formats a finite double the way Python's repr() does: the shortest digits that read back as the
// same double, fixed notation for exponents -4..15 (always with a fraction, "16.0"), else "1e-05".
inline std::string format_float(double value) {
    if (std::isnan(value)) {
        return "NaN";
    }
    if (std::isinf(value)) {
        return value < 0 ? "-Infinity" : "Infinity";
    }
    if (value == 0.0) {
        return std::signbit(value) ? "-0.0" : "0.0";
    }
    std::string digits;
    int exponent = 0;
    for (int precision = 1; precision <= 17; ++precision) {
        char buffer[64];
        const int written = std::snprintf(buffer, sizeof(buffer), "%.*e", precision - 1, value);
        if (written <= 0 || static_cast<std::size_t>(written) >= sizeof(buffer)) {
            continue;
        }
        std::string candidate;
        int candidate_exponent = 0;
        bool in_exponent = false;
        bool exponent_negative = false;
        for (int i = 0; i < written; ++i) {
            const char c = buffer[i];
            if (in_exponent) {
                if (c == '-') {
                    exponent_negative = true;
                } else if (c >= '0' && c <= '9') {
                    candidate_exponent = candidate_exponent * 10 + (c - '0');
                }
            } else if (c == 'e' || c == 'E') {
                in_exponent = true;
            } else if (c >= '0' && c <= '9') {
                candidate.push_back(c);  // the locale's decimal point, whatever it is, is skipped
            }
        }
        if (exponent_negative) {
            candidate_exponent = -candidate_exponent;
        }
        std::string canonical = value < 0 ? "-" : "";
        canonical.push_back(candidate[0]);
        if (candidate.size() > 1) {
            canonical.push_back('.');
            canonical.append(candidate, 1, std::string::npos);
        }
        canonical.push_back('e');
        canonical.append(std::to_string(candidate_exponent));
        if (parse_decimal(canonical) == value) {
            while (candidate.size() > 1 && candidate.back() == '0') {
                candidate.pop_back();
            }
            digits = candidate;
            exponent = candidate_exponent;
            break;
        }
    }
    if (digits.empty()) {
        return "NaN";  // unreachable for finite doubles: 17 digits always round-trip
    }
    std::string out = value < 0 ? "-" : "";
    const int count = static_cast<int>(digits.size());
    if (exponent >= -4 && exponent < 16) {
        if (exponent >= 0) {
            if (count > exponent + 1) {
                out.append(digits, 0, static_cast<std::size_t>(exponent + 1));
                out.push_back('.');
                out.append(digits, static_cast<std::size_t>(exponent + 1), std::string::npos);
            } else {
                out.append(digits);
                out.append(static_cast<std::size_t>(exponent + 1 - count), '0');
                out.append(".0");
            }
        } else {
            out.append("0.");
            out.append(static_cast<std::size_t>(-exponent - 1), '0');
            out.append(digits);
        }
        return out;
    }
    out.push_back(digits[0]);
    if (count > 1) {
        out.push_back('.');
        out.append(digits, 1, std::string::npos);
    }
    out.push_back('e');
    out.push_back(exponent < 0 ? '-' : '+');
    const int magnitude = exponent < 0 ? -exponent : exponent;
    if (magnitude < 10) {
        out.push_back('0');
    }
    out.append(std::to_string(magnitude));
    return out;
}

struct Parsed {
    Value value;
    std::size_t end = 0;  // offset just after the parsed value
};

namespace detail {

class Parser {
public:
    Parser(std::string_view text, std::size_t max_depth) : text_(text), max_depth_(max_depth) {}

    std::size_t position() const { return pos_; }

    void skip_whitespace() {
        while (pos_ < text_.size() &&
               (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
            ++pos_;
        }
    }

    Result<Value> parse_value(std::size_t depth) {
        skip_whitespace();
        if (pos_ >= text_.size()) {
            return fail("unexpected end of JSON");
        }
        const char c = text_[pos_];
        if (c == '{') {
            return parse_object(depth + 1);
        }
        if (c == '[') {
            return parse_array(depth + 1);
        }
        if (c == '"') {
            std::string text;
            if (!parse_string(text)) {
                return Failure{ErrorCode::BadMessage, error_};
            }
            return Value::string(std::move(text));
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            return parse_number();
        }
        if (consume_literal("true")) {
            return Value::boolean(true);
        }
        if (consume_literal("false")) {
            return Value::boolean(false);
        }
        if (consume_literal("null")) {
            return Value::nil();
        }
        return fail("unexpected character in JSON");  // NaN, Infinity and other non-JSON tokens land here
    }

    Result<Value> parse_object(std::size_t depth) {
        if (depth > max_depth_) {
            return fail("JSON nested too deeply");
        }
        ++pos_;  // '{'
        Value object = Value::map();
        skip_whitespace();
        if (pos_ < text_.size() && text_[pos_] == '}') {
            ++pos_;
            return object;
        }
        for (;;) {
            skip_whitespace();
            if (pos_ >= text_.size() || text_[pos_] != '"') {
                return fail("expected a string key in JSON object");
            }
            std::string key;
            if (!parse_string(key)) {
                return Failure{ErrorCode::BadMessage, error_};
            }
            skip_whitespace();
            if (pos_ >= text_.size() || text_[pos_] != ':') {
                return fail("expected ':' in JSON object");
            }
            ++pos_;
            Result<Value> member = parse_value(depth);
            if (!member) {
                return member;
            }
            object.add(std::move(key), std::move(member.value()));
            skip_whitespace();
            if (pos_ < text_.size() && text_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < text_.size() && text_[pos_] == '}') {
                ++pos_;
                return object;
            }
            return fail("expected ',' or '}' in JSON object");
        }
    }

    Result<Value> parse_array(std::size_t depth) {
        if (depth > max_depth_) {
            return fail("JSON nested too deeply");
        }
        ++pos_;  // '['
        std::vector<Value> elements;
        skip_whitespace();
        if (pos_ < text_.size() && text_[pos_] == ']') {
            ++pos_;
            return Value::array(std::move(elements));
        }
        for (;;) {
            Result<Value> element = parse_value(depth);
            if (!element) {
                return element;
            }
            elements.push_back(std::move(element.value()));
            skip_whitespace();
            if (pos_ < text_.size() && text_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < text_.size() && text_[pos_] == ']') {
                ++pos_;
                return Value::array(std::move(elements));
            }
            return fail("expected ',' or ']' in JSON array");
        }
    }

private:
    Failure fail(const char* what) const {
        return Failure{ErrorCode::BadMessage, std::string(what) + " at offset " + std::to_string(pos_)};
    }

    bool consume_literal(std::string_view literal) {
        if (text_.substr(pos_, literal.size()) == literal) {
            pos_ += literal.size();
            return true;
        }
        return false;
    }

    bool is_digit(std::size_t at) const { return at < text_.size() && text_[at] >= '0' && text_[at] <= '9'; }

    Result<Value> parse_number() {
        const std::size_t start = pos_;
        bool negative = false;
        if (text_[pos_] == '-') {
            negative = true;
            ++pos_;
        }
        if (!is_digit(pos_)) {
            return fail("malformed JSON number");
        }
        if (text_[pos_] == '0') {
            ++pos_;
        } else {
            while (is_digit(pos_)) {
                ++pos_;
            }
        }
        const std::size_t integer_end = pos_;
        bool is_float = false;
        if (pos_ < text_.size() && text_[pos_] == '.') {
            ++pos_;
            if (!is_digit(pos_)) {
                return fail("malformed JSON number");
            }
            while (is_digit(pos_)) {
                ++pos_;
            }
            is_float = true;
        }
        if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
            ++pos_;
            if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) {
                ++pos_;
            }
            if (!is_digit(pos_)) {
                return fail("malformed JSON number");
            }
            while (is_digit(pos_)) {
                ++pos_;
            }
            is_float = true;
        }
        if (is_float) {
            return Value::floating(parse_decimal(text_.substr(start, pos_ - start)));
        }
        std::uint64_t magnitude = 0;
        bool oversized = false;
        for (std::size_t i = start + (negative ? 1u : 0u); i < integer_end; ++i) {
            const auto digit = static_cast<std::uint64_t>(text_[i] - '0');
            if (magnitude > ((std::numeric_limits<std::uint64_t>::max)() - digit) / 10u) {
                oversized = true;
                break;
            }
            magnitude = magnitude * 10u + digit;
        }
        const std::uint64_t limit = negative ? (std::uint64_t{1} << 63) : ((std::uint64_t{1} << 63) - 1u);
        if (oversized || magnitude > limit) {
            return Value::oversized_integer(negative);
        }
        if (negative) {
            // -(2^63) does not fit a positive int64, so negate in unsigned arithmetic.
            return Value::integer(static_cast<std::int64_t>(~magnitude + 1u));
        }
        return Value::integer(static_cast<std::int64_t>(magnitude));
    }

    bool parse_hex4(std::uint32_t& out) {
        if (pos_ + 4 > text_.size()) {
            return false;
        }
        out = 0;
        for (std::size_t i = 0; i < 4; ++i) {
            const int digit = hex_digit_value(text_[pos_ + i]);
            if (digit < 0) {
                return false;
            }
            out = (out << 4) | static_cast<std::uint32_t>(digit);
        }
        pos_ += 4;
        return true;
    }

    bool parse_string(std::string& out) {
        ++pos_;  // opening quote
        for (;;) {
            if (pos_ >= text_.size()) {
                error_ = "unterminated JSON string";
                return false;
            }
            const char c = text_[pos_];
            if (c == '"') {
                ++pos_;
                break;
            }
            if (static_cast<unsigned char>(c) < 0x20) {
                error_ = "control character in JSON string at offset " + std::to_string(pos_);
                return false;
            }
            if (c != '\\') {
                out.push_back(c);
                ++pos_;
                continue;
            }
            ++pos_;
            if (pos_ >= text_.size()) {
                error_ = "unterminated JSON escape";
                return false;
            }
            const char escape = text_[pos_++];
            switch (escape) {
                case '"': out.push_back('"'); break;
                case '\\': out.push_back('\\'); break;
                case '/': out.push_back('/'); break;
                case 'b': out.push_back('\b'); break;
                case 'f': out.push_back('\f'); break;
                case 'n': out.push_back('\n'); break;
                case 'r': out.push_back('\r'); break;
                case 't': out.push_back('\t'); break;
                case 'u': {
                    std::uint32_t unit = 0;
                    if (!parse_hex4(unit)) {
                        error_ = "malformed \\u escape in JSON string";
                        return false;
                    }
                    if (unit >= 0xDC00 && unit <= 0xDFFF) {
                        error_ = "lone low surrogate in JSON string";
                        return false;
                    }
                    if (unit >= 0xD800 && unit <= 0xDBFF) {
                        std::uint32_t low = 0;
                        if (pos_ + 2 > text_.size() || text_[pos_] != '\\' || text_[pos_ + 1] != 'u') {
                            error_ = "lone high surrogate in JSON string";
                            return false;
                        }
                        pos_ += 2;
                        if (!parse_hex4(low) || low < 0xDC00 || low > 0xDFFF) {
                            error_ = "malformed surrogate pair in JSON string";
                            return false;
                        }
                        unit = 0x10000u + ((unit - 0xD800u) << 10) + (low - 0xDC00u);
                    }
                    append_utf8(out, unit);
                    break;
                }
                default:
                    error_ = "unknown escape in JSON string";
                    return false;
            }
        }
        if (!utf8_code_points(out)) {
            error_ = "JSON string is not valid UTF-8";
            return false;
        }
        return true;
    }

    std::string_view text_;
    std::size_t max_depth_;
    std::size_t pos_ = 0;
    std::string error_;
};

}  // namespace detail

// Parses the JSON object that starts at data[0] and stops right after its closing brace.
inline Result<Parsed> parse_object_prefix(ByteView data, std::size_t max_depth = 16) {
    const std::string_view text(reinterpret_cast<const char*>(data.data), data.size);
    if (text.empty() || text[0] != '{') {
        return Failure{ErrorCode::BadMessage, "a JSON control message must be an object"};
    }
    detail::Parser parser(text, max_depth);
    Result<Value> value = parser.parse_object(1);
    if (!value) {
        return value.error();
    }
    return Parsed{std::move(value.value()), parser.position()};
}

// Parses a whole JSON text: one value with optional surrounding whitespace and nothing else.
inline Result<Value> parse_text(std::string_view text, std::size_t max_depth = 64) {
    detail::Parser parser(text, max_depth);
    Result<Value> value = parser.parse_value(0);
    if (!value) {
        return value;
    }
    parser.skip_whitespace();
    if (parser.position() != text.size()) {
        return Failure{ErrorCode::BadMessage, "trailing characters after JSON text"};
    }
    return value;
}

inline void write_string(std::string_view text, std::string& out) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    for (const char c : text) {
        switch (c) {
            case '"': out.append("\\\""); break;
            case '\\': out.append("\\\\"); break;
            case '\n': out.append("\\n"); break;
            case '\r': out.append("\\r"); break;
            case '\t': out.append("\\t"); break;
            case '\b': out.append("\\b"); break;
            case '\f': out.append("\\f"); break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    out.append("\\u00");
                    out.push_back(kHex[(static_cast<unsigned char>(c) >> 4) & 0x0F]);
                    out.push_back(kHex[static_cast<unsigned char>(c) & 0x0F]);
                } else {
                    out.push_back(c);
                }
        }
    }
    out.push_back('"');
}

// Compact JSON. Binary values are written as base64 strings (SPEC §2.1 `bytes`).
inline void write(const Value& value, std::string& out) {
    switch (value.kind()) {
        case Value::Kind::Nil:
        case Value::Kind::Extension: out.append("null"); return;
        case Value::Kind::Boolean: out.append(value.as_bool() ? "true" : "false"); return;
        case Value::Kind::Integer: out.append(std::to_string(value.as_int())); return;
        case Value::Kind::Float: out.append(format_float(value.as_float())); return;
        case Value::Kind::String: write_string(value.as_string(), out); return;
        case Value::Kind::Binary: write_string(base64_encode(value.as_binary()), out); return;
        case Value::Kind::Array: {
            out.push_back('[');
            bool first = true;
            for (const Value& item : value.items()) {
                if (!first) {
                    out.push_back(',');
                }
                first = false;
                write(item, out);
            }
            out.push_back(']');
            return;
        }
        case Value::Kind::Map: {
            out.push_back('{');
            bool first = true;
            for (const Value::Member& member : value.members()) {
                if (!first) {
                    out.push_back(',');
                }
                first = false;
                write_string(member.key, out);
                out.push_back(':');
                write(member.value, out);
            }
            out.push_back('}');
            return;
        }
    }
}

inline std::string to_string(const Value& value) {
    std::string out;
    write(value, out);
    return out;
}

}  // namespace json
}  // namespace yumebridge
