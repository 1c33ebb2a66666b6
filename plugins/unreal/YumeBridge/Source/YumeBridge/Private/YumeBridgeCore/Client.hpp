// The client side of a protocol v1 session as a sans-I/O state machine (in the manner of h11 and
// aioquic): the owner feeds it datagrams and the time, and collects datagrams to send, events and
// complete frames. It never touches a socket or a clock, so tests drive it with a fake clock.
//
//   connection.connect(now, nonce);
//   loop: connection.receive_datagram(bytes, now) / connection.handle_timer(now)
//         send every connection.datagrams_to_send(); handle every connection.next_event();
//         show connection.take_frame(); sleep until connection.get_timer()
#pragma once

#include "Common.hpp"
#include "Crypto.hpp"
#include "Frames.hpp"
#include "Messages.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <variant>
#include <vector>

namespace yumebridge {

struct ClientConfig {
    std::string client_name = "yume-bridge-unreal";
    std::string client_version = "0.1.0";
    std::string engine;
    Encoding encoding = Encoding::MsgPack;
    std::string token;                    // empty: no token
    bool require_authentication = false;  // refuse a daemon that does not authenticate the session
    std::int64_t width = 0;               // wanted frame size, 0 = the daemon's
    std::int64_t height = 0;
    double fps = 0.0;                     // wanted playback rate, 0 = the daemon's
    std::int64_t quality = 85;
    std::int64_t max_datagram = 1200;

    std::size_t hello_min_bytes = 256;  // padded so the daemon may answer up to 3x this before validation
    Time hello_first_retry = 250 * kMillisecond;
    Time hello_max_retry = 2 * kSecond;
    Time handshake_timeout = 10 * kSecond;
    Time ping_interval = 1 * kSecond;
    Time input_heartbeat = 500 * kMillisecond;
    Time input_min_interval = 10 * kMillisecond;
    Time event_first_retry = 500 * kMillisecond;
    Time event_max_retry = 2 * kSecond;
    Time start_first_retry = 1500 * kMillisecond;  // longer than the 1 s status period that also confirms it
    Time start_timeout = 10 * kSecond;
    Time upload_retry = 500 * kMillisecond;
    std::size_t upload_window = 32;
    Time upload_timeout = 10 * kSecond;
    Time daemon_silence = 0;  // 0: welcome.limits.idle_timeout_ms
    Time unverified_error_grace = 3 * kSecond;
    // SPEC §6.3 playout delay: a frame that completes while an older one is under repair waits for it,
    // at most this long. 0: show the newest complete frame at once and drop older incomplete ones (1.0).
    Time max_playout_delay = 250 * kMillisecond;
    // The welcome sets frame_deadline, max_nack_fragments, nack_enabled and max_playout_delay (above).
    ReassemblyLimits reassembly;
};

enum class ConnectionState : std::uint8_t { Idle, Handshaking, Connected, Closed };

inline const char* connection_state_name(ConnectionState state) {
    switch (state) {
        case ConnectionState::Idle: return "idle";
        case ConnectionState::Handshaking: return "handshaking";
        case ConnectionState::Connected: return "connected";
        case ConnectionState::Closed: return "closed";
    }
    return "closed";
}

// What the player is doing, in the units of SPEC §5.6.
struct InputState {
    std::array<double, 2> move{{0.0, 0.0}};  // x = strafe right, y = forward, each in [-1, 1]
    std::array<double, 2> look{{0.0, 0.0}};  // x = yaw right, y = pitch up, each in [-1, 1]
    std::vector<std::string> keys;           // held keys as W3C KeyboardEvent.code

    bool operator==(const InputState& other) const {
        return move == other.move && look == other.look && keys == other.keys;
    }
    bool operator!=(const InputState& other) const { return !(*this == other); }
};

// What a non-fatal error was about. Fatal problems end the session and arrive as ev::Closed.
enum class ErrorContext : std::uint8_t { Session, Upload, Start, Event, Config };

inline const char* error_context_name(ErrorContext context) {
    switch (context) {
        case ErrorContext::Session: return "session";
        case ErrorContext::Upload: return "upload";
        case ErrorContext::Start: return "start";
        case ErrorContext::Event: return "event";
        case ErrorContext::Config: return "config";
    }
    return "session";
}

namespace ev {

struct Connected {
    msg::Welcome welcome;
};
struct UploadProgress {
    Digest hash{};
    std::int64_t received = 0;
    std::int64_t size = 0;
};
struct UploadComplete {
    Digest hash{};
};
struct Started {
    std::int64_t world = 0;
    std::string source;
    std::uint32_t seed = 0;
    bool inferred = false;  // `started` was lost; a status showed the new world instead (seed unknown)
};
struct EventAcknowledged {
    std::uint32_t id = 0;
    std::int64_t chunk = 0;
    std::vector<std::uint32_t> active;
};
struct StatusReport {
    msg::Status status;
};
struct RoundTrip {
    Time rtt = 0;
    Time smoothed = 0;
};
struct Error {
    ErrorCode code = ErrorCode::Ok;
    std::string code_name;  // the daemon's code string, or the local code's name
    std::string message;
    ErrorContext context = ErrorContext::Session;
    std::optional<std::uint32_t> event_id;  // with ErrorContext::Event
};
struct Closed {
    ErrorCode code = ErrorCode::Ok;  // Ok for an orderly bye from either side
    std::string reason;              // bye reason, or the error code name
    std::string message;             // a sentence for a log
};

}  // namespace ev

using ClientEvent = std::variant<ev::Connected, ev::UploadProgress, ev::UploadComplete, ev::Started,
                                 ev::EventAcknowledged, ev::StatusReport, ev::RoundTrip, ev::Error, ev::Closed>;

struct ClientStats {
    std::uint64_t datagrams_received = 0;
    std::uint64_t datagrams_sent = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t hellos_sent = 0;
    std::uint64_t dropped_invalid = 0;          // undecodable or not for this client
    std::uint64_t dropped_unauthenticated = 0;  // missing or wrong tag
    std::uint64_t dropped_replayed = 0;         // seq already seen or too old
    std::uint64_t dropped_other_session = 0;
    std::uint64_t frames_taken = 0;
    std::uint64_t path_challenges_answered = 0;  // revision 1.1
    std::uint64_t rate_limited = 0;              // revision 1.1: requests the daemon's budgets dropped
};

// SPEC §3.3: a sliding window over the peer's seq, as in DTLS.
class ReplayWindow {
public:
    void reset() {
        seen_any_ = false;
        highest_ = 0;
        bits_ = 0;
    }

    // True (and remembered) if `seq` is new and not 64 or more below the highest seen.
    bool accept(std::uint32_t seq) {
        if (!seen_any_) {
            seen_any_ = true;
            highest_ = seq;
            bits_ = 1;
            return true;
        }
        if (seq > highest_) {
            const std::uint32_t shift = seq - highest_;
            bits_ = shift >= 64 ? 1u : ((bits_ << shift) | 1u);
            highest_ = seq;
            return true;
        }
        const std::uint32_t back = highest_ - seq;
        if (back >= 64) {
            return false;
        }
        const std::uint64_t bit = std::uint64_t{1} << back;
        if ((bits_ & bit) != 0) {
            return false;
        }
        bits_ |= bit;
        return true;
    }

private:
    bool seen_any_ = false;
    std::uint32_t highest_ = 0;
    std::uint64_t bits_ = 0;
};

// A fresh connection nonce from std::random_device. Engines may pass their own random bytes instead.
inline Nonce random_nonce() {
    std::random_device device;
    Nonce nonce{};
    for (std::size_t i = 0; i < nonce.size(); i += 4) {
        const std::uint32_t word = device();
        for (std::size_t j = 0; j < 4; ++j) {
            nonce[i + j] = static_cast<std::uint8_t>((word >> (8 * j)) & 0xFFu);
        }
    }
    return nonce;
}

class Connection {
public:
    explicit Connection(ClientConfig config = {}) : config_(std::move(config)) {}

    // ---- life cycle ----

    // Starts the handshake (SPEC §3.1). Allowed when idle or closed.
    VoidResult connect(Time now, const Nonce& nonce) {
        if (state_ == ConnectionState::Handshaking || state_ == ConnectionState::Connected) {
            return Failure{ErrorCode::InvalidArgument, "already connecting or connected"};
        }
        const std::optional<std::size_t> name_length = utf8_code_points(config_.client_name);
        const std::optional<std::size_t> version_length = utf8_code_points(config_.client_version);
        const std::optional<std::size_t> engine_length = utf8_code_points(config_.engine);
        if (!name_length || *name_length > 64 || !version_length || *version_length > 32 || !engine_length ||
            *engine_length > 64) {
            return Failure{ErrorCode::InvalidArgument, "client name, version or engine is too long or not UTF-8"};
        }
        if (config_.quality < 1 || config_.quality > 100 || config_.max_datagram < 576 || config_.max_datagram > 65000 ||
            config_.width < 0 || config_.height < 0 || !(config_.fps == 0.0 || (config_.fps >= 1.0 && config_.fps <= 240.0))) {
            return Failure{ErrorCode::InvalidArgument, "quality, max_datagram, size or fps out of range"};
        }
        reset_session();
        nonce_ = nonce;
        state_ = ConnectionState::Handshaking;
        handshake_started_ = now;
        hello_interval_ = config_.hello_first_retry;
        send_hello(now);
        return ok_result();
    }

    // Ends the session with a bye (SPEC §5.12). Pending work is dropped.
    void close(Time now, const std::string& reason = "client") {
        (void)now;
        if (state_ == ConnectionState::Connected) {
            msg::Bye bye;
            bye.reason = reason;
            send_session(Message(std::move(bye)), Purpose::Other, 0);
        }
        if (state_ == ConnectionState::Handshaking || state_ == ConnectionState::Connected) {
            state_ = ConnectionState::Closed;
            events_.push_back(ev::Closed{ErrorCode::Ok, reason, "the client closed the session (" + reason + ")"});
        }
        clear_pending();
    }

    // ---- application requests; usable while handshaking, sent once connected ----

    void set_input(Time now, InputState input) {
        const std::size_t max_keys = static_cast<std::size_t>(limits().max_keys);
        for (double* axis : {&input.move[0], &input.move[1], &input.look[0], &input.look[1]}) {
            *axis = std::isfinite(*axis) ? (std::max)(-1.0, (std::min)(1.0, *axis)) : 0.0;
        }
        if (input.keys.size() > max_keys) {
            input.keys.resize(max_keys);
        }
        if (input != input_) {
            input_ = std::move(input);
            input_dirty_ = true;
        }
        service(now);
    }

    const InputState& input() const { return input_; }

    // Sends an event prompt under a new id; it is retransmitted until acknowledged.
    Result<std::uint32_t> send_event(Time now, std::string text) {
        const std::uint32_t id = next_event_id_;
        VoidResult sent = set_event(now, id, std::move(text));
        if (!sent) {
            return sent.error();
        }
        next_event_id_ = next_event_id_ == 0xFFFFFFFFu ? 1u : next_event_id_ + 1u;
        return id;
    }

    // Sets (or with "" clears) event `id` (SPEC §5.7).
    VoidResult set_event(Time now, std::uint32_t id, std::string text) {
        const std::optional<std::size_t> length = utf8_code_points(text);
        if (!length) {
            return Failure{ErrorCode::InvalidArgument, "event text is not valid UTF-8"};
        }
        if (*length > static_cast<std::size_t>(limits().max_event_chars)) {
            return Failure{ErrorCode::TextTooLong, "event text has " + std::to_string(*length) +
                                                       " characters; the daemon accepts at most " +
                                                       std::to_string(limits().max_event_chars)};
        }
        msg::Event probe;
        probe.id = id;
        probe.text = text;
        VoidResult fits = fits_in_datagram(Message(std::move(probe)));
        if (!fits) {
            return fits;
        }
        PendingEvent& pending = pending_events_[id];
        if (pending.sent && pending.text != text) {
            pending.replaced_in_flight = true;
        }
        pending.text = std::move(text);
        pending.next_send = now;
        pending.interval = config_.event_first_retry;
        service(now);
        return ok_result();
    }

    bool event_pending(std::uint32_t id) const { return pending_events_.count(id) != 0; }

    // Uploads a start image (JPEG or PNG file bytes) without starting from it.
    Result<Digest> upload_image(Time now, Bytes file) {
        if (file.empty()) {
            return Failure{ErrorCode::InvalidArgument, "the image file is empty"};
        }
        if (static_cast<std::int64_t>(file.size()) > limits().max_upload_bytes) {
            return Failure{ErrorCode::UploadTooLarge, "the image has " + std::to_string(file.size()) +
                                                          " bytes; the daemon accepts at most " +
                                                          std::to_string(limits().max_upload_bytes)};
        }
        UploadState upload;
        upload.hash = Sha256::hash(file);
        upload.file = std::move(file);
        upload.started_at = now;
        upload.last_progress = now;
        const Digest hash = upload.hash;
        upload_ = std::move(upload);
        if (start_ && start_->waits_for_upload && *start_->waits_for_upload != hash) {
            start_.reset();  // one upload at a time (SPEC §5.4): the start waiting for the old image is off
            emit_error(ErrorCode::StartFailed, error_code_name(ErrorCode::StartFailed),
                       "a new upload replaced the image the pending start was waiting for", ErrorContext::Start);
        }
        if (state_ == ConnectionState::Connected) {
            plan_upload_pieces(now);
        }
        service(now);
        return hash;
    }

    // Uploads `file` and starts a world from it as soon as the daemon holds it (SPEC §5.4, §5.5).
    Result<Digest> start_from_image(Time now, Bytes file, std::string prompt = {},
                                    std::optional<std::uint32_t> seed = std::nullopt) {
        VoidResult valid = check_prompt(prompt, false);
        if (!valid) {
            return valid.error();
        }
        Bytes copy = file;
        Result<Digest> uploading = upload_image(now, std::move(file));
        if (!uploading) {
            return uploading;
        }
        msg::Start start;
        start.source = "image";
        start.image = Bytes(uploading->begin(), uploading->end());
        start.prompt = std::move(prompt);
        start.seed = seed;
        request_start(now, std::move(start), uploading.value(), std::move(copy));
        return uploading;
    }

    // Starts from an image the daemon already holds (uploaded earlier or cached by hash).
    VoidResult start_from_cached_image(Time now, const Digest& hash, std::string prompt = {},
                                       std::optional<std::uint32_t> seed = std::nullopt) {
        VoidResult valid = check_prompt(prompt, false);
        if (!valid) {
            return valid;
        }
        msg::Start start;
        start.source = "image";
        start.image = Bytes(hash.begin(), hash.end());
        start.prompt = std::move(prompt);
        start.seed = seed;
        request_start(now, std::move(start), std::nullopt, {});
        return ok_result();
    }

    VoidResult start_from_text(Time now, std::string prompt, std::optional<std::uint32_t> seed = std::nullopt) {
        VoidResult valid = check_prompt(prompt, true);
        if (!valid) {
            return valid;
        }
        msg::Start start;
        start.source = "text";
        start.prompt = std::move(prompt);
        start.seed = seed;
        request_start(now, std::move(start), std::nullopt, {});
        return ok_result();
    }

    VoidResult start_default(Time now, std::string prompt = {}, std::optional<std::uint32_t> seed = std::nullopt) {
        VoidResult valid = check_prompt(prompt, false);
        if (!valid) {
            return valid;
        }
        msg::Start start;
        start.source = "default";
        start.prompt = std::move(prompt);
        start.seed = seed;
        request_start(now, std::move(start), std::nullopt, {});
        return ok_result();
    }

    // SPEC §5.8. The pause state is re-sent while statuses disagree with it.
    VoidResult configure(Time now, std::optional<std::int64_t> quality, std::optional<double> fps,
                         std::optional<bool> paused) {
        if (quality && (*quality < 1 || *quality > 100)) {
            return Failure{ErrorCode::ValueOutOfRange, "quality must be 1-100"};
        }
        if (fps && (!std::isfinite(*fps) || *fps < 1.0 || *fps > 240.0)) {
            return Failure{ErrorCode::ValueOutOfRange, "fps must be 1-240"};
        }
        // Requests made before the previous one was sent (while handshaking) are merged into it.
        msg::Config config = pending_config_ ? *pending_config_ : msg::Config{};
        if (quality) {
            config.quality = quality;
        }
        if (fps) {
            config.fps = fps;
        }
        if (paused) {
            config.paused = paused;
        }
        pending_config_ = std::move(config);
        if (paused) {
            desired_paused_ = paused;
        }
        service(now);
        return ok_result();
    }

    // ---- I/O ----

    void receive_datagram(ByteView datagram, Time now) {
        ++stats_.datagrams_received;
        switch (classify_datagram(datagram)) {
            case DatagramKind::Fragment:
                if (state_ == ConnectionState::Connected) {
                    frames_.receive(datagram, now);
                } else {
                    ++stats_.dropped_invalid;
                }
                break;
            case DatagramKind::JsonControl:
            case DatagramKind::MsgPackControl:
                receive_control(datagram, now);
                break;
            case DatagramKind::Invalid:
                ++stats_.dropped_invalid;
                break;
        }
        service(now);
    }

    void handle_timer(Time now) { service(now); }

    // The next time handle_timer must be called, if any.
    std::optional<Time> get_timer() const {
        std::optional<Time> earliest;
        auto consider = [&earliest](Time at) {
            if (!earliest || at < *earliest) {
                earliest = at;
            }
        };
        if (state_ == ConnectionState::Handshaking) {
            consider(next_hello_);
            consider(handshake_started_ + config_.handshake_timeout);
            return earliest;
        }
        if (state_ != ConnectionState::Connected) {
            return earliest;
        }
        consider(last_heard_ + silence_timeout());
        if (suspect_deadline_) {
            consider(*suspect_deadline_);
        }
        consider(next_ping_);
        consider(input_dirty_ ? last_input_sent_ + config_.input_min_interval
                              : last_input_sent_ + config_.input_heartbeat);
        for (const auto& entry : pending_events_) {
            consider(entry.second.next_send);
        }
        if (start_ && start_->sent && !start_->waits_for_upload) {
            consider((std::min)(start_->next_send, start_->deadline));
        }
        if (upload_) {
            consider(upload_->last_progress + config_.upload_timeout);
            for (const UploadPiece& piece : upload_->pieces) {
                if (piece.sent && !piece.acked) {
                    consider(piece.sent_at + config_.upload_retry);
                }
            }
            if (!upload_->pieces.empty() && all_pieces_acked()) {
                consider(upload_->last_send + config_.upload_retry);
            }
        }
        if (const std::optional<Time> nack = frames_.next_nack_time()) {
            consider(*nack);
        }
        if (const std::optional<Time> release = frames_.next_release_time()) {
            consider(*release);
        }
        return earliest;
    }

    std::vector<Bytes> datagrams_to_send() {
        std::vector<Bytes> out;
        out.swap(outbox_);
        return out;
    }

    std::optional<ClientEvent> next_event() {
        if (events_.empty()) {
            return std::nullopt;
        }
        ClientEvent event = std::move(events_.front());
        events_.pop_front();
        return event;
    }

    // The oldest frame shown and not taken yet, in frame order (SPEC §6.3), with its input-to-frame
    // latency when the input it reflects was sent by this client. Without a playout delay only the
    // newest complete frame waits here; with one, the frames shown after a repair wait in order.
    struct ReceivedFrame {
        CompleteFrame frame;
        std::optional<Time> input_latency;  // completed_at - send time of the input_seq it consumed
    };

    std::optional<ReceivedFrame> take_frame() {
        std::optional<CompleteFrame> frame = frames_.take_frame();
        if (!frame) {
            return std::nullopt;
        }
        ++stats_.frames_taken;
        ReceivedFrame out{std::move(*frame), std::nullopt};
        const std::uint32_t seq = out.frame.header.input_seq;
        if (seq != 0) {
            const InputRecord& record = input_log_[seq % input_log_.size()];
            if (record.seq == seq) {
                out.input_latency = out.frame.completed_at - record.sent_at;
            }
        }
        return out;
    }

    // ---- state ----

    ConnectionState state() const { return state_; }
    bool connected() const { return state_ == ConnectionState::Connected; }
    const std::optional<msg::Welcome>& welcome() const { return welcome_; }
    std::uint32_t session() const { return session_; }
    bool authenticated() const { return authenticated_; }
    std::optional<Time> smoothed_rtt() const { return smoothed_rtt_; }
    std::int64_t world() const { return world_; }
    bool start_pending() const { return start_.has_value(); }
    bool upload_in_progress() const { return upload_.has_value(); }
    const std::optional<msg::Status>& last_status() const { return last_status_; }
    const ClientStats& stats() const { return stats_; }
    const ReassemblyStats& frame_stats() const { return frames_.stats(); }
    std::uint64_t frames_replaced() const { return frames_.frames_replaced(); }
    const ClientConfig& config() const { return config_; }
    ClientConfig& config() { return config_; }

    const msg::Limits& limits() const {
        static const msg::Limits kDefaults{};
        return welcome_ ? welcome_->limits : kDefaults;
    }

private:
    enum class Purpose : std::uint8_t { Other, Upload, Start, Event, Config };

    struct SentRecord {
        std::uint32_t seq = 0;
        Purpose purpose = Purpose::Other;
        std::uint32_t id = 0;
    };

    struct InputRecord {
        std::uint32_t seq = 0;
        Time sent_at = 0;
    };

    struct PendingEvent {
        std::string text;
        Time next_send = 0;
        Time interval = 0;
        bool sent = false;
        // The text changed after an earlier text was sent: an event_ack does not say which text it
        // acknowledges (SPEC §5.7), so the first ack only triggers one more send of the newest text.
        bool replaced_in_flight = false;
    };

    struct UploadPiece {
        std::size_t offset = 0;
        std::size_t length = 0;
        bool sent = false;
        bool acked = false;
        Time sent_at = 0;
    };

    struct UploadState {
        Digest hash{};
        Bytes file;
        std::vector<UploadPiece> pieces;
        std::int64_t received = 0;
        Time started_at = 0;
        Time last_progress = 0;
        Time last_send = 0;
    };

    struct PendingStart {
        msg::Start message;
        std::optional<Digest> waits_for_upload;
        Bytes image_file;  // kept to upload again if the daemon forgot the image (unknown_image)
        bool reuploaded = false;
        bool sent = false;
        Time next_send = 0;
        Time interval = 0;
        Time deadline = 0;
        std::int64_t world_before = 0;
    };

    // ---- helpers ----

    void reset_session() {
        clear_pending();
        events_.clear();
        outbox_.clear();
        welcome_.reset();
        session_ = 0;
        next_seq_ = 1;
        authenticated_ = false;
        key_ = Digest{};
        replay_.reset();
        cookie_.reset();
        token_required_ = false;
        got_retry_ = false;
        hellos_this_attempt_ = 0;
        suspect_deadline_.reset();
        smoothed_rtt_.reset();
        last_status_.reset();
        world_ = 0;
        sent_records_ = {};
        input_log_ = {};
        frames_.reset(0);
    }

    void clear_pending() {
        pending_events_.clear();
        upload_.reset();
        start_.reset();
        pending_config_.reset();
        desired_paused_.reset();
    }

    Time silence_timeout() const {
        if (config_.daemon_silence > 0) {
            return config_.daemon_silence;
        }
        return (std::max)(static_cast<Time>(limits().idle_timeout_ms) * kMillisecond, 2 * kSecond);
    }

    std::size_t max_control_bytes() const {
        return static_cast<std::size_t>((std::max)(std::int64_t{512}, limits().max_control_bytes));
    }

    VoidResult check_prompt(const std::string& prompt, bool required) const {
        const std::optional<std::size_t> length = utf8_code_points(prompt);
        if (!length) {
            return Failure{ErrorCode::InvalidArgument, "prompt is not valid UTF-8"};
        }
        if (required && *length == 0) {
            return Failure{ErrorCode::InvalidArgument, "a start from text needs a prompt"};
        }
        if (*length > static_cast<std::size_t>(limits().max_prompt_chars)) {
            return Failure{ErrorCode::TextTooLong, "prompt has " + std::to_string(*length) +
                                                       " characters; the daemon accepts at most " +
                                                       std::to_string(limits().max_prompt_chars)};
        }
        msg::Start probe;
        probe.source = "text";
        probe.prompt = prompt;
        probe.image = Bytes(kHashSize, 0);
        probe.seed = 0xFFFFFFFFu;
        return fits_in_datagram(Message(std::move(probe)));
    }

    // Whether a session message would fit max_control_bytes with the widest session, seq and a tag.
    VoidResult fits_in_datagram(Message message) const {
        set_session_fields(message, 0xFFFFFFFFu, 0xFFFFFFFFu);
        const std::size_t size = encode_body(message, config_.encoding).size() + kTagSize;
        if (size > max_control_bytes()) {
            return Failure{ErrorCode::DatagramTooLarge,
                           std::string(message_type_name(message)) + " would take " + std::to_string(size) +
                               " bytes; a control datagram may have at most " + std::to_string(max_control_bytes())};
        }
        return ok_result();
    }

    static void set_session_fields(Message& message, std::uint32_t session, std::uint32_t seq) {
        std::visit(
            [session, seq](auto& m) {
                using T = std::decay_t<decltype(m)>;
                if constexpr (!std::is_same_v<T, msg::Hello> && !std::is_same_v<T, msg::Retry>) {
                    m.session = session;
                    m.seq = seq;
                }
            },
            message);
    }

    void push_datagram(Bytes datagram) {
        ++stats_.datagrams_sent;
        stats_.bytes_sent += datagram.size();
        outbox_.push_back(std::move(datagram));
    }

    // Sends a session message with the next seq (and a tag when authenticated); returns its seq.
    std::uint32_t send_session(Message message, Purpose purpose, std::uint32_t id) {
        const std::uint32_t seq = next_seq_;
        next_seq_ = next_seq_ == 0xFFFFFFFFu ? 1u : next_seq_ + 1u;
        set_session_fields(message, session_, seq);
        Bytes datagram = encode_body(message, config_.encoding);
        if (authenticated_) {
            const Tag tag = datagram_tag(key_, datagram);
            datagram.insert(datagram.end(), tag.begin(), tag.end());
        }
        SentRecord& record = sent_records_[seq % sent_records_.size()];
        record.seq = seq;
        record.purpose = purpose;
        record.id = id;
        push_datagram(std::move(datagram));
        return seq;
    }

    void fail(ErrorCode code, const std::string& message, bool send_bye) {
        if (send_bye && state_ == ConnectionState::Connected) {
            msg::Bye bye;
            bye.reason = error_code_name(code);
            send_session(Message(std::move(bye)), Purpose::Other, 0);
        }
        state_ = ConnectionState::Closed;
        clear_pending();
        events_.push_back(ev::Closed{code, error_code_name(code), message});
    }

    void emit_error(ErrorCode code, std::string code_name, std::string message, ErrorContext context,
                    std::optional<std::uint32_t> event_id = std::nullopt) {
        events_.push_back(ev::Error{code, std::move(code_name), std::move(message), context, event_id});
    }

    // ---- handshake ----

    void send_hello(Time now) {
        msg::Hello hello;
        hello.nonce = Bytes(nonce_.begin(), nonce_.end());
        hello.client = config_.client_name;
        hello.client_version = config_.client_version;
        hello.engine = config_.engine;
        hello.width = config_.width;
        hello.height = config_.height;
        hello.fps = config_.fps;
        hello.quality = config_.quality;
        hello.max_datagram = config_.max_datagram;
        hello.minor = kProtocolMinor;
        hello.capabilities = std::vector<std::string>{"path_response"};
        if (cookie_) {
            hello.cookie = *cookie_;
            if (token_required_) {
                const Tag auth = hello_auth(config_.token, ByteView(nonce_.data(), nonce_.size()), *cookie_);
                hello.auth = Bytes(auth.begin(), auth.end());
            }
        }
        Bytes body = encode_body(Message(hello), config_.encoding);
        // Lengthen the hello so that the daemon's answer before validation (at most 3x) has room.
        for (int attempt = 0; attempt < 4 && body.size() < config_.hello_min_bytes; ++attempt) {
            const std::size_t missing = config_.hello_min_bytes - body.size();
            const std::size_t current = hello.pad ? hello.pad->size() : 0;
            hello.pad = Bytes(current + (hello.pad ? missing : (missing > 8 ? missing - 8 : 1)), 0);
            body = encode_body(Message(hello), config_.encoding);
        }
        ++stats_.hellos_sent;
        ++hellos_this_attempt_;
        last_hello_at_ = now;
        push_datagram(std::move(body));
        next_hello_ = now + hello_interval_;
        hello_interval_ = (std::min)(hello_interval_ * 2, config_.hello_max_retry);
    }

    void on_retry(const msg::Retry& retry, Time now) {
        if (!bytes_equal(retry.nonce, ByteView(nonce_.data(), nonce_.size()))) {
            ++stats_.dropped_invalid;
            return;
        }
        const bool same_cookie = cookie_ && *cookie_ == retry.cookie;
        got_retry_ = true;
        token_required_ = retry.token_required;
        if (token_required_ && config_.token.empty()) {
            fail(ErrorCode::AuthRequired,
                 "the daemon requires a token (it is bound to a non-loopback address or was started with one); "
                 "give the token it printed at start-up",
                 false);
            return;
        }
        if (same_cookie && now - last_hello_at_ < config_.hello_first_retry / 2) {
            return;  // an answer to a retransmission; the hello with this cookie is already on its way
        }
        cookie_ = retry.cookie;
        hello_interval_ = config_.hello_first_retry;
        send_hello(now);
    }

    void on_welcome(const msg::Welcome& welcome, const DecodedControl& decoded, ByteView datagram, Time now) {
        if (welcome.protocol != kProtocolVersion) {
            fail(ErrorCode::UnsupportedVersion,
                 "protocol version mismatch: the daemon speaks protocol " + std::to_string(welcome.protocol) +
                     ", this plugin speaks protocol " + std::to_string(kProtocolVersion) +
                     "; update the plugin or the daemon so that they match",
                 false);
            return;
        }
        const bool expect_tag = token_required_ || welcome.authenticated;
        if (expect_tag) {
            if (config_.token.empty()) {
                fail(ErrorCode::AuthRequired,
                     "the daemon authenticates this session but no token is configured; give the daemon's token",
                     false);
                return;
            }
            const Digest key = session_key(config_.token, ByteView(nonce_.data(), nonce_.size()), welcome.nonce,
                                           welcome.session);
            const Tag expected = datagram_tag(key, datagram.sub(0, decoded.body_size));
            if (!decoded.tag || !constant_time_equal(ByteView(decoded.tag->data(), kTagSize),
                                                     ByteView(expected.data(), expected.size()))) {
                ++stats_.dropped_unauthenticated;  // forged or corrupted: keep waiting for the real one
                return;
            }
            key_ = key;
            authenticated_ = welcome.authenticated;
        }
        if (config_.require_authentication && !authenticated_) {
            fail(ErrorCode::AuthRequired,
                 "the daemon did not authenticate the session, but this client requires authentication", false);
            return;
        }
        state_ = ConnectionState::Connected;
        welcome_ = welcome;
        session_ = welcome.session;
        replay_.reset();
        replay_.accept(welcome.seq);
        last_heard_ = now;
        next_ping_ = now;
        last_input_sent_ = now - config_.input_heartbeat;
        input_dirty_ = true;
        frames_.reset(session_);
        ReassemblyLimits& limits_for_frames = frames_.limits();
        limits_for_frames = config_.reassembly;
        limits_for_frames.frame_deadline = welcome.limits.frame_deadline_ms * kMillisecond;
        // Each index asked for is paid for with a tenth of a fragment of nack (SPEC §5.10).
        limits_for_frames.max_nack_fragments = (std::min)(
            static_cast<std::size_t>((std::max)(std::int64_t{1}, welcome.limits.max_nack_fragments)), nack_indices_limit());
        limits_for_frames.max_playout_delay = config_.max_playout_delay;
        limits_for_frames.nack_enabled = config_.reassembly.nack_enabled && welcome.has_capability("nack");
        if (upload_) {
            plan_upload_pieces(now);
        }
        events_.push_back(ev::Connected{welcome});
    }

    void on_handshake_error(const msg::Error& error) {
        const ErrorCode code = protocol_error_code(error.code);
        std::string message;
        switch (code) {
            case ErrorCode::AuthFailed:
                message = "the daemon rejected the token (auth_failed): use the token the daemon printed at "
                          "start-up or was given with --token / --token-file";
                break;
            case ErrorCode::AuthRequired:
                message = "the daemon requires a token (auth_required): configure its token";
                break;
            case ErrorCode::UnsupportedVersion:
                message = "protocol version mismatch (unsupported_version): this plugin speaks protocol " +
                          std::to_string(kProtocolVersion) + "; update the plugin or the daemon so that they match";
                break;
            case ErrorCode::SessionLimit:
                message = "the daemon already serves its maximum number of sessions (session_limit)";
                break;
            case ErrorCode::ShuttingDown:
                message = "the daemon is shutting down";
                break;
            default:
                message = "the daemon refused the hello (" + error.code + ")";
                break;
        }
        if (!error.message.empty()) {
            message += "; daemon says: " + error.message;
        }
        fail(code, message, false);
    }

    // ---- receiving ----

    void receive_control(ByteView datagram, Time now) {
        Result<DecodedControl> decoded = decode_control(datagram);
        if (!decoded) {
            ++stats_.dropped_invalid;
            return;
        }
        const Message& message = decoded->message;
        if (state_ == ConnectionState::Handshaking) {
            if (const auto* retry = std::get_if<msg::Retry>(&message)) {
                on_retry(*retry, now);
            } else if (const auto* welcome = std::get_if<msg::Welcome>(&message)) {
                on_welcome(*welcome, decoded.value(), datagram, now);
            } else if (const auto* error = std::get_if<msg::Error>(&message); error != nullptr && error->session == 0) {
                on_handshake_error(*error);
            } else {
                ++stats_.dropped_invalid;
            }
            return;
        }
        if (state_ != ConnectionState::Connected) {
            ++stats_.dropped_invalid;
            return;
        }
        const auto* error = std::get_if<msg::Error>(&message);
        if (error != nullptr && protocol_error_code(error->code) == ErrorCode::UnknownSession &&
            (error->session == 0 || error->session == session_)) {
            on_unknown_session(decoded.value(), datagram, now);
            return;
        }
        const std::optional<SessionFields> fields = session_fields(message);
        if (!fields) {
            ++stats_.dropped_invalid;  // a retry or pre-session error for a hello we no longer care about
            return;
        }
        if (fields->session != session_) {
            ++stats_.dropped_other_session;
            return;
        }
        if (authenticated_ && !tag_valid(decoded.value(), datagram)) {
            ++stats_.dropped_unauthenticated;
            return;
        }
        if (!replay_.accept(fields->seq)) {
            ++stats_.dropped_replayed;
            return;
        }
        last_heard_ = now;
        suspect_deadline_.reset();
        dispatch(message, now);
    }

    bool tag_valid(const DecodedControl& decoded, ByteView datagram) const {
        if (!decoded.tag) {
            return false;
        }
        const Tag expected = datagram_tag(key_, datagram.sub(0, decoded.body_size));
        return constant_time_equal(ByteView(decoded.tag->data(), kTagSize), ByteView(expected.data(), expected.size()));
    }

    void on_unknown_session(const DecodedControl& decoded, ByteView datagram, Time now) {
        const std::string message =
            "the daemon no longer knows this session (unknown_session): it probably restarted; connect again";
        if (!authenticated_ || tag_valid(decoded, datagram)) {
            fail(ErrorCode::UnknownSession, message, false);
            return;
        }
        // Untagged (the daemon cannot tag for a session it lost), so it may be forged: believe it only
        // if no authenticated datagram arrives within the grace period.
        if (!suspect_deadline_) {
            suspect_deadline_ = now + config_.unverified_error_grace;
        }
    }

    void dispatch(const Message& message, Time now) {
        if (const auto* ack = std::get_if<msg::UploadAck>(&message)) {
            on_upload_ack(*ack, now);
        } else if (const auto* started = std::get_if<msg::Started>(&message)) {
            on_started(*started);
        } else if (const auto* event_ack = std::get_if<msg::EventAck>(&message)) {
            auto it = pending_events_.find(event_ack->id);
            if (it != pending_events_.end() && it->second.replaced_in_flight) {
                it->second.replaced_in_flight = false;  // maybe the old text's ack: confirm the new one
                it->second.next_send = now;
                it->second.interval = config_.event_first_retry;
            } else if (it != pending_events_.end()) {
                pending_events_.erase(it);
                events_.push_back(ev::EventAcknowledged{event_ack->id, event_ack->chunk, event_ack->active});
            }
        } else if (const auto* pong = std::get_if<msg::Pong>(&message)) {
            on_pong(*pong, now);
        } else if (const auto* status = std::get_if<msg::Status>(&message)) {
            on_status(*status, now);
        } else if (const auto* bye = std::get_if<msg::Bye>(&message)) {
            state_ = ConnectionState::Closed;
            clear_pending();
            events_.push_back(ev::Closed{bye->reason == "shutdown" ? ErrorCode::ShuttingDown : ErrorCode::Ok, bye->reason,
                                         "the daemon closed the session (" +
                                             (bye->reason.empty() ? std::string("no reason") : bye->reason) + ")"});
        } else if (const auto* error = std::get_if<msg::Error>(&message)) {
            on_session_error(*error, now);
        } else if (const auto* challenge = std::get_if<msg::PathChallenge>(&message)) {
            // Revision 1.1: our address changed (NAT rebinding, roaming); echo the bytes, tagged, so
            // the daemon moves the stream here. It arrived through the tag and replay checks.
            msg::PathResponse response;
            response.data = challenge->data;
            send_session(Message(std::move(response)), Purpose::Other, 0);
            ++stats_.path_challenges_answered;
        }
        // welcome repeats and client-to-daemon types are ignored
    }

    void on_pong(const msg::Pong& pong, Time now) {
        if (pong.time_us > now || pong.time_us < now - 60 * kSecond) {
            return;  // not one of our pings
        }
        const Time rtt = now - pong.time_us;
        smoothed_rtt_ = smoothed_rtt_ ? (7 * *smoothed_rtt_ + rtt) / 8 : rtt;
        events_.push_back(ev::RoundTrip{rtt, *smoothed_rtt_});
    }

    void on_status(const msg::Status& status, Time now) {
        last_status_ = status;
        if (start_ && start_->sent && (status.state == "loading" || status.state == "warming")) {
            // The model is still starting: a start may be confirmed late, so keep waiting for it.
            start_->deadline = (std::max)(start_->deadline, now + config_.start_timeout);
        }
        if (start_ && start_->sent && status.world > start_->world_before) {
            // Our start took effect but its `started` was lost.
            world_ = status.world;
            events_.push_back(ev::Started{status.world, start_->message.source, 0, true});
            start_.reset();
        }
        if (status.world > world_) {
            world_ = status.world;
        }
        if (desired_paused_ && !pending_config_ && now - config_sent_at_ >= 1500 * kMillisecond &&
            (status.state == "generating" || status.state == "paused") && (status.state == "paused") != *desired_paused_) {
            msg::Config config;
            config.paused = desired_paused_;
            pending_config_ = std::move(config);
        }
        events_.push_back(ev::StatusReport{status});
    }

    void on_started(const msg::Started& started) {
        const bool ours = start_ && start_->sent;
        if (ours) {
            start_.reset();
        }
        if (ours || started.world > world_) {
            world_ = (std::max)(world_, started.world);
            events_.push_back(ev::Started{started.world, started.source, started.seed, false});
        }
    }

    void on_session_error(const msg::Error& error, Time now) {
        const ErrorCode code = protocol_error_code(error.code);
        std::string message = error.message.empty() ? error.code : error.message;
        if (error.fatal) {
            fail(code, "the daemon ended the session (" + error.code + "): " + message, false);
            return;
        }
        const SentRecord& record = sent_records_[error.ref % sent_records_.size()];
        const bool known_ref = error.ref != 0 && record.seq == error.ref;
        const Purpose purpose = known_ref ? record.purpose : Purpose::Other;
        if (code == ErrorCode::RateLimited) {
            // Revision 1.1: the request was dropped by a budget, not refused. Events and upload pieces
            // are resent by their own timers; a start waits at least a second before its resend.
            ++stats_.rate_limited;
            if (purpose == Purpose::Start && start_ && start_->sent) {
                start_->next_send = (std::max)(start_->next_send, now + kSecond);
                start_->deadline += kSecond;
            }
            return;
        }
        switch (purpose) {
            case Purpose::Upload:
                upload_.reset();
                if (start_ && start_->waits_for_upload) {
                    start_.reset();
                    emit_error(ErrorCode::StartFailed, error_code_name(ErrorCode::StartFailed),
                               "the start image could not be uploaded: " + message, ErrorContext::Start);
                }
                emit_error(code, error.code, message, ErrorContext::Upload);
                break;
            case Purpose::Start:
                if (start_ && code == ErrorCode::UnknownImage && !start_->reuploaded && !start_->image_file.empty()) {
                    // The daemon's image cache dropped it: upload again, then start again.
                    start_->reuploaded = true;
                    start_->sent = false;
                    start_->waits_for_upload = start_->message.image ? std::optional<Digest>(to_digest(*start_->message.image))
                                                                     : std::nullopt;
                    UploadState upload;
                    upload.hash = Sha256::hash(start_->image_file);
                    upload.file = start_->image_file;
                    upload.started_at = now;
                    upload_ = std::move(upload);
                    plan_upload_pieces(now);
                    break;
                }
                start_.reset();
                emit_error(code, error.code, message, ErrorContext::Start);
                break;
            case Purpose::Event:
                pending_events_.erase(record.id);
                emit_error(code, error.code, message, ErrorContext::Event, record.id);
                break;
            case Purpose::Config:
                desired_paused_.reset();
                emit_error(code, error.code, message, ErrorContext::Config);
                break;
            case Purpose::Other:
                emit_error(code, error.code, message, ErrorContext::Session);
                break;
        }
    }

    static Digest to_digest(const Bytes& bytes) {
        Digest digest{};
        for (std::size_t i = 0; i < digest.size() && i < bytes.size(); ++i) {
            digest[i] = bytes[i];
        }
        return digest;
    }

    // ---- upload ----

    // Splits the file so that every upload datagram, with the widest seq and a tag, fits both
    // max_datagram and max_control_bytes (SPEC §5.4).
    void plan_upload_pieces(Time now) {
        UploadState& upload = *upload_;
        upload.pieces.clear();
        upload.last_progress = now;
        const std::size_t limit = (std::min)(static_cast<std::size_t>(welcome_->max_datagram), max_control_bytes());
        msg::Upload probe;
        probe.session = session_;
        probe.seq = 0xFFFFFFFFu;
        probe.hash = Bytes(upload.hash.begin(), upload.hash.end());
        probe.size = static_cast<std::int64_t>(upload.file.size());
        probe.offset = static_cast<std::int64_t>(upload.file.size());
        const std::size_t overhead = encode_body(Message(probe), config_.encoding).size() + kTagSize;  // data empty
        std::size_t piece = 1;
        if (limit > overhead + 8) {
            const std::size_t room = limit - overhead;
            if (config_.encoding == Encoding::Json) {
                piece = room / 4 * 3;  // base64: 4 characters per 3 bytes; the empty "" is already counted
            } else {
                piece = room > 0x100 + 1 ? room - 1 : room;  // bin8 -> bin16 header grows by one byte
            }
        }
        piece = (std::max)(std::size_t{1}, piece);
        for (std::size_t offset = 0; offset < upload.file.size(); offset += piece) {
            UploadPiece p;
            p.offset = offset;
            p.length = (std::min)(piece, upload.file.size() - offset);
            upload.pieces.push_back(p);
        }
    }

    bool all_pieces_acked() const {
        for (const UploadPiece& piece : upload_->pieces) {
            if (!piece.acked) {
                return false;
            }
        }
        return true;
    }

    void send_piece(UploadPiece& piece, Time now) {
        UploadState& upload = *upload_;
        msg::Upload message;
        message.hash = Bytes(upload.hash.begin(), upload.hash.end());
        message.size = static_cast<std::int64_t>(upload.file.size());
        message.offset = static_cast<std::int64_t>(piece.offset);
        message.data.assign(upload.file.begin() + static_cast<std::ptrdiff_t>(piece.offset),
                            upload.file.begin() + static_cast<std::ptrdiff_t>(piece.offset + piece.length));
        send_session(Message(std::move(message)), Purpose::Upload, 0);
        piece.sent = true;
        piece.sent_at = now;
        upload.last_send = now;
    }

    void pump_upload(Time now) {
        UploadState& upload = *upload_;
        if (now - upload.last_progress >= config_.upload_timeout) {
            const std::string message = "the upload made no progress for " +
                                        std::to_string(config_.upload_timeout / kSecond) + " s";
            upload_.reset();
            if (start_ && start_->waits_for_upload) {
                start_.reset();
                emit_error(ErrorCode::StartFailed, error_code_name(ErrorCode::StartFailed),
                           "the start image could not be uploaded: " + message, ErrorContext::Start);
            }
            emit_error(ErrorCode::UploadFailed, error_code_name(ErrorCode::UploadFailed), message, ErrorContext::Upload);
            return;
        }
        std::size_t in_flight = 0;
        for (UploadPiece& piece : upload.pieces) {
            if (piece.sent && !piece.acked) {
                if (now - piece.sent_at >= config_.upload_retry) {
                    send_piece(piece, now);  // resume on loss
                }
                ++in_flight;
            }
        }
        for (UploadPiece& piece : upload.pieces) {
            if (in_flight >= config_.upload_window) {
                break;
            }
            if (!piece.sent) {
                send_piece(piece, now);
                ++in_flight;
            }
        }
        // Every piece acknowledged but no `complete` yet: the daemon may still be checking the image;
        // asking again for the last piece is answered `complete` at once once it holds the image.
        if (!upload.pieces.empty() && all_pieces_acked() && now - upload.last_send >= config_.upload_retry) {
            send_piece(upload.pieces.back(), now);
            upload.pieces.back().acked = true;
        }
    }

    void on_upload_ack(const msg::UploadAck& ack, Time now) {
        if (!upload_ || !bytes_equal(ack.hash, ByteView(upload_->hash.data(), upload_->hash.size()))) {
            return;
        }
        UploadState& upload = *upload_;
        for (UploadPiece& piece : upload.pieces) {
            if (static_cast<std::int64_t>(piece.offset) >= ack.offset &&
                static_cast<std::int64_t>(piece.offset + piece.length) <= ack.offset + ack.length) {
                piece.acked = true;
            }
        }
        if (ack.received > upload.received || ack.complete) {
            upload.last_progress = now;
        }
        upload.received = (std::max)(upload.received, ack.received);
        const Digest hash = upload.hash;
        const std::int64_t size = static_cast<std::int64_t>(upload.file.size());
        events_.push_back(ev::UploadProgress{hash, ack.complete ? size : upload.received, size});
        if (!ack.complete) {
            return;
        }
        upload_.reset();
        events_.push_back(ev::UploadComplete{hash});
        if (start_ && start_->waits_for_upload && *start_->waits_for_upload == hash) {
            start_->waits_for_upload.reset();
        }
    }

    // ---- start ----

    void request_start(Time now, msg::Start message, std::optional<Digest> waits_for_upload, Bytes image_file) {
        PendingStart start;
        start.message = std::move(message);
        start.waits_for_upload = waits_for_upload;
        start.image_file = std::move(image_file);
        start_ = std::move(start);
        service(now);
    }

    void pump_start(Time now) {
        PendingStart& start = *start_;
        if (start.waits_for_upload) {
            return;
        }
        if (!start.sent) {
            start.sent = true;
            start.interval = config_.start_first_retry;
            start.deadline = now + config_.start_timeout;
            start.world_before = world_;
            start.next_send = now;
        }
        if (now >= start.deadline) {
            const std::string source = start.message.source;
            start_.reset();
            emit_error(ErrorCode::StartFailed, error_code_name(ErrorCode::StartFailed),
                       "the daemon did not confirm the start (" + source + ") within " +
                           std::to_string(config_.start_timeout / kSecond) + " s",
                       ErrorContext::Start);
            return;
        }
        if (now >= start.next_send) {
            send_session(Message(start.message), Purpose::Start, 0);
            start.next_send = now + start.interval;
            start.interval = (std::min)(start.interval * 2, 4 * kSecond);
        }
    }

    // ---- the periodic work ----

    void service(Time now) {
        if (state_ == ConnectionState::Handshaking) {
            if (now - handshake_started_ >= config_.handshake_timeout) {
                fail(ErrorCode::DaemonUnreachable,
                     got_retry_ ? "the daemon answered the hello but never accepted the session within " +
                                      std::to_string(config_.handshake_timeout / kSecond) + " s"
                                : "no answer from the daemon within " + std::to_string(config_.handshake_timeout / kSecond) +
                                      " s (" + std::to_string(hellos_this_attempt_) +
                                      " hellos sent): is the daemon running, and are host and port right?",
                     false);
                return;
            }
            if (now >= next_hello_) {
                send_hello(now);
            }
            return;
        }
        if (state_ != ConnectionState::Connected) {
            return;
        }
        if (now - last_heard_ >= silence_timeout()) {
            fail(ErrorCode::DaemonSilent,
                 "no datagram from the daemon for " + std::to_string(silence_timeout() / kMillisecond) +
                     " ms: it stopped or the network dropped the session",
                 true);
            return;
        }
        if (suspect_deadline_ && now >= *suspect_deadline_) {
            const std::string message =
                "the daemon no longer knows this session (unknown_session): it probably restarted; connect again";
            fail(ErrorCode::UnknownSession, message, false);
            return;
        }
        if (now >= next_ping_) {
            msg::Ping ping;
            ping.time_us = now;
            send_session(Message(std::move(ping)), Purpose::Other, 0);
            next_ping_ = now + config_.ping_interval;
        }
        const Time input_due = input_dirty_ ? last_input_sent_ + config_.input_min_interval
                                            : last_input_sent_ + config_.input_heartbeat;
        if (now >= input_due) {
            send_input(now);
        }
        for (auto& entry : pending_events_) {
            PendingEvent& pending = entry.second;
            if (now >= pending.next_send) {
                msg::Event event;
                event.id = entry.first;
                event.text = pending.text;
                send_session(Message(std::move(event)), Purpose::Event, entry.first);
                pending.sent = true;
                pending.next_send = now + pending.interval;
                pending.interval = (std::min)(pending.interval * 2, config_.event_max_retry);
            }
        }
        if (pending_config_) {
            send_session(Message(*pending_config_), Purpose::Config, 0);
            pending_config_.reset();
            config_sent_at_ = now;
        }
        if (upload_) {
            pump_upload(now);
        }
        if (start_ && state_ == ConnectionState::Connected) {
            pump_start(now);
        }
        frames_.release(now);
        for (NackRequest& request : frames_.poll_nacks(now)) {
            send_session(padded_nack(request.frame, std::move(request.missing)), Purpose::Other, 0);
        }
    }

    // Revision 1.1 (SPEC §6.3): the daemon resends at most 10x a nack's size, so a nack for k
    // fragments is padded to ceil(k x max_datagram / 10) bytes (tag included) and asks for at most
    // nack_indices_limit() fragments (the reassembler's max_nack_fragments), which keeps it under about 3,900 bytes.
    Message padded_nack(std::uint32_t frame, std::vector<std::int64_t> missing) const {
        const std::int64_t max_datagram = welcome_ ? welcome_->max_datagram : config_.max_datagram;
        msg::Nack nack;
        nack.frame = frame;
        nack.missing = std::move(missing);
        const std::size_t wanted = nack_min_bytes(nack.missing.size(), max_datagram);
        const std::size_t tag = authenticated_ ? kTagSize : 0;
        Message message(nack);
        set_session_fields(message, session_, next_seq_);  // the size depends on the seq send_session gives it
        for (int attempt = 0; attempt < 4; ++attempt) {
            const std::size_t size = encode_body(message, config_.encoding).size() + tag;
            if (size >= wanted) {
                break;
            }
            std::size_t shortfall = wanted - size;
            auto& padded = std::get<msg::Nack>(message);
            const std::size_t current = padded.pad ? padded.pad->size() : 0;
            if (config_.encoding == Encoding::Json && !padded.pad) {
                shortfall = shortfall > 10 ? (shortfall - 10) * 3 / 4 : 1;  // ,"pad":"" then 4 chars per 3 bytes
            } else if (config_.encoding == Encoding::Json) {
                shortfall = (shortfall * 3 + 3) / 4;
            } else if (!padded.pad) {
                shortfall = shortfall > 6 ? shortfall - 6 : 1;  // key and bin header
            }
            padded.pad = Bytes(current + shortfall, 0);
        }
        return message;
    }

    std::size_t nack_indices_limit() const {
        const std::int64_t max_datagram = welcome_ ? welcome_->max_datagram : config_.max_datagram;
        return static_cast<std::size_t>((std::max)(std::int64_t{1}, std::int64_t{39000} / (std::max)(std::int64_t{1}, max_datagram)));
    }

    void send_input(Time now) {
        msg::Input input;
        input.time_us = now;
        input.move = input_.move;
        input.look = input_.look;
        input.keys = input_.keys;
        const std::uint32_t seq = send_session(Message(std::move(input)), Purpose::Other, 0);
        InputRecord& record = input_log_[seq % input_log_.size()];
        record.seq = seq;
        record.sent_at = now;
        last_input_sent_ = now;
        input_dirty_ = false;
    }

    ClientConfig config_;
    ConnectionState state_ = ConnectionState::Idle;
    ClientStats stats_;
    std::vector<Bytes> outbox_;
    std::deque<ClientEvent> events_;

    // handshake
    Nonce nonce_{};
    std::optional<Bytes> cookie_;
    bool token_required_ = false;
    bool got_retry_ = false;
    std::uint64_t hellos_this_attempt_ = 0;
    Time handshake_started_ = 0;
    Time next_hello_ = 0;
    Time hello_interval_ = 0;
    Time last_hello_at_ = 0;

    // session
    std::optional<msg::Welcome> welcome_;
    std::uint32_t session_ = 0;
    std::uint32_t next_seq_ = 1;
    bool authenticated_ = false;
    Digest key_{};
    ReplayWindow replay_;
    Time last_heard_ = 0;
    std::optional<Time> suspect_deadline_;
    std::array<SentRecord, 512> sent_records_{};
    std::optional<msg::Status> last_status_;
    std::int64_t world_ = 0;

    // keep-alive and round trip
    Time next_ping_ = 0;
    std::optional<Time> smoothed_rtt_;

    // input
    InputState input_;
    bool input_dirty_ = false;
    Time last_input_sent_ = 0;
    std::array<InputRecord, 256> input_log_{};

    // requests
    std::map<std::uint32_t, PendingEvent> pending_events_;
    std::uint32_t next_event_id_ = 1;
    std::optional<UploadState> upload_;
    std::optional<PendingStart> start_;
    std::optional<msg::Config> pending_config_;
    std::optional<bool> desired_paused_;
    Time config_sent_at_ = 0;

    FrameReassembler frames_;
};

}  // namespace yumebridge
