// MessagePack reader and writer for control messages.
//
// The writer uses the smallest encoding of every integer, str8 for strings of 32..255 bytes, bin for
// bytes and float64 for floats, which is what Python's msgpack.packb(use_bin_type=True) writes, so that
// re-encoded vectors match the daemon's bytes. The reader accepts every MessagePack form, requires
// string map keys and valid UTF-8 strings, and bounds depth and lengths by the bytes present.
#pragma once

#include "Common.hpp"
#include "Value.hpp"

#include <cstring>
#include <limits>
#include <string>

namespace yumebridge {
namespace msgpack {

struct Parsed {
    Value value;
    std::size_t end = 0;
};

namespace detail {

class Reader {
public:
    Reader(ByteView data, std::size_t max_depth) : data_(data), max_depth_(max_depth) {}

    std::size_t position() const { return pos_; }

    Result<Value> read(std::size_t depth) {
        if (depth > max_depth_) {
            return fail("MessagePack nested too deeply");
        }
        std::uint8_t lead = 0;
        if (!take_u8(lead)) {
            return fail("truncated MessagePack");
        }
        if (lead <= 0x7F) {
            return Value::integer(lead);
        }
        if (lead >= 0xE0) {
            return Value::integer(static_cast<std::int8_t>(lead));
        }
        if (lead >= 0x80 && lead <= 0x8F) {
            return read_map(lead & 0x0Fu, depth);
        }
        if (lead >= 0x90 && lead <= 0x9F) {
            return read_array(lead & 0x0Fu, depth);
        }
        if (lead >= 0xA0 && lead <= 0xBF) {
            return read_string(lead & 0x1Fu);
        }
        std::uint64_t length = 0;
        switch (lead) {
            case 0xC0: return Value::nil();
            case 0xC2: return Value::boolean(false);
            case 0xC3: return Value::boolean(true);
            case 0xC4: if (!take_be(1, length)) break; return read_binary(length);
            case 0xC5: if (!take_be(2, length)) break; return read_binary(length);
            case 0xC6: if (!take_be(4, length)) break; return read_binary(length);
            case 0xC7: if (!take_be(1, length)) break; return read_extension(length);
            case 0xC8: if (!take_be(2, length)) break; return read_extension(length);
            case 0xC9: if (!take_be(4, length)) break; return read_extension(length);
            case 0xCA: {
                std::uint64_t bits = 0;
                if (!take_be(4, bits)) break;
                const auto bits32 = static_cast<std::uint32_t>(bits);
                float number = 0.0f;
                std::memcpy(&number, &bits32, sizeof(number));
                return Value::floating(static_cast<double>(number));
            }
            case 0xCB: {
                std::uint64_t bits = 0;
                if (!take_be(8, bits)) break;
                double number = 0.0;
                std::memcpy(&number, &bits, sizeof(number));
                return Value::floating(number);
            }
            case 0xCC: if (!take_be(1, length)) break; return Value::integer(static_cast<std::int64_t>(length));
            case 0xCD: if (!take_be(2, length)) break; return Value::integer(static_cast<std::int64_t>(length));
            case 0xCE: if (!take_be(4, length)) break; return Value::integer(static_cast<std::int64_t>(length));
            case 0xCF:
                if (!take_be(8, length)) break;
                if (length > static_cast<std::uint64_t>((std::numeric_limits<std::int64_t>::max)())) {
                    return Value::oversized_integer(false);
                }
                return Value::integer(static_cast<std::int64_t>(length));
            case 0xD0: if (!take_be(1, length)) break; return Value::integer(static_cast<std::int8_t>(length));
            case 0xD1: if (!take_be(2, length)) break; return Value::integer(static_cast<std::int16_t>(length));
            case 0xD2: if (!take_be(4, length)) break; return Value::integer(static_cast<std::int32_t>(length));
            case 0xD3: if (!take_be(8, length)) break; return Value::integer(static_cast<std::int64_t>(length));
            case 0xD4: return read_extension(1);
            case 0xD5: return read_extension(2);
            case 0xD6: return read_extension(4);
            case 0xD7: return read_extension(8);
            case 0xD8: return read_extension(16);
            case 0xD9: if (!take_be(1, length)) break; return read_string(length);
            case 0xDA: if (!take_be(2, length)) break; return read_string(length);
            case 0xDB: if (!take_be(4, length)) break; return read_string(length);
            case 0xDC: if (!take_be(2, length)) break; return read_array(length, depth);
            case 0xDD: if (!take_be(4, length)) break; return read_array(length, depth);
            case 0xDE: if (!take_be(2, length)) break; return read_map(length, depth);
            case 0xDF: if (!take_be(4, length)) break; return read_map(length, depth);
            default: return fail("invalid MessagePack type byte 0xc1");
        }
        return fail("truncated MessagePack");
    }

private:
    Failure fail(const char* what) const {
        return Failure{ErrorCode::BadMessage, std::string(what) + " at offset " + std::to_string(pos_)};
    }

    std::size_t remaining() const { return data_.size - pos_; }

    bool take_u8(std::uint8_t& out) {
        if (remaining() < 1) {
            return false;
        }
        out = data_[pos_++];
        return true;
    }

    bool take_be(std::size_t count, std::uint64_t& out) {
        if (remaining() < count) {
            return false;
        }
        out = 0;
        for (std::size_t i = 0; i < count; ++i) {
            out = (out << 8) | data_[pos_ + i];
        }
        pos_ += count;
        return true;
    }

    Result<Value> read_string(std::uint64_t length) {
        if (length > remaining()) {
            return fail("truncated MessagePack string");
        }
        std::string text(reinterpret_cast<const char*>(data_.data + pos_), static_cast<std::size_t>(length));
        pos_ += static_cast<std::size_t>(length);
        if (!utf8_code_points(text)) {
            return fail("MessagePack string is not valid UTF-8");
        }
        return Value::string(std::move(text));
    }

    Result<Value> read_binary(std::uint64_t length) {
        if (length > remaining()) {
            return fail("truncated MessagePack bin");
        }
        Bytes bytes(data_.data + pos_, data_.data + pos_ + static_cast<std::size_t>(length));
        pos_ += static_cast<std::size_t>(length);
        return Value::binary(std::move(bytes));
    }

    Result<Value> read_extension(std::uint64_t length) {
        std::uint8_t type = 0;
        if (!take_u8(type) || length > remaining()) {
            return fail("truncated MessagePack ext");
        }
        Bytes bytes(data_.data + pos_, data_.data + pos_ + static_cast<std::size_t>(length));
        pos_ += static_cast<std::size_t>(length);
        return Value::extension(static_cast<std::int8_t>(type), std::move(bytes));
    }

    Result<Value> read_array(std::uint64_t count, std::size_t depth) {
        if (count > remaining()) {  // every element takes at least one byte
            return fail("truncated MessagePack array");
        }
        std::vector<Value> elements;
        elements.reserve(static_cast<std::size_t>(count));
        for (std::uint64_t i = 0; i < count; ++i) {
            Result<Value> element = read(depth + 1);
            if (!element) {
                return element;
            }
            elements.push_back(std::move(element.value()));
        }
        return Value::array(std::move(elements));
    }

    Result<Value> read_map(std::uint64_t count, std::size_t depth) {
        if (count > remaining() / 2) {  // every member takes at least two bytes
            return fail("truncated MessagePack map");
        }
        Value object = Value::map();
        object.members().reserve(static_cast<std::size_t>(count));
        for (std::uint64_t i = 0; i < count; ++i) {
            Result<Value> key = read(depth + 1);
            if (!key) {
                return key;
            }
            if (!key->is(Value::Kind::String)) {
                return fail("MessagePack map key is not a string");
            }
            Result<Value> member = read(depth + 1);
            if (!member) {
                return member;
            }
            object.add(key->as_string(), std::move(member.value()));
        }
        return object;
    }

    ByteView data_;
    std::size_t max_depth_;
    std::size_t pos_ = 0;
};

inline void put_be(Bytes& out, std::uint64_t value, int count) {
    for (int i = count - 1; i >= 0; --i) {
        out.push_back(static_cast<std::uint8_t>((value >> (8 * i)) & 0xFFu));
    }
}

inline void write_length(Bytes& out, std::size_t length, std::uint8_t fix_base, std::size_t fix_limit,
                         std::uint8_t code8, std::uint8_t code16, std::uint8_t code32) {
    if (fix_limit > 0 && length < fix_limit) {
        out.push_back(static_cast<std::uint8_t>(fix_base | length));
    } else if (code8 != 0 && length < 0x100) {
        out.push_back(code8);
        put_be(out, length, 1);
    } else if (length < 0x10000) {
        out.push_back(code16);
        put_be(out, length, 2);
    } else {
        out.push_back(code32);
        put_be(out, length, 4);
    }
}

}  // namespace detail

// Reads the MessagePack value at data[0] and stops right after it.
inline Result<Parsed> parse_prefix(ByteView data, std::size_t max_depth = 16) {
    detail::Reader reader(data, max_depth);
    Result<Value> value = reader.read(0);
    if (!value) {
        return value.error();
    }
    return Parsed{std::move(value.value()), reader.position()};
}

inline void write_integer(std::int64_t number, Bytes& out) {
    if (number >= 0) {
        const auto magnitude = static_cast<std::uint64_t>(number);
        if (magnitude < 0x80) {
            out.push_back(static_cast<std::uint8_t>(magnitude));
        } else if (magnitude < 0x100) {
            out.push_back(0xCC);
            detail::put_be(out, magnitude, 1);
        } else if (magnitude < 0x10000) {
            out.push_back(0xCD);
            detail::put_be(out, magnitude, 2);
        } else if (magnitude < 0x100000000ull) {
            out.push_back(0xCE);
            detail::put_be(out, magnitude, 4);
        } else {
            out.push_back(0xCF);
            detail::put_be(out, magnitude, 8);
        }
        return;
    }
    const auto bits = static_cast<std::uint64_t>(number);
    if (number >= -32) {
        out.push_back(static_cast<std::uint8_t>(bits & 0xFFu));
    } else if (number >= -128) {
        out.push_back(0xD0);
        detail::put_be(out, bits, 1);
    } else if (number >= -32768) {
        out.push_back(0xD1);
        detail::put_be(out, bits, 2);
    } else if (number >= -2147483648ll) {
        out.push_back(0xD2);
        detail::put_be(out, bits, 4);
    } else {
        out.push_back(0xD3);
        detail::put_be(out, bits, 8);
    }
}

inline void write(const Value& value, Bytes& out) {
    switch (value.kind()) {
        case Value::Kind::Nil: out.push_back(0xC0); return;
        case Value::Kind::Boolean: out.push_back(value.as_bool() ? 0xC3 : 0xC2); return;
        case Value::Kind::Integer: write_integer(value.as_int(), out); return;
        case Value::Kind::Float: {
            const double number = value.as_float();
            std::uint64_t bits = 0;
            std::memcpy(&bits, &number, sizeof(bits));
            out.push_back(0xCB);
            detail::put_be(out, bits, 8);
            return;
        }
        case Value::Kind::String: {
            const std::string& text = value.as_string();
            detail::write_length(out, text.size(), 0xA0, 32, 0xD9, 0xDA, 0xDB);
            out.insert(out.end(), text.begin(), text.end());
            return;
        }
        case Value::Kind::Binary: {
            const Bytes& bytes = value.as_binary();
            detail::write_length(out, bytes.size(), 0, 0, 0xC4, 0xC5, 0xC6);
            out.insert(out.end(), bytes.begin(), bytes.end());
            return;
        }
        case Value::Kind::Extension: {
            const Bytes& bytes = value.as_binary();
            detail::write_length(out, bytes.size(), 0, 0, 0xC7, 0xC8, 0xC9);
            out.push_back(static_cast<std::uint8_t>(value.extension_type()));
            out.insert(out.end(), bytes.begin(), bytes.end());
            return;
        }
        case Value::Kind::Array: {
            detail::write_length(out, value.items().size(), 0x90, 16, 0, 0xDC, 0xDD);
            for (const Value& item : value.items()) {
                write(item, out);
            }
            return;
        }
        case Value::Kind::Map: {
            detail::write_length(out, value.members().size(), 0x80, 16, 0, 0xDE, 0xDF);
            for (const Value::Member& member : value.members()) {
                write(Value::string(member.key), out);
                write(member.value, out);
            }
            return;
        }
    }
}

}  // namespace msgpack
}  // namespace yumebridge
