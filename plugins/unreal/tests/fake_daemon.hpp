// A small in-memory daemon written from SPEC.md, for driving the client state machine in tests
// without sockets or sleeps. It implements the daemon's side of the handshake (retry cookie, token,
// tags), the replay window and answers to every session message; frames are pushed by the test.
#pragma once

#include "YumeBridgeCore/YumeBridgeCore.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace yumebridge::testing {

struct FakeDaemonOptions {
    std::string token;             // non-empty: the daemon requires it
    std::uint32_t session = 0x1234;
    std::int64_t protocol = 1;     // what the welcome claims
    std::int64_t width = 64;
    std::int64_t height = 48;
    std::int64_t max_datagram = 1200;
    std::vector<std::string> capabilities{"json", "msgpack", "upload", "text_start", "events", "nack", "keys", "pause"};
    msg::Limits limits;
    bool corrupt_welcome_tag = false;
};

class FakeDaemon {
public:
    explicit FakeDaemon(FakeDaemonOptions options = {}) : options_(std::move(options)) {}

    // Everything the daemon accepted, in order.
    std::vector<Message> received;
    std::vector<Bytes> raw_received;
    std::uint64_t dropped_bad_tag = 0;
    std::uint64_t dropped_replay = 0;
    std::int64_t world = 0;
    bool closed = false;
    std::optional<bool> paused;
    std::map<std::uint32_t, std::string> active_events;
    Bytes upload_buffer;
    std::vector<bool> upload_have;
    Bytes upload_hash;
    std::vector<Bytes> cached_images;  // hashes
    std::int64_t chunk = 0;

    FakeDaemonOptions& options() { return options_; }
    Encoding encoding() const { return encoding_; }
    bool authenticated() const { return !options_.token.empty(); }
    const Digest& key() const { return key_; }

    template <class T>
    std::vector<const T*> all() const {
        std::vector<const T*> out;
        for (const Message& m : received) {
            if (const T* typed = std::get_if<T>(&m)) {
                out.push_back(typed);
            }
        }
        return out;
    }

    // Answers one datagram from the client.
    std::vector<Bytes> receive(ByteView datagram, Time now) {
        (void)now;
        std::vector<Bytes> out;
        Result<DecodedControl> decoded = decode_control(datagram);
        if (!decoded) {
            return out;
        }
        raw_received.push_back(datagram.to_bytes());
        const Message& message = decoded->message;
        if (const auto* hello = std::get_if<msg::Hello>(&message)) {
            encoding_ = decoded->encoding;
            received.push_back(message);
            on_hello(*hello, out);
            return out;
        }
        const std::optional<SessionFields> fields = session_fields(message);
        if (!fields) {
            return out;
        }
        if (fields->session != options_.session || closed) {
            msg::Error error;
            error.code = "unknown_session";
            error.message = "no such session";
            out.push_back(encode_body(Message(error), decoded->encoding));
            return out;
        }
        if (authenticated()) {
            const Tag expected = datagram_tag(key_, datagram.sub(0, decoded->body_size));
            if (!decoded->tag || !constant_time_equal(ByteView(decoded->tag->data(), 16), ByteView(expected.data(), 16))) {
                ++dropped_bad_tag;
                return out;
            }
        }
        if (!replay_.accept(fields->seq)) {
            ++dropped_replay;
            return out;
        }
        received.push_back(message);
        on_session_message(message, fields->seq, out);
        return out;
    }

    // A daemon-initiated session message, tagged when authenticated.
    Bytes make(Message message) {
        std::visit(
            [this](auto& m) {
                using T = std::decay_t<decltype(m)>;
                if constexpr (!std::is_same_v<T, msg::Hello> && !std::is_same_v<T, msg::Retry>) {
                    m.session = options_.session;
                    m.seq = ++seq_;
                }
            },
            message);
        Bytes body = encode_body(message, encoding_);
        if (authenticated()) {
            const Tag tag = datagram_tag(key_, body);
            body.insert(body.end(), tag.begin(), tag.end());
        }
        return body;
    }

    Bytes status(const std::string& state = "generating") {
        msg::Status s;
        s.state = state;
        s.progress = 1.0;
        s.world = world;
        s.chunk = chunk;
        s.latency.generate_ms = 80.0;
        return make(Message(s));
    }

    std::vector<Bytes> frame(std::uint32_t number, const Bytes& jpeg, std::uint32_t input_seq = 0, std::uint8_t action = 0) {
        FrameHeader h;
        h.session = options_.session;
        h.frame = number;
        h.chunk = number / 29;
        h.frame_in_chunk = static_cast<std::uint16_t>(number % 29);
        h.input_seq = input_seq;
        h.action = action;
        h.time_us = number * 62500u;
        return split_frame(h, jpeg, static_cast<std::size_t>(options_.max_datagram));
    }

    std::uint32_t next_seq() const { return seq_ + 1; }
    void rewind_seq(std::uint32_t seq) { seq_ = seq; }

private:
    Bytes cookie_for(const Bytes& nonce) const {
        Bytes cookie = {'c', 'k'};
        cookie.insert(cookie.end(), nonce.begin(), nonce.end());
        return cookie;
    }

    void on_hello(const msg::Hello& hello, std::vector<Bytes>& out) {
        if (!hello.cookie || *hello.cookie != cookie_for(hello.nonce)) {
            msg::Retry retry;
            retry.nonce = hello.nonce;
            retry.cookie = cookie_for(hello.nonce);
            retry.token_required = authenticated();
            out.push_back(encode_body(Message(retry), encoding_));
            return;
        }
        if (authenticated()) {
            if (!hello.auth) {
                msg::Error error;
                error.code = "auth_required";
                error.message = "this daemon needs a token";
                out.push_back(encode_body(Message(error), encoding_));
                return;
            }
            const Tag expected = hello_auth(options_.token, hello.nonce, *hello.cookie);
            if (!bytes_equal(*hello.auth, ByteView(expected.data(), expected.size()))) {
                msg::Error error;
                error.code = "auth_failed";
                error.message = "wrong token";
                out.push_back(encode_body(Message(error), encoding_));
                return;
            }
        }
        if (welcome_.empty() || !bytes_equal(hello.nonce, ByteView(client_nonce_))) {
            client_nonce_ = hello.nonce;
            server_nonce_ = Bytes(16, 0x5A);
            key_ = session_key(options_.token, client_nonce_, server_nonce_, options_.session);
            msg::Welcome w;
            w.session = options_.session;
            w.seq = ++seq_;
            w.protocol = options_.protocol;
            w.nonce = server_nonce_;
            w.daemon_version = "0.1.0";
            w.backend = "preview";
            w.model = "preview";
            w.model_version = "1";
            w.state = "ready";
            w.width = options_.width;
            w.height = options_.height;
            w.fps = 16.0;
            w.frames_per_chunk = 29;
            w.quality = 85;
            w.max_datagram = options_.max_datagram;
            w.authenticated = authenticated();
            w.vocabulary.name = "camera";
            w.vocabulary.version = "yume1.5-camera-1";
            w.vocabulary.movement = {"None", "W", "A", "S", "D", "W+A", "W+D", "S+A", "S+D"};
            w.vocabulary.look = {"-", "R", "L", "U", "D", "UR", "UL", "DR", "DL"};
            w.limits = options_.limits;
            w.capabilities = options_.capabilities;
            welcome_ = encode_body(Message(w), encoding_);
            if (authenticated()) {
                Tag tag = datagram_tag(key_, welcome_);
                if (options_.corrupt_welcome_tag) {
                    tag[0] ^= 0xFF;
                }
                welcome_.insert(welcome_.end(), tag.begin(), tag.end());
            }
        }
        out.push_back(welcome_);  // a repeated hello gets the same welcome (SPEC §3.1)
    }

    void error(const std::string& code, std::uint32_t ref, std::vector<Bytes>& out, bool fatal = false) {
        msg::Error e;
        e.code = code;
        e.message = code;
        e.ref = ref;
        e.fatal = fatal;
        out.push_back(make(Message(e)));
    }

    void on_session_message(const Message& message, std::uint32_t seq, std::vector<Bytes>& out) {
        if (const auto* upload = std::get_if<msg::Upload>(&message)) {
            for (const Bytes& hash : cached_images) {
                if (hash == upload->hash) {
                    msg::UploadAck ack;
                    ack.hash = upload->hash;
                    ack.received = upload->size;
                    ack.complete = true;
                    out.push_back(make(Message(ack)));
                    return;
                }
            }
            if (upload->size > options_.limits.max_upload_bytes) {
                error("upload_too_large", seq, out);
                return;
            }
            if (upload_hash != upload->hash) {
                upload_hash = upload->hash;
                upload_buffer.assign(static_cast<std::size_t>(upload->size), 0);
                upload_have.assign(static_cast<std::size_t>(upload->size), false);
            }
            std::int64_t received_bytes = 0;
            for (std::size_t i = 0; i < upload->data.size(); ++i) {
                upload_buffer[static_cast<std::size_t>(upload->offset) + i] = upload->data[i];
                upload_have[static_cast<std::size_t>(upload->offset) + i] = true;
            }
            for (bool have : upload_have) {
                received_bytes += have ? 1 : 0;
            }
            msg::UploadAck ack;
            ack.hash = upload->hash;
            ack.offset = upload->offset;
            ack.length = static_cast<std::int64_t>(upload->data.size());
            ack.received = received_bytes;
            if (received_bytes == upload->size) {
                const Digest digest = Sha256::hash(upload_buffer);
                if (!bytes_equal(ByteView(digest.data(), digest.size()), upload->hash)) {
                    upload_hash.clear();
                    error("upload_mismatch", seq, out);
                    return;
                }
                ack.complete = true;
                cached_images.push_back(upload->hash);
            }
            out.push_back(make(Message(ack)));
        } else if (const auto* start = std::get_if<msg::Start>(&message)) {
            if (start->source == "image") {
                bool cached = false;
                for (const Bytes& hash : cached_images) {
                    cached = cached || (start->image && hash == *start->image);
                }
                if (!cached) {
                    error("unknown_image", seq, out);
                    return;
                }
            }
            ++world;
            msg::Started started;
            started.world = world;
            started.source = start->source;
            started.seed = start->seed ? *start->seed : 7u;
            out.push_back(make(Message(started)));
        } else if (const auto* event = std::get_if<msg::Event>(&message)) {
            if (static_cast<std::int64_t>(event->text.size()) > options_.limits.max_event_chars) {
                error("text_too_long", seq, out);
                return;
            }
            if (event->text.empty()) {
                active_events.erase(event->id);
            } else {
                active_events[event->id] = event->text;
            }
            msg::EventAck ack;
            ack.id = event->id;
            ack.chunk = chunk + 1;
            for (const auto& entry : active_events) {
                ack.active.push_back(entry.first);
            }
            out.push_back(make(Message(ack)));
        } else if (const auto* ping = std::get_if<msg::Ping>(&message)) {
            msg::Pong pong;
            pong.time_us = ping->time_us;
            pong.daemon_time_us = 42;
            out.push_back(make(Message(pong)));
        } else if (const auto* config = std::get_if<msg::Config>(&message)) {
            if (config->paused) {
                paused = *config->paused;
            }
            out.push_back(status(paused && *paused ? "paused" : "generating"));
        } else if (std::get_if<msg::Bye>(&message) != nullptr) {
            closed = true;
        }
    }

    FakeDaemonOptions options_;
    Encoding encoding_ = Encoding::MsgPack;
    ReplayWindow replay_;
    std::uint32_t seq_ = 0;
    Bytes client_nonce_;
    Bytes server_nonce_;
    Bytes welcome_;
    Digest key_{};
};

// Drives a client and a fake daemon against one fake clock, like h11's and aioquic's test helpers.
// Datagrams in either direction may be dropped by a predicate.
struct Link {
    Connection client;
    FakeDaemon daemon;
    Time now = 1'000'000;
    std::function<bool(const Bytes&)> drop_to_daemon;
    std::function<bool(const Bytes&)> drop_to_client;
    std::vector<ClientEvent> events;
    std::uint64_t to_daemon = 0;
    std::uint64_t to_client = 0;

    explicit Link(ClientConfig config = {}, FakeDaemonOptions options = {})
        : client(std::move(config)), daemon(std::move(options)) {}

    void deliver_to_client(const Bytes& datagram) {
        ++to_client;
        if (drop_to_client && drop_to_client(datagram)) {
            return;
        }
        client.receive_datagram(datagram, now);
    }

    // Moves datagrams back and forth until both sides are quiet; collects the client's events.
    void transfer() {
        for (int round = 0; round < 1000; ++round) {
            std::vector<Bytes> outgoing = client.datagrams_to_send();
            if (outgoing.empty()) {
                break;
            }
            for (const Bytes& datagram : outgoing) {
                ++to_daemon;
                if (drop_to_daemon && drop_to_daemon(datagram)) {
                    continue;
                }
                for (const Bytes& answer : daemon.receive(datagram, now)) {
                    deliver_to_client(answer);
                }
            }
        }
        while (std::optional<ClientEvent> event = client.next_event()) {
            events.push_back(std::move(*event));
        }
    }

    // Advances the clock to `until`, firing every client timer on the way.
    void run_until(Time until) {
        transfer();
        for (int guard = 0; guard < 100000; ++guard) {
            const std::optional<Time> timer = client.get_timer();
            if (!timer || *timer > until) {
                break;
            }
            now = (std::max)(now, *timer);
            client.handle_timer(now);
            transfer();
        }
        now = (std::max)(now, until);
        client.handle_timer(now);
        transfer();
    }

    void advance(Time duration) { run_until(now + duration); }

    bool connect() {
        VoidResult started = client.connect(now, random_nonce());
        transfer();
        return started.ok() && client.connected();
    }

    template <class T>
    std::vector<T> events_of() const {
        std::vector<T> out;
        for (const ClientEvent& event : events) {
            if (const T* typed = std::get_if<T>(&event)) {
                out.push_back(*typed);
            }
        }
        return out;
    }
};

inline bool is_type(const Bytes& datagram, const char* type) {
    Result<DecodedControl> decoded = decode_control(datagram);
    return decoded.ok() && std::string(message_type_name(decoded->message)) == type;
}

}  // namespace yumebridge::testing
