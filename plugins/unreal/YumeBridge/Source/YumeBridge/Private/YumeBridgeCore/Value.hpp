// A decoded JSON or MessagePack value: the common tree both codecs read into and write from.
#pragma once

#include "Common.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace yumebridge {

class Value {
public:
    enum class Kind : std::uint8_t { Nil, Boolean, Integer, Float, String, Binary, Array, Map, Extension };
    struct Member;

    // Declared here and defined below, once Member is complete: in C++20 std::vector's members are
    // constexpr, and clang instantiates them where the special members are defined.
    Value();
    ~Value();
    Value(const Value& other);
    Value(Value&& other) noexcept;
    Value& operator=(const Value& other);
    Value& operator=(Value&& other) noexcept;

    static Value nil() { return Value(); }
    static Value boolean(bool flag) {
        Value v;
        v.kind_ = Kind::Boolean;
        v.bool_ = flag;
        return v;
    }
    static Value integer(std::int64_t number) {
        Value v;
        v.kind_ = Kind::Integer;
        v.int_ = number;
        return v;
    }
    // An integer outside the int64 range (a JSON literal or a MessagePack uint64 above INT64_MAX).
    // It is kept only so that a field holding it can be reported as value_out_of_range.
    static Value oversized_integer(bool negative) {
        Value v;
        v.kind_ = Kind::Integer;
        v.int_ = negative ? (std::numeric_limits<std::int64_t>::min)() : (std::numeric_limits<std::int64_t>::max)();
        v.int_oversized_ = true;
        return v;
    }
    static Value floating(double number) {
        Value v;
        v.kind_ = Kind::Float;
        v.float_ = number;
        return v;
    }
    static Value string(std::string text) {
        Value v;
        v.kind_ = Kind::String;
        v.string_ = std::move(text);
        return v;
    }
    static Value binary(Bytes bytes) {
        Value v;
        v.kind_ = Kind::Binary;
        v.bytes_ = std::move(bytes);
        return v;
    }
    static Value extension(std::int8_t type, Bytes bytes) {
        Value v;
        v.kind_ = Kind::Extension;
        v.int_ = type;
        v.bytes_ = std::move(bytes);
        return v;
    }
    static Value array(std::vector<Value> elements);
    static Value map();

    Kind kind() const { return kind_; }
    bool is(Kind expected) const { return kind_ == expected; }

    bool as_bool() const { return bool_; }
    std::int64_t as_int() const { return int_; }
    bool int_oversized() const { return int_oversized_; }
    double as_float() const { return float_; }
    // Integers and floats both read as a number.
    double as_number() const { return kind_ == Kind::Float ? float_ : static_cast<double>(int_); }
    const std::string& as_string() const { return string_; }
    const Bytes& as_binary() const { return bytes_; }
    std::int8_t extension_type() const { return static_cast<std::int8_t>(int_); }

    const std::vector<Value>& items() const { return items_; }
    std::vector<Value>& items() { return items_; }
    const std::vector<Member>& members() const { return members_; }
    std::vector<Member>& members() { return members_; }

    // The value of `key` in a map (the last one when a key repeats), or nullptr.
    const Value* find(std::string_view key) const;
    // Appends a member to a map and returns *this for chaining.
    Value& add(std::string key, Value value);

    // Deep equality; maps compare as unordered sets of keys.
    bool operator==(const Value& other) const;
    bool operator!=(const Value& other) const { return !(*this == other); }

private:
    Kind kind_ = Kind::Nil;
    bool bool_ = false;
    bool int_oversized_ = false;
    std::int64_t int_ = 0;
    double float_ = 0.0;
    std::string string_;
    Bytes bytes_;
    std::vector<Value> items_;
    std::vector<Member> members_;
};

struct Value::Member {
    std::string key;
    Value value;
};

inline Value::Value() = default;
inline Value::~Value() = default;
inline Value::Value(const Value& other) = default;
inline Value::Value(Value&& other) noexcept = default;
inline Value& Value::operator=(const Value& other) = default;
inline Value& Value::operator=(Value&& other) noexcept = default;

inline Value Value::array(std::vector<Value> elements) {
    Value v;
    v.kind_ = Kind::Array;
    v.items_ = std::move(elements);
    return v;
}

inline Value Value::map() {
    Value v;
    v.kind_ = Kind::Map;
    return v;
}

inline const Value* Value::find(std::string_view key) const {
    for (auto it = members_.rbegin(); it != members_.rend(); ++it) {
        if (it->key == key) {
            return &it->value;
        }
    }
    return nullptr;
}

inline Value& Value::add(std::string key, Value value) {
    members_.push_back(Member{std::move(key), std::move(value)});
    return *this;
}

inline bool Value::operator==(const Value& other) const {
    if (kind_ != other.kind_) {
        return false;
    }
    switch (kind_) {
        case Kind::Nil: return true;
        case Kind::Boolean: return bool_ == other.bool_;
        case Kind::Integer: return int_ == other.int_ && int_oversized_ == other.int_oversized_;
        case Kind::Float: return float_ == other.float_;
        case Kind::String: return string_ == other.string_;
        case Kind::Binary: return bytes_ == other.bytes_;
        case Kind::Extension: return int_ == other.int_ && bytes_ == other.bytes_;
        case Kind::Array:
            if (items_.size() != other.items_.size()) {
                return false;
            }
            for (std::size_t i = 0; i < items_.size(); ++i) {
                if (items_[i] != other.items_[i]) {
                    return false;
                }
            }
            return true;
        case Kind::Map: {
            if (members_.size() != other.members_.size()) {
                return false;
            }
            for (const Member& member : members_) {
                const Value* theirs = other.find(member.key);
                if (theirs == nullptr || *theirs != *find(member.key)) {
                    return false;
                }
            }
            return true;
        }
    }
    return false;
}

}  // namespace yumebridge
