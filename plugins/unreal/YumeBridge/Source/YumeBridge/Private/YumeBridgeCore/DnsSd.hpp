// DNS-SD over multicast DNS (RFC 6762, RFC 6763), just enough to find yume_bridge daemons: build the
// PTR question for `_yume-bridge._udp.local.` and read the answers (PTR, SRV, TXT, A, AAAA, with name
// compression) into services with host, port, addresses and TXT properties. No sockets, no clock.
#pragma once

#include "Common.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace yumebridge {
namespace dnssd {

constexpr const char* kServiceType = "_yume-bridge._udp.local.";
constexpr const char* kMulticastAddressV4 = "224.0.0.251";
constexpr const char* kMulticastAddressV6 = "ff02::fb";
constexpr std::uint16_t kPort = 5353;

enum class RecordType : std::uint16_t { A = 1, PTR = 12, TXT = 16, AAAA = 28, SRV = 33, ANY = 255 };
constexpr std::uint16_t kClassIn = 1;
constexpr std::uint16_t kUnicastResponseBit = 0x8000;  // in a question's class (RFC 6762 §5.4)
constexpr std::uint16_t kCacheFlushBit = 0x8000;       // in a record's class (RFC 6762 §10.2)
constexpr std::size_t kMaxMessage = 9000;              // RFC 6762 §17: the largest mDNS message
constexpr std::size_t kMaxRecords = 256;               // more than this in one message is refused

struct Question {
    std::string name;  // absolute, with the trailing dot
    std::uint16_t type = 0;
    bool unicast_response = false;
};

struct Record {
    std::string name;
    std::uint16_t type = 0;
    bool cache_flush = false;
    std::uint32_t ttl = 0;
    // Decoded data, by type: PTR → target; SRV → target, priority, weight, port; TXT → strings;
    // A and AAAA → address (text form).
    std::string target;
    std::uint16_t priority = 0;
    std::uint16_t weight = 0;
    std::uint16_t port = 0;
    std::vector<std::string> strings;
    std::string address;
};

struct Message {
    std::uint16_t id = 0;
    std::uint16_t flags = 0;
    std::vector<Question> questions;
    std::vector<Record> records;  // answers, authority and additional records, in order
    bool is_response() const { return (flags & 0x8000u) != 0; }
};

// A daemon's advertisement, assembled from the records of one or more messages.
struct Service {
    std::string instance;  // e.g. "studio-47800._yume-bridge._udp.local."
    std::string host;      // SRV target, e.g. "studio.local."
    std::uint16_t port = 0;
    std::vector<std::string> addresses;  // A and AAAA of the host, in the order they arrived
    // TXT key=value pairs in packet order; a bare key has no value; empty keys and later
    // duplicates are dropped (RFC 6763 §6.4).
    std::vector<std::pair<std::string, std::optional<std::string>>> properties;
    std::uint32_t ttl = 0;                          // of the PTR record; 0 announces a goodbye
    // A TXT property's value; nothing when absent or bare.
    std::optional<std::string> property(std::string_view key) const {
        for (const auto& entry : properties) {
            if (entry.first == key) {
                return entry.second;
            }
        }
        return std::nullopt;
    }
    // The instance name without the service type ("studio-47800").
    bool property_present(std::string_view key) const {
        for (const auto& entry : properties) {
            if (entry.first == key) {
                return true;
            }
        }
        return false;
    }
    std::string label() const {
        const std::string suffix = std::string(".") + kServiceType;
        return instance.size() > suffix.size() && instance.compare(instance.size() - suffix.size(), suffix.size(), suffix) == 0
                   ? instance.substr(0, instance.size() - suffix.size())
                   : instance;
    }
};

namespace detail {

inline void put16(Bytes& out, std::uint16_t value) {
    out.push_back(static_cast<std::uint8_t>(value >> 8));
    out.push_back(static_cast<std::uint8_t>(value & 0xFFu));
}

inline bool put_name(Bytes& out, std::string_view name) {
    if (!name.empty() && name.back() == '.') {
        name.remove_suffix(1);
    }
    std::size_t total = 0;
    while (!name.empty()) {
        const std::size_t dot = name.find('.');
        const std::string_view label = name.substr(0, dot);
        if (label.empty() || label.size() > 63) {
            return false;
        }
        total += label.size() + 1;
        out.push_back(static_cast<std::uint8_t>(label.size()));
        out.insert(out.end(), label.begin(), label.end());
        name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
    }
    out.push_back(0);
    return total + 1 <= 255;
}

class Reader {
public:
    explicit Reader(ByteView data) : data_(data) {}

    bool ok() const { return ok_; }
    std::size_t offset() const { return offset_; }
    void seek(std::size_t offset) {
        if (offset > data_.size) {
            ok_ = false;
        } else {
            offset_ = offset;
        }
    }

    std::uint8_t u8() {
        if (!ok_ || offset_ + 1 > data_.size) {
            ok_ = false;
            return 0;
        }
        return data_[offset_++];
    }
    std::uint16_t u16() {
        const std::uint16_t high = u8();
        const std::uint16_t low = u8();
        return static_cast<std::uint16_t>((high << 8) | low);
    }
    std::uint32_t u32() {
        const std::uint32_t high = u16();
        const std::uint32_t low = u16();
        return (high << 16) | low;
    }
    ByteView bytes(std::size_t count) {
        if (!ok_ || count > data_.size - offset_) {
            ok_ = false;
            return ByteView();
        }
        const ByteView view = data_.sub(offset_, count);
        offset_ += count;
        return view;
    }

    // A possibly compressed name (RFC 1035 §4.1.4). Pointers must point backwards, which also
    // rules out loops; the name is at most 255 bytes.
    std::string name() {
        std::string result;
        std::size_t position = offset_;
        std::size_t resume = 0;
        bool jumped = false;
        std::size_t length = 0;
        while (ok_) {
            if (position >= data_.size) {
                ok_ = false;
                break;
            }
            const std::uint8_t size = data_[position];
            if ((size & 0xC0u) == 0xC0u) {
                if (position + 1 >= data_.size) {
                    ok_ = false;
                    break;
                }
                const std::size_t target = (static_cast<std::size_t>(size & 0x3Fu) << 8) | data_[position + 1];
                if (target >= position) {
                    ok_ = false;
                    break;
                }
                if (!jumped) {
                    resume = position + 2;
                    jumped = true;
                }
                position = target;
                continue;
            }
            if ((size & 0xC0u) != 0) {
                ok_ = false;  // the 0x40 and 0x80 label types are not in use
                break;
            }
            if (size == 0) {
                ++position;
                break;
            }
            if (position + 1 + size > data_.size) {
                ok_ = false;
                break;
            }
            length += size + 1u;
            if (length > 255) {
                ok_ = false;
                break;
            }
            result.append(reinterpret_cast<const char*>(data_.data + position + 1), size);
            result.push_back('.');
            position += 1u + size;
        }
        if (ok_) {
            offset_ = jumped ? resume : position;
        }
        if (result.empty()) {
            result = ".";
        }
        return result;
    }

private:
    ByteView data_;
    std::size_t offset_ = 0;
    bool ok_ = true;
};

inline std::string ipv4_text(ByteView b) {
    return std::to_string(b[0]) + "." + std::to_string(b[1]) + "." + std::to_string(b[2]) + "." + std::to_string(b[3]);
}

// RFC 5952 text: lower-case hex, the longest run of two or more zero groups as "::".
inline std::string ipv6_text(ByteView b) {
    std::uint16_t groups[8];
    for (std::size_t i = 0; i < 8; ++i) {
        groups[i] = static_cast<std::uint16_t>((b[2 * i] << 8) | b[2 * i + 1]);
    }
    int best_start = -1;
    int best_length = 0;
    for (int i = 0; i < 8;) {
        if (groups[i] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && groups[j] == 0) {
            ++j;
        }
        if (j - i > best_length && j - i >= 2) {
            best_start = i;
            best_length = j - i;
        }
        i = j;
    }
    static const char* const kHex = "0123456789abcdef";
    std::string text;
    for (int i = 0; i < 8; ++i) {
        if (i == best_start) {
            text += "::";
            i += best_length - 1;
            continue;
        }
        if (!text.empty() && text.back() != ':') {
            text.push_back(':');
        }
        std::string group;
        std::uint16_t value = groups[i];
        do {
            group.insert(group.begin(), kHex[value & 0xFu]);
            value = static_cast<std::uint16_t>(value >> 4);
        } while (value != 0);
        text += group;
    }
    return text;
}

inline bool same_name(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i];
        char y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) {
            return false;
        }
    }
    return true;
}

}  // namespace detail

// A one-question mDNS query: PTR for the service type. `unicast_response` sets the QU bit, asking
// responders to answer the sender directly (RFC 6762 §5.4); a query from a port other than 5353
// gets a direct answer anyway (§6.7).
inline Result<Bytes> build_query(std::string_view service_type = kServiceType, std::uint16_t id = 0,
                                 bool unicast_response = true) {
    Bytes out;
    out.reserve(12 + service_type.size() + 6);
    detail::put16(out, id);
    detail::put16(out, 0);  // flags: a standard query
    detail::put16(out, 1);  // one question
    detail::put16(out, 0);
    detail::put16(out, 0);
    detail::put16(out, 0);
    if (!detail::put_name(out, service_type)) {
        return Failure{ErrorCode::InvalidArgument, "not a DNS name: " + std::string(service_type)};
    }
    detail::put16(out, static_cast<std::uint16_t>(RecordType::PTR));
    detail::put16(out, static_cast<std::uint16_t>(kClassIn | (unicast_response ? kUnicastResponseBit : 0)));
    return out;
}

// Parses one DNS message. A malformed message (truncated, a forward or looping compression
// pointer, an over-long name, too many records) is refused as a whole.
inline Result<Message> parse_message(ByteView data) {
    if (data.size < 12 || data.size > kMaxMessage) {
        return Failure{ErrorCode::BadMessage, "a DNS message has 12 to 9000 bytes"};
    }
    detail::Reader in(data);
    Message message;
    message.id = in.u16();
    message.flags = in.u16();
    const std::size_t questions = in.u16();
    const std::size_t records = static_cast<std::size_t>(in.u16()) + in.u16() + in.u16();
    if (questions + records > kMaxRecords) {
        return Failure{ErrorCode::BadMessage, "too many DNS records"};
    }
    for (std::size_t i = 0; i < questions && in.ok(); ++i) {
        Question question;
        question.name = in.name();
        question.type = in.u16();
        const std::uint16_t klass = in.u16();
        question.unicast_response = (klass & kUnicastResponseBit) != 0;
        message.questions.push_back(std::move(question));
    }
    for (std::size_t i = 0; i < records && in.ok(); ++i) {
        Record record;
        record.name = in.name();
        record.type = in.u16();
        const std::uint16_t klass = in.u16();
        record.cache_flush = (klass & kCacheFlushBit) != 0;
        record.ttl = in.u32();
        const std::size_t length = in.u16();
        const std::size_t start = in.offset();
        const ByteView rdata = in.bytes(length);
        if (!in.ok()) {
            break;
        }
        switch (static_cast<RecordType>(record.type)) {
            case RecordType::PTR:
                in.seek(start);
                record.target = in.name();
                break;
            case RecordType::SRV:
                in.seek(start);
                record.priority = in.u16();
                record.weight = in.u16();
                record.port = in.u16();
                record.target = in.name();
                break;
            case RecordType::TXT: {
                std::size_t at = 0;
                while (at < rdata.size) {
                    const std::size_t size = rdata[at];
                    if (at + 1 + size > rdata.size) {
                        return Failure{ErrorCode::BadMessage, "a TXT string runs past its record"};
                    }
                    if (size > 0) {
                        record.strings.emplace_back(reinterpret_cast<const char*>(rdata.data + at + 1), size);
                    }
                    at += 1 + size;
                }
                break;
            }
            case RecordType::A:
                if (rdata.size != 4) {
                    return Failure{ErrorCode::BadMessage, "an A record has 4 bytes"};
                }
                record.address = detail::ipv4_text(rdata);
                break;
            case RecordType::AAAA:
                if (rdata.size != 16) {
                    return Failure{ErrorCode::BadMessage, "an AAAA record has 16 bytes"};
                }
                record.address = detail::ipv6_text(rdata);
                break;
            default:
                break;  // other types (NSEC, HINFO, ...) are kept by name and type only
        }
        if (in.ok() && in.offset() > start + length) {
            return Failure{ErrorCode::BadMessage, "a record's data runs past its length"};
        }
        in.seek(start + length);
        message.records.push_back(std::move(record));
    }
    if (!in.ok()) {
        return Failure{ErrorCode::BadMessage, "a truncated or malformed DNS message"};
    }
    return message;
}

// Collects services of `service_type` from the records seen so far (answers from several
// responders and several messages may be passed one after another). A PTR with TTL 0 (a goodbye)
// removes its instance.
class ServiceCollector {
public:
    explicit ServiceCollector(std::string service_type = kServiceType) : service_type_(std::move(service_type)) {}

    void add(const Message& message) {
        if (!message.is_response()) {
            return;
        }
        for (const Record& record : message.records) {
            records_.push_back(record);
        }
        if (records_.size() > 4 * kMaxRecords) {
            records_.erase(records_.begin(), records_.begin() + static_cast<std::ptrdiff_t>(records_.size() - 4 * kMaxRecords));
        }
    }

    // Services with a known port, in the order their PTR records arrived.
    std::vector<Service> services() const {
        std::vector<Service> found;
        for (const Record& pointer : records_) {
            if (pointer.type != static_cast<std::uint16_t>(RecordType::PTR) || !detail::same_name(pointer.name, service_type_)) {
                continue;
            }
            auto existing = found.begin();
            while (existing != found.end() && !detail::same_name(existing->instance, pointer.target)) {
                ++existing;
            }
            if (pointer.ttl == 0) {
                if (existing != found.end()) {
                    found.erase(existing);
                }
                continue;
            }
            if (existing == found.end()) {
                Service service;
                service.instance = pointer.target;
                found.push_back(std::move(service));
                existing = found.end() - 1;
            }
            existing->ttl = pointer.ttl;
        }
        for (Service& service : found) {
            for (const Record& record : records_) {
                if (record.type == static_cast<std::uint16_t>(RecordType::SRV) && detail::same_name(record.name, service.instance)) {
                    service.host = record.target;
                    service.port = record.port;
                } else if (record.type == static_cast<std::uint16_t>(RecordType::TXT) &&
                           detail::same_name(record.name, service.instance)) {
                    service.properties.clear();
                    for (const std::string& entry : record.strings) {
                        const std::size_t equals = entry.find('=');
                        const std::string key = entry.substr(0, equals);
                        if (!key.empty() && !service.property_present(key)) {
                            service.properties.emplace_back(key, equals == std::string::npos
                                                                     ? std::nullopt
                                                                     : std::optional<std::string>(entry.substr(equals + 1)));
                        }
                    }
                }
            }
            for (const Record& record : records_) {
                if (service.host.empty() || !detail::same_name(record.name, service.host)) {
                    continue;
                }
                std::vector<std::string>& list = service.addresses;
                if ((record.type == static_cast<std::uint16_t>(RecordType::A) ||
                     record.type == static_cast<std::uint16_t>(RecordType::AAAA)) &&
                    std::find(list.begin(), list.end(), record.address) == list.end()) {
                    list.push_back(record.address);
                }
            }
        }
        found.erase(std::remove_if(found.begin(), found.end(), [](const Service& s) { return s.port == 0; }), found.end());
        return found;
    }

    // Instances that said goodbye (a PTR with TTL 0) in the records seen so far.
    std::vector<std::string> removed() const {
        std::vector<std::string> gone;
        for (const Record& pointer : records_) {
            if (pointer.type == static_cast<std::uint16_t>(RecordType::PTR) && pointer.ttl == 0 &&
                detail::same_name(pointer.name, service_type_)) {
                gone.push_back(pointer.target);
            }
        }
        return gone;
    }

    void clear() { records_.clear(); }

private:
    std::string service_type_;
    std::vector<Record> records_;
};

}  // namespace dnssd
}  // namespace yumebridge
