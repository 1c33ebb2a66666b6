// Runs the protocol's canonical test vectors (protocol/vectors/*.json) against the core and reports
// every mismatch as a sentence. Standard library only, so that the Unreal automation test and the
// host tests run exactly the same checks; the vector files are read with the core's own JSON reader
// (the host tests also read them independently with nlohmann::json).
#pragma once

#include "YumeBridgeCore/YumeBridgeCore.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace yumebridge {
namespace vectors {

struct Report {
    std::size_t checks = 0;
    std::vector<std::string> failures;

    bool ok() const { return failures.empty(); }

    void expect(bool condition, const std::string& what) {
        ++checks;
        if (!condition) {
            failures.push_back(what);
        }
    }

    void merge(const Report& other) {
        checks += other.checks;
        failures.insert(failures.end(), other.failures.begin(), other.failures.end());
    }
};

namespace detail {

inline const Value* member(const Value& map, const char* key) { return map.is(Value::Kind::Map) ? map.find(key) : nullptr; }

inline std::string text_of(const Value* value) {
    return value != nullptr && value->is(Value::Kind::String) ? value->as_string() : std::string();
}

inline std::int64_t int_of(const Value* value) {
    return value != nullptr && value->is(Value::Kind::Integer) ? value->as_int() : -1;
}

inline Bytes hex_of(const Value* value) {
    const std::optional<Bytes> bytes = from_hex(text_of(value));
    return bytes ? *bytes : Bytes();
}

// The vectors write binary values as {"$bytes": "<hex>"}; turn those into binary values.
inline Value plain(const Value& value) {
    if (value.is(Value::Kind::Map)) {
        if (value.members().size() == 1 && value.members()[0].key == "$bytes") {
            return Value::binary(hex_of(&value.members()[0].value));
        }
        Value out = Value::map();
        for (const Value::Member& m : value.members()) {
            out.add(m.key, plain(m.value));
        }
        return out;
    }
    if (value.is(Value::Kind::Array)) {
        std::vector<Value> items;
        for (const Value& item : value.items()) {
            items.push_back(plain(item));
        }
        return Value::array(std::move(items));
    }
    return value;
}

inline Result<Value> parse_file(std::string_view text, const char* file, Report& report) {
    Result<Value> parsed = json::parse_text(text);
    report.expect(parsed.ok(), std::string(file) + " is not readable JSON: " + (parsed ? "" : parsed.error().detail));
    return parsed;
}

}  // namespace detail

// messages.json: each message decodes from both encodings to the expected value, re-encodes to
// the same bytes, decodes again to the same message, and is still accepted with a tag appended.
inline Report run_messages(std::string_view text) {
    Report report;
    Result<Value> file = detail::parse_file(text, "messages.json", report);
    if (!file) {
        return report;
    }
    const Value* list = detail::member(file.value(), "messages");
    report.expect(list != nullptr && list->is(Value::Kind::Array) && !list->items().empty(),
                  "messages.json has no messages");
    if (list == nullptr) {
        return report;
    }
    for (const Value& vector : list->items()) {
        const std::string name = detail::text_of(detail::member(vector, "name"));
        const std::string type = detail::text_of(detail::member(vector, "type"));
        const Value* value = detail::member(vector, "value");
        const Value expected = value != nullptr ? detail::plain(*value) : Value();
        const std::string json_text = detail::text_of(detail::member(vector, "json"));
        const Bytes json_bytes(json_text.begin(), json_text.end());
        const Bytes msgpack_bytes = detail::hex_of(detail::member(vector, "msgpack"));
        const struct {
            const char* label;
            Encoding encoding;
            const Bytes& bytes;
        } forms[] = {{"json", Encoding::Json, json_bytes}, {"msgpack", Encoding::MsgPack, msgpack_bytes}};
        for (const auto& form : forms) {
            const std::string where = name + " (" + form.label + ")";
            Result<DecodedControl> decoded = decode_control(form.bytes);
            report.expect(decoded.ok(), where + " does not decode: " + (decoded ? "" : decoded.error().detail));
            if (!decoded) {
                continue;
            }
            report.expect(decoded->encoding == form.encoding, where + " decodes with the wrong encoding");
            report.expect(!decoded->tag, where + " decodes with a tag it does not have");
            report.expect(message_type_name(decoded->message) == type, where + " decodes as " +
                                                                            message_type_name(decoded->message));
            report.expect(message_to_value(decoded->message) == expected,
                          where + " decodes to " + json::to_string(message_to_value(decoded->message)) +
                              ", expected " + json::to_string(expected));
            const Bytes again = encode_body(decoded->message, form.encoding);
            report.expect(again == form.bytes, where + " re-encodes to different bytes: " +
                                                   (form.encoding == Encoding::Json ? std::string(again.begin(), again.end())
                                                                                    : to_hex(again)));
            Result<DecodedControl> round_trip = decode_control(again);
            report.expect(round_trip.ok() && message_to_value(round_trip->message) == message_to_value(decoded->message),
                          where + " does not survive a second round trip");
            Bytes tagged = form.bytes;
            tagged.insert(tagged.end(), kTagSize, 0xAB);
            Result<DecodedControl> with_tag = decode_control(tagged);
            report.expect(with_tag.ok() && with_tag->tag && with_tag->body_size == form.bytes.size(),
                          where + " is not accepted with a 16-byte tag after it");
        }
    }
    return report;
}

// invalid.json: each datagram is rejected with the expected code, or not taken as a control message.
inline Report run_invalid(std::string_view text) {
    Report report;
    Result<Value> file = detail::parse_file(text, "invalid.json", report);
    if (!file) {
        return report;
    }
    const Value* list = detail::member(file.value(), "datagrams");
    report.expect(list != nullptr && list->is(Value::Kind::Array) && !list->items().empty(),
                  "invalid.json has no datagrams");
    if (list == nullptr) {
        return report;
    }
    for (const Value& vector : list->items()) {
        const std::string name = detail::text_of(detail::member(vector, "name"));
        const std::string expect = detail::text_of(detail::member(vector, "expect"));
        const Bytes bytes = detail::hex_of(detail::member(vector, "hex"));
        Result<DecodedControl> decoded = decode_control(bytes);
        const std::string got = decoded.ok() ? "accepted"
                                : decoded.code() == ErrorCode::NotControl ? "drop"
                                                                          : error_code_name(decoded.code());
        report.expect(got == expect, name + ": expected " + expect + ", got " + got);
    }
    return report;
}

// auth.json: HMAC-SHA256, hello.auth, the session key and the tags of two bodies.
inline Report run_auth(std::string_view text) {
    Report report;
    Result<Value> file = detail::parse_file(text, "auth.json", report);
    if (!file) {
        return report;
    }
    const Value& root = file.value();
    if (const Value* hmacs = detail::member(root, "hmac_sha256")) {
        for (const Value& vector : hmacs->items()) {
            const Digest digest = hmac_sha256(detail::hex_of(detail::member(vector, "key")),
                                              detail::hex_of(detail::member(vector, "message")));
            report.expect(to_hex(ByteView(digest.data(), digest.size())) == detail::text_of(detail::member(vector, "digest")),
                          "HMAC-SHA256 of message " + detail::text_of(detail::member(vector, "message")) + " differs");
        }
    }
    const std::string token = detail::text_of(detail::member(root, "token"));
    const Bytes client_nonce = detail::hex_of(detail::member(root, "client_nonce"));
    const Bytes server_nonce = detail::hex_of(detail::member(root, "server_nonce"));
    const Bytes cookie = detail::hex_of(detail::member(root, "cookie"));
    const Value* session_value = detail::member(root, "session");
    const auto session = static_cast<std::uint32_t>(detail::int_of(session_value));
    const Tag auth = hello_auth(token, client_nonce, cookie);
    report.expect(to_hex(ByteView(auth.data(), auth.size())) == detail::text_of(detail::member(root, "hello_auth")),
                  "hello.auth differs");
    const Digest key = session_key(token, client_nonce, server_nonce, session);
    report.expect(to_hex(ByteView(key.data(), key.size())) == detail::text_of(detail::member(root, "session_key")),
                  "session key differs");
    if (const Value* tagged = detail::member(root, "tagged")) {
        for (const Value& vector : tagged->items()) {
            const Bytes body = detail::hex_of(detail::member(vector, "body"));
            const Tag tag = datagram_tag(key, body);
            report.expect(to_hex(ByteView(tag.data(), tag.size())) == detail::text_of(detail::member(vector, "tag")),
                          "tag of body " + to_hex(body) + " differs");
            Bytes datagram = body;
            datagram.insert(datagram.end(), tag.begin(), tag.end());
            Result<DecodedControl> decoded = decode_control(datagram);
            report.expect(decoded.ok() && decoded->tag && decoded->body_size == body.size(),
                          "tagged body " + to_hex(body) + " does not decode with its tag");
        }
    }
    return report;
}

// frames.json: every datagram's header, and every delivery scenario's complete and missing frames.
inline Report run_frames(std::string_view text) {
    Report report;
    Result<Value> file = detail::parse_file(text, "frames.json", report);
    if (!file) {
        return report;
    }
    const Value& root = file.value();
    const Value* session_value = detail::member(root, "receiver_session");
    const auto session = static_cast<std::uint32_t>(detail::int_of(session_value));
    std::vector<Bytes> datagrams;
    if (const Value* list = detail::member(root, "datagrams")) {
        for (const Value& hex : list->items()) {
            datagrams.push_back(detail::hex_of(&hex));
        }
    }
    struct FrameVector {
        std::uint32_t frame = 0;
        Bytes payload;
    };
    std::vector<FrameVector> frames;
    const Value* frame_list = detail::member(root, "frames");
    if (frame_list != nullptr) {
        for (const Value& frame : frame_list->items()) {
            FrameVector fv;
            fv.frame = static_cast<std::uint32_t>(detail::int_of(detail::member(frame, "frame")));
            fv.payload = detail::hex_of(detail::member(frame, "payload"));
            frames.push_back(fv);
            // The header of every datagram of the frame matches the template, with the computed fields.
            const Value* header = detail::member(frame, "header");
            const Value* indices = detail::member(frame, "datagrams");
            if (header == nullptr || indices == nullptr) {
                report.expect(false, "frames.json frame without header or datagrams");
                continue;
            }
            const std::size_t count = indices->items().size();
            for (std::size_t i = 0; i < count; ++i) {
                const auto index = static_cast<std::size_t>(indices->items()[i].as_int());
                const std::optional<FrameHeader> h =
                    index < datagrams.size() ? parse_fragment_header(datagrams[index]) : std::nullopt;
                const std::string where = "frame " + std::to_string(fv.frame) + " datagram " + std::to_string(index);
                report.expect(h.has_value(), where + " has no readable header");
                if (!h) {
                    continue;
                }
                auto field = [&](const char* key) { return detail::int_of(detail::member(*header, key)); };
                report.expect(h->session == field("session") && h->frame == field("frame") && h->chunk == field("chunk") &&
                                  h->frame_in_chunk == field("frame_in_chunk") && h->input_seq == field("input_seq") &&
                                  h->time_us == static_cast<std::uint64_t>(field("time_us")) &&
                                  h->action == field("action") && h->flags == field("flags"),
                              where + " header fields differ from the template");
                // Cut chunks (bytes 41 and 42): checked when the template names them.
                auto same_if_given = [&](const char* key, std::int64_t actual) {
                    const Value* given = detail::member(*header, key);
                    return given == nullptr || detail::int_of(given) == actual;
                };
                report.expect(same_if_given("latent", h->latent) && same_if_given("cut_latents", h->cut_latents),
                              where + " latent fields differ from the template");
                report.expect(h->fragment_index == i && h->fragment_count == count &&
                                  h->frame_length == fv.payload.size() &&
                                  h->payload_length + kFragmentHeaderSize == datagrams[index].size(),
                              where + " fragment fields are wrong");
            }
            // Splitting the payload again gives the same datagrams.
            if (count > 0) {
                const std::optional<FrameHeader> first = parse_fragment_header(
                    datagrams[static_cast<std::size_t>(indices->items()[0].as_int())]);
                const Value* max_datagram = detail::member(root, "max_datagram");
                if (first && max_datagram != nullptr) {
                    const std::vector<Bytes> split =
                        split_frame(*first, fv.payload, static_cast<std::size_t>(max_datagram->as_int()));
                    bool same = split.size() == count;
                    for (std::size_t i = 0; same && i < count; ++i) {
                        same = split[i] == datagrams[static_cast<std::size_t>(indices->items()[i].as_int())];
                    }
                    report.expect(same, "splitting frame " + std::to_string(fv.frame) + " gives other datagrams");
                }
            }
        }
    }
    const Value* scenarios = detail::member(root, "scenarios");
    report.expect(scenarios != nullptr && !scenarios->items().empty(), "frames.json has no scenarios");
    if (scenarios == nullptr) {
        return report;
    }
    for (const Value& scenario : scenarios->items()) {
        const std::string name = detail::text_of(detail::member(scenario, "name"));
        FrameReassembler reassembler(session);
        std::vector<std::int64_t> completed;
        Time now = 0;
        const Value* deliver = detail::member(scenario, "deliver");
        const Value* complete = detail::member(scenario, "complete");
        const Value* missing = detail::member(scenario, "missing");
        if (deliver == nullptr || complete == nullptr || missing == nullptr) {
            report.expect(false, name + ": scenario without deliver, complete or missing");
            continue;
        }
        for (const Value& index : deliver->items()) {
            const auto i = static_cast<std::size_t>(index.as_int());
            if (i >= datagrams.size()) {
                report.expect(false, name + ": datagram index out of range");
                continue;
            }
            reassembler.receive(datagrams[i], now);
            now += kMillisecond;
            if (std::optional<CompleteFrame> frame = reassembler.take_frame()) {
                completed.push_back(frame->header.frame);
                for (const FrameVector& fv : frames) {
                    if (fv.frame == frame->header.frame) {
                        report.expect(frame->jpeg == fv.payload, name + ": frame " + std::to_string(fv.frame) +
                                                                     " reassembles to other bytes");
                    }
                }
            }
        }
        std::vector<std::int64_t> expected_complete;
        for (const Value& frame : complete->items()) {
            expected_complete.push_back(frame.as_int());
        }
        report.expect(completed == expected_complete, name + ": complete frames differ");
        report.expect(reassembler.incomplete_frames() == missing->members().size(),
                      name + ": " + std::to_string(reassembler.incomplete_frames()) + " incomplete frames, expected " +
                          std::to_string(missing->members().size()));
        for (const Value::Member& entry : missing->members()) {
            std::uint32_t frame = 0;
            for (const char c : entry.key) {
                frame = frame * 10u + static_cast<std::uint32_t>(c >= '0' && c <= '9' ? c - '0' : 0);
            }
            std::vector<std::int64_t> expected_missing;
            for (const Value& index : entry.value.items()) {
                expected_missing.push_back(index.as_int());
            }
            const std::optional<std::vector<std::int64_t>> got = reassembler.missing(frame);
            report.expect(got && *got == expected_missing, name + ": missing fragments of frame " + entry.key + " differ");
        }
    }
    return report;
}

inline Report run_all(std::string_view messages, std::string_view invalid, std::string_view auth, std::string_view frames) {
    Report report;
    report.merge(run_messages(messages));
    report.merge(run_invalid(invalid));
    report.merge(run_auth(auth));
    report.merge(run_frames(frames));
    return report;
}

}  // namespace vectors
}  // namespace yumebridge
